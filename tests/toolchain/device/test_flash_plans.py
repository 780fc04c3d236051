"""Flashers say what they do: the plan a dry run prints is what a real run executes, run by the real
tools (cp, esptool, pyOCD, QEMU) without hardware; declared capabilities are checked first."""
from __future__ import annotations

import importlib.util
import shlex
import subprocess
from dataclasses import replace
from pathlib import Path

import pytest

import targets
from targets import CommandOptions, MassStorageOptions
from tests.conftest import require_tool
from toolchain.device.emulator import QemuRunner
from toolchain.device.flashers import FirmwareImage, FlashOptions, flasher_for
from firmware_export.firmware.images import target_uf2
from toolchain.base.uf2 import parse_uf2
from toolchain.base.errors import CapabilityError, ToolchainError


def require_module(name: str) -> None:
    """Skip when the optional extra `name` (edgec[probes]) is missing (a failure under CI=true:
    tests/ci_skips.py)."""
    if importlib.util.find_spec(name) is None:
        pytest.skip(f"{name} is not installed (pip install 'edgec[probes]')")


def _files(tmp_path: Path, *formats: str, size: int = 600) -> FirmwareImage:
    data = bytes((i * 7) & 0xFF for i in range(size))
    paths = {}
    for fmt in formats:
        paths[fmt] = tmp_path / f"firmware.{fmt}"
        paths[fmt].write_bytes(data)
    return FirmwareImage(elf=paths.get("elf"), bin=paths.get("bin"), hex=paths.get("hex"), uf2=paths.get("uf2"),
                         flash_used_bytes=size)


def test_command_flasher_runs_the_command_its_dry_run_shows(tmp_path):
    require_tool("cp")
    dest = tmp_path / "written.bin"
    target = replace(targets.load_target("nucleo-h743zi"), flasher="command",
                     flasher_options=CommandOptions(command=f"cp {{bin}} '{dest}'"))
    image = _files(tmp_path, "bin")
    dry = flasher_for(target, FlashOptions(dry_run=True)).flash(image)
    assert dry.plan.command == ("cp", str(image.bin), str(dest)) and dry.executed == () and not dest.exists()
    done = flasher_for(target, FlashOptions()).flash(image)
    assert done.plan == dry.plan and done.executed == dry.plan.command
    assert dest.read_bytes() == image.bin.read_bytes()
    assert dry.plan.describe() == f"cp {image.bin} {dest}"


def test_mass_storage_copies_the_bytes_its_dry_run_shows(tmp_path):
    target = targets.load_target("rp2040-pico")
    drive = tmp_path / "RPI-RP2"
    drive.mkdir()
    image = _files(tmp_path, "bin")
    dry = flasher_for(target, FlashOptions(drive=str(drive), dry_run=True)).flash(image)
    assert list(drive.iterdir()) == [] and dry.written is None
    assert dry.plan.describe() == f"copy firmware.uf2 (1,536 bytes) to {drive / 'firmware.uf2'}"
    done = flasher_for(target, FlashOptions(drive=str(drive))).flash(image)
    assert done.plan == dry.plan and done.written == dry.plan.copy_to
    assert (drive / "firmware.uf2").read_bytes() == dry.plan.payload == target_uf2(image.bin.read_bytes(), target)


def test_the_build_s_uf2_is_copied_not_made_again(tmp_path):
    """A firmware folder holds the UF2 the build made: that file is what is copied, byte for byte."""
    target = targets.load_target("rp2040-pico")
    drive = tmp_path / "drive"
    drive.mkdir()
    out = tmp_path / "out"
    out.mkdir()
    image = _files(out, "bin", "hex")
    built = target_uf2(b"\x01" * 300, target)  # differs from firmware.bin: a UF2 made again would show it
    (out / "firmware.uf2").write_bytes(built)
    image = replace(image, uf2=out / "firmware.uf2")
    done = flasher_for(target, FlashOptions(drive=str(drive))).flash(image)
    assert (drive / "firmware.uf2").read_bytes() == built and len(parse_uf2(built)) == 2
    assert done.plan.payload == built


def test_esptool_runs_the_plan_s_command(tmp_path):
    """Without a board the real esptool stops at the port: it parsed every argument of the plan."""
    require_module("esptool")
    target = targets.load_target("esp32-s3-devkitc")
    flasher = flasher_for(target, FlashOptions(port="/dev/ttyNOPE"))
    plan = flasher.plan(_files(tmp_path, "bin"))
    assert plan.command[3:] == ("--chip", "esp32s3", "--port", "/dev/ttyNOPE", "--baud", "460800", "write_flash",
                                "0x10000", str(tmp_path / "firmware.bin"))
    with pytest.raises(ToolchainError) as info:
        flasher.run(plan)
    assert f"failed with status 2: {shlex.join(plan.command)}" in str(info.value)
    assert "could not open port /dev/ttyNOPE" in info.value.output


@pytest.mark.parametrize("formats, tail", [
    (("elf", "bin"), ("--format", "elf", "{elf}")),
    (("bin",), ("--format", "bin", "--base-address", "0x08000000", "{bin}")),
])
def test_pyocd_runs_the_plan_s_command(tmp_path, formats, tail):
    """The plan is pyOCD's own command line, and run() runs it: without a probe the real pyOCD
    stops at the probe, after accepting every argument."""
    require_module("pyocd")
    target = targets.load_target("nucleo-h743zi")
    flasher = flasher_for(target, FlashOptions(probe="0123456789"))
    image = _files(tmp_path, *formats)
    plan = flasher.plan(image)
    files = {"{elf}": str(image.elf), "{bin}": str(image.bin)}
    assert plan.command[1:] == ("-m", "pyocd", "flash", "--no-wait", "--target", "stm32h743zitx",
                                "--uid", "0123456789", *(files.get(w, w) for w in tail))
    with pytest.raises(ToolchainError) as info:
        flasher.run(plan)
    assert f": {shlex.join(plan.command)}" in str(info.value)
    assert "No connected debug probe matches unique ID '0123456789'" in info.value.output


def test_qemu_runs_the_plan_s_command(tmp_path):
    """`edgec flash` on an emulated target starts the plan's command line: the same argv."""
    gcc = require_tool("arm-none-eabi-gcc")
    require_tool("qemu-system-arm")
    src = tmp_path / "spin.c"
    src.write_text("void reset(void) { for (;;) { } }\n"
                   "__attribute__((section(\".vectors\"), used)) const void *vectors[2] = "
                   "{ (void *)0x20001000, (void *)reset };\n")
    elf = tmp_path / "firmware.elf"
    subprocess.run([gcc, "-mcpu=cortex-m7", "-mthumb", "-nostdlib", "-Wl,--section-start=.vectors=0",
                    "-Wl,-Ttext=0x400", "-Wl,--entry=reset", "-o", str(elf), str(src)], check=True)
    target = targets.load_target("cortex-m7")
    image = FirmwareImage(elf=elf, bin=None, hex=None, flash_used_bytes=elf.stat().st_size)
    plan = flasher_for(target, FlashOptions(dry_run=True)).flash(image).plan
    with QemuRunner.from_command(plan.command) as runner:
        assert runner.proc.args == list(plan.command)
        assert runner.url.startswith("/dev/pts/")


@pytest.mark.parametrize("name, formats, options, capability, message", [
    ("esp32-s3-devkitc", ("elf",), {"port": "/dev/ttyUSB0"}, "formats", "writes bin images; the firmware has elf"),
    ("cortex-m7", ("bin", "hex"), {}, "formats", "writes elf images; the firmware has bin, hex"),
    ("rp2040-pico", ("hex",), {"drive": "."}, "formats", "writes uf2 images; the firmware has hex"),
    ("nucleo-h743zi", ("elf",), {"port": "/dev/ttyACM0"}, "takes", "does not use --port; it takes --probe"),
    ("cortex-m7", ("elf",), {"probe": "0123"}, "takes", "does not use --probe; it takes no device option"),
])
def test_a_capability_the_flasher_lacks_is_refused_before_anything(tmp_path, name, formats, options, capability,
                                                                    message):
    target = targets.load_target(name)
    flasher = flasher_for(target, FlashOptions(**options))
    with pytest.raises(CapabilityError) as info:
        flasher.flash(_files(tmp_path, *formats))
    assert info.value.capability == capability
    assert str(info.value) == (f"flasher '{target.flasher}' (target '{name}'): {message}"
                               + (" (edgec build --firmware writes elf, bin and hex)" if capability == "formats"
                                  else "") + f" (capability '{capability}')")


def test_a_port_flasher_without_a_port_is_refused(tmp_path):
    target = targets.load_target("esp32-s3-devkitc")
    target = replace(target, serial=replace(target.serial, port_hint=""))
    with pytest.raises(CapabilityError) as info:
        flasher_for(target, FlashOptions()).flash(_files(tmp_path, "bin"))
    assert str(info.value) == ("flasher 'esptool' (target 'esp32-s3-devkitc'): needs a serial port: pass --port "
                               "(e.g. /dev/ttyUSB0) (capability 'needs')")


def test_a_mass_storage_hex_target_needs_a_hex(tmp_path):
    target = replace(targets.load_target("rp2040-pico"),
                     flasher_options=MassStorageOptions(volume_label="DAPLINK", image_format="hex"))
    with pytest.raises(CapabilityError, match="writes hex images; the firmware has bin"):
        flasher_for(target, FlashOptions(drive=str(tmp_path))).flash(_files(tmp_path, "bin"))
