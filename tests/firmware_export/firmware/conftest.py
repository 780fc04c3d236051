"""Firmware built once per test session and shared by the tests that run it on QEMU."""
from __future__ import annotations

import functools
import shutil
import tempfile
import atexit
from pathlib import Path

import pytest

import targets
from tests.conftest import require_tool
from tests.firmware_export.firmware.toy_engine import ToyEngine

TOY_TARGETS = ("cortex-m7", "cortex-m4", "cortex-m55", "netduinoplus2")


@functools.lru_cache(maxsize=1)
def _build_toys():
    from firmware_export.firmware import build_firmware

    root = Path(tempfile.mkdtemp(prefix="edgec-toy-fw-"))
    atexit.register(shutil.rmtree, root, True)
    return {name: build_firmware(ToyEngine(), targets.load_target(name), root / name) for name in TOY_TARGETS}


@pytest.fixture(scope="session")
def toy_firmware():
    """{target name: FirmwareResult} of the toy engine for every emulated target (built once,
    also when this fixture is imported by another folder's conftest)."""
    require_tool("arm-none-eabi-gcc")
    return _build_toys()
