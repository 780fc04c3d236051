"""SIGTERM in the middle of a build: the staging folder beside -o is removed, nothing is written,
and the exit code says so (143)."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from tests.conftest import MLPERF_TINY, REPO, running


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
