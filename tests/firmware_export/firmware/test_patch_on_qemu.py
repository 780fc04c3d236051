"""A patched engine (cengine/patch.py) in firmware on the emulated Cortex-M7 (DSP path, real gcc),
over serial: its outputs equal the tflite-micro interpreter's byte for byte."""
from __future__ import annotations

import targets
from tests.conftest import require_tool
from tests.firmware_export.firmware.emulated import exact_on_m7


def test_patched_tiny_model_on_the_emulated_m7_equals_tflm(tiny, tmp_path):
    require_tool("arm-none-eabi-gcc")
    require_tool("qemu-system-arm")
    from firmware_export.cengine import generate_engine
    from firmware_export.firmware import build_firmware
    from toolchain.base.tflite_reader import read_tflite

    engine = generate_engine(read_tflite(tiny.tflite_bytes, "tiny"), "tiny", "tiny.tflite", patch=2)
    stage = engine.patch
    assert stage is not None and stage.patches == 2
    assert engine.op_names[stage.first:stage.last + 1] == ("CONV_2D", "MAX_POOL_2D")
    target = targets.load_target("cortex-m7")
    firmware = build_firmware(engine, target, tmp_path / "fw")
    exact_on_m7(tiny.tflite_bytes, "tiny", tmp_path, runs=3, firmware=firmware.elf.parent)
