"""The latency estimator (toolchain.latency): a layer's counts read from the .tflite, the documented
sum over the layers of a core's cost model (exact arithmetic on hand-written costs), packed weights,
cores without a model; and `edgec check` / `build` printing the estimate labelled with its data."""
from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from targets.latency import read_core_latency
from tests.conftest import MLPERF_TINY, require_tool
from toolchain.base.tflite_reader import read_tflite_file
from toolchain.cli import cli
from toolchain.latency import estimate_engine, estimate_tflm, estimate_with, model_counts

STR_WW = MLPERF_TINY / "str_ww_ref_model.tflite"
RESNET = MLPERF_TINY / "pretrainedResnet_quant.tflite"

HAND = """
core = "cortex-m7"
machine = "mps2-an500"
source = "hand-written for a test"
[inference]
instructions_per_call = 1000.0
[conv_1x1]
instructions_per_call = 100.0
instructions_per_mac = 1.0
instructions_per_output_element = 2.0
instructions_per_patch_element = 3.0
instructions_per_output_pixel = 17.0
layers_fitted = 1
[depthwise]
instructions_per_call = 50.0
instructions_per_mac = 4.0
instructions_per_output_element = 5.0
instructions_per_border_mac = 7.0
instructions_per_output_pixel = 11.0
instructions_per_tail_mac = 13.0
layers_fitted = 1
[fully_connected]
instructions_per_call = 10.0
instructions_per_mac = 1.0
instructions_per_output_element = 1.0
layers_fitted = 1
[softmax]
instructions_per_call = 7.0
instructions_per_output_element = 1.0
layers_fitted = 1
[alias]
instructions_per_call = 3.0
layers_fitted = 1
"""
PACKED = """
[conv_packed]
instructions_per_call = 0.0
instructions_per_mac = 0.0
instructions_per_output_element = 0.0
instructions_per_nonzero_mac = 1.0
instructions_per_nonzero_border_mac = 0.0
instructions_per_decoded_weight = 0.0
layers_fitted = 1
"""


@pytest.fixture(scope="module")
def str_ww():
    return read_tflite_file(STR_WW)


def _hand(tmp_path, extra=""):
    path = tmp_path / "cortex-m7.toml"
    path.write_text(HAND + extra)
    return read_core_latency(path)


def test_counts_of_a_padded_convolution_are_read_from_the_tflite():
    first = model_counts(read_tflite_file(RESNET))[0]  # 3x3 conv, SAME, 32x32x3 -> 32x32x16
    border_pixels = 32 * 32 - 30 * 30
    assert (first.kind, first.counts) == ("conv", {"mac": 32 * 32 * 16 * 27, "output_element": 32 * 32 * 16,
                                                   "patch_element": 32 * 32 * 27, "output_pixel": 32 * 32,
                                                   "border_mac": border_pixels * 16 * 27,
                                                   "border_tap": border_pixels * 16 * 9,
                                                   "decoded_weight": 16 * 27 * (32 * 32 // 64)})
    dw = model_counts(read_tflite_file(MLPERF_TINY / "vww_96_int8.tflite"))[1]  # 3x3, SAME, 48x48x8
    assert (dw.kind, dw.counts["tail_mac"], dw.counts["border_mac"]) == ("depthwise_layout", 48 * 48 * 8 * 9,
                                                                        (48 * 48 - 46 * 46) * 8 * 9)


def test_a_depthwise_layer_has_the_layout_kind_exactly_where_the_generator_gives_it_the_layout():
    """toolchain.latency reads from the .tflite alone whether a depthwise layer runs from the DSP
    layout; the generator (dwlayout.eligible, after lowering) decides it: they agree on every
    depthwise layer of the five models (all 21 of them run from it)."""
    from firmware_export.cengine import dwlayout
    from firmware_export.cengine.lower import lower_model
    from firmware_export.cengine.ops import DepthwiseConv2D

    kinds, eligible = [], []
    for path in sorted(MLPERF_TINY.glob("*.tflite")):
        model = read_tflite_file(path)
        kinds += [c.kind == "depthwise_layout" for c in model_counts(model) if c.op == "DEPTHWISE_CONV_2D"]
        eligible += [dwlayout.eligible(op) for op in lower_model(model).ops if isinstance(op, DepthwiseConv2D)]
    assert kinds == eligible == [True] * 21


def test_a_layout_layer_takes_its_kind_s_costs_or_the_depthwise_ones(tmp_path, str_ww):
    layout = """
[depthwise_layout]
instructions_per_call = 0.0
instructions_per_mac = 2.0
instructions_per_output_element = 0.0
instructions_per_border_mac = 0.0
instructions_per_output_pixel = 0.0
layers_fitted = 1
"""
    assert estimate_with(str_ww, _hand(tmp_path), 1).layers[0].kind == "depthwise"
    first = estimate_with(str_ww, _hand(tmp_path, layout), 1).layers[0]
    assert (first.kind, first.instructions) == ("depthwise_layout", 2.0 * 3360)


def test_the_estimate_is_the_documented_sum_over_the_layers(tmp_path, str_ww):
    # str_ww: 4 depthwise (VALID: no border), 4 1x1 convs, a reshape, a fully connected, a softmax
    depthwise = 4 * 50 + 4 * (3360 + 15360 + 19200 + 1920) + 5 * (1120 + 3072 + 1920 + 128)
    pointwise = (4 * 100 + (143360 + 393216 + 245760 + 4096) + 2 * (3584 + 3072 + 1920 + 32)
                 + 3 * (1120 + 3072 + 1920 + 128) + 17 * (28 + 24 + 15 + 1))
    depthwise += 11 * (28 + 24 + 15 + 1) + 13 * (28 * 8 * 3)  # pixels; 40 channels: 8 past the block of 16
    expected = 1000 + depthwise + pointwise + 3 + (10 + 96 + 3) + (7 + 3)
    est = estimate_with(str_ww, _hand(tmp_path), 100_000_000)
    assert est.instructions == expected == 1_025_290
    assert est.seconds == expected / 100_000_000
    assert [la.kind for la in est.layers] == ["depthwise", "conv_1x1"] * 4 + ["alias", "fully_connected", "softmax"]
    assert est.to_dict()["layers"][1] == {"index": 1, "op": "CONV_2D", "kind": "conv_1x1",
                                          "instructions": 100 + 143360 + 2 * 3584 + 3 * 1120 + 17 * 28}


def test_a_patched_layer_runs_once_per_patch_on_its_scaled_counts(tmp_path, str_ww):
    """A layer of a patched stage (firmware_export/cengine/patch.py): its call cost once per patch, its
    other counts scaled by the outputs it computes (here 3 patches, twice the outputs)."""
    per_unit = 143360 + 2 * 3584 + 3 * 1120 + 17 * 28
    est = estimate_with(str_ww, _hand(tmp_path), 1, None, {1: (3, 2.0)})
    assert est.layers[1].instructions == 3 * 100 + 2 * per_unit
    assert est.instructions == 1_025_290 + 2 * 100 + per_unit


def test_packed_layers_use_their_kind_or_the_dense_one(tmp_path, str_ww):
    storage = {1: ("sparse", 0.5, 0)}
    dense_cost = 100 + 143360 + 2 * 3584 + 3 * 1120 + 17 * 28
    assert estimate_with(str_ww, _hand(tmp_path), 1, storage).instructions == 1_025_290  # no packed data: dense
    est = estimate_with(str_ww, _hand(tmp_path, PACKED), 1, storage)
    assert est.instructions == 1_025_290 - dense_cost + 143360 // 2
    assert est.layers[1].kind == "conv_packed"


def test_a_core_without_a_model_falls_back_to_cycles_per_mac_and_tflm_is_labelled(str_ww):
    est = estimate_engine(str_ww, "riscv32", 1_000_000)
    macs = sum(c.counts.get("mac", 0) for c in model_counts(str_ww))
    assert (est.basis, est.instructions) == ("cycles per MAC", macs * 4.0)
    tflm = estimate_tflm(macs, "cortex-m7", 1_000_000)
    assert tflm.runtime == "tflm" and "x86-64" in tflm.basis and "callgrind" in tflm.source


def test_the_shipped_models_estimate_the_engine_on_every_calibrated_core(str_ww):
    for core in ("cortex-m0plus", "cortex-m4", "cortex-m7", "cortex-m33"):
        est = estimate_engine(str_ww, core, 1)
        assert est.basis == "engine cost model" and all(la.kind for la in est.layers), core
        assert est.source.startswith(f"targets/latency/{core}.toml")


def test_check_prints_the_labelled_estimate_of_the_engine(tmp_path, str_ww):
    require_tool("arm-none-eabi-gcc")
    result = CliRunner().invoke(cli, ["check", str(STR_WW), "-t", "cortex-m7", "--runtime", "c", "-o", str(tmp_path)],
                                catch_exceptions=False, terminal_width=200)
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "report.json").read_text())
    latency = report["latency"]
    expected = estimate_engine(str_ww, "cortex-m7", 216_000_000)  # every str_ww layer stays dense
    assert (latency["basis"], latency["core"], latency["measured"]) == ("engine cost model", "cortex-m7", False)
    assert latency["instructions"] == round(expected.instructions)
    assert report["latency_estimate_s"] == latency["seconds"] == expected.seconds
    assert report["latency_tflm"]["runtime"] == "tflm" and report["latency_tflm"]["measured"] is False
    text = " ".join(result.output.split())
    assert (f"~{expected.seconds * 1000:.1f} ms at 216 MHz estimated: engine cost model, "
            "targets/latency/cortex-m7.toml") in text
    assert ("with TFLM's reference kernels instead: ~" in text
            and "estimated from x86-64 instructions per MAC (targets/latency/tflm-reference.toml: a host figure" in text)


def test_bench_of_a_given_firmware_estimates_the_weights_as_the_build_stores_them():
    """`edgec bench --firmware DIR --model M` (no build here): the estimate takes M's layers stored as
    `edgec build` stores them by default, and says so; a block-pruned model is not costed as dense."""
    from firmware_export.cengine import generate_engine
    from targets import load_target
    from toolchain.base.tflite_reader import read_tflite
    from toolchain.benchmark.run import _latency_estimate
    from toolchain.compress.tflite_weights import compress_weights
    from toolchain.latency import storage_of

    ad01 = (MLPERF_TINY / "ad01_int8.tflite").read_bytes()
    model = read_tflite(compress_weights(ad01, 0.75, block=4).model, "ad01_blocks")
    target = load_target("cortex-m7")
    est = _latency_estimate(model, None, target, "instructions", 1_000_000.0)
    storage = storage_of(generate_engine(model, "model"))
    assert {fmt for fmt, _, _ in storage.values()} == {"block"}
    expected = estimate_engine(model, "cortex-m7", target.clock_hz, storage)
    dense = estimate_engine(model, "cortex-m7", target.clock_hz, None)
    assert est["instructions"] == expected.to_dict()["instructions"] != dense.to_dict()["instructions"]
    assert est["weights"].startswith("as edgec build stores them by default") and "assumed" in est["weights"]
    assert est["error"] == est["instructions"] / 1_000_000.0 - 1
