"""The latency of a built model on its target's emulated board: `edgec bench --emulate`'s own
passes (the C engine built into firmware, run on QEMU with -icount), one inference.

`edgec fit` uses it (through the CLI, which passes it down as a plain function) to measure the
latency of its trials wherever the target's core has an emulator, in this order:
1. the target's own QEMU board;
2. an emulated profile of the same core (a real Nucleo's Cortex-M4 runs the instructions counted
   on QEMU's Cortex-M4 board);
3. a QEMU machine whose core runs the target core's code unchanged and has more memory: the engine
   compiled for a Cortex-M0+ (-mcpu=cortex-m0plus, Armv6-M) on QEMU's mps2-an385 (Cortex-M3, 4 MiB
   of RAM), when the firmware does not fit the micro:bit's 16 KiB. The firmware is the target's
   (its compiler flags, its memory map, within its budgets), only its UART is the machine's; the
   instructions of an inference are the same Armv6-M instructions, so QEMU counts the same number.
Everywhere else the per-core estimate stands, labelled as an estimate with why.

QEMU counts instructions: the figure in milliseconds is those instructions at the target profile's
clock, one cycle each (the cycles of the target core are estimated from its instruction count).
"""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from toolchain.base.errors import EdgecError


def emulated_latency(model_path: Path, target, folder: Path, weights: str = "auto") -> dict:
    """{"latency": "emulated", "instructions", "latency_ms", "machine", "basis", ...} of one inference
    of the C engine of `model_path` on `target`'s emulated board; {"latency": "estimate", "why": ...}
    when the target has no emulator or the firmware cannot run there (e.g. more RAM than the board has)."""
    from toolchain.benchmark.run import BenchOptions, run_bench

    boards = _emulated_boards(target) + _larger_machines(target)
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
                "basis": basis(target, board), "instructions": instructions,
                "latency_ms": round(1000 * instructions / target.clock_hz, 4),
                "clock_hz": target.clock_hz, "flash": result.flash_used_bytes, "sram": result.sram_used_bytes,
                "exact_outputs": None if result.comparison is None else result.comparison.exact_match_rate}
    return {"latency": "estimate", "why": "; ".join(missed)}


def basis(target, board) -> str:
    """What the emulated figure is, in words: where the instructions were counted and what of it is
    an estimate."""
    from targets.hardware import cores

    cpu = board.emulator.cpu
    if board.name == target.name:
        return f"instruction count on QEMU {board.emulator.machine} ({cpu}), one cycle each"
    if cores()[cpu].runs_code_for(target.core_spec):
        return (f"instruction count on QEMU {board.emulator.machine} ({cpu}, profile {board.name}), one cycle each "
                f"at {target.name}'s clock")
    arch = target.core_spec.arch.replace("armv", "Armv").replace("-m", "-M")
    return (f"{arch} code (-mcpu={target.core}) on QEMU {board.emulator.machine} ({cpu}), instruction count; "
            f"{target.core} cycles estimated from it, one each")


def _emulated(t) -> bool:
    return t.emulator is not None and t.flasher == "qemu"


def _emulated_boards(target) -> list:
    """The target itself when it is an emulated board, then the emulated profiles of the same core
    (the engine compiled for a core runs the same instructions on every board of that core)."""
    from targets import all_targets

    same_core = [t for t in all_targets() if _emulated(t) and t.core == target.core and t.name != target.name]
    return ([target] if _emulated(target) else []) + sorted(same_core, key=lambda t: t.name)


def _larger_machines(target) -> list:
    """`target` itself (its core, compiler flags, memory map and budgets) on each QEMU machine of a
    core that runs its code unchanged but is not of its architecture (an Armv7-M Cortex-M3 for an
    Armv6-M Cortex-M0+): for a firmware too large for the machines of its own architecture. One
    machine, the nearest architecture's with the most memory (each one tried costs a firmware build)."""
    from targets.hardware import ARCH_INCLUDES, cores, qemu_machines

    core = target.core_spec
    if not core.is_cortex_m:
        return []
    hosts = []
    for m in qemu_machines().values():
        host = cores()[m.cpu]
        if host.includes(core) and not host.runs_code_for(core):
            hosts.append((len(ARCH_INCLUDES.get(host.arch, ())), -sum(r.size_bytes for r in m.memory), m.machine, m))
    return [replace(target, name=f"{target.name}@{m.machine}", flasher="qemu", emulator=m, uart=m.uart,
                    uart_base=m.uart_base, board=None,
                    description=f"{target.description}; its firmware on QEMU {m.machine} ({m.cpu})")
            for *_, m in sorted(hosts, key=lambda h: h[:3])[:1]]
