"""Measure pass: the exact TFLM tensor arena of a .tflite model, with the tflite-micro interpreter.

The smallest arena that TFLM's allocation accepts is found by bisection (allocation is
deterministic and monotonic in the arena size). The figure comes from a 64-bit host, where
TFLM's pointer-holding persistent structs are larger than on a 32-bit MCU; `tail_32bit_bytes`
corrects the categories whose 32-bit size is known exactly.
"""
from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from typing import Callable

from toolchain.base.errors import ConversionError

MAX_ARENA_BYTES = 1 << 30
# Below about 500 bytes the interpreter cannot even place its own allocator objects and, rather
# than failing, crashes the process (tflite-micro 2026-10). No model needs less than this; a model
# whose arena is at most this floor is reported at the floor.
MIN_PROBE_BYTES = 512
ALIGN = 16
PROBE_TIMEOUT_S = 120.0  # one allocation; a child still running then is killed

# (category printed by RecordingMicroAllocator, bytes per item on a 64-bit host, on a 32-bit MCU)
_POINTER_STRUCTS = {
    "TfLiteEvalTensor data": (24, 12),  # {data*, dims*, type}
    "Persistent TfLiteTensor data": (64, 36),  # static-memory TfLiteTensor
    "NodeAndRegistration struct": (64, 32),  # TfLiteNode (6 pointers + int) + registration*
}
_CATEGORY = re.compile(r"'([^']+)' used (\d+) bytes with alignment overhead \(requested (\d+) bytes for (\d+)")
_TOTALS = re.compile(r"Arena allocation (total|head|tail) (\d+) bytes")
_MISSING_OP = re.compile(r"Didn't find op for builtin opcode '([A-Z0-9_]+)'")
_FAILED_NODE = re.compile(r"Failed to get registration from op code ([A-Z0-9_]+)")


@dataclass(frozen=True)
class ArenaMeasurement:
    total_bytes: int  # smallest arena TFLM accepts (64-bit host)
    head_bytes: int  # planned activations (non-persistent)
    tail_bytes: int  # persistent data (64-bit host)
    tail_32bit_bytes: int  # persistent data corrected for a 32-bit MCU
    categories: dict  # persistent data by category: name -> (bytes, count)

    @property
    def init_overhead_bytes(self) -> int:
        """Bytes the arena needs only while TFLM allocates (temporary planner data, which sits
        above the planned activations before they exist): minimum - (head + tail)."""
        return self.total_bytes - self.head_bytes - self.tail_bytes

    @property
    def total_32bit_bytes(self) -> int:
        return self.total_bytes - (self.tail_bytes - self.tail_32bit_bytes)

    @property
    def recommended_bytes(self) -> int:
        """The arena size to declare on a 32-bit MCU, rounded up to 16 bytes."""
        return -(-self.total_32bit_bytes // ALIGN) * ALIGN


def _in_child(model: bytes, size: int, print_allocations: bool = False) -> tuple[bool, str]:
    """Allocate in a forked child (toolchain.probe): TFLM's allocator crashes the process on some
    failure paths (seen at sizes a few bytes under the minimum, and below ~500 bytes), so a probe
    that dies by a signal counts as a failed allocation and never takes edgec down with it."""
    from tflite_micro.python.tflite_micro import runtime

    from toolchain.probe import run_in_child

    def allocate() -> int:
        interp = runtime.Interpreter.from_bytes(model, arena_size=size)
        if print_allocations:
            interp.print_allocations()
        return 0

    result = run_in_child(allocate, timeout_s=PROBE_TIMEOUT_S)
    return result.ok, result.log


def _try_allocate(model: bytes, size: int) -> tuple[bool, str]:
    return _in_child(model, size)


def unsupported_ops(log: str) -> list[str]:
    return sorted(set(_MISSING_OP.findall(log)) | set(_FAILED_NODE.findall(log)))


def measure_arena(model: bytes, on_probe: Callable[[int, int], None] = lambda n, size: None) -> ArenaMeasurement:
    """Find the smallest arena for `model`; raise ConversionError if TFLM cannot run it at all.

    A first allocation in a roomy arena reports what it used; the minimum is then confirmed by
    bisection in a small window below that figure (a handful of probes instead of twenty).
    `on_probe(n, size)` is told of each allocation tried (for a progress display).
    """
    probes = itertools.count(1)

    def fits(size: int) -> bool:
        on_probe(next(probes), size)
        return _try_allocate(model, size)[0]

    hi = max(64 * 1024, len(model) * 4)
    while True:
        on_probe(next(probes), hi)
        ok, log = _in_child(model, hi, print_allocations=True)
        if ok:
            break
        missing = unsupported_ops(log)
        if missing:
            raise ConversionError("TFLM has no kernel for " + ", ".join(missing))
        if hi >= MAX_ARENA_BYTES:
            first = next((l for l in log.splitlines() if l.strip()), "allocation failed")
            raise ConversionError(f"TFLM cannot allocate this model: {first}")
        hi *= 2
    used = dict(_TOTALS.findall(log)).get("total")
    if used is not None and fits(int(used)):
        hi = int(used)
    lo = max(MIN_PROBE_BYTES, hi - 32)  # verified to fail below; else a full bisection follows
    if lo < hi and fits(lo):
        hi, lo = lo, MIN_PROBE_BYTES
    while lo < hi:
        mid = (lo + hi) // 2
        if fits(mid):
            hi = mid
        else:
            lo = mid + 1
    ok, text = _in_child(model, lo, print_allocations=True)
    if not ok:
        raise ConversionError(f"TFLM accepted an arena of {lo} bytes once but not a second time")
    totals = {k: int(v) for k, v in _TOTALS.findall(text)}
    categories = {name: (int(used), int(count)) for name, used, _req, count in _CATEGORY.findall(text)}
    tail = totals.get("tail", lo - totals.get("head", 0))
    saving = 0
    for name, (per64, per32) in _POINTER_STRUCTS.items():
        if name in categories:
            used, count = categories[name]
            saving += min(used, count * (per64 - per32))
    return ArenaMeasurement(
        total_bytes=lo, head_bytes=totals.get("head", 0), tail_bytes=tail,
        tail_32bit_bytes=tail - saving, categories=categories,
    )
