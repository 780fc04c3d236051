"""Typed contexts for the firmware's templates, and the choices made from the target profile.

What hardware it is comes from the profile (and, on an emulator, from QEMU's machine model);
how to build for it comes from `FirmwareOptions`.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, fields
from pathlib import Path
from string import Template

from targets import MemoryRegion, TargetProfile
from toolchain.device.emulator import MACHINES
from toolchain.errors import EdgecError, OptionError

TEMPLATES = Path(__file__).resolve().parent / "templates"
FW_VERSION = "1.0"

# UART drivers that exist, keyed by the profile's `uart` name, and the source file of each.
UART_DRIVERS = {"cmsdk-uart": "uart_cmsdk.c", "stm32-usart": "uart_stm32.c"}
TIMERS = ("auto", "systick", "dwt")
CORES_WITHOUT_DWT = ("cortex-m0plus",)


class UnsupportedTargetError(EdgecError):
    """The firmware cannot be built for this target (a missing driver, a non-Arm core...)."""

    def __init__(self, target: str, problem: str):
        self.target, self.problem = target, problem
        super().__init__(f"cannot build firmware for target '{target}': {problem}")


@dataclass(frozen=True)
class FirmwareOptions:
    """How to build (never what the hardware is)."""
    timer: str = "auto"  # auto: SysTick on an emulator (no DWT there), DWT cycle counter on boards
    stack_bytes: int | None = None  # default: the profile's reserves.stack_bytes
    opt_level: str = "-O2"
    output_quant: tuple[float, int] | None = None  # (scale, zero point) for m-results-[...];
    # default: the engine's output quantization
    model_label: str = ""

    def __post_init__(self):
        if self.timer not in TIMERS:
            raise OptionError("--timer", self.timer, "one of " + ", ".join(TIMERS))
        if self.stack_bytes is not None and (self.stack_bytes < 512 or self.stack_bytes % 8):
            raise OptionError("--stack-bytes", self.stack_bytes, "a multiple of 8, at least 512")


def _fill(template_name: str, context) -> str:
    """Fill a template from a dataclass context whose fields are exactly its placeholders."""
    text = (TEMPLATES / template_name).read_text()
    tmpl = Template(text)
    names = {m.group("named") or m.group("braced") for m in tmpl.pattern.finditer(text)} - {None}
    given = {f.name for f in fields(context)}
    if names != given:
        raise RuntimeError(f"{template_name}: placeholders {sorted(names)} != context {sorted(given)}")
    return tmpl.substitute({f.name: getattr(context, f.name) for f in fields(context)})


def c_ident(name: str) -> str:
    ident = re.sub(r"[^A-Za-z0-9_]", "_", name)
    return ident if not ident[:1].isdigit() else "_" + ident


@dataclass(frozen=True)
class LinkerContext:
    target: str
    memory: str
    code_region: str
    const_region: str
    ram_region: str
    stack_bytes: int


@dataclass(frozen=True)
class ConfigContext:
    target: str
    fw_version: str
    uart_base: str
    uart_clock_hz: int
    baud: int
    timer: str
    timer_hz: int


@dataclass(frozen=True)
class ModelContext:
    name: str
    upper: str
    model_label: str
    input_ctype: str
    output_ctype: str
    output_scale: str
    output_zero_point: int


C_TYPES = {"int8": "int8_t", "uint8": "uint8_t", "int16": "int16_t", "int32": "int32_t",
           "float32": "float"}


def _ctype(dtype: str, what: str) -> str:
    key = str(dtype).lower().replace("np.", "").replace("<class 'numpy.", "").rstrip("'>")
    if key not in C_TYPES:
        raise UnsupportedTargetError("(any)", f"{what} type {dtype!r} is not one of {sorted(C_TYPES)}")
    return C_TYPES[key]


def code_region(target: TargetProfile) -> MemoryRegion:
    """The flash region holding the vector table: the one at the lowest address."""
    return min(target.flash_regions, key=lambda r: r.start)


def const_region(target: TargetProfile) -> MemoryRegion:
    """The flash region for constant data (the weights): the largest."""
    return max(target.flash_regions, key=lambda r: (r.size_bytes, -r.start))


def linker_context(target: TargetProfile, stack_bytes: int) -> LinkerContext:
    lines = []
    for r in target.memory:
        attrs = "rx" if r.kind == "flash" else "rwx"
        lines.append(f"    {c_ident(r.name)} ({attrs}) : ORIGIN = 0x{r.start:08X}, LENGTH = {r.size_bytes}\n")
    return LinkerContext(target=target.name, memory="".join(lines),
                         code_region=c_ident(code_region(target).name),
                         const_region=c_ident(const_region(target).name),
                         ram_region=c_ident(target.arena_region.name), stack_bytes=stack_bytes)


def choose_timer(target: TargetProfile, options: FirmwareOptions) -> tuple[str, int]:
    """(timer name, its rate in Hz) for this build."""
    emulated = target.flasher == "qemu" and target.emulator is not None
    timer = options.timer
    if timer == "auto":
        timer = "systick" if emulated or target.core in CORES_WITHOUT_DWT else "dwt"
    if timer == "dwt" and target.core in CORES_WITHOUT_DWT:
        raise OptionError("--timer", timer, f"systick ({target.core} has no DWT cycle counter)")
    if timer == "systick" and emulated:
        return timer, MACHINES[target.emulator.machine].sysclk_hz
    return timer, target.clock_hz


def config_context(target: TargetProfile, options: FirmwareOptions) -> ConfigContext:
    if not target.is_cortex_m:
        raise UnsupportedTargetError(target.name, f"core {target.core} is not a Cortex-M "
                                     "(build ESP32 firmware with ESP-IDF)")
    if target.uart not in UART_DRIVERS:
        raise UnsupportedTargetError(target.name, f"no UART driver for '{target.uart or 'none'}' "
                                     f"(drivers: {', '.join(sorted(UART_DRIVERS))})")
    emulated = target.flasher == "qemu" and target.emulator is not None
    if not emulated:
        raise UnsupportedTargetError(target.name, "the board's clock and pin set-up (RCC, GPIO alternate "
                                     "functions for the UART) is not written yet; build for an emulated "
                                     "target (cortex-m4, cortex-m7, cortex-m55, netduinoplus2) or use the "
                                     "generated C engine in your own project")
    if target.emulator.machine not in MACHINES:
        raise UnsupportedTargetError(target.name, f"unknown QEMU machine '{target.emulator.machine}'")
    uart_clock = MACHINES[target.emulator.machine].uart_clock_hz if emulated else target.clock_hz
    timer, timer_hz = choose_timer(target, options)
    return ConfigContext(target=target.name, fw_version=FW_VERSION, uart_base=f"0x{target.uart_base:08X}",
                         uart_clock_hz=uart_clock, baud=target.serial.baud, timer=timer, timer_hz=timer_hz)


def model_context(engine, options: FirmwareOptions) -> ModelContext:
    scale, zero_point = options.output_quant or engine.output_quant
    if not scale:  # a float32 output: printed as it is
        scale, zero_point = 1.0, 0
    return ModelContext(name=engine.name, upper=engine.name.upper(), model_label=options.model_label or engine.name,
                        input_ctype=_ctype(engine.input_dtype, "input"),
                        output_ctype=_ctype(engine.output_dtype, "output"),
                        output_scale=f"{float(scale)!r}f", output_zero_point=int(zero_point))


def render_linker(ctx: LinkerContext) -> str:
    return _fill("linker.ld.tmpl", ctx)


def render_config(ctx: ConfigContext) -> str:
    return _fill("edgec_config.h.tmpl", ctx)


def render_model_glue(ctx: ModelContext) -> str:
    return _fill("edgec_model.h.tmpl", ctx)
