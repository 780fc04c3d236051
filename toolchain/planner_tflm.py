"""TFLM's greedy arena plan, recomputed in Python: where each activation sits in the arena.

TFLM's GreedyMemoryPlanner places buffers largest first (sizes rounded up to 16 bytes), each at
the lowest offset that does not collide with an already placed buffer alive at the same time.
The measured arena head (toolchain.arena) is the check that this reproduces TFLM's plan: a test
compares the two on the MLPerf Tiny models. Kernel scratch buffers are not in the graph, so a
model whose kernels request scratch memory has a measured head above this plan's.
"""
from __future__ import annotations

from dataclasses import dataclass

from toolchain.analysis import ModelAnalysis

ALIGN = 16


@dataclass(frozen=True)
class Placement:
    name: str
    offset: int
    bytes: int
    first: int  # op index that creates it (0 for model inputs)
    last: int  # last op index that uses it


@dataclass(frozen=True)
class ArenaPlan:
    planner: str
    placements: tuple[Placement, ...]
    n_ops: int

    @property
    def peak_bytes(self) -> int:
        return max((p.offset + p.bytes for p in self.placements), default=0)

    def live_at(self, op: int) -> list[Placement]:
        return [p for p in self.placements if p.first <= op <= p.last]

    @property
    def peak_op(self) -> int:
        """The op at which the highest byte of the arena is in use."""
        top = max(self.placements, key=lambda p: (p.offset + p.bytes, -p.first), default=None)
        return top.first if top else 0


def _align(n: int) -> int:
    return -(-n // ALIGN) * ALIGN


def plan_tflm(analysis: ModelAnalysis) -> ArenaPlan:
    buffers = [(first, last, _align(size), name) for first, last, size, name in analysis.lifetimes if size > 0]
    order = sorted(range(len(buffers)), key=lambda i: (-buffers[i][2], -i))
    placed: list[Placement] = []
    for i in order:
        first, last, size, name = buffers[i]
        overlapping = sorted((p for p in placed if p.first <= last and first <= p.last), key=lambda p: p.offset)
        offset = 0
        for p in overlapping:
            if offset + size <= p.offset:
                break
            offset = max(offset, p.offset + p.bytes)
        placed.append(Placement(name, offset, size, first, last))
    return ArenaPlan("TFLM greedy (recomputed)", tuple(sorted(placed, key=lambda p: (p.first, p.offset))),
                     len(analysis.ops))
