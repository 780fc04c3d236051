"""Flash back ends, chosen by the target profile's `flasher`.

Each back end declares what it can do (`FlasherCaps`): the image formats it writes, the device it
needs, the options it takes, the Python package it runs. `Flasher.flash` goes, in order:

    check_fits -> check_caps (what the caps declare) -> precheck (device present, right chip)
    -> plan (pure: the exact command line, or the file and bytes to copy) -> run (the plan, as it is)

so `--dry-run` prints the plan that a real run executes: `run` reads nothing but the plan.
"""
from __future__ import annotations

import importlib.util
import os
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass, field, replace
from pathlib import Path

from targets import (CommandOptions, EsptoolOptions, MassStorageOptions, NoOptions, PyocdOptions,
                     TargetProfile, cores)
from firmware_export.firmware.images import target_uf2
from toolchain.base.errors import (CapabilityError, DeviceError, DoesNotFitError, EdgecError, InputFileError,
                              ToolchainError)

CPUID_ADDRESS = 0xE000ED00  # CPUID; PARTNO (bits 15:4) per core in targets/cores.toml
FORMATS = ("elf", "bin", "hex", "uf2")
DEVICE_OPTIONS = ("port", "probe", "drive")


@dataclass(frozen=True)
class FlasherCaps:
    name: str
    formats: tuple[str, ...]  # what it writes, in the order it prefers them: elf, bin, hex, uf2
    needs: str  # "probe", "port", "drive", "command", "nothing"
    takes: tuple[str, ...] = ()  # the device options (FlashOptions) it uses: port, probe, drive
    python_extra: str = ""  # module it runs (an optional extra)

    def __post_init__(self):
        if self.needs not in ("probe", "port", "drive", "command", "nothing"):
            raise ValueError(f"unknown requirement {self.needs!r}")
        if not set(self.formats) <= set(FORMATS):
            raise ValueError(f"unknown formats {self.formats}")
        if not set(self.takes) <= set(DEVICE_OPTIONS):
            raise ValueError(f"unknown options {self.takes}")


@dataclass(frozen=True)
class FirmwareImage:
    """A built firmware: files and the flash bytes it occupies (read from the ELF)."""
    elf: Path | None
    bin: Path | None
    hex: Path | None
    flash_used_bytes: int
    uf2: Path | None = None

    @property
    def formats(self) -> tuple[str, ...]:
        return tuple(f for f in FORMATS if getattr(self, f) is not None)

    @classmethod
    def from_dir(cls, path: Path, target: TargetProfile) -> "FirmwareImage":
        path = Path(path)
        if path.is_file():
            files = {path.suffix.lstrip("."): path}
            base = path.with_suffix("")
            for ext in FORMATS:
                if base.with_suffix("." + ext).is_file():
                    files.setdefault(ext, base.with_suffix("." + ext))
        elif path.is_dir():
            files = {ext: path / f"firmware.{ext}" for ext in FORMATS if (path / f"firmware.{ext}").is_file()}
        else:
            raise InputFileError(path, "no such firmware file or folder")
        files = {ext: f for ext, f in files.items() if ext in FORMATS}
        if not set(files) - {"uf2"}:
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
        return cls(elf=files.get("elf"), bin=files.get("bin"), hex=files.get("hex"), uf2=files.get("uf2"),
                   flash_used_bytes=used)


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
    """What is done, all of it: a command line run as it is, or bytes copied to a file on a drive.
    `checks` says what was checked (read only) before it."""
    flasher: str
    command: tuple[str, ...] = ()
    copy_to: Path | None = None
    payload: bytes = field(default=b"", repr=False)
    checks: tuple[str, ...] = ()

    @property
    def payload_name(self) -> str:
        return self.copy_to.name if self.copy_to else ""

    def describe(self) -> str:
        if self.command:
            return shlex.join(self.command)
        return f"copy {self.payload_name} ({len(self.payload):,} bytes) to {self.copy_to}"


@dataclass(frozen=True)
class FlashResult:
    plan: FlashPlan
    executed: tuple[str, ...] = ()  # the command line the subprocess ran (empty: a dry run or a copy)
    written: Path | None = None  # the file a copy wrote


def check_fits(image: FirmwareImage, target: TargetProfile) -> None:
    if image.flash_used_bytes > target.flash_bytes:
        raise DoesNotFitError(f"the firmware needs {image.flash_used_bytes:,} bytes of flash; "
                              f"target '{target.name}' has {target.flash_bytes:,}")


def _flash_start(target: TargetProfile) -> int:
    return min(r.start for r in target.flash_regions)


# ---- command template -------------------------------------------------------------------------

TEMPLATE_FILES = ("elf", "bin", "hex")


def template_formats(template: str) -> tuple[str, ...]:
    """The image files a command template names ({elf} {bin} {hex})."""
    return tuple(f for f in TEMPLATE_FILES if "{" + f + "}" in template)


def command_args(template: str, image: FirmwareImage, target: TargetProfile, options: FlashOptions) -> list[str]:
    """Split the profile's command template, then fill {elf} {bin} {hex} {port} {flash_start} in
    each word (so paths with spaces stay one argument)."""
    values = {"elf": image.elf or "", "bin": image.bin or "", "hex": image.hex or "",
              "port": options.port or target.serial.port_hint, "flash_start": f"0x{_flash_start(target):08x}"}
    words = shlex.split(template)
    try:
        return [w.format(**{k: str(v) for k, v in values.items()}) for w in words]
    except (KeyError, IndexError) as exc:
        raise InputFileError(target.source, f"flasher_options.command uses an unknown placeholder {exc}; "
                             "known: " + ", ".join(sorted(values))) from None


# ---- esptool ----------------------------------------------------------------------------------

def esptool_args(image: FirmwareImage, target: TargetProfile, options: FlashOptions) -> list[str]:
    opts = target.flasher_options
    return [sys.executable, "-m", "esptool", "--chip", opts.chip, "--port", options.port or target.serial.port_hint,
            "--baud", str(opts.flash_baud), "write_flash", f"0x{opts.write_address:x}", str(image.bin)]


# ---- pyOCD ------------------------------------------------------------------------------------

def pyocd_args(image: FirmwareImage, target: TargetProfile, probe: str) -> list[str]:
    """pyOCD's `flash` command for the image (ELF, else HEX, else BIN at the flash start); it
    resets the chip when done. --no-wait: the probe was found by the pre-checks, or is an error."""
    fmt = next(f for f in ("elf", "hex", "bin") if getattr(image, f) is not None)
    args = [sys.executable, "-m", "pyocd", "flash", "--no-wait", "--target", target.flasher_options.pyocd_target]
    if probe:
        args += ["--uid", probe]
    args += ["--format", fmt]
    if fmt == "bin":
        args += ["--base-address", f"0x{_flash_start(target):08x}"]
    return args + [str(getattr(image, fmt))]


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
    """(file name, bytes) to copy to the drive: the image in the profile's image_format. A UF2 is
    the build's firmware.uf2; only a bare .bin gets its UF2 made here (firmware_export.firmware.images)."""
    fmt = target.flasher_options.image_format
    if fmt == "uf2":
        data = image.uf2.read_bytes() if image.uf2 else target_uf2(image.bin.read_bytes(), target)
        return "firmware.uf2", data
    return f"firmware.{fmt}", getattr(image, fmt).read_bytes()


# ---- the back ends ----------------------------------------------------------------------------

class Flasher:
    caps: FlasherCaps
    options_type: type = NoOptions  # the profile's [flasher_options] this back end reads

    def __init__(self, target: TargetProfile, options: FlashOptions):
        if not isinstance(target.flasher_options, self.options_type):
            raise TypeError(f"flasher '{self.caps.name}' reads {self.options_type.__name__}, "
                            f"not {type(target.flasher_options).__name__}")
        self.target, self.options = target, options

    def flash(self, image: FirmwareImage) -> FlashResult:
        """Check, plan, and (unless a dry run) run the plan: nothing else."""
        check_fits(image, self.target)
        self.check_caps(image)
        checks = self.precheck(image)
        plan = replace(self.plan(image), checks=tuple(checks))
        if self.options.dry_run:
            return FlashResult(plan)
        return self.run(plan)

    # -- what the capabilities declare, checked before anything else
    def formats_needed(self, image: FirmwareImage) -> tuple[str, ...] | None:
        """The image files this flash reads: the first of the caps' formats the image has (None:
        it has none of them)."""
        return next(((f,) for f in self.caps.formats if f in image.formats), None)

    def check_caps(self, image: FirmwareImage) -> None:
        caps, who = self.caps, f"flasher '{self.caps.name}' (target '{self.target.name}')"
        for option in DEVICE_OPTIONS:
            if getattr(self.options, option) and option not in caps.takes:
                takes = ", ".join(f"--{t}" for t in caps.takes) or "no device option"
                raise CapabilityError(who, "takes", f"does not use --{option}; it takes {takes}")
        needed = self.formats_needed(image)
        if needed is None or not set(needed) <= set(image.formats):
            raise CapabilityError(who, "formats", f"writes {' or '.join(needed or caps.formats)} images; the "
                                  f"firmware has {', '.join(image.formats) or 'no file'} "
                                  "(edgec build --firmware writes elf, bin and hex)")
        if caps.needs == "port" and not (self.options.port or self.target.serial.port_hint):
            raise CapabilityError(who, "needs", "needs a serial port: pass --port (e.g. /dev/ttyUSB0)")
        if caps.python_extra and importlib.util.find_spec(caps.python_extra) is None:
            raise ToolchainError(caps.python_extra, "not installed: pip install 'edgec[probes]'")

    def precheck(self, image: FirmwareImage) -> list[str]:
        """Device checks that write nothing; returns what was checked, for the plan."""
        return []

    def plan(self, image: FirmwareImage) -> FlashPlan:
        raise NotImplementedError

    def run(self, plan: FlashPlan) -> FlashResult:
        """Execute `plan`, and only it."""
        if plan.command:
            proc = _run_command(plan.command)
            return FlashResult(plan, executed=tuple(proc.args))
        with open(plan.copy_to, "wb") as fh:
            fh.write(plan.payload)
            fh.flush()
            os.fsync(fh.fileno())
        return FlashResult(plan, written=plan.copy_to)


def _run_command(args: tuple[str, ...]) -> subprocess.CompletedProcess:
    tool = Path(args[0]).name if args[0] != sys.executable else args[2]
    proc = subprocess.run(list(args), capture_output=True, text=True, stdin=subprocess.DEVNULL)
    if proc.returncode != 0:
        raise ToolchainError(tool, f"failed with status {proc.returncode}: {shlex.join(args)}",
                             proc.stdout + proc.stderr)
    return proc


def _check_port(port: str) -> None:
    if not port:
        raise DeviceError("no serial port given: pass --port (e.g. /dev/ttyUSB0)")
    if "://" not in port and not Path(port).exists():
        raise DeviceError(f"serial port {port} does not exist (is the board plugged in?)")


class CommandFlasher(Flasher):
    caps = FlasherCaps("command", ("elf", "bin", "hex"), "command", takes=("port",))
    options_type = CommandOptions

    def formats_needed(self, image):
        return template_formats(self.target.flasher_options.command)

    def plan(self, image):
        return FlashPlan("command", tuple(command_args(self.target.flasher_options.command, image, self.target,
                                                       self.options)))

    def precheck(self, image):
        program = self.plan(image).command[0]
        if shutil.which(program) is None:
            raise ToolchainError(program, "not found on PATH")
        return [f"{program} is on PATH"]


class EsptoolFlasher(Flasher):
    caps = FlasherCaps("esptool", ("bin",), "port", takes=("port",), python_extra="esptool")
    options_type = EsptoolOptions

    def plan(self, image):
        return FlashPlan("esptool", tuple(esptool_args(image, self.target, self.options)))

    def precheck(self, image):
        port = self.options.port or self.target.serial.port_hint
        _check_port(port)
        # esptool checks the chip (--chip) against the one it finds before writing anything.
        return [f"serial port {port} exists"]


class MassStorageFlasher(Flasher):
    caps = FlasherCaps("mass-storage", ("bin", "hex", "uf2"), "drive", takes=("drive",))
    options_type = MassStorageOptions

    def formats_needed(self, image):
        fmt = self.target.flasher_options.image_format
        if fmt == "uf2" and image.uf2 is None and image.bin is not None:
            return ("bin",)  # the UF2 is made from it
        return (fmt,)

    def _drive(self) -> Path:
        if self.options.drive:
            drive = Path(self.options.drive)
            if not drive.is_dir():
                raise DeviceError(f"drive {drive} is not a mounted folder")
            return drive
        label = self.target.flasher_options.volume_label
        drive = _system_volume(label)
        if drive is None:
            raise DeviceError(f"no drive labelled {label} is mounted (hold BOOTSEL while plugging the "
                              "board in, or pass --drive PATH)")
        return drive

    def plan(self, image):
        name, payload = mass_storage_payload(image, self.target)
        return FlashPlan("mass-storage", copy_to=self._drive() / name, payload=payload)

    def precheck(self, image):
        drive = self._drive()
        want = self.target.flasher_options.board_id
        have = read_uf2_board_id(drive)
        if want and have and have != want:
            raise DeviceError(f"the drive at {drive} is a {have} bootloader, not {want}: wrong board?")
        return [f"drive {drive}" + (f" is a {have} bootloader" if have else "")]


class PyocdFlasher(Flasher):
    caps = FlasherCaps("pyocd", ("elf", "hex", "bin"), "probe", takes=("probe",), python_extra="pyocd")
    options_type = PyocdOptions

    def __init__(self, target, options):
        super().__init__(target, options)
        self.probe = options.probe  # the probe's unique ID, once the pre-checks found it

    def plan(self, image):
        return FlashPlan("pyocd", tuple(pyocd_args(image, self.target, self.probe)))

    def precheck(self, image):
        self.probe = self._probe_id()
        return [f"probe {self.probe}", self._check_chip()]

    def _probe_id(self) -> str:
        from pyocd.core.helpers import ConnectHelper

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

    def _check_chip(self) -> str:
        """The right chip: the core's CPUID against the profile's core, read before anything is written."""
        from pyocd.core.helpers import ConnectHelper

        want = self.target.core_spec.cpuid_partno
        with ConnectHelper.session_with_chosen_probe(unique_id=self.probe, blocking=False,
                                                     target_override=self.target.flasher_options.pyocd_target
                                                     ) as session:
            partno = (session.target.read32(CPUID_ADDRESS) >> 4) & 0xFFF
        if want is not None and partno != want:
            have = next((c.name for c in cores().values() if c.cpuid_partno == partno), f"part 0x{partno:03x}")
            raise DeviceError(f"wrong chip: the probe sees a {have}, target '{self.target.name}' "
                              f"is a {self.target.core}; nothing was written")
        return f"CPUID.PARTNO 0x{partno:03X}: a {self.target.core}"


class QemuFlasher(Flasher):
    """The emulator has no flash to write: 'flashing' starts QEMU with the firmware (the CLI runs
    this plan's command with QemuRunner), and the serial port it prints is used as a board's."""

    caps = FlasherCaps("qemu", ("elf",), "nothing")

    def plan(self, image):
        from toolchain.device.emulator import QEMU, qemu_args

        return FlashPlan("qemu", tuple(qemu_args(self.target.emulator.machine, image.elf, "pty", qemu=QEMU)))

    def precheck(self, image):
        from toolchain.device.emulator import QEMU

        if shutil.which(QEMU) is None:
            raise ToolchainError(QEMU, "not found on PATH (install the Debian package qemu-system-arm)")
        return [f"{QEMU} is on PATH"]

    def run(self, plan):
        return FlashResult(plan)  # the CLI keeps QEMU running (see toolchain.cli.flash)


FLASHERS: dict[str, type[Flasher]] = {
    "qemu": QemuFlasher, "pyocd": PyocdFlasher, "esptool": EsptoolFlasher,
    "mass-storage": MassStorageFlasher, "command": CommandFlasher,
}


def flasher_for(target: TargetProfile, options: FlashOptions) -> Flasher:
    if target.flasher not in FLASHERS:
        raise EdgecError(f"target '{target.name}' has no flasher (flasher = \"{target.flasher}\")")
    return FLASHERS[target.flasher](target, options)
