"""The CLI through click's runner and as a user runs it: outputs, exit codes, errors, speed."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from click.testing import CliRunner

from tests.conftest import REPO, require_tool
from tests.toolchain.conftest import EXAMPLE_CALIB, EXAMPLE_MODEL
from toolchain.cli import cli

EXIT_BAD_INPUT, EXIT_DOES_NOT_FIT = 2, 3


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


@pytest.fixture(scope="module")
def example_build(tmp_path_factory):
    out = tmp_path_factory.mktemp("build") / "out"
    result = run("build", EXAMPLE_MODEL, "--target", "cortex-m7", "--calib", EXAMPLE_CALIB, "-o", out)
    return result, out


def test_build_example_writes_everything(example_build):
    result, out = example_build
    assert result.exit_code == 0, result.output
    assert "FITS" in result.output
    for name in ("model.tflite", "model_data.cc", "model_data.h", "report.json"):
        assert (out / name).is_file()
    report = json.loads((out / "report.json").read_text())
    assert report["schema_version"] == 1 and report["fits"] is True
    assert report["model"]["inputs"][0]["shape"] == [1, 28, 28, 1]
    assert report["model"]["inputs"][0]["dtype"] == "int8"
    assert report["conversion"]["calibration"] == {"source": str(EXAMPLE_CALIB), "samples": 256, "random": False}
    assert report["fit"]["flash"]["items"][0] == {"label": "model", "bytes": (out / "model.tflite").stat().st_size}
    assert not [p for p in out.parent.iterdir() if p.name.startswith(".")]  # no staging left behind


def test_build_json_prints_only_json(tmp_path):
    result = CliRunner().invoke(cli, ["build", str(EXAMPLE_MODEL), "-t", "cortex-m4", "--calib", str(EXAMPLE_CALIB),
                                      "-o", str(tmp_path), "--json"])
    assert result.exit_code == 0
    assert json.loads(result.stdout)["target"]["name"] == "cortex-m4"  # stdout alone parses as JSON


def test_does_not_fit_exit_code_and_explanation(tmp_path, mlperf_models):
    result = run("check", mlperf_models / "vww_96_int8.tflite", "--target", "cortex-m0plus", "-o", tmp_path)
    assert result.exit_code == EXIT_DOES_NOT_FIT
    assert "DOES NOT FIT" in result.output
    assert "flash: needs 390,632 B of 262,144 B (over by 128,488 B)" in result.output
    assert "largest tensors alive at the peak: model/activation_2/Relu (36,864 B)" in result.output
    # the reports are written all the same (tests/toolchain/reporting reads them from the library)
    report = json.loads((tmp_path / "report.json").read_text())
    assert (report["command"], report["fits"], report["files"]) == ("check", False, ["report.html", "report.json"])
    assert 'class="verdict nofit"' in (tmp_path / "report.html").read_text()


def test_check_fits(mlperf_models):
    result = run("check", mlperf_models / "pretrainedResnet_quant.tflite", "--target", "nucleo-l4r5zi")
    assert result.exit_code == 0 and "FITS" in result.output
    assert "arena 55,984 B measured" in result.output


def test_calib_random_is_loud(tmp_path, tiny_keras):
    result = run("build", tiny_keras, "-t", "cortex-m7", "--calib-random", "-o", tmp_path)
    assert result.exit_code == 0
    assert "ACCURACY RISK" in result.output
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["conversion"]["calibration"]["random"] is True
    assert report["warnings"][0].startswith("ACCURACY RISK")


def test_no_calibration_is_refused(tmp_path, tiny_keras):
    result = run("build", tiny_keras, "-t", "cortex-m7", "-o", tmp_path / "o")
    assert result.exit_code == EXIT_BAD_INPUT
    assert "needs calibration data" in result.output
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("array, message", [
    (np.zeros((4, 10, 10, 1), np.float32), "do not match the model input"),
    (np.zeros((4, 12, 12, 1), np.uint8), "holds uint8 values but the model input is float32"),
    (np.full((4, 12, 12, 1), np.nan, np.float32), "NaN"),
])
def test_bad_calibration_data(tmp_path, tiny_keras, array, message):
    path = tmp_path / "calib.npy"
    np.save(path, array)
    result = run("build", tiny_keras, "-t", "cortex-m7", "--calib", path, "-o", tmp_path / "o")
    assert result.exit_code == EXIT_BAD_INPUT
    assert message in result.output
    assert not (tmp_path / "o").exists()


def test_calibration_from_image_folder(tmp_path, tiny_keras):
    from PIL import Image

    for i in range(3):
        Image.fromarray(np.full((30, 20), 40 * i, np.uint8)).save(tmp_path / f"{i}.png")
    result = run("build", tiny_keras, "-t", "cortex-m7", "--calib", tmp_path, "-o", tmp_path / "o")
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "o" / "report.json").read_text())
    assert report["conversion"]["calibration"]["samples"] == 3


def test_unknown_target_suggests(tiny_keras):
    result = run("build", tiny_keras, "--target", "nucleo-l4r5", "--calib-random")
    assert result.exit_code == EXIT_BAD_INPUT
    assert "did you mean 'nucleo-l4r5zi'" in result.output


def test_bad_target_file_names_file_and_field(tmp_path, tiny_keras):
    bad = tmp_path / "board.toml"
    bad.write_text((REPO / "targets/profiles/cortex-m4.toml").read_text().replace("262_144", "-5"))
    result = run("build", tiny_keras, "--target-file", bad, "--calib-random", "-o", tmp_path / "o")
    assert result.exit_code == EXIT_BAD_INPUT
    assert f"{bad}: field 'memory[1].size_bytes'" in result.output


def test_failed_build_keeps_the_previous_good_result(tmp_path, tiny_keras, tiny_calib):
    out = tmp_path / "out"
    assert run("build", tiny_keras, "-t", "cortex-m7", "--calib", tiny_calib, "-o", out).exit_code == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    bad = tmp_path / "bad.npy"
    np.save(bad, np.zeros((2, 3), np.float32))
    assert run("build", tiny_keras, "-t", "cortex-m7", "--calib", bad, "-o", out).exit_code == EXIT_BAD_INPUT
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.npy", "out"]


def test_interrupted_build_writes_nothing(tmp_path, tiny_keras, tiny_calib, monkeypatch):
    import toolchain.build

    def interrupt(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(toolchain.build, "export", interrupt)
    with pytest.raises(SystemExit) as exit_info:
        from toolchain.cli import main

        main(["build", str(tiny_keras), "-t", "cortex-m7", "--calib", str(tiny_calib), "-o", str(tmp_path / "o")])
    assert exit_info.value.code == 130
    assert list(tmp_path.iterdir()) == []


def test_targets_list_and_show():
    result = run("targets")
    assert result.exit_code == 0 and "nucleo-h743zi" in result.output and "mps2-an500" in result.output
    shown = run("targets", "show", "nrf52840-dk")
    assert "262,144 B" in shown.output and "nRF52840" in shown.output
    assert "firmware start-up nrf52840: core at 64,000,000 Hz, nrf-uarte TX P0.06 RX P0.08\n" in shown.output
    data = json.loads(run("targets", "show", "cortex-m7", "--json").output)
    assert data["memory"][1]["size_bytes"] == 524_288


def test_inspect_tflite(mlperf_models):
    result = run("inspect", mlperf_models / "pretrainedResnet_quant.tflite", "--json")
    data = json.loads(result.output)
    assert data["macs"] == 12_501_632 and data["params"] == 77_706
    assert data["op_counts"] == {"ADD": 3, "AVERAGE_POOL_2D": 1, "CONV_2D": 9, "FULLY_CONNECTED": 1,
                                 "RESHAPE": 1, "SOFTMAX": 1}


def test_inspect_keras(tiny_keras):
    result = run("inspect", tiny_keras)
    assert result.exit_code == 0 and "CONV_2D" in result.output and "DEPTHWISE_CONV_2D" in result.output


@pytest.mark.parametrize("args", [["--help"], ["targets"], ["check", "{tflite}", "-t", "cortex-m7"],
                                  ["bench", "-t", "cortex-m7", "--emulate", "--model", "{tflite}", "-n", "1",
                                   "-o", "{out}"]])
def test_light_commands_do_not_import_tensorflow(args, mlperf_models, tmp_path):
    if "bench" in args:  # builds the firmware through the build's passes, then runs it on QEMU
        require_tool("arm-none-eabi-gcc")
        require_tool("qemu-system-arm")
    args = [a.format(tflite=mlperf_models / "kws_ref_model.tflite", out=tmp_path / "bench") for a in args]
    code = ("import sys; from toolchain.cli import main\n"
            "try:\n    main(%r)\nexcept SystemExit as e:\n    assert e.code == 0, e.code\n"
            "assert 'tensorflow' not in sys.modules and 'keras' not in sys.modules, 'TF imported'\n") % args
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(REPO)})
    assert proc.returncode == 0, proc.stderr
