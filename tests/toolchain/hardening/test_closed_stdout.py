"""A reader that closes edgec's standard output (`edgec ... | head`) does not turn a command into an
internal error: the command finishes with its own exit code."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.conftest import MLPERF_TINY, REPO


@pytest.mark.parametrize("args, code", [
    (["inspect", MLPERF_TINY / "vww_96_int8.tflite", "--tensors"], 0),
    (["check", MLPERF_TINY / "vww_96_int8.tflite", "-t", "cortex-m0plus"], 3),  # does not fit
])
def test_closed_stdout_keeps_the_exit_code(args, code, tmp_path):
    proc = subprocess.Popen([sys.executable, "-m", "toolchain.cli", *map(str, args)], cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": str(REPO)})
    proc.stdout.close()  # before the command prints anything: every write meets a closed pipe
    try:
        err = proc.stderr.read()
        assert proc.wait(timeout=120) == code, err
    finally:
        proc.kill()
        proc.stderr.close()
    assert "internal error" not in err and "BrokenPipe" not in err
