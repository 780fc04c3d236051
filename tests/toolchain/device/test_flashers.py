"""Flash back ends: plans and pre-checks, without hardware."""
from __future__ import annotations

import struct
from dataclasses import replace
from pathlib import Path

import pytest

import targets
from targets import CommandOptions, MassStorageOptions
from toolchain.device.flashers import (CommandFlasher, EsptoolFlasher, FirmwareImage, FlashOptions,
                                       MassStorageFlasher, PyocdFlasher, command_args, find_volume,
                                       flasher_for)
from toolchain.base.uf2 import bin_to_uf2, parse_uf2
from toolchain.base.errors import DeviceError, DoesNotFitError, InputFileError, ToolchainError


def _image(tmp_path: Path, size: int) -> FirmwareImage:
    data = bytes((i * 7) & 0xFF for i in range(size))
    (tmp_path / "firmware.bin").write_bytes(data)
    return FirmwareImage(elf=None, bin=tmp_path / "firmware.bin", hex=None, flash_used_bytes=size)


def test_uf2_blocks_are_exact():
    data = bytes(range(256)) + b"\xAA" * 10
    blob = bin_to_uf2(data, 0x1000_0000, 0xE48BFF56)
    assert len(blob) == 2 * 512
    head = struct.unpack_from("<8I", blob, 512)
    assert head == (0x0A324655, 0x9E5D5157, 0x2000, 0x1000_0100, 256, 1, 2, 0xE48BFF56)
    assert struct.unpack_from("<I", blob, 1020) == (0x0AB16F30,)
    blocks = parse_uf2(blob)
    assert [a for a, _, _ in blocks] == [0x1000_0000, 0x1000_0100]
    assert blocks[0][1] == bytes(range(256))
    assert blocks[1][1] == b"\xAA" * 10 + bytes(246)
    assert {f for _, _, f in blocks} == {0xE48BFF56}
    with pytest.raises(ValueError):
        bin_to_uf2(data, 0x1000_0001)


def test_command_template_fills_each_word(tmp_path):
    target = targets.load_target("nucleo-h743zi")
    image = _image(tmp_path / "", 100)
    args = command_args("st-flash --reset write {bin} {flash_start}", image, target, FlashOptions())
    assert args == ["st-flash", "--reset", "write", str(tmp_path / "firmware.bin"), "0x08000000"]
    with pytest.raises(InputFileError, match="unknown placeholder"):
        command_args("x {nope}", image, target, FlashOptions())


def test_command_flasher_needs_its_program(tmp_path):
    target = replace(targets.load_target("nucleo-h743zi"), flasher="command",
                     flasher_options=CommandOptions(command="no-such-flasher-tool {bin}"))
    with pytest.raises(ToolchainError, match="no-such-flasher-tool: not found"):
        CommandFlasher(target, FlashOptions()).flash(_image(tmp_path, 100))


def test_too_large_is_refused_before_anything(tmp_path):
    target = targets.load_target("rp2040-pico")
    drive = tmp_path / "RPI-RP2"
    drive.mkdir()
    big = FirmwareImage(elf=None, bin=None, hex=None, flash_used_bytes=target.flash_bytes + 1)
    with pytest.raises(DoesNotFitError, match="needs 2,097,153 bytes of flash"):
        MassStorageFlasher(target, FlashOptions(drive=str(drive))).flash(big)
    assert list(drive.iterdir()) == []


def test_uf2_copied_to_the_drive(tmp_path):
    target = targets.load_target("rp2040-pico")
    drive = tmp_path / "RPI-RP2"
    drive.mkdir()
    (drive / "INFO_UF2.TXT").write_text("UF2 Bootloader v3.0\nModel: Raspberry Pi RP2\nBoard-ID: RPI-RP2\n")
    image = _image(tmp_path, 600)
    plan = MassStorageFlasher(target, FlashOptions(drive=str(drive))).flash(image).plan
    assert plan.copy_to == drive / "firmware.uf2"
    blocks = parse_uf2((drive / "firmware.uf2").read_bytes())
    assert b"".join(p for _, p, _ in blocks)[:600] == image.bin.read_bytes()
    assert blocks[0][0] == 0x1000_0000


def test_wrong_board_drive_is_refused(tmp_path):
    target = replace(targets.load_target("rp2040-pico"),
                     flasher_options=MassStorageOptions(volume_label="RPI-RP2", image_format="uf2",
                                                        board_id="RPI-RP2"))
    drive = tmp_path / "drive"
    drive.mkdir()
    (drive / "INFO_UF2.TXT").write_text("Board-ID: SAMD21-Feather\n")
    with pytest.raises(DeviceError, match="SAMD21-Feather bootloader, not RPI-RP2"):
        MassStorageFlasher(target, FlashOptions(drive=str(drive))).flash(_image(tmp_path, 10))
    assert sorted(p.name for p in drive.iterdir()) == ["INFO_UF2.TXT"]


def test_missing_drive_is_a_clear_error(tmp_path):
    target = replace(targets.load_target("rp2040-pico"),
                     flasher_options=MassStorageOptions(volume_label="NO-SUCH-DRIVE-LABEL", image_format="uf2"))
    with pytest.raises(DeviceError, match="no drive labelled NO-SUCH-DRIVE-LABEL is mounted"):
        MassStorageFlasher(target, FlashOptions()).flash(_image(tmp_path, 10))


def test_find_volume_by_label_and_by_folder_name():
    mounts = "/dev/sdb1 /media/me/RPI-RP2 vfat rw 0 0\n/dev/sdc1 /mnt/other\\040drive vfat rw 0 0\n"
    assert find_volume("RPI-RP2", mounts, {}) == Path("/media/me/RPI-RP2")
    assert find_volume("DAPLINK", mounts, {"DAPLINK": "/dev/sdc1"}) == Path("/mnt/other drive")
    assert find_volume("NODE_F411RE", mounts, {}) is None


def test_esptool_missing_port(tmp_path):
    target = targets.load_target("esp32-s3-devkitc")
    flasher = EsptoolFlasher(target, FlashOptions(port="/dev/ttyNOPE"))
    try:
        import esptool  # noqa: F401
    except ImportError:
        with pytest.raises(ToolchainError, match="pip install 'edgec\\[probes\\]'"):
            flasher.flash(_image(tmp_path, 100))
        return
    with pytest.raises(DeviceError, match="/dev/ttyNOPE does not exist"):
        flasher.flash(_image(tmp_path, 100))


def test_esptool_plan(tmp_path):
    target = targets.load_target("esp32-s3-devkitc")
    plan = EsptoolFlasher(target, FlashOptions(port="/dev/ttyUSB1")).plan(_image(tmp_path, 100))
    assert plan.command[1:] == ("-m", "esptool", "--chip", "esp32s3", "--port", "/dev/ttyUSB1", "--baud",
                                "460800", "write_flash", "0x10000", str(tmp_path / "firmware.bin"))


def test_pyocd_without_probe_or_package(tmp_path):
    target = targets.load_target("nucleo-h743zi")
    flasher = flasher_for(target, FlashOptions())
    assert isinstance(flasher, PyocdFlasher)
    image = _image(tmp_path, 100)
    try:
        import pyocd  # noqa: F401
    except ImportError:
        with pytest.raises(ToolchainError, match="pyocd: not installed"):
            flasher.flash(image)
        return
    with pytest.raises(DeviceError, match="no debug probe found"):
        flasher.flash(image)


def test_image_from_missing_folder(tmp_path):
    with pytest.raises(InputFileError, match="no firmware.elf, .bin or .hex"):
        FirmwareImage.from_dir(tmp_path, targets.load_target("cortex-m7"))
