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
        "-monitor", "none", "-icount", "shift=0,align=off,sleep=off",
        "-serial", "tcp:127.0.0.1:5555,server=on,wait=on,nodelay=on", "-kernel", "out/firmware.elf"]


def test_pty_serial_and_shift():
    args = qemu_args("netduinoplus2", "fw.elf", "pty", icount_shift=3, qemu="/usr/bin/qemu-system-arm")
    assert args[0] == "/usr/bin/qemu-system-arm"
    assert args[args.index("-serial") + 1] == "pty"
    assert args[args.index("-icount") + 1] == "shift=3,align=off,sleep=off"
    assert args[args.index("-cpu") + 1] == "cortex-m4"


def test_bad_serial_and_unknown_machine():
    with pytest.raises(ValueError):
        qemu_args("mps2-an500", "fw.elf", "stdio")
    with pytest.raises(UnknownNameError, match="did you mean 'mps2-an500'"):
        machine("mps2-an50")


def test_instructions_from_systick_ticks():
    # mps2: SysTick on the 25 MHz system clock, 1 ns of virtual time per instruction
    assert instructions_from_ticks(1, "mps2-an500") == 40
    assert instructions_from_ticks(250_000, "mps2-an386") == 10_000_000
    assert instructions_from_ticks(32, "mps3-an547") == 1000
    assert instructions_from_ticks(168, "netduinoplus2") == 1000
    assert instructions_from_ticks(125, "lm3s6965evb") == 10_000  # 12.5 MHz
    assert instructions_from_ticks(1, "mps2-an500", icount_shift=1) == 20


def test_caps_are_validated():
    assert QEMU_CAPS.deterministic_time and not QEMU_CAPS.cycle_counter
    with pytest.raises(ValueError):
        EmulatorCaps(machines=("x",), serial_backends=("usb",), deterministic_time=True, cycle_counter=False)


@pytest.mark.parametrize("name", ["cortex-m4", "cortex-m7", "cortex-m55", "netduinoplus2", "lm3s6965evb"])
def test_emulated_profiles_agree_with_the_machine(name):
    profile = targets.load_target(name)
    m = MACHINES[profile.emulator.machine]
    assert profile.uart == m.uart
    assert profile.uart_base == m.uart_base
    assert profile.core == m.cpu
    assert profile.flasher == "qemu"
