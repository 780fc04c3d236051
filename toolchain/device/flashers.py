"""Flash back ends, chosen by the target profile's `flasher`.

Each back end declares what it can do (`FlasherCaps`), builds its plan in a pure function that
tests check without hardware, and runs its pre-checks (image fits, probe/port/drive present,
right chip) before anything is written.
"""
from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from targets import TargetProfile
from toolchain.device.uf2 import bin_to_uf2
from toolchain.errors import DeviceError, DoesNotFitError, EdgecError, InputFileError, ToolchainError

# CPUID.PARTNO (bits 15:4 of 0xE000ED00) of each Cortex-M core: the "right chip" check.
CPUID_PARTNO = {"cortex-m0plus": 0xC60, "cortex-m3": 0xC23, "cortex-m4": 0xC24, "cortex-m7": 0xC27,
                "cortex-m33": 0xD21, "cortex-m55": 0xD22, "cortex-m85": 0xD23}
CPUID_ADDRESS = 0xE000ED00


@dataclass(frozen=True)
class FlasherCaps:
    name: str
    formats: tuple[str, ...]  # what it writes: elf, bin, hex, uf2
    needs: str  # "probe", "port", "drive", "command", "nothing"
    python_extra: str = ""  # module imported lazily (an optional extra)

    def __post_init__(self):
        if self.needs not in ("probe", "port", "drive", "command", "nothing"):
            raise ValueError(f"unknown requirement {self.needs!r}")
        if not set(self.formats) <= {"elf", "bin", "hex", "uf2"}:
            raise ValueError(f"unknown formats {self.formats}")


@dataclass(frozen=True)
class FirmwareImage:
    """A built firmware: files and the flash bytes it occupies (read from the ELF)."""
    elf: Path | None
    bin: Path | None
    hex: Path | None
    flash_used_bytes: int

    @classmethod
    def from_dir(cls, path: Path, target: TargetProfile) -> "FirmwareImage":
        path = Path(path)
        if path.is_file():
            files = {path.suffix.lstrip("."): path}
            base = path.with_suffix("")
            for ext in ("elf", "bin", "hex"):
                if base.with_suffix("." + ext).is_file():
                    files.setdefault(ext, base.with_suffix("." + ext))
        elif path.is_dir():
            files = {ext: path / f"firmware.{ext}" for ext in ("elf", "bin", "hex")
                     if (path / f"firmware.{ext}").is_file()}
        else:
            raise InputFileError(path, "no such firmware file or folder")
        if not files:
            raise InputFileError(path, "no firmware.elf, .bin or .hex in it",
                                 "build one with edgec build --firmware")
        if "elf" in files:
            from firmware_export.firmware.elfsize import read_usage
            try:
                used = read_usage(files["elf"], target).flash_used_bytes
            except Exception as exc:  # noqa: BLE001 - a user's file that is not an ELF
                raise InputFileError(files["elf"], f"not a readable ELF file ({exc})") from None
        elif "bin" in files:
            used = files["bin"].stat().st_size
        else:
            used = _hex_data_bytes(files["hex"])
        return cls(elf=files.get("elf"), bin=files.get("bin"), hex=files.get("hex"), flash_used_bytes=used)


def _hex_data_bytes(path: Path) -> int:
    total = 0
    for line in path.read_text().splitlines():
        if line.startswith(":") and len(line) >= 11 and line[7:9] == "00":
            total += int(line[1:3], 16)
    return total


@dataclass(frozen=True)
class FlashOptions:
    port: str = ""
    probe: str = ""  # probe unique ID (pyOCD)
    drive: str = ""  # mount point of a mass-storage drive (else found by volume label)
    dry_run: bool = False


@dataclass(frozen=True)
class FlashPlan:
    """What would be done: a command line, or a file copied to a drive."""
    flasher: str
    command: tuple[str, ...] = ()
    copy_to: Path | None = None
    payload_name: str = ""
    notes: tuple[str, ...] = field(default=())


def check_fits(image: FirmwareImage, target: TargetProfile) -> None:
    if image.flash_used_bytes > target.flash_bytes:
        raise DoesNotFitError(f"the firmware needs {image.flash_used_bytes:,} bytes of flash; "
                              f"target '{target.name}' has {target.flash_bytes:,}")


def _need(image_path: Path | None, fmt: str) -> Path:
    if image_path is None:
        raise InputFileError(f"firmware.{fmt}", f"a .{fmt} file is needed for this flasher")
    return image_path


# ---- command template -------------------------------------------------------------------------

def command_args(template: str, image: FirmwareImage, target: TargetProfile, options: FlashOptions) -> list[str]:
    """Split the profile's command template, then fill {elf} {bin} {hex} {port} {flash_start} in
    each word (so paths with spaces stay one argument)."""
    values = {"elf": image.elf or "", "bin": image.bin or "", "hex": image.hex or "",
              "port": options.port or target.serial.port_hint,
              "flash_start": f"0x{min(r.start for r in target.flash_regions):08x}"}
    words = shlex.split(template)
    try:
        return [w.format(**{k: str(v) for k, v in values.items()}) for w in words]
    except (KeyError, IndexError) as exc:
        raise InputFileError(target.source, f"flasher_options.command uses an unknown placeholder {exc}; "
                             "known: " + ", ".join(sorted(values))) from None


# ---- esptool ----------------------------------------------------------------------------------

def esptool_args(image: FirmwareImage, target: TargetProfile, options: FlashOptions) -> list[str]:
    opts = target.flasher_options
    offset = int(opts.get("offset", 0x10000))
    return [sys.executable, "-m", "esptool", "--chip", str(opts.get("chip", "auto")), "--port",
            options.port or target.serial.port_hint, "--baud", str(int(opts.get("flash_baud", 460800))),
            "write_flash", f"0x{offset:x}", str(_need(image.bin, "bin"))]


# ---- mass storage -----------------------------------------------------------------------------

def find_volume(label: str, mounts_text: str, by_label: dict[str, str]) -> Path | None:
    """The mount point of the drive whose volume label is `label` (Linux: /dev/disk/by-label and
    /proc/mounts), or a /media or /Volumes folder of that name."""
    device = by_label.get(label)
    for line in mounts_text.splitlines():
        fields = line.split()
        if len(fields) < 2:
            continue
        dev, mnt = fields[0], fields[1].replace("\\040", " ")
        if device and os.path.realpath(dev) == device:
            return Path(mnt)
        if Path(mnt).name == label:
            return Path(mnt)
    return None


def _system_volume(label: str) -> Path | None:
    by_label = {}
    folder = Path("/dev/disk/by-label")
    if folder.is_dir():
        for link in folder.iterdir():
            by_label[link.name.replace("\\x20", " ")] = os.path.realpath(link)
    try:
        mounts = Path("/proc/mounts").read_text()
    except OSError:
        mounts = ""
    found = find_volume(label, mounts, by_label)
    if found is None and Path("/Volumes", label).is_dir():
        found = Path("/Volumes", label)
    return found


def read_uf2_board_id(drive: Path) -> str:
    info = drive / "INFO_UF2.TXT"
    if not info.is_file():
        return ""
    for line in info.read_text(errors="replace").splitlines():
        if line.startswith("Board-ID:"):
            return line.split(":", 1)[1].strip()
    return ""


def mass_storage_payload(image: FirmwareImage, target: TargetProfile) -> tuple[str, bytes]:
    """(file name, bytes) to copy to the drive: UF2 built from the BIN, or the BIN/HEX itself."""
    opts = target.flasher_options
    fmt = str(opts.get("format", "bin"))
    if fmt == "uf2":
        base = min(r.start for r in target.flash_regions)
        family = opts.get("uf2_family_id")
        return "firmware.uf2", bin_to_uf2(_need(image.bin, "bin").read_bytes(), base,
                                          int(family) if family is not None else None)
    if fmt == "hex":
        return "firmware.hex", _need(image.hex, "hex").read_bytes()
    return "firmware.bin", _need(image.bin, "bin").read_bytes()


# ---- the back ends ----------------------------------------------------------------------------

class Flasher:
    caps: FlasherCaps

    def __init__(self, target: TargetProfile, options: FlashOptions):
        self.target, self.options = target, options

    def plan(self, image: FirmwareImage) -> FlashPlan:
        raise NotImplementedError

    def precheck(self, image: FirmwareImage) -> None:
        check_fits(image, self.target)

    def flash(self, image: FirmwareImage) -> FlashPlan:
        self.precheck(image)
        plan = self.plan(image)
        if not self.options.dry_run:
            self.run(plan, image)
        return plan

    def run(self, plan: FlashPlan, image: FirmwareImage) -> None:
        raise NotImplementedError


def _run_command(args: list[str], tool: str) -> None:
    proc = subprocess.run(args, capture_output=True, text=True, stdin=subprocess.DEVNULL)
    if proc.returncode != 0:
        raise ToolchainError(tool, f"failed with status {proc.returncode}", proc.stdout + proc.stderr)


def _check_port(port: str) -> None:
    if not port:
        raise DeviceError("no serial port given: pass --port (e.g. /dev/ttyUSB0)")
    if "://" not in port and not Path(port).exists():
        raise DeviceError(f"serial port {port} does not exist (is the board plugged in?)")


class CommandFlasher(Flasher):
    caps = FlasherCaps("command", ("elf", "bin", "hex"), "command")

    def plan(self, image):
        template = self.target.flasher_options.get("command")
        if not template:
            raise InputFileError(self.target.source, "flasher 'command' needs flasher_options.command, "
                                 "e.g. \"st-flash --reset write {bin} {flash_start}\"")
        return FlashPlan("command", tuple(command_args(str(template), image, self.target, self.options)))

    def precheck(self, image):
        super().precheck(image)
        plan = self.plan(image)
        if shutil.which(plan.command[0]) is None:
            raise ToolchainError(plan.command[0], "not found on PATH")

    def run(self, plan, image):
        _run_command(list(plan.command), plan.command[0])


class EsptoolFlasher(Flasher):
    caps = FlasherCaps("esptool", ("bin",), "port", python_extra="esptool")

    def plan(self, image):
        return FlashPlan("esptool", tuple(esptool_args(image, self.target, self.options)))

    def precheck(self, image):
        super().precheck(image)
        _need(image.bin, "bin")
        try:
            import esptool  # noqa: F401
        except ImportError:
            raise ToolchainError("esptool", "not installed: pip install 'edgec[probes]'") from None
        _check_port(self.options.port or self.target.serial.port_hint)

    def run(self, plan, image):
        # esptool checks the chip (--chip) against the one it finds before writing anything.
        _run_command(list(plan.command), "esptool")


class MassStorageFlasher(Flasher):
    caps = FlasherCaps("mass-storage", ("bin", "hex", "uf2"), "drive")

    def _drive(self) -> Path:
        if self.options.drive:
            drive = Path(self.options.drive)
            if not drive.is_dir():
                raise DeviceError(f"drive {drive} is not a mounted folder")
            return drive
        label = str(self.target.flasher_options.get("volume_label", ""))
        if not label:
            raise InputFileError(self.target.source, "flasher 'mass-storage' needs flasher_options.volume_label")
        drive = _system_volume(label)
        if drive is None:
            raise DeviceError(f"no drive labelled {label} is mounted (hold BOOTSEL while plugging the "
                              "board in, or pass --drive PATH)")
        return drive

    def plan(self, image):
        name, _ = mass_storage_payload(image, self.target)
        return FlashPlan("mass-storage", copy_to=self._drive() / name, payload_name=name)

    def precheck(self, image):
        super().precheck(image)
        drive = self._drive()
        want = str(self.target.flasher_options.get("board_id", ""))
        have = read_uf2_board_id(drive)
        if want and have and have != want:
            raise DeviceError(f"the drive at {drive} is a {have} bootloader, not {want}: wrong board?")

    def run(self, plan, image):
        _, payload = mass_storage_payload(image, self.target)
        with open(plan.copy_to, "wb") as fh:
            fh.write(payload)
            fh.flush()
            os.fsync(fh.fileno())


class PyocdFlasher(Flasher):
    caps = FlasherCaps("pyocd", ("elf", "bin", "hex"), "probe", python_extra="pyocd")

    def plan(self, image):
        path = image.elf or image.hex or image.bin
        part = str(self.target.flasher_options.get("pyocd_target", ""))
        return FlashPlan("pyocd", ("pyocd", "flash", "--target", part, str(path)),
                         notes=(f"probe {self.options.probe or '(the only one connected)'}",))

    def precheck(self, image):
        super().precheck(image)
        self._probe_id()

    def _probe_id(self) -> str:
        try:
            from pyocd.core.helpers import ConnectHelper
        except ImportError:
            raise ToolchainError("pyocd", "not installed: pip install 'edgec[probes]'") from None
        probes = ConnectHelper.get_all_connected_probes(blocking=False)
        if not probes:
            raise DeviceError("no debug probe found (CMSIS-DAP, ST-Link or J-Link): is the board "
                              "plugged in, and are the udev rules installed?")
        if self.options.probe:
            if not any(p.unique_id == self.options.probe for p in probes):
                raise DeviceError(f"probe {self.options.probe} not found; connected: "
                                  + ", ".join(p.unique_id for p in probes))
        elif len(probes) > 1:
            raise DeviceError("several probes are connected; choose one with --probe: "
                              + ", ".join(p.unique_id for p in probes))
        return self.options.probe or probes[0].unique_id

    def _session(self):
        from pyocd.core.helpers import ConnectHelper

        part = str(self.target.flasher_options.get("pyocd_target", ""))
        return ConnectHelper.session_with_chosen_probe(unique_id=self._probe_id(),
                                                       target_override=part or None, blocking=False)

    def run(self, plan, image):
        from pyocd.flash.file_programmer import FileProgrammer

        with self._session() as session:
            # The right chip: the core's CPUID against the profile's, before anything is written.
            partno = (session.target.read32(CPUID_ADDRESS) >> 4) & 0xFFF
            want = CPUID_PARTNO.get(self.target.core)
            if want is not None and partno != want:
                have = next((k for k, v in CPUID_PARTNO.items() if v == partno), f"part 0x{partno:03x}")
                raise DeviceError(f"wrong chip: the probe sees a {have}, target '{self.target.name}' "
                                  f"is a {self.target.core}; nothing was written")
            path = image.elf or image.hex or image.bin
            fmt = path.suffix.lstrip(".")
            kwargs = {"base_address": min(r.start for r in self.target.flash_regions)} if fmt == "bin" else {}
            FileProgrammer(session).program(str(path), file_format=fmt, **kwargs)
            session.target.reset()


class QemuFlasher(Flasher):
    """The emulator has no flash to write: 'flashing' starts QEMU with the firmware, and the
    serial port it prints is used as a board's would be."""

    caps = FlasherCaps("qemu", ("elf",), "nothing")

    def plan(self, image):
        from toolchain.device.emulator import qemu_args

        if self.target.emulator is None:
            raise InputFileError(self.target.source, "flasher 'qemu' needs an [emulator] table")
        return FlashPlan("qemu", tuple(qemu_args(self.target.emulator.machine, _need(image.elf, "elf"), "pty")))

    def run(self, plan, image):
        pass  # the CLI keeps QEMU running (see toolchain.cli.flash)


FLASHERS: dict[str, type[Flasher]] = {
    "qemu": QemuFlasher, "pyocd": PyocdFlasher, "esptool": EsptoolFlasher,
    "mass-storage": MassStorageFlasher, "command": CommandFlasher,
}


def flasher_for(target: TargetProfile, options: FlashOptions) -> Flasher:
    if target.flasher not in FLASHERS:
        raise EdgecError(f"target '{target.name}' has no flasher (flasher = \"{target.flasher}\")")
    return FLASHERS[target.flasher](target, options)
