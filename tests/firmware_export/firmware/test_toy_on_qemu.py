"""The harness on every emulated board (CMSDK UART on MPS2/MPS3, STM32 USART on the
netduinoplus2): the MLPerf Tiny protocol end to end over QEMU's serial port."""
from __future__ import annotations

import numpy as np
import pytest
from elftools.elf.elffile import ELFFile


from tests.conftest import require_tool
from tests.firmware_export.firmware.toy_engine import toy_reference
from toolchain.device.eembc import DeviceAnswerError, EembcClient, open_port
from toolchain.device.emulator import QemuRunner

INPUT = np.array([1, 2, 3, 4, -5, -6, -7, -8, 100, 100, 1, 1, -128, -128, 0, 1], dtype=np.int8)


@pytest.mark.parametrize("name", ["cortex-m7", "cortex-m4", "cortex-m55", "netduinoplus2"])
def test_protocol_on_every_emulated_board(toy_firmware, name):
    require_tool("qemu-system-arm")
    import targets

    fw = toy_firmware[name]
    target = targets.load_target(name)
    with QemuRunner(target.emulator.machine, fw.elf) as q, EembcClient(open_port(q.url), timeout_s=5) as c:
        info = c.connect()
        assert (info.name, info.firmware, info.model) == ("edgec toy", "edgec-fw-1.0", "toy")
        c.load(INPUT.tobytes())
        assert c.read_buffer() == INPUT.tobytes()
        answer = c.infer(2, 1, timeout_s=30)
        expected = toy_reference(INPUT)
        assert c.raw_outputs() == expected.tobytes()
        assert answer.results == tuple(float(v) for v in expected)
        assert c.results() == answer.results
        timing = c.timing()
        assert timing["timer"] == "systick" and int(timing["runs"]) == 2 and int(timing["ticks"]) > 0
        layers = c.layers()
        assert [(i, op) for i, op, _ in layers] == [(0, "SUM_0"), (1, "SUM_1"), (2, "SUM_2"), (3, "SUM_3")]
        stack = c.stack()
        assert 0 < int(stack["used"]) < int(stack["size"]) == fw.stack_bytes
        assert c.arena() == {"bytes": "64", "input": "16", "output": "4"}
        with pytest.raises(DeviceAnswerError, match="Unknown command: frobnicate"):
            c.command("frobnicate", retry=False)
        with pytest.raises(DeviceAnswerError, match="db load"):
            c.command("db load 17", retry=False)
        with pytest.raises(DeviceAnswerError, match="must be >0"):
            c.command("infer 0 0", retry=False)


def test_sizes_come_from_the_elf(toy_firmware):
    fw = toy_firmware["cortex-m7"]
    with open(fw.elf, "rb") as fh:
        elf = ELFFile(fh)
        alloc = {s.name: (s["sh_addr"], s["sh_size"]) for s in elf.iter_sections()
                 if s["sh_flags"] & 2 and s["sh_size"]}
    stack_addr, stack_size = alloc[".stack"]
    assert fw.sram_used_bytes == stack_addr + stack_size - 0x2000_0000  # RAM from its start to the stack top
    assert fw.stack_bytes == stack_size == 4096
    assert fw.bin.stat().st_size == fw.flash_used_bytes  # flash from 0 to the end of the .data image
    assert fw.hex.read_text().startswith(":")

    assert {r.name: r.used_bytes for r in fw.regions} == {"flash": fw.flash_used_bytes, "sram": fw.sram_used_bytes}


def test_build_is_deterministic(toy_firmware, tmp_path):
    import targets
    from firmware_export.firmware import build_firmware
    from tests.firmware_export.firmware.toy_engine import ToyEngine

    again = build_firmware(ToyEngine(), targets.load_target("cortex-m7"), tmp_path / "again")
    assert again.bin.read_bytes() == toy_firmware["cortex-m7"].bin.read_bytes()
    assert again.hex.read_bytes() == toy_firmware["cortex-m7"].hex.read_bytes()


def test_client_resynchronises_after_garbage_sent_to_the_emulated_device(toy_firmware):
    require_tool("qemu-system-arm")
    fw = toy_firmware["cortex-m7"]
    with QemuRunner("mps2-an500", fw.elf) as q, EembcClient(open_port(q.url), timeout_s=5) as c:
        c.connect()
        c.port.write(b"\x00\xffdb lo" + b"z" * 300)  # a half command, then more than a command holds
        with pytest.raises(DeviceAnswerError, match="Command too long"):
            c.command("name", retry=False)
        c.port.write(b"\x00\xffdb lo" + b"z" * 300)
        assert c.identify().name == "edgec toy"  # the same, with retries: resynchronised
        c.port.write(b"%%garbage")
        c.load(INPUT.tobytes())
        assert c.read_buffer() == INPUT.tobytes()
