"""The QEMU command line and the instruction count, checked without QEMU."""
from __future__ import annotations

import pytest

import targets
from toolchain.device.emulator import (MACHINES, QEMU_CAPS, EmulatorCaps, instructions_from_ticks, machine,
                                       qemu_args)
from toolchain.base.errors import UnknownNameError


def test_tcp_serial_waits_for_the_client_and_counts_instructions():
    assert qemu_args("mps2-an500", "out/firmware.elf", "tcp:127.0.0.1:5555") == [
        "qemu-system-arm", "-machine", "mps2-an500", "-cpu", "cortex-m7", "-nodefaults", "-display", "none",
        "-monitor", "none", "-icount", "shift=0,align=off,sleep=on",
        "-serial", "tcp:127.0.0.1:5555,server=on,wait=on,nodelay=on", "-kernel", "out/firmware.elf"]


def test_pty_serial_and_shift():
    args = qemu_args("netduinoplus2", "fw.elf", "pty", icount_shift=3, qemu="/usr/bin/qemu-system-arm")
    assert args[0] == "/usr/bin/qemu-system-arm"
    assert args[args.index("-serial") + 1] == "pty"
    assert args[args.index("-icount") + 1] == "shift=3,align=off,sleep=on"
    assert args[args.index("-cpu") + 1] == "cortex-m4"


def test_bad_serial_and_unknown_machine():
    with pytest.raises(ValueError):
        qemu_args("mps2-an500", "fw.elf", "stdio")
    with pytest.raises(UnknownNameError, match="did you mean 'mps2-an505', 'mps2-an500'"):
        machine("mps2-an50")


def test_instructions_from_systick_ticks():
    # mps2: SysTick on the 25 MHz system clock, 1 ns of virtual time per instruction
    assert instructions_from_ticks(1, "mps2-an500") == 40
    assert instructions_from_ticks(250_000, "mps2-an386") == 10_000_000
    assert instructions_from_ticks(32, "mps3-an547") == 1000
    assert instructions_from_ticks(168, "netduinoplus2") == 1000
    assert instructions_from_ticks(125, "lm3s6965evb") == 10_000  # 12.5 MHz
    assert instructions_from_ticks(16, "microbit") == 1000  # the nRF51's 16 MHz HCLK
    assert instructions_from_ticks(20, "mps2-an505") == 1000  # the IoTKit's 20 MHz
    assert instructions_from_ticks(1, "mps2-an500", icount_shift=1) == 20


def test_caps_are_validated():
    assert QEMU_CAPS.deterministic_time and not QEMU_CAPS.cycle_counter
    with pytest.raises(ValueError):
        EmulatorCaps(machines=("x",), serial_backends=("usb",), deterministic_time=True, cycle_counter=False)


@pytest.mark.parametrize("name", ["cortex-m0plus", "cortex-m4", "cortex-m7", "cortex-m33", "cortex-m55", "microbit",
                                  "netduinoplus2", "lm3s6965evb"])
def test_emulated_profiles_agree_with_the_machine(name):
    profile = targets.load_target(name)
    m = MACHINES[profile.emulator.machine]
    assert profile.uart == m.uart
    assert profile.uart_base == m.uart_base
    assert profile.core == m.cpu or (profile.core, m.cpu) == ("cortex-m0plus", "cortex-m0")  # both Armv6-M
    assert profile.flasher == "qemu"
    for region in profile.memory:  # the profile's memory is the machine's, but the M0+'s SRAM (32 KiB, 16 there)
        held = m.memory_at(region.start)
        if (name, region.name) == ("netduinoplus2", "ccm"):  # QEMU 7.2 has no CCM; the firmware puts nothing there
            assert held is None
            continue
        assert held is not None
        if (name, region.name) != ("cortex-m0plus", "sram"):
            assert region.end <= held.end


def test_the_armv6m_profile_runs_on_the_micro_bit_s_cortex_m0():
    m0, m0plus = targets.cores()["cortex-m0"], targets.cores()["cortex-m0plus"]
    assert m0.runs_code_for(m0plus) and m0plus.runs_code_for(m0)
    assert not targets.cores()["cortex-m7"].runs_code_for(targets.cores()["cortex-m4"])  # a dp FPU is not an sp
    m3 = targets.cores()["cortex-m3"]  # Armv7-M contains Armv6-M, not the other way round
    assert m3.includes(m0plus) and not m3.runs_code_for(m0plus) and not m0plus.includes(m3)
    assert not m3.includes(targets.cores()["cortex-m4"])  # Armv7E-M's DSP instructions are not Armv7-M's
    microbit = MACHINES["microbit"]
    assert (microbit.cpu, microbit.sysclk_hz, microbit.uart, microbit.uart_base) == ("cortex-m0", 16_000_000,
                                                                                   "nrf51-uart", 0x4000_2000)
    assert [(r.start, r.size_bytes) for r in microbit.memory] == [(0, 256 << 10), (0x2000_0000, 16 << 10)]
    assert targets.load_target("cortex-m0plus").emulator == microbit
    assert targets.load_target("cortex-m33").emulator == MACHINES["mps2-an505"]
