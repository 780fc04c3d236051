"""The harness on every emulated board (CMSDK UART on MPS2/MPS3 and the M33's mps2-an505, STM32
USART on the netduinoplus2, PL011 -- the RP2040's UART -- on the lm3s6965evb, the nRF51's legacy
UART on the micro:bit's Cortex-M0): the MLPerf Tiny protocol end to
end over QEMU's serial port, running a real generated engine whose outputs must equal the
tflite-micro interpreter's byte for byte."""
from __future__ import annotations

import pytest
from elftools.elf.elffile import ELFFile

from tests.conftest import require_tool
from tests.firmware_export.firmware.conftest import EMULATED_TARGETS
from toolchain.device.eembc import DeviceAnswerError, EembcClient, open_port
from toolchain.device.emulator import QemuRunner


@pytest.mark.parametrize("name", EMULATED_TARGETS)
def test_protocol_on_every_emulated_board(tiny, tiny_firmware, name):
    require_tool("qemu-system-arm")
    import targets

    fw, engine = tiny_firmware[name], tiny.engine
    target = targets.load_target(name)
    with QemuRunner(target.emulator.machine, fw.elf) as q, EembcClient(open_port(q.url), timeout_s=5) as c:
        info = c.connect()
        assert (info.name, info.model) == ("edgec tiny", "tiny")
        assert info.firmware == (f"edgec-fw-1.0, emulated board (QEMU {target.emulator.machine}): m-lap-us from "
                                 f"instructions at {target.clock_hz} Hz")
        c.load(tiny.input.tobytes())
        assert c.read_buffer() == tiny.input.tobytes()
        answer = c.infer(2, 1, timeout_s=30)
        assert c.raw_outputs() == tiny.expected.tobytes()
        assert answer.results == tiny.printed_results()
        assert c.results() == answer.results
        timing = c.timing()
        assert timing["timer"] == "systick" and int(timing["runs"]) == 2 and int(timing["ticks"]) > 0
        assert int(timing["core_hz"]) == int(timing["timer_hz"]) == fw.core_clock_hz
        layers = c.layers()
        assert [(i, op) for i, op, _ in layers] == [(0, "CONV_2D"), (1, "MAX_POOL_2D"), (2, "RESHAPE"),
                                                    (3, "FULLY_CONNECTED")]
        stack = c.stack()
        assert 0 < int(stack["used"]) < int(stack["size"]) == fw.stack_bytes
        assert c.arena() == {"bytes": str(engine.activation_bytes), "input": "64", "output": "4"}
        with pytest.raises(DeviceAnswerError, match="Unknown command: frobnicate"):
            c.command("frobnicate", retry=False)
        with pytest.raises(DeviceAnswerError, match="db load"):
            c.command(f"db load {engine.input_bytes + 1}", retry=False)
        with pytest.raises(DeviceAnswerError, match="must be >0"):
            c.command("infer 0 0", retry=False)


def test_sizes_come_from_the_elf(tiny_firmware):
    fw = tiny_firmware["cortex-m7"]
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


def test_build_is_deterministic(tiny, tiny_firmware, tmp_path):
    import targets
    from firmware_export.firmware import build_firmware

    again = build_firmware(tiny.engine, targets.load_target("cortex-m7"), tmp_path / "again")
    assert again.bin.read_bytes() == tiny_firmware["cortex-m7"].bin.read_bytes()
    assert again.hex.read_bytes() == tiny_firmware["cortex-m7"].hex.read_bytes()


def test_client_resynchronises_after_garbage_sent_to_the_emulated_device(tiny, tiny_firmware):
    require_tool("qemu-system-arm")
    fw = tiny_firmware["cortex-m7"]
    with QemuRunner("mps2-an500", fw.elf) as q, EembcClient(open_port(q.url), timeout_s=5) as c:
        c.connect()
        c.port.write(b"\x00\xffdb lo" + b"z" * 300)  # a half command, then more than a command holds
        with pytest.raises(DeviceAnswerError, match="Command too long"):
            c.command("name", retry=False)
        c.port.write(b"\x00\xffdb lo" + b"z" * 300)
        assert c.identify().name == "edgec tiny"  # the same, with retries: resynchronised
        c.port.write(b"%%garbage")
        c.load(tiny.input.tobytes())
        assert c.read_buffer() == tiny.input.tobytes()


def test_a_cortex_m0plus_build_with_the_pl011_runs_the_protocol(tiny, monkeypatch, tmp_path):
    """The RP2040's instruction set (Armv6-M: no hardware divide, 64-bit arithmetic in libgcc),
    its UART (PL011) and its timer (SysTick): built with the rp2040-pico's compiler flags and run
    on QEMU's Stellaris board with a Cortex-M0 core. Only the board set-up is not exercised."""
    require_tool("arm-none-eabi-gcc")
    require_tool("qemu-system-arm")
    from dataclasses import replace

    import targets
    from firmware_export.firmware import build_firmware
    from toolchain.device import emulator

    pico = targets.load_target("rp2040-pico")
    target = replace(targets.load_target("lm3s6965evb"), core=pico.core, cflags=pico.cflags)
    fw = build_firmware(tiny.engine, target, tmp_path)
    assert fw.timer == "systick" and fw.warnings == ()
    monkeypatch.setitem(emulator.MACHINES, "lm3s6965evb", replace(emulator.MACHINES["lm3s6965evb"], cpu="cortex-m0"))
    with emulator.QemuRunner("lm3s6965evb", fw.elf) as q, EembcClient(open_port(q.url), timeout_s=5) as c:
        c.connect()
        c.load(tiny.input.tobytes())
        answer = c.infer(3, 1, timeout_s=30)
        assert c.raw_outputs() == tiny.expected.tobytes()
        assert answer.results == tiny.printed_results()
        assert int(c.timing()["ticks"]) > 0


def test_a_firmware_larger_than_the_micro_bit_s_ram_is_refused_naming_the_bytes(tiny, tmp_path):
    """cortex-m0plus has 32 KiB of SRAM, QEMU's micro:bit 16 KiB: a firmware that fits the profile
    but not the machine is refused before QEMU starts, with the bytes it needs and has."""
    require_tool("arm-none-eabi-gcc")
    import targets
    from firmware_export.firmware import FirmwareOptions, build_firmware
    from toolchain.base.errors import DoesNotFitError

    target = targets.load_target("cortex-m0plus")
    fw = build_firmware(tiny.engine, target, tmp_path, FirmwareOptions(stack_bytes=16 * 1024))
    assert 16 * 1024 < fw.sram_used_bytes <= 32 * 1024  # fits the profile
    with pytest.raises(DoesNotFitError) as info:
        QemuRunner(target.emulator.machine, fw.elf).start()
    assert str(info.value) == (
        f"the firmware does not fit QEMU's microbit: it needs {fw.sram_used_bytes:,} bytes of the machine's sram "
        f"from 0x20000000 (to the end of .stack), which has 16,384: {fw.sram_used_bytes - 16384:,} bytes too many")
