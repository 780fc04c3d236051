"""Static memory plan: one arena offset per activation buffer, from lifetimes in execution order.

Buffers are tensors, with RESHAPE-like aliases merged into the buffer they view. The model input
(and its aliases) is not planned: the kernels read it where the caller keeps it. Two buffers
whose lifetimes intersect may not overlap, except an op's output and an input that dies at that
op, which may overlap as far as the kernel's streaming order allows (`inplace.inplace_lag`).
Packing tries several orderings (first-fit at the lowest feasible offset, as TFLM's greedy planner
does for one of them) and keeps the smallest arena; it stops as soon as an ordering reaches the
lower bound. Deterministic: the same graph always gives the same plan.
"""
from __future__ import annotations

import math
import random
from dataclasses import dataclass, field

from .inplace import inplace_lag, inplace_period
from .ops import Alias, EngineGraph, op_inputs

ALIGNMENT = 4


def _align_up(x: int) -> int:
    return (x + ALIGNMENT - 1) // ALIGNMENT * ALIGNMENT


def _align_down(x: int) -> int:
    return x // ALIGNMENT * ALIGNMENT


@dataclass(frozen=True)
class Buffer:
    id: int  # root tensor id
    tensors: tuple[int, ...]  # every tensor id stored in this buffer (aliases included)
    size: int
    first: int  # op index that writes it
    last: int  # last op index that reads it (len(ops): the model output, copied out at the end)


@dataclass(frozen=True)
class LiveTensor:
    tensor: int
    name: str
    offset: int
    size: int


@dataclass(frozen=True)
class MemoryPlan:
    buffers: tuple[Buffer, ...]
    offsets: dict  # buffer id -> offset
    tensor_offsets: dict  # tensor id -> offset (aliases share their buffer's); the input's absent
    caller_tensors: frozenset  # the model input and its aliases: read from the caller's buffer
    arena_bytes: int
    live_peak_bytes: int  # most bytes alive at once in execution order, no overlap allowed
    lower_bound_bytes: int  # live peak less the most that in-place overlaps could save
    inplace: tuple[tuple[int, int, int], ...]  # (op index, input buffer, output buffer) overlapped
    timeline: tuple[tuple[LiveTensor, ...], ...]  # per op: the buffers alive during it (scratch: id < 0)
    ordering: str  # the packing order that won
    scratch_offsets: dict = field(default_factory=dict)  # op position -> arena offset of its kernel scratch (empty: beside it)
    scratch_bytes: int = 0  # the kernel scratch beside the arena (0 when planned inside it)
    reversed_ops: frozenset = frozenset()  # op positions run row by row from the last (output above input)

    @property
    def sram_bytes(self) -> int:
        """The arena and the scratch beside it."""
        return self.arena_bytes + self.scratch_bytes


def _find(parent: dict, x: int) -> int:
    while parent[x] != x:
        parent[x] = parent[parent[x]]
        x = parent[x]
    return x


def build_buffers(graph: EngineGraph, widen: dict | None = None) -> tuple[list[Buffer], dict]:
    """Merge aliases, compute each buffer's lifetime; return the arena's buffers (every one but
    the model input's) and tensor -> buffer id. `widen`: tensor -> (first, last) op indices its
    buffer must be live at least from and to (None: as computed), for a patched stage (patch.py)."""
    parent = {t: t for t in graph.tensors}
    for op in graph.ops:
        if isinstance(op, Alias):
            a, b = _find(parent, op.input), _find(parent, op.output)
            parent[b] = a
    root = {t: _find(parent, t) for t in graph.tensors}
    first: dict[int, int] = {}
    last: dict[int, int] = {}
    for k, op in enumerate(graph.ops):
        if isinstance(op, Alias):
            continue
        b = root[op.output]
        first[b] = min(first.get(b, k), k)
        last[b] = max(last.get(b, k), k)
        for t in op_inputs(op):
            last[root[t]] = max(last.get(root[t], k), k)
    for t, (lo, hi) in (widen or {}).items():
        if lo is not None and root[t] in first:
            first[root[t]] = min(first[root[t]], lo)
        if hi is not None:
            last[root[t]] = max(last.get(root[t], hi), hi)
    out = root[graph.output]
    last[out] = len(graph.ops)
    first.setdefault(out, -1)
    members: dict[int, list[int]] = {}
    for t, r in root.items():
        members.setdefault(r, []).append(t)
    buffers = [Buffer(id=r, tensors=tuple(sorted(ts)),
                      size=max(graph.tensors[t].nbytes for t in ts),
                      first=first.get(r, -1), last=last.get(r, -1))
               for r, ts in sorted(members.items()) if r in first and r != root[graph.input]]
    return buffers, root


def _pair_lags(graph: EngineGraph, buffers: list[Buffer], root: dict, lag_of=inplace_lag) -> dict:
    """(input buffer, output buffer) -> (op index, lag) for outputs that may overlap a dying input."""
    by_id = {b.id: b for b in buffers}
    lags = {}
    for k, op in enumerate(graph.ops):
        if isinstance(op, Alias):
            continue
        out = root[op.output]
        if by_id[out].first != k:
            continue
        for t in set(op_inputs(op)):
            inp = root[t]
            if inp == out or inp not in by_id or by_id[inp].last != k:
                continue
            lag = lag_of(op, t, graph)
            if lag is not None:
                lags[(inp, out)] = (k, _align_up(lag))
    return lags


def _pair_periods(graph: EngineGraph, lags: dict, root: dict, period_of=inplace_period) -> dict:
    """(input buffer, output buffer) -> (period, free) of the pairs in `lags` whose kernel allows an
    overlap only by a multiple of period bytes or from free bytes on (inplace.inplace_period)."""
    periods = {}
    for (inp, out), (k, _) in lags.items():
        op = graph.ops[k]
        for t in set(op_inputs(op)):
            if root[t] == inp and root[op.output] == out and (period := period_of(op, t, graph)) is not None:
                periods[(inp, out)] = period
    return periods


def _lag_ok(distance: int, lag: int, period: tuple[int, int] | None) -> bool:
    """Whether an output `distance` bytes below its input keeps the kernel's reads intact."""
    return distance >= lag and (period is None or distance % period[0] == 0 or distance >= period[1])


def _below(lag: int, period: tuple[int, int] | None) -> list[int]:
    """The distances of an output below its input worth trying: the lag, or the first aligned
    multiple of the period from the lag on and the free distance."""
    if period is None:
        return [lag]
    step = math.lcm(period[0], ALIGNMENT)
    return [-(-lag // step) * step, _align_up(max(period[1], lag))]


def _conflicts(a: Buffer, b: Buffer) -> bool:
    return a.first <= b.last and b.first <= a.last


def _fits(x: Buffer, off: int, placed: dict, by_id: dict, lags: dict, rlags: dict, periods: dict) -> bool:
    for yid, yoff in placed.items():
        y = by_id[yid]
        if not _conflicts(x, y):
            continue
        if off + x.size <= yoff or yoff + y.size <= off:
            continue
        if (y.id, x.id) in lags and _lag_ok(yoff - off, lags[(y.id, x.id)][1], periods.get((y.id, x.id))):
            continue  # x is the output, placed far enough below its input y
        if (x.id, y.id) in lags and _lag_ok(off - yoff, lags[(x.id, y.id)][1], periods.get((x.id, y.id))):
            continue  # x is the input, far enough above its output y
        if (y.id, x.id) in rlags and off - yoff >= rlags[(y.id, x.id)][1]:
            continue  # x is the output of an op run from its last row, far enough above its input y
        if (x.id, y.id) in rlags and yoff - off >= rlags[(x.id, y.id)][1]:
            continue  # x is that op's input, far enough below its output y
        return False
    return True


def _pack(order: list[Buffer], by_id: dict, lags: dict, rlags: dict, periods: dict,
          placed: dict | None = None) -> dict:
    placed = dict(placed or {})
    for x in order:
        candidates = {0}
        for yid, yoff in placed.items():
            y = by_id[yid]
            if not _conflicts(x, y):
                continue
            candidates.add(_align_up(yoff + y.size))
            if (y.id, x.id) in lags:
                below = _below(lags[(y.id, x.id)][1], periods.get((y.id, x.id)))
                candidates.update(_align_down(yoff - d) for d in below)
            if (x.id, y.id) in lags:
                above = _below(lags[(x.id, y.id)][1], periods.get((x.id, y.id)))
                candidates.update(_align_up(yoff + d) for d in above)
            if (y.id, x.id) in rlags:
                candidates.add(_align_up(yoff + rlags[(y.id, x.id)][1]))
            if (x.id, y.id) in rlags:
                candidates.add(_align_down(yoff - rlags[(x.id, y.id)][1]))
        for off in sorted(c for c in candidates if c >= 0):
            if _fits(x, off, placed, by_id, lags, rlags, periods):
                placed[x.id] = off
                break
    return placed


def _orderings(buffers: list[Buffer], tries: int):
    yield "size", sorted(buffers, key=lambda b: (-b.size, b.first, b.id))
    yield "first-use", sorted(buffers, key=lambda b: (b.first, -b.size, b.id))
    yield "reverse-time", sorted(buffers, key=lambda b: (-b.last, -b.first, -b.size, b.id))
    yield "reverse-size", sorted(buffers, key=lambda b: (-b.size, -b.last, b.id))
    yield "lifetime", sorted(buffers, key=lambda b: (-(b.last - b.first), -b.size, b.id))
    yield "area", sorted(buffers, key=lambda b: (-b.size * (b.last - b.first + 1), b.id))
    rng = random.Random(0)
    base = sorted(buffers, key=lambda b: (-b.size, b.first, b.id))
    for i in range(tries):
        order = list(base)
        rng.shuffle(order)
        yield f"shuffle-{i}", order


def _live_at(buffers: list[Buffer], k: int) -> list[Buffer]:
    return [b for b in buffers if b.first <= k <= b.last]


def _scratch_buffers(graph: EngineGraph) -> list[Buffer]:
    """Each op's kernel scratch as a buffer of the arena, live during that op only (id -(k + 1))."""
    return [Buffer(id=-(k + 1), tensors=(), size=_align_up(size), first=k, last=k)
            for k, op in enumerate(graph.ops) if (size := getattr(op, "scratch_bytes", 0))]


def _overlap(i: Buffer, o: Buffer, lag: int | None, rlag: int | None) -> int:
    """The most bytes output o may share with input i (o below i by lag, or above it by rlag)."""
    below = i.size + o.size - max(lag + i.size, o.size) if lag is not None else 0
    above = i.size + o.size - max(rlag + o.size, i.size) if rlag is not None else 0
    return max(below, above, 0)


def _solve(buffers: list[Buffer], lags: dict, rlags: dict, periods: dict, steps, random_tries: int):
    """(arena bytes, ordering, offsets, live peak, lower bound) of the best packing found."""
    by_id = {b.id: b for b in buffers}
    pairs = {p: (lags.get(p, (0, None))[1], rlags.get(p, (0, None))[1]) for p in set(lags) | set(rlags)}
    live_peak = max(sum(b.size for b in _live_at(buffers, k)) for k in steps)
    bound = 0
    for k in steps:
        live = sum(b.size for b in _live_at(buffers, k))
        # the union of the live buffers is at least their sum less every pairwise overlap allowed
        saving = sum(_overlap(by_id[i], by_id[o], lag, rlag) for (i, o), (lag, rlag) in pairs.items()
                     if by_id[i].first <= k <= by_id[i].last and by_id[o].first <= k <= by_id[o].last)
        bound = max(bound, live - saving)
    best = None
    for name, order in _orderings(buffers, random_tries):
        placed = _pack(order, by_id, lags, rlags, periods)
        total = _align_up(max((placed[b.id] + b.size for b in buffers), default=0))
        if best is None or total < best[0]:
            best = (total, name, placed)
        if total <= _align_up(bound):
            break
    total, name, offsets = best
    return total, name, offsets, live_peak, bound


def plan_memory(graph: EngineGraph, random_tries: int = 24, widen: dict | None = None,
                lag=inplace_lag, extra_lags: dict | None = None, rlag=None) -> MemoryPlan:
    """The plan of `_plan_memory`. With `rlag` (inplace.reverse_lag; patch.py passes it when the user
    trades computation for memory, `--patch`), ops may run from their last row, only when that makes
    arena + scratch smaller than without (they cost a kernel call per row)."""
    plain = _plan_memory(graph, random_tries, widen, lag, extra_lags, None)
    if rlag is None:
        return plain
    turned = _plan_memory(graph, random_tries, widen, lag, extra_lags, rlag)
    return turned if turned.reversed_ops and turned.sram_bytes < plain.sram_bytes else plain


def _plan_memory(graph: EngineGraph, random_tries: int, widen: dict | None, lag, extra_lags: dict | None,
                 rlag) -> MemoryPlan:
    """`widen` and `lag` (the in-place lag of an op's input, as inplace.inplace_lag) let a patched
    stage (patch.py) keep its input and split tensor live across it and give its ops' lags;
    `extra_lags` ((input tensor, output tensor) -> (op index, lag)) adds overlaps the stage allows
    between buffers that no single op links (a residual stage's input and its split tensor).

    Kernel scratch (im2col columns, decoded packed weights) is planned both ways: one buffer of
    the largest op's scratch beside the arena, or each op's scratch inside the arena, in the gaps
    its op leaves; the arena keeps it only when that makes arena + scratch smaller.

    `rlag` (as inplace.reverse_lag): ops that may instead run row by row from their last row with
    their output above a dying input; the plan runs them so (`reversed_ops`) where it overlaps them."""
    buffers, root = build_buffers(graph, widen)
    by_id = {b.id: b for b in buffers}
    lags = _pair_lags(graph, buffers, root, lag)
    rlags = _pair_lags(graph, buffers, root, rlag) if rlag is not None else {}
    for (i, o), (k, extra) in (extra_lags or {}).items():
        if root[i] in by_id and root[o] in by_id and root[i] != root[o]:
            lags[(root[i], root[o])] = (k, _align_up(extra))
    periods = _pair_periods(graph, lags, root)
    steps = range(-1, len(graph.ops) + 1)
    scratch = _scratch_buffers(graph)
    outside = max((b.size for b in scratch), default=0)
    total, name, offsets, live_peak, bound = _solve(buffers, lags, rlags, periods, steps, random_tries)
    scratch_offsets = {}
    if scratch:  # the tensors where they are, each op's scratch at the lowest offset free during it
        by_id.update((b.id, b) for b in scratch)
        placed = _pack(sorted(scratch, key=lambda b: (-b.size, b.first)), by_id, lags, rlags, periods, offsets)
        inside = _align_up(max(placed[b.id] + b.size for b in scratch))
        if max(inside, total) < total + outside:
            total, offsets, outside = max(inside, total), placed, 0
            scratch_offsets = {-b.id - 1: offsets[b.id] for b in scratch}
            live_peak = max(sum(b.size for b in _live_at(buffers + scratch, k)) for k in steps)
    tensor_offsets = {t: offsets[r] for t, r in root.items() if r in offsets}
    caller = frozenset(t for t, r in root.items() if r == root[graph.input])
    def overlapped(i: int, o: int) -> bool:
        return offsets[i] < offsets[o] + by_id[o].size and offsets[o] < offsets[i] + by_id[i].size

    inplace = tuple(sorted({(k, i, o) for (i, o), (k, _) in list(lags.items()) + list(rlags.items())
                            if overlapped(i, o)}))
    reversed_ops = frozenset(k for (i, o), (k, _) in rlags.items()
                             if overlapped(i, o) and offsets[o] > offsets[i]
                             and not ((i, o) in lags and offsets[i] - offsets[o] >= lags[(i, o)][1]))
    planned = buffers + [b for b in scratch if b.id in offsets]

    def label(b: Buffer) -> str:
        return graph.tensors[b.id].name if b.id >= 0 else f"scratch of op {graph.ops[-b.id - 1].index}"

    timeline = tuple(
        tuple(LiveTensor(tensor=b.id, name=label(b), offset=offsets[b.id], size=b.size)
              for b in sorted(_live_at(planned, k), key=lambda b: (offsets[b.id], b.id)))
        for k in range(len(graph.ops)))
    return MemoryPlan(buffers=tuple(buffers), offsets=offsets, tensor_offsets=tensor_offsets,
                      caller_tensors=caller,
                      arena_bytes=total, live_peak_bytes=live_peak, lower_bound_bytes=bound,
                      inplace=inplace, timeline=timeline, ordering=name,
                      scratch_offsets=scratch_offsets, scratch_bytes=outside, reversed_ops=reversed_ops)
