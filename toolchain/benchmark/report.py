"""One result object for `edgec bench`, rendered to a terminal table, to JSON and (by
toolchain.report_html) to HTML."""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import ClassVar
from pathlib import Path

from firmware_export.firmware.mapfile import MemorySplit
from toolchain.benchmark.compare import Comparison


@dataclass(frozen=True)
class Stats:
    median: float
    min: float
    max: float
    values: tuple[float, ...] = ()  # every run, in order (the distribution the report plots)


@dataclass(frozen=True)
class LayerRow:
    index: int
    op: str
    count: int  # in `BenchResult.timing_unit`
    share: float  # of the inference
    layer: str = ""  # the model's layer name for the op (when the model is known)


@dataclass(frozen=True)
class BenchResult:
    command: ClassVar[str] = "bench"
    target: str
    model: str
    device: str  # m-name-dut-[...]
    firmware: str
    emulated: bool
    machine: str  # QEMU machine, or the serial port
    samples: str  # where the inputs came from
    runs: int
    warmup: int
    timing_unit: str  # "instructions" (QEMU -icount), "cycles" (DWT), "ticks" or "us"
    per_inference: Stats  # in timing_unit
    latency_ms: Stats
    latency_is_estimate: bool  # instructions at the profile's clock, 1 instruction per cycle
    clock_hz: int  # the clock latency is computed at: the device's real core clock for cycles
    profile_clock_hz: int  # the part's full speed, from the target profile
    macs: int | None
    per_mac: float | None  # timing_unit per MAC (median)
    comparison: Comparison | None
    layers: tuple[LayerRow, ...]
    flash_used_bytes: int | None
    sram_used_bytes: int | None
    stack_used_bytes: int | None
    stack_size_bytes: int | None
    arena_bytes: int | None
    split: MemorySplit | None = None  # the firmware's flash and SRAM per category, from its linker map
    host_error: str = ""  # why the host reference could not be computed (the device results stand)
    # the latency model's estimate for the model on the target's core (toolchain.latency), beside the
    # measurement: LatencyEstimate.to_dict() + measured false + error (estimate / measured - 1); None without a model
    latency_estimate: dict | None = None

    def to_dict(self) -> dict:
        from toolchain.report.build_json import split_dict

        out = {"schema_version": 1, "command": self.command, **asdict(self)}
        del out["split"]
        return {**out, **split_dict(self.split)}

    def to_json(self) -> str:
        from toolchain.report.build_json import to_json

        return to_json(self.to_dict())

    def write_json(self, path: Path) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(self.to_json())
        return path


def _num(v, digits: int = 0) -> str:
    if v is None:
        return "-"
    if isinstance(v, float) and digits:
        return f"{v:,.{digits}f}"
    return f"{int(round(v)):,}"


def render(result: BenchResult, console) -> None:
    """Print the result as rich tables on `console`."""
    from rich.table import Table

    where = f"QEMU {result.machine}" if result.emulated else result.machine
    head = Table(title=f"edgec bench: {result.model} on {result.target} ({where})", show_header=False)
    head.add_column("what")
    head.add_column("value", justify="right")
    head.add_row("device", f"{result.device} / {result.firmware}")
    head.add_row("inputs", f"{result.samples}; {result.runs} runs after {result.warmup} warm-up")
    unit = result.timing_unit
    s = result.per_inference
    head.add_row(f"{unit} per inference (median / min / max)", f"{_num(s.median)} / {_num(s.min)} / {_num(s.max)}")
    mhz = f"{result.clock_hz / 1e6:g} MHz"
    if result.latency_is_estimate:
        label = f"latency ms, ESTIMATE at {mhz}"
    elif unit == "cycles":
        label = f"latency ms at {mhz}"
    else:
        label = "latency ms"
    ls = result.latency_ms
    head.add_row(f"{label} (median / min / max)", f"{ls.median:.3f} / {ls.min:.3f} / {ls.max:.3f}")
    if unit == "cycles" and result.clock_hz != result.profile_clock_hz:
        head.add_row("core clock", f"{mhz} as the firmware runs it (the part's full speed: "
                     f"{result.profile_clock_hz / 1e6:g} MHz)")
    est = result.latency_estimate
    if est is not None:
        what = (f"engine cost model of {est['core']}" if est["basis"] == "engine cost model" else est["basis"])
        if "assumed" in est.get("weights", ""):
            what += f"; weights {est['weights']}"
        error = f", {est['error']:+.1%} against the measured" if est.get("error") is not None else ""
        head.add_row(f"ESTIMATED {est['unit']} per inference ({what}{error})",
                     f"{_num(est['instructions'])} ({est['seconds'] * 1e3:.3f} ms at {est['clock_hz'] / 1e6:g} MHz)")
    if result.macs:
        head.add_row("MACs per inference", _num(result.macs))
        if result.per_mac is not None:
            head.add_row(f"{unit} per MAC", f"{result.per_mac:.3f}")
    c = result.comparison
    if c is not None:
        head.add_row(f"exact match ({c.basis}, {c.compared} samples)", f"{c.exact_match_rate:.1%}")
        head.add_row("max |device - host|", f"{c.max_abs_diff:g}")
        if c.nonfinite_values:
            head.add_row("NaN / infinite device outputs (mismatches)", f"{c.nonfinite_values:,}")
        head.add_row("cosine similarity", f"{c.cosine_similarity:.6f}")
        head.add_row("top-1 agreement", f"{c.top1_agreement:.1%}")
        if c.accuracy_device is not None:
            head.add_row("accuracy device / host", f"{c.accuracy_device:.1%} / {c.accuracy_host:.1%}")
    head.add_row("flash / SRAM used (ELF)", f"{_num(result.flash_used_bytes)} / {_num(result.sram_used_bytes)} B")
    if result.stack_used_bytes is not None:
        head.add_row("stack used (painted) / size", f"{_num(result.stack_used_bytes)} / {_num(result.stack_size_bytes)} B")
    if result.arena_bytes is not None:
        head.add_row("engine arena", f"{_num(result.arena_bytes)} B")
    console.print(head)
    if result.layers:
        table = Table(title=f"per layer ({unit}, one inference)")
        table.add_column("#", justify="right")
        table.add_column("op")
        table.add_column(unit, justify="right")
        table.add_column("share", justify="right")
        for row in result.layers:
            table.add_row(str(row.index), row.op, _num(row.count), f"{row.share:.1%}")
        console.print(table)
