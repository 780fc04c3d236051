"""bench/malformed_models.py --smoke: each command run in a child forked from the bench process gives
the exit code that a new Python process (`--fresh-processes`, `python -m toolchain.cli`) gives on the
same mutated model, and the targets hold."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.conftest import REPO, running


def _smoke(tmp_path, name: str, *extra: str) -> tuple[str, list[dict]]:
    codes = tmp_path / f"{name}.json"
    env = {**os.environ, "PYTHONPATH": str(REPO), "TF_CPP_MIN_LOG_LEVEL": "3"}
    with running([sys.executable, str(REPO / "bench" / "malformed_models.py"), "--smoke", "--count", "3",
                  "--codes-out", str(codes), *extra], cwd=tmp_path, env=env, stdin=subprocess.DEVNULL,
                 stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) as proc:
        output, _ = proc.communicate(timeout=600)
    assert proc.returncode == 0, output[-6000:]
    assert "targets: all met" in output and "MISSED" not in output, output
    return output, json.loads(codes.read_text())


@pytest.mark.slow
def test_forked_and_fresh_processes_give_the_same_exit_codes(tmp_path):
    forked_out, forked = _smoke(tmp_path, "forked")
    fresh_out, fresh = _smoke(tmp_path, "fresh", "--fresh-processes", "--jobs", "1")
    assert "6 runs, forked, 2 at a time" in forked_out and "6 runs, fresh processes, 1 at a time" in fresh_out
    assert [(r["model"], r["command"]) for r in forked] == [
        (f"kws_ref_model-m{n}.tflite", c) for n in range(3) for c in ("check", "inspect")]
    assert forked == fresh
    assert {r["code"] for r in forked} <= {0, 2, 3}
