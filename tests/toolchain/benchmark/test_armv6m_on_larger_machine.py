"""Armv6-M engine code on a QEMU machine with more RAM than the micro:bit (mps2-an385, Cortex-M3): the
firmware built for the Cortex-M0+ (its flags, its memory map) answers byte for byte as tflite-micro,
and QEMU counts the same instructions for an inference as on the micro:bit's Cortex-M0."""
from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import require_tool
from tests.firmware_export.firmware.conftest import tiny, tiny_firmware  # noqa: F401  (session fixtures)
from toolchain.benchmark.emulated_latency import _larger_machines, emulated_latency
from toolchain.device.eembc import EembcClient, open_port
from toolchain.device.emulator import QemuRunner

# 2**7 ns of virtual time per instruction: SysTick ticks 2.048 times an instruction on the micro:bit
# (16 MHz), 3.2 times on the mps2-an385 (25 MHz); with more than 2 ticks an instruction, the ticks of
# a span, rounded, give its instructions exactly (at shift 0 a tick is 62.5 and 40 instructions).
SHIFT = 7


def _instructions(target, elf, tiny) -> tuple[int, bytes]:
    """(instructions of one inference, the raw outputs) of `elf` on `target`'s QEMU machine."""
    m = target.emulator
    with QemuRunner(m.machine, elf, icount_shift=SHIFT) as q, EembcClient(open_port(q.url), timeout_s=10) as c:
        c.connect()
        c.load(tiny.input.tobytes())
        c.infer(1, 0, timeout_s=30)
        ticks = int(c.timing()["ticks"])
        return round(ticks * 1_000_000_000 / (m.sysclk_hz << SHIFT)), c.raw_outputs()


def test_armv6m_engine_on_mps2_an385_counts_the_micro_bit_s_instructions(tiny, tiny_firmware, tmp_path):
    require_tool("qemu-system-arm")
    import targets
    from firmware_export.firmware import build_firmware

    m0plus = targets.load_target("cortex-m0plus")
    (host,) = _larger_machines(m0plus)
    assert (host.name, host.emulator.machine, host.emulator.cpu) == ("cortex-m0plus@mps2-an385", "mps2-an385",
                                                                      "cortex-m3")
    assert (host.core, host.cflags, host.memory) == (m0plus.core, m0plus.cflags, m0plus.memory)
    fw = build_firmware(tiny.engine, host, tmp_path / "an385")
    readelf = require_tool("arm-none-eabi-readelf")
    attributes = subprocess.run([readelf, "-A", str(fw.elf)], capture_output=True, text=True, check=True).stdout
    assert "  Tag_CPU_arch: v6S-M\n" in attributes  # Armv6-M code, not Armv7-M
    on_microbit, raw_microbit = _instructions(m0plus, tiny_firmware["cortex-m0plus"].elf, tiny)
    on_an385, raw_an385 = _instructions(host, fw.elf, tiny)
    assert raw_microbit == raw_an385 == tiny.expected.tobytes()
    assert on_an385 == on_microbit > 10_000


@pytest.fixture(scope="module")
def too_large_for_the_micro_bit(tmp_path_factory) -> Path:
    """An int8 model whose firmware needs more than the micro:bit's 16 KiB of RAM, within the M0+'s 32 KiB."""
    from toolchain.quiet import import_tensorflow

    import_tensorflow()
    import keras

    from toolchain.convert import convert_int8
    from toolchain.loader import from_keras

    keras.utils.set_random_seed(5)
    model = keras.Sequential([keras.Input((32, 32, 3)), keras.layers.Conv2D(16, 3, activation="relu"),
                              keras.layers.MaxPooling2D(4), keras.layers.Flatten(), keras.layers.Dense(4)],
                             name="wide")
    calib = np.random.default_rng(0).uniform(-1.0, 1.0, (16, 32, 32, 3)).astype(np.float32)
    path = tmp_path_factory.mktemp("wide") / "wide.tflite"
    path.write_bytes(convert_int8(from_keras(model, "wide"), calib).tflite_bytes)
    return path


def test_a_fit_too_large_for_the_micro_bit_is_measured_on_mps2_an385(too_large_for_the_micro_bit, tmp_path):
    require_tool("qemu-system-arm")
    require_tool("arm-none-eabi-gcc")
    import targets

    m0plus = targets.load_target("cortex-m0plus")
    result = emulated_latency(too_large_for_the_micro_bit, m0plus, tmp_path)
    assert result["latency"] == "emulated", result
    assert 16 * 1024 < result["sram"] <= 32 * 1024
    assert (result["machine"], result["profile"], result["exact_outputs"]) == ("mps2-an385",
                                                                               "cortex-m0plus@mps2-an385", 1.0)
    assert result["basis"] == ("Armv6-M code (-mcpu=cortex-m0plus) on QEMU mps2-an385 (cortex-m3), instruction "
                               "count; cortex-m0plus cycles estimated from it, one each")
    assert result["latency_ms"] == round(1000 * result["instructions"] / m0plus.clock_hz, 4)
