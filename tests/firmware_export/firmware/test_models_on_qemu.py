"""Real models through the whole path: generated engine -> firmware -> QEMU -> serial, compared
byte for byte with the tflite-micro interpreter on the host."""
from __future__ import annotations

from pathlib import Path

import pytest

import targets
from tests.conftest import MLPERF_TINY, REPO, require_path, require_tool
from toolchain.benchmark import BenchOptions, run_bench

EXAMPLES = REPO / "examples"


@pytest.fixture(scope="session")
def example_tflite(tmp_path_factory) -> Path:
    """The bundled example (examples/fashion_cnn.keras) as int8 .tflite, by edgec's own build."""
    from toolchain.build import BuildOptions, build

    model = require_path(EXAMPLES / "fashion_cnn.keras", "the bundled example model")
    result = build(model, BuildOptions(target=targets.load_target("cortex-m7"),
                                       calib=EXAMPLES / "fashion_calib.npz"), lambda name: None)
    path = tmp_path_factory.mktemp("example") / "fashion_cnn.tflite"
    path.write_bytes(result.tflite_bytes)
    return path


def _bench(model: Path, target: str, out: Path, runs: int, eval_data: Path | None = None):
    require_tool("arm-none-eabi-gcc")
    require_tool("qemu-system-arm")
    return run_bench(BenchOptions(target=targets.load_target(target), emulate=True, model=model,
                                  eval_data=eval_data, runs=runs, warmup=0, limit=runs, out_dir=out))


def _assert_byte_exact(result, samples: int):
    c = result.comparison
    assert c.basis == "raw"
    assert c.compared == samples
    assert c.exact_match_rate == 1.0
    assert c.max_abs_diff == 0.0
    assert c.top1_agreement == 1.0


@pytest.mark.slow
@pytest.mark.parametrize("name", ["kws_ref_model.tflite", "pretrainedResnet_quant.tflite"])
def test_mlperf_models_on_the_emulated_m7_equal_the_host_byte_for_byte(name, tmp_path):
    model = MLPERF_TINY / name
    result = _bench(model, "cortex-m7", tmp_path, runs=3)
    _assert_byte_exact(result, 3)
    assert result.timing_unit == "instructions" and result.latency_is_estimate
    assert result.per_inference.min > result.macs  # at least one instruction per MAC
    est = result.latency_estimate  # the latency model beside the measurement (issue 15: within 15 %)
    assert (est["basis"], est["core"], est["measured"]) == ("engine cost model", "cortex-m7", False)
    assert est["error"] == est["instructions"] / result.per_inference.median - 1 and abs(est["error"]) <= 0.15
    assert [row.index for row in result.layers] == list(range(len(result.layers)))
    assert result.flash_used_bytes < 2 * 1024 * 1024 and result.sram_used_bytes < 512 * 1024


@pytest.mark.slow
def test_bundled_example_on_the_emulated_m7_with_labels(example_tflite, tmp_path):
    result = _bench(example_tflite, "cortex-m7", tmp_path, runs=8, eval_data=EXAMPLES / "fashion_eval.npz")
    _assert_byte_exact(result, 8)
    assert result.comparison.accuracy_device == result.comparison.accuracy_host
    assert result.samples == f"8 from {EXAMPLES / 'fashion_eval.npz'}"


@pytest.mark.slow
@pytest.mark.parametrize("target", ["cortex-m4", "cortex-m55", "netduinoplus2"])
def test_small_model_on_the_other_emulated_boards(example_tflite, target, tmp_path):
    result = _bench(example_tflite, target, tmp_path, runs=2)
    _assert_byte_exact(result, 2)


@pytest.mark.slow
@pytest.mark.parametrize("target", ["cortex-m0plus", "cortex-m33"])
def test_str_ww_on_the_emulated_m0_and_m33_equals_the_host_byte_for_byte(target, tmp_path):
    """The streaming wake-word model fits the micro:bit's 16 KiB (the engine's plan, the harness and
    the stack) and runs on the emulated Cortex-M0 (the generic Armv6-M path) and Cortex-M33 (DSP)."""
    result = _bench(MLPERF_TINY / "str_ww_ref_model.tflite", target, tmp_path, runs=3)
    _assert_byte_exact(result, 3)
    assert result.timing_unit == "instructions" and result.per_inference.min > result.macs
    assert result.sram_used_bytes <= 16 * 1024  # what QEMU's micro:bit has
    assert result.machine == {"cortex-m0plus": "microbit", "cortex-m33": "mps2-an505"}[target]


@pytest.mark.slow
@pytest.mark.parametrize("target", ["cortex-m0plus", "cortex-m33"])
def test_small_model_on_the_emulated_m0_and_m33(example_tflite, target, tmp_path):
    """The bundled example: 15.3 KiB of SRAM on the M0+ (the `microbit` profile's reserve estimates
    refuse it by 32 bytes at build time; the tiny model runs on that profile in test_harness_on_qemu)."""
    result = _bench(example_tflite, target, tmp_path, runs=2)
    _assert_byte_exact(result, 2)
