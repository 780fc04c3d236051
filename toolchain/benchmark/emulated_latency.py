"""The latency of a built model on its target's emulated board: `edgec bench --emulate`'s own
passes (the C engine built into firmware, run on QEMU with -icount), one inference.

`edgec fit` uses it (through the CLI, which passes it down as a plain function) to measure the
latency of the fit it chose wherever the target's core has an emulator; everywhere else the
per-core estimate stands, labelled as an estimate. QEMU counts instructions: the figure in
milliseconds is those instructions at the profile's clock, one per cycle.
"""
from __future__ import annotations

from pathlib import Path

from toolchain.base.errors import EdgecError


def emulated_latency(model_path: Path, target, folder: Path, weights: str = "auto") -> dict:
    """{"latency": "emulated", "instructions", "latency_ms", "machine", ...} of one inference of the C
    engine of `model_path` on `target`'s QEMU board; {"latency": "estimate", "why": ...} when the
    target has no emulator or the firmware cannot run there (e.g. more RAM than the board has)."""
    from toolchain.benchmark.run import BenchOptions, run_bench

    if target.emulator is None or target.flasher != "qemu":
        return {"latency": "estimate", "why": f"{target.name} has no emulated board"}
    try:
        result = run_bench(BenchOptions(target=target, emulate=True, model=Path(model_path), runs=1, warmup=0,
                                        limit=1, weights=weights, out_dir=Path(folder)))
    except EdgecError as exc:  # does not fit the emulated board, the toolchain is missing, ...
        return {"latency": "estimate", "why": f"not run on {target.emulator.machine}: {exc}"}
    instructions = int(result.per_inference.median)
    return {"latency": "emulated", "runtime": "c", "machine": result.machine, "instructions": instructions,
            "latency_ms": round(1000 * instructions / target.clock_hz, 4), "clock_hz": target.clock_hz,
            "flash": result.flash_used_bytes, "sram": result.sram_used_bytes,
            "exact_outputs": None if result.comparison is None else result.comparison.exact_match_rate}
