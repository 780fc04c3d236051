"""MLPerf Tiny on the host side: the reference models recognised by content, the encodings of the
runner's inputs, the lap clock written into the firmware, and `--mlperf` through build and bench."""
from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

import targets
from tests.conftest import MLPERF_TINY, require_tool
from toolchain import mlperf
from toolchain.base.errors import OptionError
from toolchain.cli import cli


def test_the_five_reference_models_are_recognised_by_their_bytes():
    found = {f: mlperf.recognise((MLPERF_TINY / f).read_bytes()) for f in
             ("pretrainedResnet_quant.tflite", "kws_ref_model.tflite", "vww_96_int8.tflite", "ad01_int8.tflite",
              "str_ww_ref_model.tflite")}
    assert {f: r.benchmark for f, r in found.items()} == {
        "pretrainedResnet_quant.tflite": "ic01", "kws_ref_model.tflite": "kws01", "vww_96_int8.tflite": "vww01",
        "ad01_int8.tflite": "ad01", "str_ww_ref_model.tflite": None}
    assert all(r.file == f for f, r in found.items())
    assert "not one of the runner's benchmark ids" in found["str_ww_ref_model.tflite"].note
    data = (MLPERF_TINY / "ad01_int8.tflite").read_bytes()
    assert mlperf.recognise(data[:-1] + bytes([data[-1] ^ 1])) is None  # one bit changed: another model


def test_the_reference_sources_are_recognised_by_their_weights():
    from toolchain.loader import load_model, model_weights

    found = {f: mlperf.recognise_weights(model_weights(load_model(MLPERF_TINY / f)))
             for f in ("pretrainedResnet.h5", "kws_ref_model", "str_ww_ref_model.h5")}
    assert {f: (r.file, r.benchmark) for f, r in found.items()} == {
        "pretrainedResnet.h5": ("pretrainedResnet.h5", "ic01"),
        "kws_ref_model": ("kws_ref_model (SavedModel)", "kws01"),
        "str_ww_ref_model.h5": ("str_ww_ref_model.h5", None)}
    weights = model_weights(load_model(MLPERF_TINY / "pretrainedResnet.h5"))
    weights[0] = weights[0] * np.float32(1.0001)
    assert mlperf.recognise_weights(weights) is None
    assert mlperf.recognise_weights([]) is None


def test_input_quantizations_that_would_misread_the_runners_dataset():
    assert mlperf.input_warnings("ic01", (1.0, -128)) == []
    assert mlperf.input_warnings("vww01", (1 / 255, -128)) == []  # pixels p mean p / 255: still p - 128
    assert mlperf.input_warnings("ic01", (1 / 255, 0)) == [
        "--mlperf ic01: the runner's pixels p enter the model as p - 128, which means p * scale only with input "
        "zero point -128; this model's is 0"]
    assert mlperf.input_warnings("kws01", (0.5847029089927673, 83)) == []
    assert "would misread them" in mlperf.input_warnings("kws01", (0.5, 83))[0]
    assert mlperf.input_warnings("ad01", (0.01, 3)) == []  # the device quantizes the features itself


def test_db_layouts_and_what_each_benchmark_refuses():
    assert mlperf.db_layout("ic01", "int8", 3072, 3072, (1.0, -128), "int8", 10) == \
        mlperf.DbLayout(mlperf.UINT8_MINUS_128, 1, 3072)
    assert mlperf.db_layout("kws01", "int8", 490, 490, (0.58, 83), "int8", 12).encoding == mlperf.RAW
    assert mlperf.db_layout("ad01", "int8", 640, 640, (0.39, 89), "int8", 640).nbytes == 2560
    assert mlperf.db_layout(None, "float32", 10, 40, (0.0, 0), "float32", 2) == mlperf.DbLayout(mlperf.RAW, 4, 10)
    with pytest.raises(mlperf.MlperfModelError, match="int8 input tensor; this model's is float32"):
        mlperf.db_layout("vww01", "float32", 10, 40, (0.0, 0), "float32", 2)
    with pytest.raises(mlperf.MlperfModelError, match=r"output \(10 int8\) must match the input \(640 int8\)"):
        mlperf.db_layout("ad01", "int8", 640, 640, (0.39, 89), "int8", 10)


def test_encodings_give_back_the_tensor_the_device_decodes():
    tensor = np.arange(-128, 128, dtype=np.int8)
    pixels = mlperf.encode("vww01", tensor, (1 / 255, -128))
    assert pixels == bytes(range(256))  # int8 -128..127 is sent as uint8 0..255
    assert mlperf.encode("kws01", tensor, (0.5, 0)) == tensor.tobytes()
    features = np.frombuffer(mlperf.encode("ad01", tensor, (0.3910152316093445, 89)), dtype="<f4")
    assert np.array_equal(mlperf.quantize_features(features, (0.3910152316093445, 89)), tensor)
    # round half away from zero (not to even), then the zero point, then the int8 clamp
    halves = np.array([0.5, 1.5, 2.5, -0.5, -2.5, 1000.0, -1000.0], dtype=np.float32)
    assert mlperf.quantize_features(halves, (1.0, 0)).tolist() == [1, 2, 3, -1, -3, 127, -128]
    assert mlperf.quantize_features(halves[:2], (1.0, 126)).tolist() == [127, 127]


def test_reconstruction_error_and_its_printing():
    out = np.array([10, 12], dtype=np.int8)
    error = mlperf.reconstruction_error(np.array([1.0, 1.0], dtype=np.float32), out, (0.5, 10))
    assert error == np.float32(((0.0 - 1.0) ** 2 + (1.0 - 1.0) ** 2) / 2)
    assert mlperf.printed_fixed3(error) == 0.5
    assert mlperf.printed_fixed3(np.float32(2.0005)) == 2.001 and mlperf.printed_fixed3(np.float32(-0.0004)) == 0.0


def test_lap_clock_on_boards_and_on_the_emulator():
    from firmware_export.firmware import context as ctx

    m7 = targets.load_target("cortex-m7")
    lap = ctx.lap_clock(m7, ctx.platform(m7), 25_000_000)
    assert (lap.num, lap.den) == (5, 27)  # 1e15 / (25 MHz * 216 MHz), reduced
    assert lap.profile == ("edgec-fw-1.0, emulated board (QEMU mps2-an500): m-lap-us from instructions at "
                           "216000000 Hz")
    board = targets.load_target("nucleo-l4r5zi")
    lap = ctx.lap_clock(board, ctx.platform(board), 16_000_000)
    assert (lap.num, lap.den, lap.profile) == (1, 16, "edgec-fw-1.0")  # real microseconds of a 16 MHz timer


def test_options_refuse_an_unknown_id_and_an_id_without_firmware():
    from firmware_export.firmware.context import FirmwareOptions
    from toolchain.build import BuildOptions

    with pytest.raises(OptionError, match="one of ic01, kws01, vww01, ad01"):
        FirmwareOptions(benchmark="sww01")
    with pytest.raises(OptionError, match="to be given with --firmware"):
        BuildOptions(target=targets.load_target("cortex-m7"), mlperf="ic01")


def test_build_summary_proposes_the_id_of_a_reference_model(tmp_path):
    result = CliRunner().invoke(cli, ["build", str(MLPERF_TINY / "kws_ref_model.tflite"), "-t", "cortex-m7",
                                      "-o", str(tmp_path / "kws")], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert ("MLPerf Tiny: this is the keyword spotting reference model (kws_ref_model.tflite): build with "
            "--firmware --mlperf kws01 for the official runner") in " ".join(result.output.split())
    report = json.loads((tmp_path / "kws" / "report.json").read_text())
    assert report["mlperf"] == {"benchmark": None, "proposed": "kws01", "reference_model": {
        "file": "kws_ref_model.tflite", "task": "keyword spotting", "benchmark": "kws01", "note": ""}}
    result = CliRunner().invoke(cli, ["build", str(MLPERF_TINY / "str_ww_ref_model.tflite"), "-t", "cortex-m7",
                                      "-o", str(tmp_path / "sww")], catch_exceptions=False)
    assert "str_ww is not one of the runner's benchmark ids" in " ".join(result.output.split())


def test_build_with_mlperf_and_bench_in_the_benchmarks_encoding(tmp_path):
    """`edgec build --firmware --mlperf ad01` answers ad01; `edgec bench` sends that firmware float32
    features (the runner's encoding) and its outputs equal tflite-micro's byte for byte."""
    require_tool("arm-none-eabi-gcc")
    require_tool("qemu-system-arm")
    from toolchain.benchmark import BenchOptions, run_bench

    model = MLPERF_TINY / "ad01_int8.tflite"
    result = CliRunner().invoke(cli, ["build", str(model), "-t", "cortex-m7", "--firmware", "--mlperf", "ad01",
                                      "-o", str(tmp_path / "out"), "--json"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["mlperf"]["benchmark"] == "ad01"
    assert '#define EDGEC_MODEL_ID "ad01"' in (tmp_path / "out/firmware/src/fw/edgec_model.h").read_text()
    bench = run_bench(BenchOptions(target=targets.load_target("cortex-m7"), emulate=True, model=model,
                                   firmware=tmp_path / "out" / "firmware", runs=2, warmup=0, out_dir=tmp_path))
    assert bench.comparison.basis == "raw" and bench.comparison.exact_match_rate == 1.0
    assert bench.comparison.compared == 2
