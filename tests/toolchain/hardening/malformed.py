"""Malformed .tflite files made from real ones: each mutation edits one field through the flatbuffer
schema's object API (the schema module tflite-micro ships) and writes the model again, or patches
bytes where the flatbuffer itself must be broken."""
from __future__ import annotations

import math
import struct

import numpy as np

from toolchain.base.tflite_reader import _schema, pack_model as pack, unpack_model as unpack


def _first_constant(model_t):
    """(index, tensor) of the first tensor of the main subgraph with data in its buffer."""
    for i, t in enumerate(model_t.subgraphs[0].tensors):
        buf = model_t.buffers[t.buffer] if t.buffer else None
        if buf is not None and buf.data is not None and len(buf.data) and len(t.shape):
            return i, t
    raise AssertionError("no constant tensor")


def _first_quantized(model_t):
    for i, t in enumerate(model_t.subgraphs[0].tensors):
        if t.quantization is not None and t.quantization.scale is not None and len(t.quantization.scale):
            return i, t
    raise AssertionError("no quantized tensor")


def shape_larger_than_buffer(data: bytes) -> tuple[bytes, int]:
    """The first constant tensor's first dimension times four; returns (model, tensor index)."""
    m = unpack(data)
    i, t = _first_constant(m)
    t.shape = np.array([int(t.shape[0]) * 4] + [int(d) for d in t.shape[1:]], dtype=np.int32)
    return pack(m), i


def operator_input_out_of_range(data: bytes) -> tuple[bytes, int]:
    """The first operator's first input is a tensor index past the last tensor; returns (model, index)."""
    m = unpack(data)
    bad = len(m.subgraphs[0].tensors) + 1000
    op = m.subgraphs[0].operators[0]
    op.inputs = np.array([bad] + [int(x) for x in op.inputs[1:]], dtype=np.int32)
    return pack(m), bad


def opcode_out_of_range(data: bytes) -> bytes:
    m = unpack(data)
    m.subgraphs[0].operators[0].opcodeIndex = len(m.operatorCodes) + 5
    return pack(m)


def infinite_scale(data: bytes) -> tuple[bytes, int]:
    m = unpack(data)
    i, t = _first_quantized(m)
    scale = np.array(t.quantization.scale, dtype=np.float32)
    scale[0] = math.inf
    t.quantization.scale = scale
    return pack(m), i


def negative_dimension(data: bytes) -> tuple[bytes, int]:
    m = unpack(data)
    i, t = _first_quantized(m)
    t.shape = np.array([-7] + [int(d) for d in t.shape[1:]], dtype=np.int32)
    return pack(m), i


def trailing_garbage(data: bytes, n: int = 64) -> bytes:
    return data + bytes(range(7, 7 + n))


def broken_root_offset(data: bytes) -> bytes:
    """The root table offset (bytes 0..4) pointing past the end of the file."""
    return struct.pack("<I", len(data) + 4096) + data[4:]


def broken_table_offset(data: bytes) -> bytes:
    """The offset of the first subgraph's table (in the model's subgraphs vector) pointing far away."""
    schema = _schema()
    root = schema.Model.GetRootAsModel(data, 0)
    vector = root._tab.Vector(root._tab.Offset(8))  # the subgraphs vector: its first element
    out = bytearray(data)
    struct.pack_into("<I", out, vector, 0x7FFF0000)
    return bytes(out)


def activation_shape(data: bytes, tensor: int, shape: list[int]) -> bytes:
    """An activation tensor given another shape: the reader accepts it (no buffer to check it
    against) and TFLM allocates it, but some kernels then crash in invoke()."""
    m = unpack(data)
    t = m.subgraphs[0].tensors[tensor]
    t.shape = np.array(shape, dtype=np.int32)
    t.shapeSignature = None  # a signature of the old rank would be refused first
    return pack(m)


def crashes_in_invoke(mlperf_dir) -> tuple[bytes, str]:
    """A model that TFLM allocates and then crashes on in invoke() (SIGFPE): the KWS model with
    activation tensor 23 shaped [1, 1, 1, 1]. Returns (bytes, signal name)."""
    data = (mlperf_dir / "kws_ref_model.tflite").read_bytes()
    return activation_shape(data, 23, [1, 1, 1, 1]), "SIGFPE"


def op_without_tflm_kernel(data: bytes, op_name: str, replacement: str = "SIGN") -> bytes:
    """The operator code of `op_name` replaced by a builtin TFLM has no kernel for: the file reads
    well, TFLM refuses to load it."""
    schema = _schema()
    m = unpack(data)
    codes = {v: k for k, v in vars(schema.BuiltinOperator).items() if not k.startswith("_")}
    for code in m.operatorCodes:
        if codes.get(max(code.builtinCode, code.deprecatedBuiltinCode)) == op_name:
            code.builtinCode = getattr(schema.BuiltinOperator, replacement)
            code.deprecatedBuiltinCode = min(code.builtinCode, 127)
            return pack(m)
    raise AssertionError(f"no {op_name} in the model")


def zero_point_out_of_range(data: bytes) -> tuple[bytes, int]:
    """An int8 tensor's zero point set to 1000: TFLM and the C engine then compute different things."""
    m = unpack(data)
    i, t = next((i, t) for i, t in enumerate(m.subgraphs[0].tensors)
                if t.type == 9 and t.quantization is not None and t.quantization.zeroPoint is not None
                and len(t.quantization.zeroPoint))
    t.quantization.zeroPoint = np.full(len(t.quantization.zeroPoint), 1000, dtype=np.int64)
    return pack(m), i


def depth_multiplier(data: bytes, value: int) -> tuple[bytes, int]:
    """The first DEPTHWISE_CONV_2D's depth_multiplier option set to `value`; returns (model, op index)."""
    m = unpack(data)
    codes = [max(c.builtinCode, c.deprecatedBuiltinCode) for c in m.operatorCodes]
    for i, op in enumerate(m.subgraphs[0].operators):
        if codes[op.opcodeIndex] == _schema().BuiltinOperator.DEPTHWISE_CONV_2D:
            op.builtinOptions.depthMultiplier = value
            return pack(m), i
    raise AssertionError("no depthwise convolution")


def conv_as_depthwise(data: bytes) -> tuple[bytes, int]:
    """The first CONV_2D pointed at the DEPTHWISE_CONV_2D operator code (its options stay a CONV_2D's);
    returns (model, op index)."""
    m = unpack(data)
    ops = _schema().BuiltinOperator
    codes = [max(c.builtinCode, c.deprecatedBuiltinCode) for c in m.operatorCodes]
    for i, op in enumerate(m.subgraphs[0].operators):
        if codes[op.opcodeIndex] == ops.CONV_2D:
            op.opcodeIndex = codes.index(ops.DEPTHWISE_CONV_2D)
            return pack(m), i
    raise AssertionError("no convolution")
