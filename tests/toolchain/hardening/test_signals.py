"""SIGTERM in the middle of a build: the staging folder beside -o is removed, nothing is written,
and the exit code says so (143)."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from tests.conftest import MLPERF_TINY, REPO, running  # noqa: F401


def test_sigterm_during_a_build_leaves_nothing(tmp_path):
    out = tmp_path / "out"
    args = [sys.executable, "-m", "toolchain.cli", "build", str(MLPERF_TINY / "vww_96_int8.tflite"), "-t", "cortex-m7",
            "--runtime", "c", "-o", str(out)]
    with running(args, cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(REPO)}, stdout=subprocess.PIPE,
                 stderr=subprocess.PIPE, text=True) as proc:
        deadline = time.monotonic() + 60
        while not [p for p in tmp_path.iterdir() if p.name.startswith(".edgec-stage-")]:
            assert proc.poll() is None, proc.stderr.read()
            assert time.monotonic() < deadline, "the build never staged its output"
            time.sleep(0.01)
        time.sleep(0.3)  # into the passes (the arena probes run in forked children)
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    assert proc.returncode == 143, err
    assert err.strip().endswith("terminated; nothing was written")
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_a_command_leaves_no_temporary_file(tmp_path, monkeypatch, tiny_keras):
    """TensorFlow's autograph files (three per Keras build) and the tools' temporary files go to the
    command's own temporary folder, removed when it ends."""
    import tempfile

    from toolchain.cli import run

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    assert run(["inspect", str(tiny_keras)]) == 0  # converts the Keras model: autograph writes its files
    assert list(tmp_path.iterdir()) == []


def test_pruning_a_model_without_prunable_layers_is_no_error(tmp_path):
    import keras
    import numpy as np
    from click.testing import CliRunner

    from toolchain.cli import cli

    inputs = keras.Input((4, 4, 1))
    keras.Model(inputs, keras.layers.Softmax()(keras.layers.Flatten()(inputs))).save(tmp_path / "m.keras")
    np.savez(tmp_path / "train.npz", x=np.zeros((8, 4, 4, 1), np.float32), y=np.arange(8) % 16)
    result = CliRunner().invoke(cli, ["compress", str(tmp_path / "m.keras"), "--prune", "0.5", "--no-int8",
                                      "--train", str(tmp_path / "train.npz"), "-o", str(tmp_path / "out.keras")])
    assert result.exit_code == 0, result.output
    assert "prune: no prunable layer" in result.output
