"""`edgec validate --runtime c` end to end: the click command on a real model."""
from __future__ import annotations

import numpy as np
from click.testing import CliRunner

from tests.conftest import MLPERF_TINY
from toolchain.cli.validate import validate
from toolchain.oracle import run_tflm


def test_validate_random_inputs_and_saved_outputs(tmp_path):
    model = MLPERF_TINY / "kws_ref_model.tflite"
    out = tmp_path / "out.npz"
    result = CliRunner().invoke(validate, [str(model), "--runtime", "c", "--count", "4", "--save-outputs", str(out)])
    assert result.exit_code == 0, result.output
    assert "exact-match rate: 100.00% (4/4 inputs)" in result.output
    assert "largest difference: 0 " in result.output
    saved = np.load(out)["outputs"]
    assert saved.shape == (4, 1, 12) and saved.dtype == np.int8
    # Anyone can check the saved outputs independently: same seeded inputs through TFLM.
    x = np.random.default_rng(0).integers(-128, 128, (4, 49, 10, 1)).astype(np.int8)
    assert saved.tobytes() == run_tflm(model.read_bytes(), x).tobytes()


def test_validate_given_inputs(tmp_path):
    model = MLPERF_TINY / "ad01_int8.tflite"
    inputs = tmp_path / "x.npz"
    np.savez(inputs, x=np.random.default_rng(1).normal(0, 3, (5, 640)).astype(np.float32))
    result = CliRunner().invoke(validate, [str(model), "--inputs", str(inputs)])
    assert result.exit_code == 0, result.output
    assert f"inputs: 5 ({inputs})" in result.output
    assert "exact-match rate: 100.00% (5/5 inputs)" in result.output


def test_validate_rejects_inputs_of_the_wrong_shape(tmp_path):
    model = MLPERF_TINY / "ad01_int8.tflite"
    inputs = tmp_path / "x.npz"
    np.savez(inputs, x=np.zeros((3, 10), np.int8))
    result = CliRunner().invoke(validate, [str(model), "--inputs", str(inputs)])
    assert result.exit_code == 2
    assert "each row must hold one input of shape (640,)" in result.output
    assert "Traceback" not in result.output
