"""How a board is written, per flasher: the profile's [flasher_options], one typed dataclass per
flasher (no untyped dict: a key a flasher does not take is refused, with the file and the key)."""
from __future__ import annotations

from dataclasses import dataclass

from toolchain.base.tomlcheck import Table

IMAGE_FORMATS = ("bin", "hex", "uf2")


@dataclass(frozen=True)
class NoOptions:
    """Flashers that take no options: "qemu" (the emulator) and "none" (no way to write the part)."""


@dataclass(frozen=True)
class PyocdOptions:
    pyocd_target: str  # pyOCD's target type (`pyocd list --targets`), e.g. "stm32h743zitx"


@dataclass(frozen=True)
class EsptoolOptions:
    chip: str = "auto"  # esptool --chip, e.g. "esp32s3"
    write_address: int = 0x10000  # where the application image goes (after bootloader, partitions)
    flash_baud: int = 460_800


@dataclass(frozen=True)
class MassStorageOptions:
    volume_label: str  # the drive's label, how it is found when --drive is not given
    image_format: str = "bin"  # what is copied to it: bin, hex, or uf2 (made from the bin)
    uf2_family_id: int | None = None  # the UF2 family ID the bootloader accepts
    board_id: str = ""  # INFO_UF2.TXT's Board-ID, checked when set


@dataclass(frozen=True)
class CommandOptions:
    command: str  # a command template: {elf} {bin} {hex} {port} {flash_start}


FlasherOptions = NoOptions | PyocdOptions | EsptoolOptions | MassStorageOptions | CommandOptions


def _pyocd(t: Table) -> PyocdOptions:
    return PyocdOptions(pyocd_target=t.text("pyocd_target", what="a pyOCD target type"))


def _esptool(t: Table) -> EsptoolOptions:
    base = EsptoolOptions()
    return EsptoolOptions(chip=t.text("chip", base.chip, "an esptool chip name"),
                          write_address=t.integer("write_address", base.write_address, 0, what="an address"),
                          flash_baud=t.integer("flash_baud", base.flash_baud, 1, what="a baud rate"))


def _mass_storage(t: Table) -> MassStorageOptions:
    return MassStorageOptions(volume_label=t.text("volume_label", what="the drive's volume label"),
                              image_format=t.choice("image_format", IMAGE_FORMATS, "bin"),
                              uf2_family_id=t.integer("uf2_family_id", None, 0, 0xFFFF_FFFF),
                              board_id=t.text("board_id", ""))


def _command(t: Table) -> CommandOptions:
    return CommandOptions(command=t.text("command", what='a command template, e.g. '
                                         '"st-flash --reset write {bin} {flash_start}"'))


PARSERS = {"qemu": lambda t: NoOptions(), "none": lambda t: NoOptions(), "pyocd": _pyocd,
           "esptool": _esptool, "mass-storage": _mass_storage, "command": _command}
FLASHERS = tuple(PARSERS)


def parse_flasher_options(flasher: str, table: Table) -> FlasherOptions:
    """The [flasher_options] of a profile whose `flasher` is `flasher`; other keys refused."""
    options = PARSERS[flasher](table)
    table.done()
    return options
