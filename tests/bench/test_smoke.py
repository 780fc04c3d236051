"""Every measurement script still runs: each bench/ script with --smoke, as a fresh process.

Scripts are found by name (bench/[!_]*.py), so a new one is tested without being listed here; its
contract (a --smoke mode, NEEDS, exit status) is in bench/README.md.
"""
from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO, require_path, require_tool, running

SCRIPTS = sorted((REPO / "bench").glob("[!_]*.py"))
# A script with a test of its own (tests/bench/test_<name>.py) runs its smoke mode there, with more checks.
GENERIC = [s for s in SCRIPTS if not (Path(__file__).parent / f"test_{s.stem}.py").exists()]
TIMEOUT_S = 600  # far above the minute or two a smoke run takes on two busy cores


def needs(script: Path) -> tuple[str, ...]:
    """The script's `NEEDS` tuple, read without importing the script; () when it declares none."""
    for node in ast.parse(script.read_text()).body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "NEEDS" for t in node.targets):
            return tuple(ast.literal_eval(node.value))
    return ()


def test_the_scripts_are_found():
    assert {"build_vs_converter.py", "cengine_callgrind.py", "cengine_sram.py", "cli_latency.py",
            "compress_fmnist.py", "device_qemu.py"} <= {s.name for s in SCRIPTS}
    assert needs(REPO / "bench" / "device_qemu.py") == ("arm-none-eabi-gcc", "qemu-system-arm")


@pytest.mark.slow
@pytest.mark.parametrize("script", GENERIC, ids=lambda s: s.name)
def test_smoke_run(script, tmp_path):
    for need in needs(script):
        if need.startswith("/"):
            require_path(Path(need), f"{need} (needed by {script.name})")
        else:
            require_tool(need)
    env = {**os.environ, "PYTHONPATH": str(REPO), "TF_CPP_MIN_LOG_LEVEL": "3"}
    with running([sys.executable, str(script), "--smoke"], cwd=tmp_path, env=env, stdin=subprocess.DEVNULL,
                 stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) as proc:
        output, _ = proc.communicate(timeout=TIMEOUT_S)
    assert "unrecognized arguments: --smoke" not in output, f"{script.name} has no --smoke mode (bench/README.md)"
    assert proc.returncode == 0, output[-6000:]
    assert output.strip(), f"{script.name} printed nothing"
