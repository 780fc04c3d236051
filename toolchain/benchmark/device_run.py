"""Run samples on a device through the EEMBC client and collect what it says."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from toolchain.device.eembc import DeviceInfo, EembcClient


@dataclass(frozen=True)
class RunRecord:
    sample: int
    lap_us: int | None  # from the m-lap-us timestamps
    ticks: int | None  # from edgec-timing (edgec firmware only)
    raw: bytes | None  # edgec-raw
    results: tuple[float, ...]  # m-results-[...]


@dataclass(frozen=True)
class DeviceRun:
    info: DeviceInfo
    edgec: bool  # the firmware answers the edgec- extensions
    records: tuple[RunRecord, ...]
    timer: str
    timer_hz: int
    core_hz: int | None  # the clock the device says its core runs at (edgec-timing core_hz)
    layers: tuple[tuple[int, str, int], ...]  # (index, op, ticks of one inference)
    stack_used_bytes: int | None
    stack_size_bytes: int | None
    arena_bytes: int | None


def run_samples(client: EembcClient, info: DeviceInfo, inputs: np.ndarray, runs: int, warmup: int,
                infer_timeout_s: float, on_run=lambda done, total: None,
                encode=lambda x: np.ascontiguousarray(x).tobytes()) -> DeviceRun:
    """Timed inferences, one per run, cycling over the samples (at least one run per sample);
    the first run is preceded by `warmup` untimed ones. `encode` makes the bytes loaded for a sample
    (by default the tensor's bytes; an MLPerf Tiny benchmark's own encoding when the device declares one)."""
    edgec = client.supports_edgec()
    samples = [encode(x) for x in inputs]
    records = []
    loaded = None
    total = max(runs, len(samples))
    for i in range(total):
        on_run(i, total)
        idx = i % len(samples)
        if loaded != idx:
            client.load(samples[idx])
            loaded = idx
        answer = client.infer(1, warmup if i == 0 else 0, infer_timeout_s)
        raw = client.raw_outputs() if edgec and i < len(samples) else None
        ticks = client.int_field("edgec-timing", client.timing(), "ticks") if edgec else None
        records.append(RunRecord(sample=idx, lap_us=answer.elapsed_us, ticks=ticks, raw=raw,
                                 results=answer.results))
    timer, timer_hz, layers, stack_used, stack_size, arena = "m-lap-us", 1_000_000, (), None, None, None
    core_hz = None
    if edgec:
        timing = client.timing()
        timer = timing.get("timer", "?")
        timer_hz = client.int_field("edgec-timing", timing, "timer_hz") if "timer_hz" in timing else 0
        core_hz = int(timing["core_hz"]) if timing.get("core_hz", "").isdigit() else None
        layers = tuple(client.layers())
        stack = client.stack()
        stack_used = client.int_field("edgec-stack", stack, "used")
        stack_size = client.int_field("edgec-stack", stack, "size")
        arena = client.int_field("edgec-arena", client.arena(), "bytes")
    return DeviceRun(info=info, edgec=edgec, records=tuple(records), timer=timer, timer_hz=timer_hz,
                     core_hz=core_hz, layers=layers, stack_used_bytes=stack_used, stack_size_bytes=stack_size,
                     arena_bytes=arena)
