"""Shared test helpers.

Tests that need an external tool skip with a clear reason on a developer's machine, but fail under
CI (CI=true), where `.ci/run` installs every tool: `tests/ci_skips.py` turns every skip into a
failure there, whichever way the skip was asked for. The files the tests read ship with the
repository (tests/data/), so a lone clone skips nothing for want of a file.
"""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

# The CI=true rule: hooks of this conftest, defined in their own module (which its test loads alone).
from tests.ci_skips import in_ci, pytest_make_collect_report, pytest_runtest_makereport  # noqa: F401

REPO = Path(__file__).resolve().parent.parent
TEST_DATA = REPO / "tests" / "data"
MLPERF_TINY = TEST_DATA / "mlperf-tiny"  # the MLPerf Tiny reference models (see its README.md)
FASHION_MNIST = Path("/usr/share/datasets/fashion-mnist")


def require_tool(name: str) -> str:
    """Return the path of executable `name`; skip (locally) or fail (CI) when it is missing."""
    path = shutil.which(name)
    if path is None:
        message = f"{name} is not installed (Debian package needed; .ci/run installs it)"
        if in_ci():
            pytest.fail(message + " -- it must be present under CI=true")
        pytest.skip(message)
    return path


def require_path(path: Path, what: str) -> Path:
    """Return `path`; skip (locally) or fail (CI) when it does not exist."""
    if not Path(path).exists():
        message = f"{what} not found at {path}"
        if in_ci():
            pytest.fail(message + " -- it must be present under CI=true")
        pytest.skip(message)
    return Path(path)


@pytest.fixture
def mlperf_models() -> Path:
    """The MLPerf Tiny reference models shipped in tests/data/mlperf-tiny (checked by tests/test_data.py)."""
    return MLPERF_TINY


@contextmanager
def running(args: list[str], **popen_kwargs) -> Iterator[subprocess.Popen]:
    """Start `args` in a process group of its own and kill the whole group on the way out.

    Whatever the test does with the process (signals it, waits for it, fails half-way), nothing it
    started (an emulator, a browser, a compiler) outlives the test.
    """
    proc = subprocess.Popen(args, start_new_session=True, **popen_kwargs)
    try:
        yield proc
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:  # the group is gone: everything in it has exited
            pass
        proc.wait()
        for stream in (proc.stdin, proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()
