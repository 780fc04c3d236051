"""Patch-based inference: the high-resolution first stage of a CNN computed band by band.

The activation peak of a CNN usually sits in its first stage, where tensors are largest. A
*stage* is a run of ops in execution order that form a chain (each op reads only the previous
op's output, and nothing else reads it): dense convolutions, depthwise convolutions, pooling and
per-element table lookups. Its last output is the *split* tensor. Computed patch by patch, the
split tensor is cut into bands along its outer spatial axis (rows; columns when every tensor of
the stage is one row high, as in 1-D audio models); for each band, the band of every earlier
tensor it depends on (its receptive field, clipped to the tensor) is computed into a small patch
buffer, from the stage input's band, op after op, and the last op writes its band into the split
tensor's full buffer. Overlapping halos are computed again for each patch.

Each per-patch call is the whole-tensor kernel on a smaller tensor: its input band as `in_h` rows,
its output band as `out_h` rows and, for the patch touching the top border, the op's own padding
(elsewhere none: the band includes the rows the window reads). The kernels clip windows to the
input, so a clipped tap is padding in the patch exactly when it is padding in the whole tensor, and
every output element gets the same arithmetic: the result is bit-exact. Bands along the outer axis
of an NHWC tensor are contiguous, so no kernel needs a row stride.

Planning (`plan_patches`): the patch buffers are ordinary buffers of the memory plan, sized for the
largest patch, live from the op that writes them to the op that reads them; the stage input stays
live to the stage's last op and the split tensor from its first. The planner packs them like every
other buffer, in-place overlaps included (each op's lag is the largest over its patches).

`auto` tries every stage that starts where a chain starts and ends inside it, and a range of patch counts,
and keeps the smallest arena (with the kernel scratch beside it, if any) whose added MACs stay within
MAX_MAC_OVERHEAD of the model's MACs (ties: fewer MACs added); it keeps the unpatched plan unless
that drops by at least MIN_SAVING. A number N forces N patches (the stage chosen as in auto, without the MAC
bound).
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from toolchain.base.errors import OptionError

from . import dwpairs
from .emit import BINARY_FUNCTIONS, OpCode, _Pointers, _mac_decls, binary_params_struct, c_array, \
    conv_params_struct, depthwise_decls, depthwise_entry, depthwise_params_struct, emit_op, pool_params_struct
from .inplace import inplace_lag, reverse_lag
from .ops import Binary, Conv2D, DepthwiseConv2D, EngineGraph, FullyConnected, Lookup, Pool2D, \
    _contiguous_strides, op_inputs
from .planner import MemoryPlan, build_buffers, plan_memory

MAX_MAC_OVERHEAD = 0.20  # auto: MACs added by recomputed halos, as a fraction of the model's MACs
MIN_SAVING = 0.05  # auto: patch only when the arena drops by at least this fraction
PATCH_COUNTS = (2, 3, 4, 6, 8, 12, 16, 24)
SHORTLIST = 16  # auto: candidates planned in full (ranked by their live-tensor peak first)


def parse_patch(value) -> str | int:
    """'auto', 'off' or a patch count >= 2 (as int); OptionError otherwise."""
    if value in (None, "off", "auto"):
        return value or "off"
    try:
        n = int(value)
    except (TypeError, ValueError):
        n = 0
    if n < 2:
        raise OptionError("--patch", value, "'auto', 'off' or a number of patches, at least 2")
    return n


@dataclass(frozen=True)
class PatchStage:
    """A stage computed patch by patch, and what it costs."""

    first: int  # position in graph.ops of the stage's first op
    last: int  # position of its last op (writes the split tensor)
    tensors: tuple[int, ...]  # stage input, intermediates..., split tensor
    axis: int  # 0: bands of rows, 1: bands of columns (every stage tensor one row high)
    bands: tuple[tuple[tuple[int, int], ...], ...]  # per patch, per tensor: [start, stop) along axis
    macs: int  # MACs of the stage's ops, unpatched
    patched_macs: int  # MACs of the stage computed patch by patch
    model_macs: int
    op_indices: tuple[int, ...] = ()  # the stage ops' model op indices
    scales: tuple[float, ...] = ()  # per stage op: output elements computed patched / unpatched

    @property
    def patches(self) -> int:
        return len(self.bands)

    @property
    def added_macs(self) -> int:
        return self.patched_macs - self.macs

    @property
    def overhead(self) -> float:
        """MACs added, as a fraction of the whole model's MACs."""
        return self.added_macs / self.model_macs if self.model_macs else 0.0


@dataclass(frozen=True)
class PatchResult:
    graph: EngineGraph  # stage intermediates resized to their largest patch
    plan: MemoryPlan
    stage: PatchStage | None
    unpatched_arena: int  # the unpatched arena, and the kernel scratch beside it if any
    stage_peak_bytes: int = 0  # the arena's high-water mark during the stage


def _eligible(op, graph: EngineGraph) -> bool:
    if isinstance(op, (Conv2D, DepthwiseConv2D)):
        ok = op.packed is None and op.batches == 1
    elif isinstance(op, Pool2D):
        ok = op.batches == 1
    elif isinstance(op, Lookup):
        ok = graph.tensors[op.output].dtype == "int8"
    else:
        return False
    shapes = [graph.tensors[op.input].shape, graph.tensors[op.output].shape]
    return ok and all(len(s) == 4 and s[0] == 1 for s in shapes) and \
        all(graph.tensors[t].dtype == "int8" for t in (op.input, op.output))


def _chains(graph: EngineGraph) -> list[tuple[int, int]]:
    """Maximal runs [a, b] of eligible ops in which each op reads only the previous op's output."""
    readers: dict[int, int] = {}
    for op in graph.ops:
        for t in op_inputs(op):
            readers[t] = readers.get(t, 0) + 1
    chains, k = [], 0
    while k < len(graph.ops):
        if not _eligible(graph.ops[k], graph):
            k += 1
            continue
        a = k
        while (k + 1 < len(graph.ops) and _eligible(graph.ops[k + 1], graph)
               and graph.ops[k + 1].input == graph.ops[k].output and readers.get(graph.ops[k].output) == 1
               and graph.ops[k].output != graph.output):
            k += 1
        chains.append((a, k))
        k += 1
    return chains


def _chain_input(op, graph: EngineGraph) -> int:
    """The tensor a stage op reads from the op before it (a residual ADD: its output's shape)."""
    return op.output if isinstance(op, Binary) else op.input


def _shortcut(op, previous: int) -> int | None:
    """A residual stage's ADD/SUB: its operand that is not the previous op's output."""
    if not isinstance(op, Binary):
        return None
    return op.input2.tensor if op.input1.tensor == previous else op.input1.tensor


def _residual_ends(graph: EngineGraph, a: int, end: int) -> list[int]:
    """Positions k in a chain [a, end] followed by an element-wise ADD/SUB of the chain's output at
    k and the chain's input: the block x -> ops a..k -> z; ADD(x, z), computed as one stage (the ADD
    reads the band of x that it writes)."""
    readers: dict[int, int] = {}
    for op in graph.ops:
        for t in op_inputs(op):
            readers[t] = readers.get(t, 0) + 1
    x = graph.ops[a].input
    ends = []
    for k in range(a, min(end, len(graph.ops) - 2) + 1):
        add, z = graph.ops[k + 1], graph.ops[k].output
        if not (isinstance(add, Binary) and add.op in ("ADD", "SUB") and add.elementwise
                and not add.input1.is_const and not add.input2.is_const
                and {add.input1.tensor, add.input2.tensor} == {x, z} and x != z
                and readers.get(z) == 1 and z != graph.output):
            continue
        shapes = {graph.tensors[t].shape for t in (x, z, add.output)}
        if len(shapes) == 1 and len(next(iter(shapes))) == 4 and next(iter(shapes))[0] == 1 and \
                all(graph.tensors[t].dtype == "int8" for t in (x, z, add.output)):
            ends.append(k + 1)
    return ends


def _geometry(op):
    """(kernel, stride, dilation, pad) per spatial axis; identity for per-element ops."""
    if isinstance(op, (Lookup, Binary)):
        return (1, 1), (1, 1), (1, 1), (0, 0)
    return op.kernel_hw, op.stride_hw, getattr(op, "dilation_hw", (1, 1)), op.pad_tl


def _needed(op, axis: int, lo: int, hi: int, size: int) -> tuple[int, int]:
    """The input band [r0, r1) that output band [lo, hi) of `op` reads, clipped to the input."""
    k, s, d, p = (g[axis] for g in _geometry(op))
    return max(0, lo * s - p), min(size, (hi - 1) * s - p + (k - 1) * d + 1)


def _bands(graph: EngineGraph, ops, axis: int, n: int):
    tensors = [ops[0].input] + [op.output for op in ops]
    length = graph.tensors[tensors[-1]].shape[1 + axis]
    bands = []
    for j in range(n):
        band = [(length * j // n, length * (j + 1) // n)]
        for op in reversed(ops):
            size = graph.tensors[_chain_input(op, graph)].shape[1 + axis]
            r0, r1 = _needed(op, axis, *band[0], size)
            if r1 <= r0:
                return None
            band.insert(0, (r0, r1))
        bands.append(tuple(band))
    return tuple(bands)


def patch_op(op, axis: int, in_band: tuple[int, int], out_band: tuple[int, int], graph: EngineGraph):
    """The op on one patch: its input band in, its output band out, the padding it meets (`graph`
    gives the whole tensors' shapes)."""
    in_len, out_len = in_band[1] - in_band[0], out_band[1] - out_band[0]
    if isinstance(op, Lookup):
        full = graph.tensors[op.output].shape[1 + axis]
        return dataclasses.replace(op, count=op.count // full * out_len)
    if isinstance(op, Binary):  # element-wise, NHWC as (1, H, W, C): its rows or columns cut
        shape4 = list(op.out_shape4)
        shape4[1 + axis] = out_len
        strides = _contiguous_strides(tuple(shape4))
        return dataclasses.replace(op, out_shape4=tuple(shape4), strides1=strides, strides2=strides)
    _, s, _, p = (g[axis] for g in _geometry(op))
    in_hwc, out_hwc, pad = list(op.in_hwc), list(op.out_hwc), list(op.pad_tl)
    in_hwc[axis], out_hwc[axis] = in_len, out_len
    pad[axis] = in_band[0] - (out_band[0] * s - p)
    return dataclasses.replace(op, in_hwc=tuple(in_hwc), out_hwc=tuple(out_hwc), pad_tl=tuple(pad))


def _macs(op) -> int:
    if isinstance(op, Conv2D):
        oh, ow, oc = op.out_hwc
        return op.batches * oh * ow * oc * op.kernel_hw[0] * op.kernel_hw[1] * (op.in_hwc[2] // op.groups)
    if isinstance(op, DepthwiseConv2D):
        oh, ow, oc = op.out_hwc
        return op.batches * oh * ow * oc * op.kernel_hw[0] * op.kernel_hw[1]
    if isinstance(op, FullyConnected):
        return op.batches * op.in_features * op.out_features
    return 0


def model_macs(graph: EngineGraph) -> int:
    return sum(_macs(op) for op in graph.ops)


def _band_bytes(graph: EngineGraph, tensor: int, axis: int, length: int) -> int:
    shape = graph.tensors[tensor].shape
    return graph.tensors[tensor].nbytes // shape[1 + axis] * length


def make_stage(graph: EngineGraph, a: int, b: int, n: int) -> PatchStage | None:
    ops = graph.ops[a:b + 1]
    tensors = (ops[0].input,) + tuple(op.output for op in ops)
    heights = [graph.tensors[t].shape[1] for t in tensors]
    axis = 0 if heights[-1] > 1 else 1 if all(h == 1 for h in heights) else None
    if axis is None or graph.tensors[tensors[-1]].shape[1 + axis] < n:
        return None
    bands = _bands(graph, ops, axis, n)
    if bands is None:
        return None
    patched = sum(_macs(patch_op(op, axis, band[i], band[i + 1], graph))
                  for band in bands for i, op in enumerate(ops))
    scales = tuple(sum(band[i + 1][1] - band[i + 1][0] for band in bands) / graph.tensors[t].shape[1 + axis]
                   for i, t in enumerate(tensors[1:]))
    return PatchStage(first=a, last=b, tensors=tensors, axis=axis, bands=bands,
                      macs=sum(_macs(op) for op in ops), patched_macs=patched, model_macs=model_macs(graph),
                      op_indices=tuple(op.index for op in ops), scales=scales)


def planning_graph(graph: EngineGraph, stage: PatchStage) -> EngineGraph:
    """The graph whose stage intermediates have the size of their largest band."""
    tensors = dict(graph.tensors)
    for i, t in enumerate(stage.tensors[1:-1], start=1):
        length = max(band[i][1] - band[i][0] for band in stage.bands)
        info = tensors[t]
        shape = list(info.shape)
        shape[1 + stage.axis] = length
        tensors[t] = dataclasses.replace(info, shape=tuple(shape),
                                         nbytes=_band_bytes(graph, t, stage.axis, length))
    return dataclasses.replace(graph, tensors=tensors)


def _residual_lag(graph: EngineGraph, stage: PatchStage) -> dict:
    """A residual stage: how far below its input x the split tensor must start so that no patch
    overwrites rows of x a later patch still reads (its first op's band, its ADD's band)."""
    x, out = stage.tensors[0], stage.tensors[-1]
    x_row = _band_bytes(graph, x, stage.axis, 1)
    out_row = _band_bytes(graph, out, stage.axis, 1)
    lag = 0
    for j, band in enumerate(stage.bands[:-1]):
        later = min(min(b[0][0], b[-1][0]) for b in stage.bands[j + 1:])
        lag = max(lag, band[-1][1] * out_row - later * x_row)
    return {(x, out): (stage.last, lag)}


def _widen(stage: PatchStage) -> dict:
    """The stage input is read until the stage's last op, the split tensor written from its first."""
    return {stage.tensors[0]: (None, stage.last), stage.tensors[-1]: (stage.first, None)}


def _stage_plan(graph: EngineGraph, stage: PatchStage, random_tries: int = 24) -> tuple[EngineGraph, MemoryPlan]:
    pg = planning_graph(graph, stage)
    ops = graph.ops[stage.first:stage.last + 1]
    op_position = {id(op): k for k, op in enumerate(pg.ops)}
    lags = {}
    for i, op in enumerate(ops[1:-1], start=1):  # patch buffer -> patch buffer: in place where every patch allows
        per_patch = [inplace_lag(patch_op(op, stage.axis, band[i], band[i + 1], graph), op.input, graph)
                     for band in stage.bands]
        lags[stage.first + i] = None if any(v is None for v in per_patch) else max(per_patch)

    def lag(op, tensor, g):
        k = op_position[id(op)]
        if stage.first <= k <= stage.last:
            return lags.get(k)
        return inplace_lag(op, tensor, g)

    def rlag(op, tensor, g):  # stage ops run band by band, never from their last row
        return None if stage.first <= op_position[id(op)] <= stage.last else reverse_lag(op, tensor, g)

    residual = _residual_lag(graph, stage) if isinstance(ops[-1], Binary) else None
    return pg, plan_memory(pg, random_tries=random_tries, widen=_widen(stage), lag=lag, extra_lags=residual,
                           rlag=rlag)


def _live_peak(graph: EngineGraph, stage: PatchStage) -> int:
    buffers, _ = build_buffers(planning_graph(graph, stage), widen=_widen(stage))
    return max(sum(b.size for b in buffers if b.first <= k <= b.last) for k in range(-1, len(graph.ops) + 1))


def candidates(graph: EngineGraph, counts=PATCH_COUNTS):
    """Every stage from a chain's first op to a later op of the chain, or to the ADD that closes a
    residual block over the chain, in `counts` patches."""
    for a, end in _chains(graph):
        for b in list(range(a + 1, end + 1)) + _residual_ends(graph, a, end):
            for n in counts:
                stage = make_stage(graph, a, b, n)
                if stage is not None:
                    yield stage


def plan_patches(graph: EngineGraph, patch="auto", base: MemoryPlan | None = None) -> PatchResult:
    """The memory plan with the best patched stage `patch` allows ('auto', 'off' or a count)."""
    patch = parse_patch(patch)
    base = base or plan_memory(graph)
    if patch == "off":
        return PatchResult(graph=graph, plan=base, stage=None, unpatched_arena=base.sram_bytes)
    plain = base
    base = plan_memory(graph, rlag=reverse_lag)  # pointwise ops from their last row, where that pays
    unpatched = PatchResult(graph=graph, plan=base, stage=None, unpatched_arena=plain.sram_bytes)
    counts = PATCH_COUNTS if patch == "auto" else (patch,)
    stages = [s for s in candidates(graph, counts) if patch != "auto" or s.overhead <= MAX_MAC_OVERHEAD]
    if not stages:
        return unpatched
    ranked = sorted(stages, key=lambda s: (_live_peak(graph, s), s.added_macs, s.first, s.last))[:SHORTLIST]
    best = None
    for stage in ranked:
        pg, plan = _stage_plan(graph, stage)
        key = (plan.sram_bytes, stage.added_macs, stage.first, stage.last, stage.patches)
        if best is None or key < best[0]:
            best = (key, stage, pg, plan)
    _, stage, pg, plan = best
    if patch == "auto" and plan.sram_bytes > base.sram_bytes * (1 - MIN_SAVING):
        return unpatched
    peak = max((t.offset + t.size for k in range(stage.first, stage.last + 1) for t in plan.timeline[k]), default=0)
    return PatchResult(graph=pg, plan=plan, stage=stage, unpatched_arena=plain.sram_bytes, stage_peak_bytes=peak)


# ---- emission ----------------------------------------------------------------------------------


def _band_pointer(ptr: _Pointers, graph: EngineGraph, tensor: int, axis: int, start: int, const: bool) -> str:
    base = ptr(tensor, const=const)
    offset = _band_bytes(graph, tensor, axis, start)
    return f"{base} + {offset}" if offset else base


def emit_stage(graph: EngineGraph, stage: PatchStage, ptr: _Pointers, full: EngineGraph) -> OpCode:
    """The C of a patched stage: each op's constants once, then per patch each op's call on its
    bands (parameter structs shared by patches of the same geometry). `full` is the graph with
    the whole-tensor sizes (pointer offsets into the stage input and the split tensor)."""
    ops = graph.ops[stage.first:stage.last + 1]
    decls, calls, kernels, structs = [], [], set(), {}
    for op in ops:
        p = f"op{op.index}"
        if isinstance(op, Conv2D):
            decls += _mac_decls(p, op, op.weights_in_flash)
            kernels.add("edgec_conv")
        elif isinstance(op, DepthwiseConv2D):
            decls += depthwise_decls(p, op)
            kernels.update(("edgec_dwconv", "edgec_dwpair") if dwpairs.eligible(op) else ("edgec_dwconv",))
        elif isinstance(op, Lookup):
            decls.append(c_array("int8_t", f"{p}_table", op.table))
            kernels.add("edgec_lut")
        elif isinstance(op, Binary):
            if len(op.input1_table):
                decls += [c_array("int32_t", f"{p}_table1", op.input1_table),
                          c_array("int32_t", f"{p}_table2", op.input2_table)]
            kernels.add("edgec_binary")
        else:
            kernels.add("edgec_pool")
    last = len(ops) - 1
    for j, band in enumerate(stage.bands):
        calls.append(f"/* patch {j + 1} of {stage.patches}: split rows [{band[-1][0]}, {band[-1][1]}) */")
        for i, op in enumerate(ops):
            sub = patch_op(op, stage.axis, band[i], band[i + 1], full)
            src = (_band_pointer(ptr, full, op.input, stage.axis, band[i][0], True) if i == 0
                   else ptr(_chain_input(op, full)))
            dst = (_band_pointer(ptr, full, op.output, stage.axis, band[i + 1][0], False) if i == last
                   else ptr(op.output))
            p = f"op{op.index}"
            if isinstance(sub, Lookup):
                calls.append(f"edgec_lut_s8({p}_table, {src}, {dst}, {sub.count});")
            elif isinstance(sub, Binary):  # the residual ADD: its chain operand's patch, x's band
                x = _band_pointer(ptr, full, stage.tensors[0], stage.axis, band[i + 1][0], True)
                a, b = (ptr(ops[i - 1].output, const=True), x)
                if sub.input1.tensor != ops[i - 1].output:
                    a, b = b, a
                tables = f"{p}_table1, {p}_table2" if len(sub.input1_table) else "NULL, NULL"
                body = binary_params_struct(sub, tables)
                if body not in structs:
                    structs[body] = f"{p}_patch{len([v for v in structs.values() if v.startswith(p + '_')])}"
                    decls.append(f"static const edgec_binary_params {structs[body]} = {{\n{body},\n}};")
                calls.append(f"{BINARY_FUNCTIONS[sub.op]}(&{structs[body]}, {a}, {b}, {dst});")
            else:
                if isinstance(sub, Conv2D):
                    body = conv_params_struct(p, sub)
                elif isinstance(sub, DepthwiseConv2D):
                    body = depthwise_params_struct(p, sub)
                else:
                    body = pool_params_struct(sub)
                if body not in structs:
                    structs[body] = f"{p}_patch{len([v for v in structs.values() if v.startswith(p + '_')])}"
                    ctype = {Conv2D: "edgec_conv_params", DepthwiseConv2D: "edgec_dwconv_params"}.get(
                        type(sub), "edgec_pool_params")
                    decls.append(f"static const {ctype} {structs[body]} = {{\n{body},\n}};")
                name = structs[body]
                if isinstance(sub, Conv2D):
                    calls.append(f"edgec_conv2d_s8(&{name}, {src}, {dst}, {ptr.im2col(op)});")
                elif isinstance(sub, DepthwiseConv2D):
                    calls.append(f"{depthwise_entry(sub)}(&{name}, {src}, {dst});")
                else:
                    fn = "edgec_avgpool_s8" if sub.op == "AVERAGE_POOL_2D" else "edgec_maxpool_s8"
                    calls.append(f"{fn}(&{name}, {src}, {dst});")
            calls.append(f"EDGEC_AFTER_OP({op.index});")
    head = (f"/* ops {ops[0].index}-{ops[-1].index}: computed in {stage.patches} patches "
            f"({'rows' if stage.axis == 0 else 'columns'} of the split tensor) */")
    return OpCode("\n".join(decls), "\n    ".join([head] + calls), tuple(sorted(kernels)), hooked=True)


def emit_ops(graph: EngineGraph, stage: PatchStage | None, ptr: _Pointers, full: EngineGraph) -> list[OpCode]:
    """Every op's code; a patched stage's at its first op, its other ops' left as comments."""
    codes = []
    for k, op in enumerate(graph.ops):
        if stage is None or not stage.first <= k <= stage.last:
            codes.append(emit_op(op, ptr))
        elif k == stage.first:
            codes.append(emit_stage(graph, stage, ptr, full))
        else:
            codes.append(OpCode("", f"/* op {op.index} ({op.op}): computed in the patched stage above */", (),
                                hooked=True))
    return codes
