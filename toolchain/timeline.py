"""The activation timeline: per op in execution order, the live activations at their arena offsets.

From the generated C engine's own plan when the engine is the runtime, otherwise from TFLM's
greedy plan recomputed in Python (toolchain.planner_tflm), which is checked against the arena head
that the real TFLM measured: the report says whether the two agree.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Block:
    name: str
    offset: int
    bytes: int
    first: int  # first op it is alive at
    last: int  # last op it is alive at
    kind: str = "tensor"  # or "scratch" (a kernel's scratch buffer)


@dataclass(frozen=True)
class Timeline:
    planner: str
    ops: tuple[tuple[int, str, str], ...]  # (index, op, layer) in execution order
    blocks: tuple[Block, ...]
    measured_head_bytes: int | None = None  # TFLM's measured arena head, for its recomputed plan
    caveats: tuple[str, ...] = ()

    @property
    def peak_bytes(self) -> int:
        """The arena's extent: the top byte of the highest block."""
        return max((b.offset + b.bytes for b in self.blocks), default=0)

    @property
    def matches_measured(self) -> bool | None:
        return None if self.measured_head_bytes is None else self.peak_bytes == self.measured_head_bytes

    def live(self, k: int) -> list[int]:
        """Indices of the blocks alive at op k."""
        return [i for i, b in enumerate(self.blocks) if b.first <= k <= b.last]

    def live_bytes(self, k: int) -> int:
        return sum(self.blocks[i].bytes for i in self.live(k))

    @property
    def peak_op(self) -> int:
        """The op at which the arena's top byte is in use (most live bytes among several)."""
        top = [k for k in range(len(self.ops))
               if any(self.blocks[i].offset + self.blocks[i].bytes == self.peak_bytes for i in self.live(k))]
        return max(top, key=lambda k: (self.live_bytes(k), -k)) if top else 0

    def to_dict(self) -> dict:
        return {
            "planner": self.planner, "peak_bytes": self.peak_bytes, "peak_op": self.peak_op,
            "measured_head_bytes": self.measured_head_bytes, "matches_measured": self.matches_measured,
            "caveats": list(self.caveats),
            "ops": [{"index": i, "op": op, "layer": layer, "live": self.live(k), "live_bytes": self.live_bytes(k)}
                    for k, (i, op, layer) in enumerate(self.ops)],
            "tensors": [{"name": b.name, "offset": b.offset, "bytes": b.bytes, "first": b.first, "last": b.last,
                         "kind": b.kind} for b in self.blocks],
        }


def tflm_timeline(tflite, analysis, measured_head_bytes: int | None) -> Timeline:
    """TFLM's plan of the model, recomputed, with the head TFLM measured to check it against."""
    from toolchain.planner_tflm import plan_tflm

    plan = plan_tflm(tflite)
    blocks = tuple(Block(p.name, p.offset, p.bytes, p.first, p.last, p.kind) for p in plan.placements
                   if p.first >= 0)
    unseen = [p for p in plan.placements if p.first < 0]
    caveats = list(plan.caveats)
    if unseen:  # planned by TFLM (so counted in the extent) but alive at no op
        caveats.append(f"{len(unseen)} tensor(s) used by no op are planned by TFLM and not drawn")
        blocks += tuple(Block(p.name, p.offset, p.bytes, p.first, p.last, p.kind) for p in unseen)
    return Timeline(plan.planner, _ops(analysis), blocks, measured_head_bytes, tuple(caveats))


def engine_timeline(plan, analysis, patch=None) -> Timeline:
    """The generated C engine's plan (firmware_export.cengine.planner.MemoryPlan); `patch`, the
    report.build_result.PatchReport of its patched stage: the stage's inner tensors are drawn at the
    size of one patch, and a note says so."""
    spans: dict = {}
    for k, live in enumerate(plan.timeline):
        for t in live:
            first, last, offset, size, name = spans.get(t.tensor, (k, k, t.offset, t.size, t.name))
            spans[t.tensor] = (min(first, k), max(last, k), offset, size, name)
    blocks = tuple(Block(name, offset, size, first, last)
                   for first, last, offset, size, name in sorted(spans.values()))
    ops = _ops(analysis)
    caveats = ()
    if len(plan.timeline) != len(ops):
        caveats = (f"the engine runs {len(plan.timeline)} steps for the model's {len(ops)} ops; rows are steps",)
        ops = tuple((k, "step", "") for k in range(len(plan.timeline)))
    if patch is not None:
        caveats += (patch_note(patch),)
        blocks = tuple(Block(b.name + " (one patch)", b.offset, b.bytes, b.first, b.last)
                       if patch.first_op <= b.first and b.last <= patch.last_op else b for b in blocks)
    return Timeline("C engine plan", ops, blocks, None, caveats)


def patch_note(patch) -> str:
    """One line on a patched stage: where, how many patches, its peak, the MACs it adds."""
    return (f"ops {patch.first_op}-{patch.last_op} ({', '.join(patch.ops)}) run in {patch.patches} patches "
            f"({patch.bands} of op {patch.last_op}'s output; the tensors inside the stage hold one patch): "
            f"stage peak {patch.stage_peak_bytes:,} B, arena {patch.arena_bytes:,} B instead of "
            f"{patch.unpatched_arena_bytes:,} B unpatched; MACs +{patch.added_macs:,} "
            f"(+{100 * patch.overhead:.1f} % of the model's {patch.model_macs:,})")


def _ops(analysis) -> tuple[tuple[int, str, str], ...]:
    return tuple((o.index, o.op, o.layer) for o in analysis.ops)
