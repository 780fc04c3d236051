"""generate_engine: int8 .tflite (parsed) -> the C files of a standalone inference engine.

The passes, in order:
  lower   (lower.lower_model)   TFLite operators -> typed engine ops, all parameters precomputed
  pack    (packing.pack_and_plan) each MAC op's weights: dense int8, or packed (storage.py)
  plan    (planner.plan_memory) activation buffers -> arena offsets (aliases, in-place overlaps)
  patch   (patch.plan_patches)  optionally, the first stage computed patch by patch (smaller arena)
  emit    (emit.*)              ops + plan -> <name>.c, <name>.h and the kernel files they use
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from toolchain.base.tflite_reader import TfliteModel

from . import dwblocks, dwcolpack, dwcols, dwlayout, dwpairs, emit
from .lower import lower_model
from .ops import Conv2D, DepthwiseConv2D, EngineGraph, FullyConnected, const_arrays
from .planner import MemoryPlan
from .packing import MAC_OPS, pack_and_plan
from .patch import PatchStage, emit_ops, plan_patches
from .storage import LayerStorage, check_mode, layer_storage

_C_TYPES = {"int8": "int8_t", "float32": "float"}


@dataclass(frozen=True)
class GeneratedEngine:
    name: str
    files: dict = field(repr=False)  # file name -> text, sorted by name
    activation_bytes: int  # the static arena (every activation but the model input)
    scratch_bytes: int  # kernel scratch outside the arena (im2col columns, DSP path; decoded packed weights)
    caller_input_bytes: int  # the model input, read in place from the caller's buffer (its SRAM)
    input_bytes: int
    output_bytes: int
    input_dtype: str
    output_dtype: str
    input_shape: tuple[int, ...]
    output_shape: tuple[int, ...]
    input_quant: tuple[float, int]  # (scale, zero point); (0.0, 0) for float32
    output_quant: tuple[float, int]
    weight_bytes: int  # every const array as stored: weights, biases, multipliers, shifts, tables
    op_names: tuple[str, ...]
    plan: MemoryPlan = field(repr=False)
    layers: tuple[LayerStorage, ...] = ()  # how each conv / depthwise / fully-connected op stores its weights
    patch: PatchStage | None = field(default=None, repr=False)  # the stage computed patch by patch, if any
    unpatched_arena_bytes: int = 0  # the arena (+ scratch beside it) the same engine needs without patches
    patch_stage_peak_bytes: int = 0  # arena bytes alive during the patched stage
    reversed_ops: tuple[int, ...] = ()  # model op indices run one row at a time from the last row (--patch)
    reversed_rows: tuple[int, ...] = ()  # their rows: kernel calls per inference, in the same order
    scratch_in_arena_ops: int = 0  # ops whose kernel scratch the planner holds inside the arena
    dsp_weight_bytes: int = 0  # weight_bytes as a DSP build stores them (depthwise layouts, dwlayout.py)

    @property
    def sram_bytes(self) -> int:
        """All the SRAM an inference needs, the caller's input buffer included."""
        return self.activation_bytes + self.scratch_bytes + self.caller_input_bytes

    def write(self, folder: str | Path) -> list[Path]:
        """Write every file into `folder` (created if needed); return the paths written."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        paths = []
        for filename, text in self.files.items():
            path = folder / filename
            path.write_text(text, encoding="utf-8")
            paths.append(path)
        return paths


def _const_bytes(graph: EngineGraph) -> int:
    """The const bytes of a build without the DSP extension (no pair tables: fcpairs.py, and those of
    edgec_conv2d_pairs_s8; a clustered column layer's own words: dwcolpack.py)."""
    tables = sum(int(op.pairs.nbytes) for op in graph.ops if isinstance(op, (FullyConnected, Conv2D)))
    tables += sum(int(op.pwt_pairs.nbytes) for op in graph.ops if isinstance(op, Conv2D))
    return sum(dwcolpack.const_bytes(op) if getattr(op, "columns", 0) else sum(a.nbytes for a in const_arrays(op))
               for op in graph.ops) - tables


def _dsp_const_bytes(graph: EngineGraph) -> int:
    """The const bytes of a build with the DSP extension: a depthwise op with the DSP layout keeps
    the layout instead of its int8 weights, biases, multipliers and shifts (a dw_block one, its
    layout and its tap lists: dwblocks.py); a clustered FC its pair table too (fcpairs.py)."""
    def dsp_bytes(op) -> int:
        if isinstance(op, DepthwiseConv2D) and op.columns:  # a clustered column: dwcolpack.py
            return dwcolpack.const_bytes(op)
        if isinstance(op, DepthwiseConv2D) and dwcols.eligible(op):  # a column one channel at a time
            return dwcols.layout(op).nbytes
        if isinstance(op, DepthwiseConv2D) and dwpairs.eligible(op):
            return dwpairs.layout(op).nbytes
        if isinstance(op, DepthwiseConv2D) and dwlayout.eligible(op):
            return dwlayout.layout(op).nbytes
        if isinstance(op, DepthwiseConv2D) and dwblocks.eligible(op):  # the layout and the tap lists
            return dwblocks.layout(op).nbytes + op.packed.mask.nbytes
        return sum(a.nbytes for a in const_arrays(op))

    return sum(dsp_bytes(op) for op in graph.ops)


def _quant(model: TfliteModel, index: int) -> tuple[float, int]:
    t = model.main.tensors[index]
    if t.dtype == "float32" or t.quant is None:
        return 0.0, 0
    return float(t.quant.scales[0]), int(t.quant.zero_points[0])


def generate_engine(model: TfliteModel, name: str, source: str = "model.tflite",
                    weights: str = "auto", patch="off", formats: tuple[str, ...] | None = None) -> GeneratedEngine:
    """Generate the engine; raise UnsupportedOpsError listing every op it cannot compute.

    weights: "auto" stores each MAC layer's weights in its cheapest format (dense int8, clustered
    indices + codebooks, sparse, or both), "dense" keeps int8 everywhere (see storage.py).
    patch: "off", "auto" or a patch count: compute the first stage patch by patch (patch.py).
    formats: the packed formats "auto" may choose (default: all of packing.PACKED_FORMATS)."""
    check_mode(weights)
    name = emit.c_identifier(name)
    full, plan = pack_and_plan(lower_model(model, source), weights, *(() if formats is None else (formats,)))
    patched = plan_patches(full, patch, plan)
    graph, plan, stage = patched.graph, patched.plan, patched.stage
    scratch_bytes = plan.scratch_bytes  # beside the arena; 0 when planned inside it
    packed_bytes = max((op.scratch_bytes for op in graph.ops if getattr(op, "packed", None) is not None),
                       default=0) if scratch_bytes else 0
    reversed_ops = tuple(sorted(graph.ops[k].index for k in plan.reversed_ops))
    reversed_rows = tuple(op.in_hwc[0] for op in sorted((graph.ops[k] for k in plan.reversed_ops),
                                                         key=lambda op: op.index))
    ptr = emit._Pointers(graph, plan, f"{name.upper()}_SCRATCH", f"{name.upper()}_PACKED_SCRATCH", name.upper())
    codes = emit_ops(graph, stage, ptr, full)
    kernels = sorted({k for code in codes for k in code.kernels})
    tin, tout = graph.tensors[graph.input], graph.tensors[graph.output]
    in_type, out_type = _C_TYPES[tin.dtype], _C_TYPES[tout.dtype]
    upper = name.upper()
    op_data = "".join(
        f"/* op {op.index}: {op.op} */\n" + (code.decls + "\n" if code.decls else "") + "\n"
        for op, code in zip(graph.ops, codes))
    calls = "\n".join(f"    {code.call}" + ("" if code.hooked else f"\n    EDGEC_AFTER_OP({op.index});")
                      for op, code in zip(graph.ops, codes))
    source_name = Path(source).name
    iq, oq = _quant(model, graph.input), _quant(model, graph.output)
    header = emit.HeaderContext(
        name=name, NAME=upper, source=source_name, input_bytes=tin.nbytes, output_bytes=tout.nbytes,
        input_count=tin.nbytes // (4 if tin.dtype == "float32" else 1),
        output_count=tout.nbytes // (4 if tout.dtype == "float32" else 1),
        input_is_float=int(tin.dtype == "float32"), output_is_float=int(tout.dtype == "float32"),
        arena_bytes=plan.arena_bytes, num_ops=len(graph.ops), input_type=in_type, output_type=out_type)
    body = emit.SourceContext(
        name=name, NAME=upper, source=source_name, num_ops=len(graph.ops), arena_bytes=plan.arena_bytes,
        plan_summary=(f"live-tensor peak {plan.live_peak_bytes} B, lower bound {plan.lower_bound_bytes} B, "
                      f"{len(plan.inplace)} ops in place"
                      + (f", the scratch of {len(plan.scratch_offsets)} ops inside it" if plan.scratch_offsets else "")
                      + (f", {len(reversed_ops)} pointwise ops from their last row" if reversed_ops else "")
                      + (f"; ops {graph.ops[stage.first].index}-{graph.ops[stage.last].index} in {stage.patches} "
                         f"patches, {stage.added_macs} MACs added, {patched.unpatched_arena} B unpatched"
                         if stage else "")),
        kernel_includes="\n".join(f'#include "{k}.h"' for k in kernels),
        op_data=op_data, op_calls=calls, op_names=",\n".join(f'    "{n}"' for n in graph.op_names),
        input_rank=max(len(tin.shape), 1), input_dims=", ".join(str(d) for d in tin.shape) or "1",
        output_rank=max(len(tout.shape), 1), output_dims=", ".join(str(d) for d in tout.shape) or "1",
        input_scale=emit.c_float(iq[0]), input_zero_point=iq[1],
        output_scale=emit.c_float(oq[0]), output_zero_point=oq[1],
        input_type=in_type, output_type=out_type,
        output_source=ptr(graph.output, const=True), scratch_decl=emit.scratch_decl(name, scratch_bytes, packed_bytes, len(plan.scratch_offsets)))
    files = {f"{name}.h": emit.fill("model.h.tmpl", header), f"{name}.c": emit.fill("model.c.tmpl", body),
             "edgec_common.h": emit.kernel_text("edgec_common.h")}
    for k in kernels:
        files[f"{k}.h"] = emit.kernel_text(f"{k}.h")
        files[f"{k}.c"] = emit.kernel_text(f"{k}.c")
    return GeneratedEngine(
        name=name, files=dict(sorted(files.items())), activation_bytes=plan.arena_bytes, scratch_bytes=scratch_bytes,
        caller_input_bytes=tin.nbytes,
        input_bytes=tin.nbytes, output_bytes=tout.nbytes, input_dtype=tin.dtype, output_dtype=tout.dtype,
        input_shape=tin.shape, output_shape=tout.shape, input_quant=iq, output_quant=oq,
        weight_bytes=_const_bytes(graph), op_names=graph.op_names, plan=plan,
        layers=tuple(layer_storage(op) for op in graph.ops if isinstance(op, MAC_OPS)),
        patch=stage, unpatched_arena_bytes=patched.unpatched_arena, patch_stage_peak_bytes=patched.stage_peak_bytes,
        reversed_ops=reversed_ops, reversed_rows=reversed_rows, scratch_in_arena_ops=len(plan.scratch_offsets),
        dsp_weight_bytes=_dsp_const_bytes(graph))


def host_main(engine: GeneratedEngine) -> str:
    """The host harness source for this engine (not part of `files`: it needs stdio)."""
    return emit.fill("host_main.c.tmpl", emit.HostContext(name=engine.name, NAME=engine.name.upper()))
