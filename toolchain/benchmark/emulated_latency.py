"""The latency of a built model on its target's emulated board: `edgec bench --emulate`'s own
passes (the C engine built into firmware, run on QEMU with -icount), one inference.

`edgec fit` uses it (through the CLI, which passes it down as a plain function) to measure the
latency of the fit it chose wherever the target's core has an emulator: the target's own QEMU
board, else an emulated profile of the same core (a real Nucleo's Cortex-M4 runs the instructions
counted on QEMU's Cortex-M4 board); everywhere else the per-core estimate stands, labelled as an
estimate. QEMU counts instructions: the figure in milliseconds is those instructions at the target
profile's clock, one per cycle.
"""
from __future__ import annotations

from pathlib import Path

from toolchain.base.errors import EdgecError


def emulated_latency(model_path: Path, target, folder: Path, weights: str = "auto") -> dict:
    """{"latency": "emulated", "instructions", "latency_ms", "machine", ...} of one inference of the C
    engine of `model_path` on `target`'s QEMU board; {"latency": "estimate", "why": ...} when the
    target has no emulator or the firmware cannot run there (e.g. more RAM than the board has)."""
    from toolchain.benchmark.run import BenchOptions, run_bench

    boards = _emulated_boards(target)
    if not boards:
        return {"latency": "estimate", "why": f"no emulated board has {target.name}'s core ({target.core})"}
    missed = []
    for board in boards:
        try:
            result = run_bench(BenchOptions(target=board, emulate=True, model=Path(model_path), runs=1, warmup=0,
                                            limit=1, weights=weights, out_dir=Path(folder) / board.name))
        except EdgecError as exc:  # does not fit the emulated board, the toolchain is missing, ...
            missed.append(f"not run on {board.emulator.machine}: {exc}")
            continue
        instructions = int(result.per_inference.median)
        return {"latency": "emulated", "runtime": "c", "machine": result.machine, "profile": board.name,
                "instructions": instructions, "latency_ms": round(1000 * instructions / target.clock_hz, 4),
                "clock_hz": target.clock_hz, "flash": result.flash_used_bytes, "sram": result.sram_used_bytes,
                "exact_outputs": None if result.comparison is None else result.comparison.exact_match_rate}
    return {"latency": "estimate", "why": "; ".join(missed)}


def _emulated_boards(target) -> list:
    """The target itself when it is an emulated board, then the emulated profiles of the same core
    (the engine compiled for a core runs the same instructions on every board of that core)."""
    from targets import all_targets

    def emulated(t) -> bool:
        return t.emulator is not None and t.flasher == "qemu"

    same_core = [t for t in all_targets() if emulated(t) and t.core == target.core and t.name != target.name]
    return ([target] if emulated(target) else []) + sorted(same_core, key=lambda t: t.name)
