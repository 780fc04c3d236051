"""A patched engine (cengine/patch.py) in firmware on the emulated Cortex-M7 (DSP path, real gcc),
over serial: its outputs equal the tflite-micro interpreter's byte for byte."""
from __future__ import annotations

import targets
from tests.conftest import require_tool
from toolchain.benchmark import BenchOptions, run_bench


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
    model = tmp_path / "tiny.tflite"
    model.write_bytes(tiny.tflite_bytes)
    result = run_bench(BenchOptions(target=target, emulate=True, model=model, firmware=firmware.elf.parent,
                                    runs=3, warmup=0, limit=3, out_dir=tmp_path / "bench"))
    c = result.comparison
    assert c.basis == "raw" and c.compared == 3
    assert c.exact_match_rate == 1.0 and c.max_abs_diff == 0.0
