"""Build a bare-metal firmware: generated engine + startup + UART driver + timer + EEMBC harness.

Passes: plan_sources (pure: file name -> text) -> [boot2: assemble, pad, checksum (RP2040)] ->
compile (arm-none-eabi-gcc, one named object per source) -> link (+ map) -> objcopy (BIN, HEX) [-> UF2]
-> read_usage (pyelftools) -> check against the profile -> read_split (the map: bytes per category).
"""
from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from firmware_export.firmware import context as ctx
from firmware_export.firmware.boot2 import BOOT2_RUN_ADDRESS, boot2_block, render_boot2_c
from firmware_export.firmware.elfsize import RegionUsage, read_usage
from firmware_export.firmware.mapfile import MemorySplit, read_split
from firmware_export.firmware.uarts import UART_DRIVERS
from targets import TargetProfile
from firmware_export.firmware.images import target_uf2, wants_uf2
from toolchain.base.errors import DoesNotFitError, ToolchainError

SRC = Path(__file__).resolve().parent / "src"
CC = "arm-none-eabi-gcc"
OBJCOPY = "arm-none-eabi-objcopy"
COMMON_SOURCES = ("startup.c", "harness.c", "uart_rx.c")
COMMON_HEADERS = ("edgec_uart.h", "edgec_timer.h", "edgec_cortexm.h", "edgec_board.h")
BOOT2_FILE = "fw/boot2_image.c"
CFLAGS = ("-std=c11", "-ffunction-sections", "-fdata-sections", "-fno-common",
          "-Wall", "-Wextra", "-Wno-unused-parameter")
LDFLAGS = ("-nostartfiles", "--specs=nano.specs", "-Wl,--gc-sections", "-Wl,--no-warn-rwx-segments")
# Our sources (fw/: protocol, UART, board set-up, start-up) are compiled for size, the generated engine
# at options.opt_level. Of ours, only the per-layer hook and the timer it reads run inside a timed
# inference: at -Os they take no more instructions than at -O2 (bench/device_qemu.py).
SIZE_OPT = "-Os"


@dataclass(frozen=True)
class Command:
    """One tool run: its arguments (the tool by name, paths relative to `cwd`) and the folder it ran
    in, relative to the firmware folder ("." or "src")."""
    cwd: str
    args: tuple[str, ...]


@dataclass(frozen=True)
class FirmwareSources:
    """Everything compiled: fw/ (ours) and engine/ (the generated engine), plus the linker script."""
    files: dict[str, str]  # relative path -> text
    cflags: tuple[str, ...]  # the engine's (engine/); fw/ files take size_cflags
    timer: str
    timer_hz: int
    stack_bytes: int
    core_clock_hz: int
    boot2: str = ""  # fw/ path of the second-stage boot loader to assemble on its own (RP2040)

    @property
    def size_cflags(self) -> tuple[str, ...]:
        """The flags of our own sources (fw/): the engine's, optimised for size."""
        return tuple(SIZE_OPT if f.startswith("-O") else f for f in self.cflags)

    def flags_of(self, rel: str) -> tuple[str, ...]:
        return self.size_cflags if rel.startswith("fw/") else self.cflags


@dataclass(frozen=True)
class FirmwareResult:
    target: str
    elf: Path
    bin: Path
    hex: Path
    map: Path
    flash_used_bytes: int
    sram_used_bytes: int
    regions: tuple[RegionUsage, ...]
    stack_bytes: int
    timer: str
    timer_hz: int
    engine_name: str
    core_clock_hz: int  # the clock the firmware runs the core at (may be below the profile's clock_hz)
    uf2: Path | None = None  # for targets flashed as UF2 (RP2040)
    warnings: tuple[str, ...] = ()  # what the compiler and linker said (nothing, when all is well)
    split: MemorySplit | None = None  # flash and SRAM bytes per category, from the map (firmware.mapfile)
    commands: tuple[Command, ...] = ()  # every compile, link and objcopy command, exactly as run


def plan_sources(engine, target: TargetProfile, options: ctx.FirmwareOptions) -> FirmwareSources:
    """The firmware's source tree as text (deterministic: same inputs, same bytes)."""
    config = ctx.config_context(target, options)
    board = ctx.platform(target).board
    stack_bytes = options.stack_bytes or max(target.reserves.stack_bytes, 1024)
    board_files = (board.setup.source,) + board.setup.headers if board else ("board_none.c",)
    boot2 = board.setup.boot2 if board else ""
    ours = COMMON_SOURCES + COMMON_HEADERS + board_files + (UART_DRIVERS[target.uart].source,
                                                             f"timer_{config.timer}.c") + ((boot2,) if boot2 else ())
    files = {}
    for fname in sorted(engine.files):
        files[f"engine/{fname}"] = engine.files[fname]
    for fname in ours:
        files[f"fw/{fname}"] = (SRC / fname).read_text()
    files["fw/edgec_config.h"] = ctx.render_config(config)
    files["fw/edgec_model.h"] = ctx.render_model_glue(ctx.model_context(engine, options))
    files["firmware.ld"] = ctx.render_linker(ctx.linker_context(target, stack_bytes))
    cflags = tuple(target.cflags) + (options.opt_level,) + CFLAGS + ("-DEDGEC_LAYER_HOOK",)
    return FirmwareSources(files=dict(sorted(files.items())), cflags=cflags, timer=config.timer,
                           timer_hz=config.timer_hz, stack_bytes=stack_bytes, core_clock_hz=config.core_clock_hz,
                           boot2=f"fw/{boot2}" if boot2 else "")


def _run(args: list[str], cwd: Path, tool: str, log: list | None = None) -> str:
    """Run a tool; return what it printed on stderr (its warnings) when it succeeds. Each command
    is appended to `log` as it is run."""
    exe = shutil.which(args[0])
    if exe is None:
        raise ToolchainError(args[0], "not found on PATH (install the Debian packages "
                             "gcc-arm-none-eabi and libnewlib-arm-none-eabi)")
    if log is not None:
        log.append((cwd, tuple(args)))
    proc = subprocess.run([exe] + args[1:], cwd=cwd, capture_output=True, text=True)
    if proc.returncode != 0:
        _raise_overflow(proc.stderr)
        raise ToolchainError(tool, f"failed with status {proc.returncode}", proc.stdout + proc.stderr)
    return proc.stderr


_OVERFLOW = re.compile(r"region [`'](\w+)' overflowed by (\d+) bytes")


def _raise_overflow(stderr: str) -> None:
    found = _OVERFLOW.findall(stderr)
    if found:
        detail = ", ".join(f"'{r}' by {int(n):,} bytes" for r, n in found)
        raise DoesNotFitError(f"the firmware does not fit the target's memory: {detail}")


def assemble_boot2(sources: FirmwareSources, src_dir: Path, log: list | None = None) -> tuple[bytes, str]:
    """Assemble the second stage on its own at the address the bootrom runs it from; return its
    code (at most 252 bytes) and the tools' warnings."""
    cpu = [f for f in sources.cflags if f.startswith(("-mcpu=", "-mthumb"))]
    args = [CC, *cpu, "-nostdlib", "-nostartfiles", f"-Wl,-Ttext=0x{BOOT2_RUN_ADDRESS:08X}",
            "-Wl,-e,edgec_boot2_entry", "-Wl,--no-warn-rwx-segments", sources.boot2, "-o", "../boot2.elf"]
    warnings = _run(args, src_dir, "arm-none-eabi-gcc (boot2)", log)
    warnings += _run([OBJCOPY, "-O", "binary", "-j", ".text", "../boot2.elf", "../boot2.bin"], src_dir,
                     "arm-none-eabi-objcopy (boot2)", log)
    return (src_dir.parent / "boot2.bin").read_bytes(), warnings


def compile_firmware(sources: FirmwareSources, out_dir: Path,
                     log: list | None = None) -> tuple[Path, tuple[str, ...]]:
    """Write the sources under out_dir/src and link out_dir/firmware.elf (+ firmware.map); return
    the ELF and the compiler's and linker's warnings. Each command run is appended to `log`."""
    src_dir = out_dir / "src"
    if src_dir.exists():
        shutil.rmtree(src_dir)
    files = dict(sources.files)
    for rel, text in files.items():
        path = src_dir / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    warnings = ""
    if sources.boot2:
        code, warnings = assemble_boot2(sources, src_dir, log)
        try:
            files[BOOT2_FILE] = render_boot2_c(boot2_block(code))
        except ValueError as exc:
            raise ToolchainError("boot2", str(exc)) from None
        (src_dir / BOOT2_FILE).write_text(files[BOOT2_FILE])
    c_files = sorted(rel for rel in files if rel.endswith(".c"))
    objects = [rel[:-2] + ".o" for rel in c_files]  # named objects: the map says whose bytes are whose
    for rel, obj in zip(c_files, objects):
        warnings += _run([CC, *sources.flags_of(rel), "-Ifw", "-Iengine", "-c", rel, "-o", obj], src_dir,
                         "arm-none-eabi-gcc", log)
    args = [CC, *sources.cflags, *objects, "-Tfirmware.ld", *LDFLAGS,
            "-Wl,-Map=../firmware.map", "-o", "../firmware.elf", "-lm"]
    warnings += _run(args, src_dir, "arm-none-eabi-gcc", log)
    return out_dir / "firmware.elf", tuple(line for line in warnings.splitlines() if line.strip())


def build_firmware(engine, target: TargetProfile, out_dir: Path,
                   options: ctx.FirmwareOptions | None = None) -> FirmwareResult:
    """Build ELF, BIN, HEX and map for `target` in `out_dir`; sizes come from the ELF."""
    options = options or ctx.FirmwareOptions()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    sources = plan_sources(engine, target, options)
    log: list = []
    elf, warnings = compile_firmware(sources, out_dir, log)
    bin_path, hex_path = out_dir / "firmware.bin", out_dir / "firmware.hex"
    _run([OBJCOPY, "-O", "binary", elf.name, bin_path.name], out_dir, "arm-none-eabi-objcopy", log)
    _run([OBJCOPY, "-O", "ihex", elf.name, hex_path.name], out_dir, "arm-none-eabi-objcopy", log)
    uf2_path = None
    if wants_uf2(target):
        uf2_path = out_dir / "firmware.uf2"
        uf2_path.write_bytes(target_uf2(bin_path.read_bytes(), target))
    usage = read_usage(elf, target)
    over = [r for r in usage.regions if r.used_bytes > r.size_bytes]
    if over:
        detail = ", ".join(f"'{r.name}' by {r.used_bytes - r.size_bytes:,} bytes" for r in over)
        raise DoesNotFitError(f"the firmware does not fit the target's memory: {detail}")
    return FirmwareResult(target=target.name, elf=elf, bin=bin_path, hex=hex_path,
                          map=out_dir / "firmware.map", flash_used_bytes=usage.flash_used_bytes,
                          sram_used_bytes=usage.sram_used_bytes, regions=usage.regions,
                          stack_bytes=usage.stack_bytes, timer=sources.timer,
                          timer_hz=sources.timer_hz, engine_name=engine.name,
                          core_clock_hz=sources.core_clock_hz, uf2=uf2_path, warnings=warnings,
                          split=read_split(out_dir / "firmware.map", elf, target),
                          commands=tuple(Command(Path(cwd).relative_to(out_dir).as_posix(), args)
                                         for cwd, args in log))
