"""Build a bare-metal firmware: generated engine + startup + UART driver + timer + EEMBC harness.

Passes: plan_sources (pure: file name -> text) -> compile (arm-none-eabi-gcc) -> objcopy (BIN,
HEX) -> read_usage (pyelftools) -> check against the profile.
"""
from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from firmware_export.firmware import context as ctx
from firmware_export.firmware.elfsize import RegionUsage, read_usage
from targets import TargetProfile
from toolchain.errors import DoesNotFitError, ToolchainError

SRC = Path(__file__).resolve().parent / "src"
CC = "arm-none-eabi-gcc"
OBJCOPY = "arm-none-eabi-objcopy"
COMMON_SOURCES = ("startup.c", "harness.c")
COMMON_HEADERS = ("edgec_uart.h", "edgec_timer.h", "edgec_cortexm.h")
CFLAGS = ("-std=c11", "-ffunction-sections", "-fdata-sections", "-fno-common",
          "-Wall", "-Wextra", "-Wno-unused-parameter")
LDFLAGS = ("-nostartfiles", "--specs=nano.specs", "-Wl,--gc-sections", "-Wl,--no-warn-rwx-segments")


@dataclass(frozen=True)
class FirmwareSources:
    """Everything compiled: fw/ (ours) and engine/ (the generated engine), plus the linker script."""
    files: dict[str, str]  # relative path -> text
    cflags: tuple[str, ...]
    timer: str
    timer_hz: int
    stack_bytes: int


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


def plan_sources(engine, target: TargetProfile, options: ctx.FirmwareOptions) -> FirmwareSources:
    """The firmware's source tree as text (deterministic: same inputs, same bytes)."""
    config = ctx.config_context(target, options)
    stack_bytes = options.stack_bytes or max(target.reserves.stack_bytes, 1024)
    files = {}
    for fname in sorted(engine.files):
        files[f"engine/{fname}"] = engine.files[fname]
    for fname in COMMON_SOURCES + COMMON_HEADERS:
        files[f"fw/{fname}"] = (SRC / fname).read_text()
    files[f"fw/{ctx.UART_DRIVERS[target.uart]}"] = (SRC / ctx.UART_DRIVERS[target.uart]).read_text()
    timer_file = f"timer_{config.timer}.c"
    files[f"fw/{timer_file}"] = (SRC / timer_file).read_text()
    files["fw/edgec_config.h"] = ctx.render_config(config)
    files["fw/edgec_model.h"] = ctx.render_model_glue(ctx.model_context(engine, options))
    files["firmware.ld"] = ctx.render_linker(ctx.linker_context(target, stack_bytes))
    cflags = tuple(target.cflags) + (options.opt_level,) + CFLAGS + ("-DEDGEC_LAYER_HOOK",)
    return FirmwareSources(files=dict(sorted(files.items())), cflags=cflags, timer=config.timer,
                           timer_hz=config.timer_hz, stack_bytes=stack_bytes)


def _run(args: list[str], cwd: Path, tool: str) -> str:
    exe = shutil.which(args[0])
    if exe is None:
        raise ToolchainError(args[0], "not found on PATH (install the Debian packages "
                             "gcc-arm-none-eabi and libnewlib-arm-none-eabi)")
    proc = subprocess.run([exe] + args[1:], cwd=cwd, capture_output=True, text=True)
    if proc.returncode != 0:
        _raise_overflow(proc.stderr)
        raise ToolchainError(tool, f"failed with status {proc.returncode}", proc.stdout + proc.stderr)
    return proc.stdout


_OVERFLOW = re.compile(r"region [`'](\w+)' overflowed by (\d+) bytes")


def _raise_overflow(stderr: str) -> None:
    found = _OVERFLOW.findall(stderr)
    if found:
        detail = ", ".join(f"'{r}' by {int(n):,} bytes" for r, n in found)
        raise DoesNotFitError(f"the firmware does not fit the target's memory: {detail}")


def compile_firmware(sources: FirmwareSources, out_dir: Path) -> Path:
    """Write the sources under out_dir/src and link out_dir/firmware.elf (+ firmware.map)."""
    src_dir = out_dir / "src"
    if src_dir.exists():
        shutil.rmtree(src_dir)
    for rel, text in sources.files.items():
        path = src_dir / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    c_files = [rel for rel in sources.files if rel.endswith(".c")]
    args = [CC, *sources.cflags, "-Ifw", "-Iengine", *c_files, "-Tfirmware.ld", *LDFLAGS,
            "-Wl,-Map=../firmware.map", "-o", "../firmware.elf", "-lm"]
    _run(args, src_dir, "arm-none-eabi-gcc")
    return out_dir / "firmware.elf"


def build_firmware(engine, target: TargetProfile, out_dir: Path,
                   options: ctx.FirmwareOptions | None = None) -> FirmwareResult:
    """Build ELF, BIN, HEX and map for `target` in `out_dir`; sizes come from the ELF."""
    options = options or ctx.FirmwareOptions()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    sources = plan_sources(engine, target, options)
    elf = compile_firmware(sources, out_dir)
    bin_path, hex_path = out_dir / "firmware.bin", out_dir / "firmware.hex"
    _run([OBJCOPY, "-O", "binary", str(elf), str(bin_path)], out_dir, "arm-none-eabi-objcopy")
    _run([OBJCOPY, "-O", "ihex", str(elf), str(hex_path)], out_dir, "arm-none-eabi-objcopy")
    usage = read_usage(elf, target)
    over = [r for r in usage.regions if r.used_bytes > r.size_bytes]
    if over:
        detail = ", ".join(f"'{r.name}' by {r.used_bytes - r.size_bytes:,} bytes" for r in over)
        raise DoesNotFitError(f"the firmware does not fit the target's memory: {detail}")
    return FirmwareResult(target=target.name, elf=elf, bin=bin_path, hex=hex_path,
                          map=out_dir / "firmware.map", flash_used_bytes=usage.flash_used_bytes,
                          sram_used_bytes=usage.sram_used_bytes, regions=usage.regions,
                          stack_bytes=usage.stack_bytes, timer=sources.timer,
                          timer_hz=sources.timer_hz, engine_name=engine.name)
