"""Analyse pass: a parsed .tflite -> ModelAnalysis (ops, parameters, MACs, sizes, lifetimes).

Pure functions of the model, no TensorFlow: used by `inspect`, the fit check (which tensors are
alive at the peak) and the build's checks (float ops left in an int8 build, batch glue ops).
"""
from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from toolchain.base.tflite_reader import Operator, Subgraph, TfliteModel

DECODE_OPS = frozenset({"CUSTOM:TFLM_DECODE"})  # TFLM's compressed-tensor decoder
GLUE_OPS = frozenset({"SHAPE", "STRIDED_SLICE", "PACK"})
BOUNDARY_OPS = frozenset({"QUANTIZE", "DEQUANTIZE"})
FLOAT_TYPES = frozenset({"float32", "float16", "float64"})


@dataclass(frozen=True)
class OpInfo:
    index: int
    op: str
    layer: str  # the Keras layer it came from, or the output tensor's name
    output_name: str
    output_shape: tuple[int, ...]
    output_dtype: str
    params: int
    weight_bytes: int
    macs: int


@dataclass(frozen=True)
class LiveSet:
    op_index: int
    bytes: int
    tensors: tuple[tuple[str, int], ...]  # (name, bytes), largest first


@dataclass(frozen=True)
class ModelAnalysis:
    model_bytes: int
    ops: tuple[OpInfo, ...]
    params: int
    macs: int
    weight_bytes: int
    inputs: tuple[tuple[str, tuple[int, ...], str], ...]
    outputs: tuple[tuple[str, tuple[int, ...], str], ...]
    peak: LiveSet  # tensors alive together at the worst op, in the model's own order
    lifetimes: tuple[tuple[int, int, int, str], ...]  # (first op, last op, bytes, name) per activation

    @property
    def op_counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for op in self.ops:
            counts[op.op] = counts.get(op.op, 0) + 1
        return dict(sorted(counts.items()))

    def ops_named(self, names) -> list[OpInfo]:
        return [op for op in self.ops if op.op in names]


_UNIQUIFIED = re.compile(r"_\d+$")  # TF name scopes add _1, _2 when a layer is traced again
_FUSED_PREFIXES = ("activation", "batch_normalization", "re_lu", "relu", "tf.nn", "tf.math")
_MAIN_SUFFIXES = ("BiasAdd", "Conv2D", "depthwise", "MatMul", "Add", "add", "Mul", "mul")


def layer_of(tensor_name: str, layer_names: tuple[str, ...] = ()) -> str:
    """The Keras layer an op came from, read from its output tensor's (fused) name.

    Converter names join the names of fused TF ops with ';', e.g.
    "model/activation/Relu;model/batch_normalization/FusedBatchNormV3;model/conv2d/BiasAdd": the
    layer doing the op's main work is the one ending in BiasAdd / Conv2D / MatMul, not the fused
    activation or batch norm.
    """
    known = set(layer_names)
    candidates = []
    for segment in tensor_name.split(";"):
        parts = [p for p in segment.split("/") if p]
        if len(parts) < 2 or "ReadVariableOp" in parts:
            continue
        layer = next((k for p in parts[:-1] for k in (p, _UNIQUIFIED.sub("", p)) if k in known), parts[-2])
        main = parts[-1].rstrip("0123456789").endswith(_MAIN_SUFFIXES)
        fused = layer.startswith(_FUSED_PREFIXES)
        candidates.append((not main, fused, layer))
    if not candidates:
        return tensor_name.split(";")[0]
    return sorted(candidates, key=lambda c: (c[0], c[1]))[0][2]


def _macs(op: Operator, sg: Subgraph) -> int:
    t = sg.tensors
    if not op.outputs or op.outputs[0] < 0:
        return 0
    out = t[op.outputs[0]]
    if op.op == "CONV_2D":
        kh, kw, cin = t[op.inputs[1]].shape[1:4]
        return out.size * kh * kw * cin
    if op.op == "DEPTHWISE_CONV_2D":
        _, kh, kw, _ = t[op.inputs[1]].shape
        return out.size * kh * kw
    if op.op == "TRANSPOSE_CONV":
        w = t[op.inputs[1]]
        inp = t[op.inputs[2]]
        return inp.size // max(inp.shape[-1], 1) * int(np.prod(w.shape))
    if op.op in ("FULLY_CONNECTED", "BATCH_MATMUL"):
        w = t[op.inputs[1]]
        return out.size * w.shape[-1] if op.op == "FULLY_CONNECTED" else out.size * t[op.inputs[0]].shape[-1]
    return 0


def _lifetimes(sg: Subgraph) -> list[tuple[int, int, int, str]]:
    first: dict[int, int] = {}
    last: dict[int, int] = {}
    n = len(sg.operators)
    for i in sg.inputs:
        first[i] = 0
    for op in sg.operators:
        for i in op.inputs:
            if i >= 0 and not sg.tensors[i].is_constant:
                first.setdefault(i, op.index)
                last[i] = op.index
        for i in op.outputs:
            first.setdefault(i, op.index)
            last.setdefault(i, op.index)
    for i in sg.outputs:
        last[i] = n - 1
    out = []
    for i, start in first.items():
        tensor = sg.tensors[i]
        if tensor.is_constant or tensor.is_variable:
            continue
        out.append((start, last.get(i, start), tensor.nbytes, tensor.name or f"tensor{i}"))
    return sorted(out)


def _peak(lifetimes, n_ops: int) -> LiveSet:
    best = LiveSet(0, 0, ())
    for k in range(max(n_ops, 1)):
        alive = [(name, size) for start, end, size, name in lifetimes if start <= k <= end]
        total = sum(size for _, size in alive)
        if total > best.bytes:
            best = LiveSet(k, total, tuple(sorted(alive, key=lambda a: (-a[1], a[0]))))
    return best


_SHAPE_OPS = frozenset({"RESHAPE", "PAD", "MEAN", "STRIDED_SLICE", "TRANSPOSE", "SUM", "PADV2", "SQUEEZE",
                        "SPLIT", "GATHER"})


def _op_weights(op: Operator, sg: Subgraph, in_loop: bool = False) -> list:
    """The constant inputs of an op that are parameters (shape constants of RESHAPE and the like are
    not; nor, in a called subgraph, scalars: loop counters, axes, the 1 of a GRU's 1 - z)."""
    if op.op in _SHAPE_OPS:
        return []
    return [t for t in (sg.tensors[i] for i in op.inputs if i >= 0) if t.is_constant
            and not (in_loop and t.size <= 1)]


def _called_subgraphs(model: TfliteModel, op: Operator, seen: set[int]) -> list[Subgraph]:
    """The subgraphs an op runs (WHILE's cond and body, IF's branches, CALL_ONCE...), and those they
    call in turn; each subgraph once (`seen`), the main one never."""
    found = []
    for key, value in op.options.items():
        if not key.endswith(("subgraph_index", "subgraph_indices")):
            continue
        for index in (value if isinstance(value, tuple) else (value,)):
            if isinstance(index, int) and 0 < index < len(model.subgraphs) and index not in seen:
                seen.add(index)
                sub = model.subgraphs[index]
                found.append(sub)
                for inner in sub.operators:
                    found.extend(_called_subgraphs(model, inner, seen))
    return found


def analyse(model: TfliteModel, layer_names: tuple[str, ...] = ()) -> ModelAnalysis:
    sg = model.main
    ops = []
    seen: set[int] = set()
    for op in sg.operators:
        out = sg.tensors[op.outputs[0]] if op.outputs else None
        called = _called_subgraphs(model, op, seen)
        # a control-flow op owns the weights of the subgraphs it runs (a recurrent layer's WHILE
        # body); its own constant inputs are the loop's initial state, not parameters
        weights = [w for sub in called for inner in sub.operators for w in _op_weights(inner, sub, True)] \
            if called else _op_weights(op, sg)
        params = sum(c.size for c in weights)
        if op.op in DECODE_OPS:  # LUT-compressed weights: the parameters are what it decodes
            params = sum(sg.tensors[i].size for i in op.outputs)
        ops.append(OpInfo(
            index=op.index, op=op.op,
            layer=layer_of(out.name, layer_names) if out else "",
            output_name=out.name if out else "",
            output_shape=out.shape if out else (),
            output_dtype=out.dtype if out else "",
            params=params,
            weight_bytes=sum(c.nbytes for c in weights),
            macs=_macs(op, sg),
        ))
    lifetimes = _lifetimes(sg)

    def describe(indices):
        return tuple((sg.tensors[i].name, sg.tensors[i].shape, sg.tensors[i].dtype) for i in indices)

    return ModelAnalysis(
        model_bytes=model.size_bytes, ops=tuple(ops),
        params=sum(o.params for o in ops), macs=sum(o.macs for o in ops),
        weight_bytes=sum(o.weight_bytes for o in ops),
        inputs=describe(sg.inputs), outputs=describe(sg.outputs),
        peak=_peak(lifetimes, len(sg.operators)),
        lifetimes=tuple(lifetimes),
    )


def float_ops(model: TfliteModel, analysis: ModelAnalysis) -> list[OpInfo]:
    """Ops that compute in floating point (QUANTIZE/DEQUANTIZE at the model's edges excepted)."""
    sg = model.main
    found = []
    for op, info in zip(sg.operators, analysis.ops):
        if op.op in BOUNDARY_OPS:
            continue
        tensors = [sg.tensors[i] for i in (*op.inputs, *op.outputs) if i >= 0]
        if any(t.dtype in FLOAT_TYPES and not (t.is_constant and op.op == "DEQUANTIZE") for t in tensors):
            found.append(info)
    return found
