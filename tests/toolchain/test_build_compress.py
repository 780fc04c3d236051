"""`edgec build` with a compression stage: the deployed model is the compressed one, measured."""
from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from tests.conftest import require_tool
from tests.toolchain.conftest import EXAMPLE_CALIB, EXAMPLE_EVAL, EXAMPLE_MODEL
from toolchain.analysis import analyse
from toolchain.cli import cli
from toolchain.base.tflite_reader import read_tflite_file


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


def test_cluster_then_lut_ships_the_smaller_model(tmp_path):
    result = run("build", EXAMPLE_MODEL, "-t", "cortex-m7", "--calib", EXAMPLE_CALIB, "--cluster", "16",
                 "--train", EXAMPLE_EVAL, "--eval", EXAMPLE_EVAL, "--epochs", "1", "-o", tmp_path)
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "report.json").read_text())
    rows = report["compression"]["rows"]
    assert [r["technique"] for r in rows] == ["original", "cluster"]
    shipped = (tmp_path / "model.tflite").stat().st_size
    assert rows[-1]["flash_bytes"] == shipped < rows[0]["flash_bytes"]
    model = read_tflite_file(tmp_path / "model.tflite")
    assert "CUSTOM:TFLM_DECODE" in model.op_names
    assert analyse(model).params == rows[0]["params"]  # decoded weights still count as parameters
    assert report["fit"]["flash"]["items"][0] == {"label": "model", "bytes": shipped}
    assert report["conversion"] == {  # the compressed model went through the build's converter
        "performed": True, "mode": "int8", "io": "int8", "per_channel": True,
        "calibration": {"source": str(EXAMPLE_CALIB), "samples": 256, "random": False}}


def test_compressing_a_tflite_is_refused(tmp_path, mlperf_models):
    result = run("build", mlperf_models / "kws_ref_model.tflite", "-t", "cortex-m7", "--prune", "0.5",
                 "-o", tmp_path / "o")
    assert result.exit_code == 2 and "cannot be compressed" in result.output
    assert not (tmp_path / "o").exists()


def test_qat_model_builds_full_integer_with_its_learned_ranges(tmp_path):
    from toolchain.analysis import float_ops

    result = run("build", EXAMPLE_MODEL, "-t", "cortex-m7", "--calib", EXAMPLE_CALIB, "--qat",
                 "--train", EXAMPLE_EVAL, "--eval", EXAMPLE_EVAL, "--epochs", "1", "-o", tmp_path)
    assert result.exit_code == 0, result.output
    rows = json.loads((tmp_path / "report.json").read_text())["compression"]["rows"]
    assert [r["technique"] for r in rows] == ["original", "qat"]
    assert "activation ranges learned" in rows[1]["detail"]
    model = read_tflite_file(tmp_path / "model.tflite")
    assert float_ops(model, analyse(model)) == []
    assert rows[1]["int8_metric"] == pytest.approx(rows[1]["float_metric"], abs=0.02)  # fake int8 is int8


def test_separable_dense_builds_to_int8_the_c_engine_runs_exactly(tmp_path):
    """`--separable-rank 2` makes fc1 (a Dense reading a Flatten of 7 x 7 x 32) a 7 x 7 depthwise
    (valid, 1 x 1 output, depth multiplier 2) and a 1 x 1 pointwise convolution: full int8, and the C
    engine equals tflite-micro byte for byte on the 1,000 evaluation images."""
    from toolchain.cli.validate import validate

    require_tool("arm-none-eabi-gcc")
    result = run("build", EXAMPLE_MODEL, "-t", "cortex-m4", "--calib", EXAMPLE_CALIB, "--separable-rank", "2",
                 "--epochs", "0", "--eval", EXAMPLE_EVAL, "--runtime", "c", "-o", tmp_path)
    assert result.exit_code == 0, result.output
    rows = json.loads((tmp_path / "report.json").read_text())["compression"]["rows"]
    assert [r["technique"] for r in rows] == ["original", "separable"]
    assert rows[1]["detail"].startswith("conv2: 4,608 -> 1,312 weights (rank 2), ")
    assert "fc1 (Dense as a 7x7 convolution): 100,352 -> 7,232 weights (rank 2)" in rows[1]["detail"]
    model = read_tflite_file(tmp_path / "model.tflite")
    assert model.op_names.count("DEPTHWISE_CONV_2D") == 2 and "FULLY_CONNECTED" in model.op_names  # logits
    checked = CliRunner().invoke(validate, [str(tmp_path / "model.tflite"), "--eval", str(EXAMPLE_EVAL)])
    assert checked.exit_code == 0, checked.output
    assert "1000/1000" in checked.output, checked.output
