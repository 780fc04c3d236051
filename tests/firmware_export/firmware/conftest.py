"""Firmware built once per session and shared by the tests that run it on QEMU."""
from __future__ import annotations

import pytest

import targets
from tests.conftest import require_tool
from tests.firmware_export.firmware.toy_engine import ToyEngine

TOY_TARGETS = ("cortex-m7", "cortex-m4", "cortex-m55", "netduinoplus2")


@pytest.fixture(scope="session")
def toy_firmware(tmp_path_factory):
    """{target name: FirmwareResult} of the toy engine, built for every emulated target."""
    require_tool("arm-none-eabi-gcc")
    from firmware_export.firmware import build_firmware

    root = tmp_path_factory.mktemp("toy-fw")
    return {name: build_firmware(ToyEngine(), targets.load_target(name), root / name) for name in TOY_TARGETS}
