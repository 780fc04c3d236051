"""Shared test helpers.

Tests that need an external tool skip with a clear reason on a developer's machine, but fail under
CI (CI=true), where `.ci/run` installs every tool.
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SHARED_MODELS = REPO.parent / "shared" / "models" / "mlperf-tiny"
FASHION_MNIST = Path("/usr/share/datasets/fashion-mnist")
IN_CI = os.environ.get("CI", "").lower() == "true"


def require_tool(name: str) -> str:
    """Return the path of executable `name`; skip (locally) or fail (CI) when it is missing."""
    path = shutil.which(name)
    if path is None:
        message = f"{name} is not installed (Debian package needed; .ci/run installs it)"
        if IN_CI:
            pytest.fail(message + " -- it must be present under CI=true")
        pytest.skip(message)
    return path


def require_path(path: Path, what: str) -> Path:
    """Return `path`; skip (locally) or fail (CI) when it does not exist."""
    if not Path(path).exists():
        message = f"{what} not found at {path}"
        if IN_CI:
            pytest.fail(message + " -- it must be present under CI=true")
        pytest.skip(message)
    return Path(path)


@pytest.fixture
def mlperf_models() -> Path:
    """The MLPerf Tiny reference models (../shared/models/mlperf-tiny), skipped when absent."""
    if not SHARED_MODELS.exists():
        pytest.skip(f"MLPerf Tiny models not found at {SHARED_MODELS}")
    return SHARED_MODELS
