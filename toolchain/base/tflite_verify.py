"""Consistency checks of a parsed .tflite model, before any figure is computed from it.

A flatbuffer that parses can still lie: a shape larger than its buffer, an operator input that
is no tensor, a scale of infinity, a dimension of -7. Every figure edgec prints (parameters,
weight bytes, the arena) and every interpreter it hands the bytes to trusts these fields, so each
is checked here and refused with the subgraph, the tensor or operator, and the field named
(ModelFieldError, exit code 2).
"""
from __future__ import annotations

import math

import numpy as np

from toolchain.base.errors import ModelFieldError, ModelLoadError
from toolchain.base.tflite_extent import flatbuffer_end

MAX_RANK = 8  # TFLite kernels handle at most 6 dimensions; more is a corrupted shape
MAX_ELEMENTS = 1 << 31  # TFLite counts elements in int32
# Bytes per element of the types whose size is fixed (int4: two per byte, handled apart).
ITEMSIZE = {"float32": 4, "float16": 2, "int32": 4, "uint8": 1, "int64": 8, "bool": 1, "int16": 2,
            "complex64": 8, "int8": 1, "float64": 8, "complex128": 16, "uint64": 8, "uint32": 4, "uint16": 2}


def _elements(shape) -> int:
    n = 1
    for d in shape:
        n *= int(d)
    return n


def expected_bytes(dtype: str, shape) -> int | None:
    """Bytes of a constant tensor of this type and shape (None where the size is not fixed)."""
    n = _elements(shape)
    if dtype == "int4":
        return (n + 1) // 2
    size = ITEMSIZE.get(dtype)
    return None if size is None else n * size


def _buffer_bytes(buf) -> int:
    if buf is None:
        return 0
    if buf.data is not None and len(buf.data):
        return len(buf.data)
    if getattr(buf, "offset", 0) and buf.offset > 1:
        return int(buf.size)
    return 0


def _check_index(source, where: str, field: str, values, count: int, optional: bool = False) -> None:
    for v in values:
        v = int(v)
        if optional and v == -1:
            continue
        if not 0 <= v < count:
            allowed = "-1 (absent) or " if optional else ""
            raise ModelFieldError(source, where, field,
                                  f"tensor index {v} out of range (expected {allowed}0..{count - 1})")


_ZERO_POINT_RANGES = {"int8": (-128, 127), "uint8": (0, 255), "int16": (-32768, 32767), "int4": (-8, 7)}


def _check_quant(source, where: str, q, shape: tuple[int, ...], dtype: str) -> None:
    if q is None or q.scale is None or len(q.scale) == 0:
        return
    scales = np.asarray(q.scale, dtype=np.float64)
    bad = [float(s) for s in scales if not (math.isfinite(s) and s > 0)]
    if bad:
        raise ModelFieldError(source, where, "quantization.scale",
                              f"{bad[0]!r}: every scale must be a finite number above 0")
    zps = q.zeroPoint if q.zeroPoint is not None else ()
    if len(zps) not in (0, len(scales)):
        raise ModelFieldError(source, where, "quantization.zero_point",
                              f"{len(zps)} zero points for {len(scales)} scales")
    lo, hi = _ZERO_POINT_RANGES.get(dtype, (None, None))
    outside = [int(z) for z in zps if lo is not None and not lo <= int(z) <= hi]
    if outside:
        raise ModelFieldError(source, where, "quantization.zero_point",
                              f"{outside[0]} is outside the {dtype} range {lo}..{hi}")
    if len(scales) > 1:
        axis = int(q.quantizedDimension)
        if not 0 <= axis < len(shape):
            raise ModelFieldError(source, where, "quantization.quantized_dimension",
                                  f"{axis} is not a dimension of shape {list(shape)}")


def _check_tensor(source, where: str, t, dtype: str, buffers) -> None:
    shape = tuple(int(s) for s in (t.shape if t.shape is not None else ()))
    if dtype.startswith("type"):
        raise ModelFieldError(source, where, "type", f"unknown tensor type {t.type}")
    if len(shape) > MAX_RANK:
        raise ModelFieldError(source, where, "shape", f"{len(shape)} dimensions (at most {MAX_RANK})")
    if any(d < 0 for d in shape):
        raise ModelFieldError(source, where, "shape", f"negative dimension in {list(shape)}")
    if _elements(shape) > MAX_ELEMENTS:
        raise ModelFieldError(source, where, "shape", f"{list(shape)} holds more than 2^31 elements")
    signature = t.shapeSignature if t.shapeSignature is not None else ()
    if len(signature) and (len(signature) != len(shape) or any(int(d) < -1 for d in signature)):
        raise ModelFieldError(source, where, "shape_signature",
                              f"{[int(d) for d in signature]} does not match shape {list(shape)} "
                              "(same rank; -1 only for a dynamic dimension)")
    if not 0 <= t.buffer < max(len(buffers), 1):
        raise ModelFieldError(source, where, "buffer", f"buffer index {t.buffer} out of range "
                                                       f"(the model has {len(buffers)} buffers)")
    held = _buffer_bytes(buffers[t.buffer]) if t.buffer else 0
    expected = expected_bytes(dtype, shape)
    if held and expected is not None and t.sparsity is None and held != expected:
        raise ModelFieldError(source, where, "shape",
                              f"{list(shape)} of {dtype} needs {expected:,} B but its buffer {t.buffer} "
                              f"holds {held:,} B")
    _check_quant(source, where, t.quantization, shape, dtype)


def verify_model(data: bytes, model_t, source: str, dtypes: dict[int, str]) -> None:
    """Refuse a model whose fields do not agree with each other or with the file's bytes."""
    buffers = model_t.buffers or []
    for b, buf in enumerate(buffers):
        if getattr(buf, "offset", 0) and buf.offset > 1 and buf.offset + buf.size > len(data):
            raise ModelFieldError(source, f"buffer {b}", "offset",
                                  f"data at {buf.offset}+{buf.size} lies past the end of the file ({len(data)} B)")
    n_codes = len(model_t.operatorCodes or [])
    subgraphs = model_t.subgraphs or []
    for s, sg in enumerate(subgraphs):
        tensors = sg.tensors or []
        for i, t in enumerate(tensors):
            name = (t.name or b"").decode("utf-8", "replace")
            _check_tensor(source, f"subgraph {s} tensor {i} '{name}'", t, dtypes.get(t.type, f"type{t.type}"),
                          buffers)
        n = len(tensors)
        _check_index(source, f"subgraph {s}", "inputs", sg.inputs if sg.inputs is not None else (), n)
        _check_index(source, f"subgraph {s}", "outputs", sg.outputs if sg.outputs is not None else (), n)
        for o, op in enumerate(sg.operators or []):
            where = f"subgraph {s} operator {o}"
            if not 0 <= op.opcodeIndex < n_codes:
                raise ModelFieldError(source, where, "opcode_index", f"{op.opcodeIndex} out of range "
                                                                     f"(the model has {n_codes} operator codes)")
            _check_index(source, where, "inputs", op.inputs if op.inputs is not None else (), n, optional=True)
            _check_index(source, where, "outputs", op.outputs if op.outputs is not None else (), n)
            _check_index(source, where, "intermediates",
                         op.intermediates if op.intermediates is not None else (), n, optional=True)
            for options in (op.builtinOptions, getattr(op, "builtinOptions2", None)):
                for key, value in (vars(options) if options is not None else {}).items():
                    if key.lower().endswith("subgraphindex") and not 0 <= int(value) < len(subgraphs):
                        raise ModelFieldError(source, where, key, f"subgraph {value} out of range "
                                                                  f"(the model has {len(subgraphs)})")
    try:
        end = flatbuffer_end(data)
    except (ValueError, IndexError, OverflowError) as exc:
        raise ModelLoadError(source, f"corrupted TFLite file ({exc})") from None
    if end < len(data):
        raise ModelLoadError(source, f"{len(data) - end:,} B of trailing data after the end of the flatbuffer "
                                     f"(byte {end:,} of {len(data):,}): the file is corrupted or has bytes appended")


# op -> (input positions that must be present, {input position: rank}); what edgec's analysis and
# the C engine read from these ops' tensors, and TFLM's kernels require.
_OP_TENSORS = {
    "CONV_2D": ((0, 1), {0: 4, 1: 4}),
    "DEPTHWISE_CONV_2D": ((0, 1), {0: 4, 1: 4}),
    "TRANSPOSE_CONV": ((0, 1, 2), {1: 4, 2: 4}),
    "FULLY_CONNECTED": ((0, 1), {1: 2}),
    "BATCH_MATMUL": ((0, 1), {}),
    "AVERAGE_POOL_2D": ((0,), {0: 4}),
    "MAX_POOL_2D": ((0,), {0: 4}),
}
# Window options that are at least 1 for every op that has them (a stride of 0 is no stride).
_WINDOW_OPTIONS = ("stride_w", "stride_h", "dilation_w_factor", "dilation_h_factor", "filter_width", "filter_height")
_OUTPUT_RANK = {"CONV_2D": 4, "DEPTHWISE_CONV_2D": 4, "TRANSPOSE_CONV": 4, "AVERAGE_POOL_2D": 4, "MAX_POOL_2D": 4}


def verify_operators(source, subgraph_index: int, subgraph) -> None:
    """Refuse an operator without the tensors its op needs, or with tensors of the wrong rank
    (`subgraph` is a tflite_reader.Subgraph: op names resolved, indices already checked)."""
    tensors = subgraph.tensors
    written = set(subgraph.inputs)
    for op in subgraph.operators:
        where = f"subgraph {subgraph_index} operator {op.index} ({op.op})"
        for i in op.inputs:
            t = tensors[i] if i >= 0 else None
            if t is None or t.is_constant or t.is_variable:
                continue
            if i not in written:
                raise ModelFieldError(source, where, "inputs",
                                      f"reads tensor {i} '{t.name}', which no earlier operator writes and "
                                      "which is not an input of the subgraph")
            if 0 in t.shape:
                raise ModelFieldError(source, where, "inputs",
                                      f"tensor {i} '{t.name}' of shape {list(t.shape)} holds no element")
        written.update(op.outputs)
        required, ranks = _OP_TENSORS.get(op.op, ((), {}))
        if op.op in _OP_TENSORS:
            for key in _WINDOW_OPTIONS:
                value = op.options.get(key)
                if isinstance(value, int) and value < 1:
                    raise ModelFieldError(source, where, f"builtin_options.{key}", f"{value}: must be at least 1")
        for pos in required:
            if pos >= len(op.inputs) or op.inputs[pos] < 0:
                raise ModelFieldError(source, where, "inputs", f"input {pos} is missing "
                                                               f"({len(op.inputs)} inputs: {list(op.inputs)})")
        for pos, rank in ranks.items():
            t = tensors[op.inputs[pos]]
            if len(t.shape) != rank:
                raise ModelFieldError(source, where, "inputs",
                                      f"input {pos} (tensor {t.index} '{t.name}') has rank {len(t.shape)}, "
                                      f"expected {rank}")
        if op.op == "DEPTHWISE_CONV_2D":
            _check_depth_multiplier(source, where, op, tensors)
        if op.op in _OUTPUT_RANK or required:
            if not op.outputs:
                raise ModelFieldError(source, where, "outputs", "the operator has no output")
            out = tensors[op.outputs[0]]
            if op.op in _OUTPUT_RANK and len(out.shape) != _OUTPUT_RANK[op.op]:
                raise ModelFieldError(source, where, "outputs",
                                      f"output 0 (tensor {out.index} '{out.name}') has rank {len(out.shape)}, "
                                      f"expected {_OUTPUT_RANK[op.op]}")


def _check_depth_multiplier(source, where: str, op, tensors) -> None:
    """TFLM's depthwise kernels loop over `depth_multiplier` for each input channel and trust it: one
    below 1 writes no output, one too large writes past the filter and the output."""
    multiplier = op.options.get("depth_multiplier")
    in_channels, filter_channels = tensors[op.inputs[0]].shape[3], tensors[op.inputs[1]].shape[3]
    if not isinstance(multiplier, int):
        raise ModelFieldError(source, where, "builtin_options", "no depth_multiplier: the operator's options "
                                                                "are not a DEPTHWISE_CONV_2D's")
    if multiplier < 1 or in_channels * multiplier != filter_channels:
        raise ModelFieldError(source, where, "builtin_options.depth_multiplier",
                              f"{multiplier}: {in_channels} input channels x {multiplier} is not the filter's "
                              f"{filter_channels} channels")
