"""An idle emulated board sleeps: the firmware waits for its UART's receive interrupt with WFI and
QEMU (-icount sleep=on) sleeps with it, on every emulated machine; and the vector table sends the
UART's interrupt to the receive handler."""
from __future__ import annotations

import time

import pytest
from elftools.elf.elffile import ELFFile

from firmware_export.firmware.context import vector_table_bytes
from tests.conftest import require_tool
from tests.firmware_export.firmware.conftest import EMULATED_TARGETS
from toolchain.device.eembc import EembcClient, open_port
from toolchain.device.emulator import QemuRunner

IDLE_S = 1.0
# Busy-polling took a whole core (33-59 % on this shared, loaded machine when measured); sleeping
# takes about 0 (bench/idle_qemu.py). Generous: the host may be loaded, and /proc counts in 10 ms.
MAX_IDLE_CPU = 0.15


@pytest.mark.parametrize("name", EMULATED_TARGETS)
def test_an_idle_emulated_board_sleeps(tiny, tiny_firmware, name):
    require_tool("qemu-system-arm")
    import targets

    target = targets.load_target(name)
    with QemuRunner(target.emulator.machine, tiny_firmware[name].elf) as q, \
            EembcClient(open_port(q.url), timeout_s=5) as c:
        c.connect()
        cpu0, wall0 = q.cpu_seconds(), time.monotonic()
        time.sleep(IDLE_S)
        ratio = (q.cpu_seconds() - cpu0) / (time.monotonic() - wall0)
        assert ratio < MAX_IDLE_CPU, f"an idle {q.machine.machine} used {ratio:.0%} of a core"
        c.load(tiny.input.tobytes())  # awake again at once
        c.infer(1, 0, timeout_s=30)
        assert c.raw_outputs() == tiny.expected.tobytes()


def _symbols(elf: ELFFile) -> dict[str, int]:
    return {s.name: s["st_value"] for s in elf.get_section_by_name(".symtab").iter_symbols() if s.name}


@pytest.mark.parametrize("name", EMULATED_TARGETS)
def test_the_uart_interrupt_vector_is_the_receive_handler(tiny_firmware, name):
    import targets

    irq = targets.load_target(name).emulator.uart_irq
    with open(tiny_firmware[name].elf, "rb") as fh:
        elf = ELFFile(fh)
        section = elf.get_section_by_name(".vectors")
        table, syms = section.data(), _symbols(elf)
    assert len(table) == vector_table_bytes(irq) == 4 * (17 + irq)
    assert section["sh_addr"] % 256 == 0
    words = [int.from_bytes(table[i:i + 4], "little") for i in range(0, len(table), 4)]
    assert words[16 + irq] == syms["edgec_uart_irq_handler"] | 1  # a Thumb address
    assert words[16:16 + irq] == [syms["Fault_Handler"] | 1] * irq  # the others are never enabled
    assert words[15] == syms["SysTick_Handler"] | 1
