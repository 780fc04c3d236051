"""Typed contexts for the firmware's templates, and the choices made from the target profile.

What hardware it is comes from the profile (and, on an emulator, from QEMU's machine model);
how to build for it comes from `FirmwareOptions`.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, fields
from pathlib import Path
from string import Template

from firmware_export.firmware.boards import BOARD_SETUPS, BoardConfig, BoardMismatch, check_board
from firmware_export.firmware.uarts import UART_DRIVERS, BaudError, Divisor, uart_divisor
from targets import MemoryRegion, TargetProfile
from targets.hardware import QEMU_ICOUNT_SHIFT
from toolchain import mlperf
from toolchain.base.errors import EdgecError, OptionError

TEMPLATES = Path(__file__).resolve().parent / "templates"
FW_VERSION = "1.0"

TIMERS = ("auto", "systick", "dwt")


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
    benchmark: str | None = None  # an MLPerf Tiny benchmark id (toolchain.mlperf): answered in m-model-[...],
    # and the runner's dataset bytes decoded as its reference firmware decodes them

    def __post_init__(self):
        if self.benchmark is not None and self.benchmark not in mlperf.BENCHMARK_IDS:
            raise OptionError("--mlperf", self.benchmark, "one of " + ", ".join(mlperf.BENCHMARK_IDS))
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
    vector_align: int  # VTOR's rule: a power of two at least the table's size (and 256 here)


@dataclass(frozen=True)
class ConfigContext:
    target: str
    fw_version: str
    core_clock_hz: int
    uart_base: str
    uart_clock_hz: int
    uart_irq: int
    emulated: int
    baud: int
    uart_divisor: int
    uart_divisor_note: str
    timer: str
    timer_hz: int
    profile: str  # what m-profile-[...] says
    lap_us_num: int  # m-lap-us = timer ticks * lap_us_num / lap_us_den
    lap_us_den: int
    lap_us_note: str
    board: str  # the board set-up's defines (pins), or a comment saying there is none


@dataclass(frozen=True)
class Platform:
    """What the firmware runs on: the clocks it can rely on and the start-up code that sets them."""
    emulated: bool
    core_clock_hz: int  # what the core (and so SysTick with CLKSOURCE = 1, and the DWT) counts
    uart_clock_hz: int
    uart_irq: int  # the NVIC interrupt of the UART's receive
    board: BoardConfig | None  # None on an emulator: its reset state routes the UART


@dataclass(frozen=True)
class ModelContext:
    name: str
    upper: str
    model_label: str
    model_id: str  # what m-model-[...] says: the benchmark id, else the model's own name
    db_encoding: str  # EDGEC_DB_* (toolchain.mlperf's encodings)
    db_bytes: int
    db_element_bytes: int
    input_scale: str
    input_zero_point: int
    result_mse: int  # 1: m-results-[...] is ad01's reconstruction error
    input_ctype: str
    output_ctype: str
    output_scale: str
    output_zero_point: int


C_TYPES = {"int8": "int8_t", "uint8": "uint8_t", "int16": "int16_t", "int32": "int32_t",
           "float32": "float"}


def _dtype_key(dtype) -> str:
    return str(dtype).lower().replace("np.", "").replace("<class 'numpy.", "").rstrip("'>")


def _ctype(dtype: str, what: str) -> str:
    key = _dtype_key(dtype)
    if key not in C_TYPES:
        raise UnsupportedTargetError("(any)", f"{what} type {dtype!r} is not one of {sorted(C_TYPES)}")
    return C_TYPES[key]


def code_region(target: TargetProfile) -> MemoryRegion:
    """The flash region holding the vector table: the one at the lowest address."""
    return min(target.flash_regions, key=lambda r: r.start)


def const_region(target: TargetProfile) -> MemoryRegion:
    """The flash region for constant data (the weights): the largest."""
    return max(target.flash_regions, key=lambda r: (r.size_bytes, -r.start))


def vector_table_bytes(uart_irq: int) -> int:
    """The vector table startup.c makes: 16 system entries, then the external ones up to the UART's."""
    return 4 * (16 + uart_irq + 1)


def linker_context(target: TargetProfile, stack_bytes: int) -> LinkerContext:
    lines = []
    for r in target.memory:
        attrs = "rx" if r.kind == "flash" else "rwx"
        lines.append(f"    {c_ident(r.name)} ({attrs}) : ORIGIN = 0x{r.start:08X}, LENGTH = {r.size_bytes}\n")
    return LinkerContext(target=target.name, memory="".join(lines),
                         code_region=c_ident(code_region(target).name),
                         const_region=c_ident(const_region(target).name),
                         ram_region=c_ident(target.arena_region.name), stack_bytes=stack_bytes,
                         vector_align=max(256, 1 << (vector_table_bytes(platform(target).uart_irq) - 1).bit_length()))


def platform(target: TargetProfile) -> Platform:
    """The clocks and start-up of `target`, or UnsupportedTargetError saying why there are none."""
    if not target.is_cortex_m:
        raise UnsupportedTargetError(target.name, f"core {target.core} is not a Cortex-M: the benchmark "
                                     "firmware (vector table, start-up, SysTick/DWT timers) is Cortex-M only; "
                                     "build ESP32 firmware with ESP-IDF around the generated C engine")
    emulated = target.flasher == "qemu" and target.emulator is not None
    if not emulated and target.board is None:
        raise UnsupportedTargetError(target.name, "the profile has no [board] table: the firmware does not know "
                                     "how to set up this board's clock and UART pins (see the nucleo-l4r5zi "
                                     f"profile; set-ups: {', '.join(sorted(BOARD_SETUPS))}), or "
                                     "use the generated C engine in your own project")
    if target.uart not in UART_DRIVERS:
        raise UnsupportedTargetError(target.name, f"no UART driver for '{target.uart or 'none'}' "
                                     f"(drivers: {', '.join(sorted(UART_DRIVERS))})")
    if emulated:  # the clocks QEMU's machine model runs (targets/qemu_machines.toml)
        m = target.emulator
        return Platform(emulated=True, core_clock_hz=m.sysclk_hz, uart_clock_hz=m.uart_clock_hz,
                        uart_irq=m.uart_irq, board=None)
    try:
        board = check_board(target)
    except BoardMismatch as exc:
        raise UnsupportedTargetError(target.name, str(exc)) from None
    return Platform(emulated=False, core_clock_hz=target.board.core_clock_hz,
                    uart_clock_hz=target.board.uart_clock_hz, uart_irq=board.setup.uart_irq, board=board)


def choose_timer(target: TargetProfile, options: FirmwareOptions) -> tuple[str, int]:
    """(timer name, its rate in Hz) for this build. Both timers count the core clock (SysTick with
    CLKSOURCE = 1, the DWT cycle counter): the clock the firmware really runs the core at."""
    where = platform(target)
    timer = options.timer
    has_dwt = target.core_spec.dwt_cycle_counter
    if timer == "auto":
        timer = "systick" if where.emulated or not has_dwt else "dwt"
    if timer == "dwt" and not has_dwt:
        raise OptionError("--timer", timer, f"systick ({target.core} has no DWT cycle counter)")
    return timer, where.core_clock_hz


def _board_defines(board: BoardConfig | None, target: TargetProfile) -> str:
    if board is None:
        return "/* No board set-up: the emulator's reset state clocks and routes the UART. */\n"
    b = target.board
    lines = [f"/* Board set-up {board.setup.source}: {board.setup.summary}. */",
             f'#define EDGEC_BOARD_SETUP "{board.setup.name}"',
             f"#define EDGEC_UART_TX_PORT {board.tx.port}u /* {b.uart_tx_pin} */",
             f"#define EDGEC_UART_TX_PIN {board.tx.number}u",
             f"#define EDGEC_UART_RX_PORT {board.rx.port}u /* {b.uart_rx_pin} */",
             f"#define EDGEC_UART_RX_PIN {board.rx.number}u",
             f"#define EDGEC_UART_PIN_FUNCTION {board.pin_function}u"]
    if board.clock is not None:
        lines.append(f"/* Clock: {board.clock.summary}; the reset clock if the PLL does not lock. */")
        lines.append(f"#define EDGEC_RESET_CLOCK_HZ {board.clock.reset_clock_hz}u")
        lines += [f"#define EDGEC_CLK_{name} {value}u /* {why} */" for name, value, why in board.clock.defines]
    return "\n".join(lines) + "\n"


def divisor(target: TargetProfile, where: Platform) -> Divisor:
    try:
        return uart_divisor(target.uart, where.uart_clock_hz, target.serial.baud)
    except BaudError as exc:
        raise UnsupportedTargetError(target.name, f"{target.uart} cannot run at {target.serial.baud:,} baud "
                                     f"from {where.uart_clock_hz:,} Hz: {exc}") from None


@dataclass(frozen=True)
class LapClock:
    """How the firmware turns its timer's ticks into m-lap-us microseconds: ticks * num / den."""
    num: int
    den: int
    note: str
    profile: str  # what m-profile-[...] says


def lap_clock(target: TargetProfile, where: Platform, timer_hz: int) -> LapClock:
    """On a board: real microseconds of the timer. On QEMU (-icount): the timer counts instructions
    (2**shift ns of virtual time each), so m-lap-us is the instruction count at the profile's clock_hz,
    one instruction a cycle -- the figure `edgec bench` estimates from the same count."""
    if where.emulated:
        num, den = 10**15, (timer_hz << QEMU_ICOUNT_SHIFT) * target.clock_hz
        note = (f"instructions (ticks * 1e9 / ({timer_hz} << {QEMU_ICOUNT_SHIFT})) at the profile's "
                f"{target.clock_hz} Hz, one a cycle")
        profile = (f"edgec-fw-{FW_VERSION}, emulated board (QEMU {target.emulator.machine}): m-lap-us from "
                   f"instructions at {target.clock_hz} Hz")
    else:
        num, den, note, profile = 10**6, timer_hz, f"real time of the {timer_hz} Hz timer", f"edgec-fw-{FW_VERSION}"
    g = math.gcd(num, den)
    num, den = num // g, den // g
    if (den - 1) * num >= 1 << 64:
        raise UnsupportedTargetError(target.name, f"m-lap-us needs ticks * {num} / {den}, too large for 64 bits")
    return LapClock(num, den, note, profile)


def config_context(target: TargetProfile, options: FirmwareOptions) -> ConfigContext:
    where = platform(target)
    div = divisor(target, where)
    timer, timer_hz = choose_timer(target, options)
    lap = lap_clock(target, where, timer_hz)
    note = (f"{UART_DRIVERS[target.uart].name}: {div.actual_baud:,.0f} baud, "
            f"{div.error(target.serial.baud):+.2%}")
    return ConfigContext(target=target.name, fw_version=FW_VERSION, core_clock_hz=where.core_clock_hz,
                         uart_base=f"0x{target.uart_base:08X}", uart_clock_hz=where.uart_clock_hz,
                         uart_irq=where.uart_irq, emulated=int(where.emulated), baud=target.serial.baud, uart_divisor=div.value, uart_divisor_note=note,
                         timer=timer, timer_hz=timer_hz, profile=lap.profile, lap_us_num=lap.num,
                         lap_us_den=lap.den, lap_us_note=lap.note, board=_board_defines(where.board, target))


DB_ENCODINGS = {mlperf.RAW: "EDGEC_DB_RAW", mlperf.UINT8_MINUS_128: "EDGEC_DB_UINT8_MINUS_128",
                mlperf.FLOAT32_QUANTIZED: "EDGEC_DB_FLOAT32_QUANTIZED"}


def model_context(engine, options: FirmwareOptions) -> ModelContext:
    scale, zero_point = options.output_quant or engine.output_quant
    if not scale:  # a float32 output: printed as it is
        scale, zero_point = 1.0, 0
    elements = math.prod(engine.input_shape)
    layout = mlperf.db_layout(options.benchmark, _dtype_key(engine.input_dtype), elements, engine.input_bytes,
                              engine.input_quant, _dtype_key(engine.output_dtype), math.prod(engine.output_shape))
    label = options.model_label or engine.name
    bench = mlperf.BENCHMARKS.get(options.benchmark)
    in_scale, in_zero_point = engine.input_quant
    return ModelContext(name=engine.name, upper=engine.name.upper(), model_label=label,
                        model_id=options.benchmark or label, db_encoding=DB_ENCODINGS[layout.encoding],
                        db_bytes=layout.nbytes, db_element_bytes=layout.element_bytes,
                        input_scale=f"{float(in_scale or 1.0)!r}f", input_zero_point=int(in_zero_point),
                        result_mse=int(bench is not None and bench.result == "mse"),
                        input_ctype=_ctype(engine.input_dtype, "input"),
                        output_ctype=_ctype(engine.output_dtype, "output"),
                        output_scale=f"{float(scale)!r}f", output_zero_point=int(zero_point))


def render_linker(ctx: LinkerContext) -> str:
    return _fill("linker.ld.tmpl", ctx)


def render_config(ctx: ConfigContext) -> str:
    return _fill("edgec_config.h.tmpl", ctx)


def render_model_glue(ctx: ModelContext) -> str:
    return _fill("edgec_model.h.tmpl", ctx)
