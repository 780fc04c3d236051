"""TFLM's arena plan, recomputed in Python: where each activation sits in the tensor arena.

Two steps, each as TFLM does it (tflite-micro's AllocationInfoBuilder, then GreedyMemoryPlanner):

- Buffers, in the order TFLM adds them to its planner: every tensor of the graph that has no data
  in the model, is not a variable and is not empty, by tensor index, then the scratch buffers that
  the reference kernels request in Prepare, in op order. Sizes are rounded up to 16 bytes.
  Lifetimes count "scopes": the model's inputs are created at scope 0, op k runs at scope k + 1,
  a tensor lives from the op that writes it to the last op that reads it, the model's outputs
  to the end, a scratch buffer during its op.
- Placement: buffers sorted by size, largest first (equal sizes: the one added last first, as
  TFLM's stable sort of its tail-filled list does), each at the lowest offset where it collides
  with no already placed buffer that is alive at the same time.

The measured arena head (toolchain.arena) checks this on every build: the plan's top byte is
compared with it, and the report says when they differ. Not modelled, and flagged when present:
offline-planned offsets in the model's metadata, control-flow subgraphs, and scratch requests of
kernels other than those listed in `_scratch_requests`.
"""
from __future__ import annotations

from dataclasses import dataclass

from toolchain.base.tflite_reader import Operator, Subgraph, TfliteModel

ALIGN = 16
PLANNER = "TFLM greedy (recomputed)"
OFFLINE_PLAN_METADATA = "OfflineMemoryAllocation"
CONTROL_FLOW_OPS = frozenset({"IF", "WHILE", "CALL_ONCE"})


@dataclass(frozen=True)
class Buffer:
    """One buffer TFLM plans, in its order; lifetimes in TFLM's scopes (op k = scope k + 1)."""
    name: str
    kind: str  # "tensor" or "scratch"
    tensor: int  # tensor index, or the op index of a scratch buffer
    bytes: int  # as requested
    first_scope: int
    last_scope: int

    @property
    def aligned_bytes(self) -> int:
        return -(-self.bytes // ALIGN) * ALIGN


@dataclass(frozen=True)
class Placement:
    name: str
    offset: int
    bytes: int  # as planned (rounded up to 16 bytes)
    first: int  # first op it is alive at (0 for model inputs); -1 if never alive during an op
    last: int  # last op it is alive at
    kind: str = "tensor"


@dataclass(frozen=True)
class ArenaPlan:
    planner: str
    placements: tuple[Placement, ...]
    n_ops: int
    caveats: tuple[str, ...] = ()  # what this recomputation does not model for this graph

    @property
    def peak_bytes(self) -> int:
        return max((p.offset + p.bytes for p in self.placements), default=0)


def _elements(shape: tuple[int, ...]) -> int:
    n = 1
    for d in shape:
        n *= d
    return n


# Kernels of tflite-micro that request scratch memory in Prepare and are not modelled below
# (found by the calls to RequestScratchBufferInArena in the tflite-micro build edgec uses).
UNMODELLED_SCRATCH_OPS = frozenset({"ADD_N", "MIRROR_PAD", "DETECTION_POSTPROCESS", "SVDF",
                                    "UNIDIRECTIONAL_SEQUENCE_LSTM", "RFFT"})


def _scratch_requests(op: Operator, sg: Subgraph) -> list[int] | None:
    """Bytes of each scratch buffer the reference kernel of `op` requests, in request order.

    None when the kernel requests scratch memory that this function does not model.
    """
    t = sg.tensors

    def tensor(k):
        return t[op.inputs[k]] if len(op.inputs) > k and op.inputs[k] >= 0 else None

    out = t[op.outputs[0]] if op.outputs else None
    if op.op in ("MEAN", "SUM"):  # int32 sums per output element (integer inputs), index arrays
        data, axis = tensor(0), tensor(1)
        sums = [4 * _elements(out.shape)] if data.dtype in ("int8", "int16") else []
        return sums + [4 * len(data.shape), 4 * _elements(axis.shape)]
    if op.op in ("REDUCE_MAX", "REDUCE_MIN", "REDUCE_ALL"):  # index arrays
        return [4 * len(tensor(0).shape), 4 * _elements(tensor(1).shape)]
    if op.op == "TRANSPOSE_CONV":  # inputs: output shape, filter, input, bias
        data, bias = tensor(2), tensor(3)
        if data.dtype == "int8":
            return [4 * _elements(out.shape)]
        if data.dtype == "int16":
            return [8 * _elements(out.shape)] + ([8 * _elements(bias.shape)] if bias is not None
                                                 and bias.dtype == "int16" else [])
        return []
    if op.op in ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED"):  # int4 weights, unpacked
        weights = tensor(1)
        return [_elements(weights.shape)] if weights is not None and weights.dtype == "int4" else []
    if op.op in UNMODELLED_SCRATCH_OPS or op.op.startswith("CUSTOM:"):
        return None
    return []


def tflm_buffers(model: TfliteModel) -> tuple[list[Buffer], list[str]]:
    """The buffers TFLM's planner receives for the main subgraph, in its order; and caveats."""
    sg = model.main
    caveats = []
    if OFFLINE_PLAN_METADATA in model.metadata_names:
        caveats.append("the model carries offline-planned offsets, which TFLM uses and this plan ignores")
    if len(model.subgraphs) > 1 or any(op.op in CONTROL_FLOW_OPS for op in sg.operators):
        caveats.append("control-flow subgraphs are not planned here")
    first = [-1] * len(sg.tensors)
    last = [-1] * len(sg.tensors)
    for i in (*sg.inputs, *sg.outputs):
        first[i] = last[i] = 0
    scratch: list[Buffer] = []
    for op in sg.operators:
        scope = op.index + 1
        for i in op.outputs:
            first[i] = last[i] = scope
        for i in (*op.inputs, *op.outputs):
            if i >= 0:
                last[i] = scope
        requests = _scratch_requests(op, sg)
        if requests is None:
            caveats.append(f"op {op.index} ({op.op}) may request kernel scratch memory that is not modelled")
            requests = []
        scratch += [Buffer(f"scratch of op {op.index} ({op.op})", "scratch", op.index, n, scope, scope)
                    for n in requests]
    for i in sg.outputs:
        last[i] = len(sg.operators)
    tensors = [Buffer(t.name or f"tensor{t.index}", "tensor", t.index, t.nbytes, first[t.index], last[t.index])
               for t in sg.tensors if not t.is_constant and not t.is_variable and t.nbytes > 0]
    return tensors + scratch, caveats


def place(buffers: list[Buffer]) -> list[int]:
    """Offsets of `buffers` (in their order) by TFLM's greedy first-fit, largest first."""
    order = sorted(range(len(buffers)), key=lambda i: (-buffers[i].aligned_bytes, -i))
    offsets = [0] * len(buffers)
    placed: list[int] = []  # indices of placed buffers, kept in offset order
    for i in order:
        b = buffers[i]
        offset = 0
        for j in placed:
            other = buffers[j]
            if other.first_scope > b.last_scope or b.first_scope > other.last_scope:
                continue  # not alive at the same time
            if offsets[j] - offset >= b.aligned_bytes:
                break  # the gap before this buffer is big enough
            offset = max(offset, offsets[j] + other.aligned_bytes)
        offsets[i] = offset
        at = next((k for k, j in enumerate(placed) if offsets[j] > offset), len(placed))
        placed.insert(at, i)
    return offsets


def plan_tflm(model: TfliteModel) -> ArenaPlan:
    """TFLM's arena plan of the model's main subgraph."""
    buffers, caveats = tflm_buffers(model)
    offsets = place(buffers)
    placements = []
    for b, offset in zip(buffers, offsets):
        alive = b.last_scope >= 1
        placements.append(Placement(b.name, offset, b.aligned_bytes,
                                    max(b.first_scope - 1, 0) if alive else -1,
                                    b.last_scope - 1 if alive else -1, b.kind))
    placements.sort(key=lambda p: (p.first, p.offset, p.name))
    return ArenaPlan(PLANNER, tuple(placements), len(model.main.operators), tuple(caveats))
