"""Lower a TFLite int8 model to engine ops, with every parameter computed as TFLite Micro does.

One function per supported op builds its typed op (see `ops.py`); the prepare-time arithmetic
(multipliers, shifts, activation ranges, look-up tables) follows TFLM's reference kernels step by
step, including their choice of float32 or double at each product, because a bit-exact engine
needs exactly those bits. Anything not covered is collected, never skipped: `lower_model` raises
one `UnsupportedOpsError` that lists every op the engine cannot compute.
"""
from __future__ import annotations

import numpy as np

from toolchain.base.errors import UnsupportedOpsError
from toolchain.base.tflite_reader import Operator, Subgraph, Tensor, TfliteModel

from . import fixedpoint as fp
from .ops import (Alias, Binary, Concatenation, DepthwiseConv2D, EngineGraph, FullyConnected,
                  Lookup, Mean, Operand, Pad, Pool2D, QuantizeFloat, Requant, Softmax,
                  TensorInfo, Conv2D, narrow_requant)

ALIAS_OPS = ("RESHAPE", "SQUEEZE", "EXPAND_DIMS")


class Unsupported(Exception):
    """One op the engine cannot compute (collected by `lower_model`)."""


def _require(condition: bool, reason: str) -> None:
    if not condition:
        raise Unsupported(reason)


def _scale_zp(t: Tensor) -> tuple[float, int]:
    _require(t.quant is not None and len(t.quant.scales) == 1,
             f"tensor '{t.name}' is not per-tensor quantized")
    return t.quant.scales[0], t.quant.zero_points[0]


def _int8(t: Tensor) -> Tensor:
    _require(t.dtype == "int8", f"tensor '{t.name}' is {t.dtype}; the engine computes int8 only")
    return t


def _shape4(shape: tuple[int, ...]) -> tuple[int, int, int, int]:
    _require(len(shape) <= 4, f"{len(shape)}-D tensors are not supported (at most 4-D)")
    return (1,) * (4 - len(shape)) + tuple(shape)


def _size(shape) -> int:
    return int(np.prod(shape)) if len(shape) else 1


class _Ctx:
    """The subgraph being lowered, with helpers to reach tensors of an operator."""

    def __init__(self, sg: Subgraph):
        self.sg = sg

    def t(self, index: int) -> Tensor:
        return self.sg.tensors[index]

    def activation(self, index: int) -> Tensor:
        t = self.t(index)
        _require(not t.is_constant, f"tensor '{t.name}' was expected to be an activation")
        return t

    def const(self, index: int, what: str) -> np.ndarray:
        _require(index >= 0 and self.t(index).is_constant, f"{what} must be a constant tensor")
        return self.t(index).data


def _activation(options: dict) -> str:
    act = options.get("fused_activation_function", "NONE")
    _require(act in ("NONE", "RELU", "RELU6", "RELU_N1_TO_1"), f"fused activation {act}")
    return act


def _padding(padding: str, in_size: int, out_size: int, kernel: int, stride: int, dilation: int) -> int:
    """TFLM's ComputePaddingWithOffset, after checking the output size it implies."""
    effective = (kernel - 1) * dilation + 1
    if padding == "SAME":
        expected = (in_size + stride - 1) // stride
    else:
        expected = (in_size + stride - effective) // stride
    _require(expected == out_size, f"output size {out_size} does not match {padding} padding")
    total = max((out_size - 1) * stride + effective - in_size, 0)
    return total // 2


def _requant(scales: list[float], output: Tensor, activation: str, acc_bound: int) -> Requant:
    out_scale, out_zp = _scale_zp(output)
    pairs = [fp.quantize_multiplier(s) for s in scales]
    lo, hi = fp.activation_range(activation, out_scale, out_zp)
    shifts = [s for _, s in pairs]
    return Requant(
        multiplier=np.array([m for m, _ in pairs], dtype=np.int32),
        shift=np.array(shifts, dtype=np.int8),
        output_zp=out_zp, act_min=lo, act_max=hi, narrow=narrow_requant(acc_bound, shifts),
    )


def _fold_bias(bias: np.ndarray | None, weight_sums: np.ndarray, input_zp: int,
               abs_weight_sums: np.ndarray) -> tuple[np.ndarray, int]:
    """bias - input_zp * sum(w): the input offset moved out of the inner loop (exact in int32), and
    a bound on every accumulator |bias + sum(w * (x - input_zp))|."""
    b = np.zeros(len(weight_sums), np.int64) if bias is None else bias.astype(np.int64)
    folded = b - np.int64(input_zp) * weight_sums.astype(np.int64)
    bound = np.abs(b) + 256 * abs_weight_sums.astype(np.int64)
    _require(int(bound.max(initial=0)) < (1 << 31), "accumulator may exceed int32")
    return folded.astype(np.int32), int(bound.max(initial=0))


def _bias(ctx: _Ctx, op: Operator, count: int) -> np.ndarray | None:
    if len(op.inputs) < 3 or op.inputs[2] < 0:
        return None
    b = ctx.const(op.inputs[2], "bias")
    _require(b.dtype == np.int32 and b.size == count, "bias must be int32 with one value per channel")
    return b.reshape(-1)


def _filter_scales(filt: Tensor, channels: int, axis: int) -> list[float]:
    _require(filt.quant is not None, "filter is not quantized")
    _require(all(z == 0 for z in filt.quant.zero_points), "filter zero point must be 0")
    scales = list(filt.quant.scales)
    if len(scales) > 1:
        _require(len(scales) == channels and filt.quant.axis == axis, "per-channel axis mismatch")
        return scales
    return scales * channels


def lower_conv(ctx: _Ctx, op: Operator) -> Conv2D:
    x, filt, y = _int8(ctx.activation(op.inputs[0])), _int8(ctx.t(op.inputs[1])), _int8(ctx.t(op.outputs[0]))
    w = ctx.const(op.inputs[1], "filter")
    o = op.options
    n, ih, iw, ic = _shape4(x.shape)
    cout, kh, kw, cin_g = w.shape
    _, oh, ow, oc = _shape4(y.shape)
    _require(oc == cout and ic % cin_g == 0 and cout % (ic // cin_g) == 0, "inconsistent shapes")
    sh, sw = o["stride_h"], o["stride_w"]
    dh, dw = o.get("dilation_h_factor", 1), o.get("dilation_w_factor", 1)
    pt = _padding(o["padding"], ih, oh, kh, sh, dh)
    pl = _padding(o["padding"], iw, ow, kw, sw, dw)
    in_scale, in_zp = _scale_zp(x)
    out_scale, _ = _scale_zp(y)
    scales = [float(in_scale) * float(fs) / float(out_scale) for fs in _filter_scales(filt, cout, 0)]
    wi = w.astype(np.int64).reshape(cout, -1)
    bias, bound = _fold_bias(_bias(ctx, op, cout), wi.sum(axis=1), in_zp, np.abs(wi).sum(axis=1))
    return Conv2D(
        index=op.index, op=op.op, input=op.inputs[0], output=op.outputs[0],
        weights=np.ascontiguousarray(w, dtype=np.int8), bias=bias,
        requant=_requant(scales, y, _activation(o), bound), batches=n,
        in_hwc=(ih, iw, ic), out_hwc=(oh, ow, oc), kernel_hw=(kh, kw), stride_hw=(sh, sw),
        dilation_hw=(dh, dw), pad_tl=(pt, pl), groups=ic // cin_g, input_zp=in_zp,
        weights_name=filt.name,
    )


def lower_depthwise(ctx: _Ctx, op: Operator) -> DepthwiseConv2D:
    x, filt, y = _int8(ctx.activation(op.inputs[0])), _int8(ctx.t(op.inputs[1])), _int8(ctx.t(op.outputs[0]))
    w = ctx.const(op.inputs[1], "filter")
    o = op.options
    n, ih, iw, ic = _shape4(x.shape)
    _, kh, kw, cout = w.shape
    _, oh, ow, oc = _shape4(y.shape)
    _require(oc == cout and cout % ic == 0, "inconsistent shapes")
    sh, sw = o["stride_h"], o["stride_w"]
    dh, dw = o.get("dilation_h_factor", 1), o.get("dilation_w_factor", 1)
    pt = _padding(o["padding"], ih, oh, kh, sh, dh)
    pl = _padding(o["padding"], iw, ow, kw, sw, dw)
    in_scale, in_zp = _scale_zp(x)
    out_scale, _ = _scale_zp(y)
    scales = [float(in_scale) * float(fs) / float(out_scale) for fs in _filter_scales(filt, cout, 3)]
    wi = w.astype(np.int64).reshape(-1, cout)
    bias, bound = _fold_bias(_bias(ctx, op, cout), wi.sum(axis=0), in_zp, np.abs(wi).sum(axis=0))
    return DepthwiseConv2D(
        index=op.index, op=op.op, input=op.inputs[0], output=op.outputs[0],
        weights=np.ascontiguousarray(w.reshape(kh, kw, cout), dtype=np.int8), bias=bias,
        requant=_requant(scales, y, _activation(o), bound), batches=n,
        in_hwc=(ih, iw, ic), out_hwc=(oh, ow, oc), kernel_hw=(kh, kw), stride_hw=(sh, sw),
        dilation_hw=(dh, dw), pad_tl=(pt, pl), depth_multiplier=cout // ic, input_zp=in_zp,
        weights_name=filt.name,
    )


def lower_fully_connected(ctx: _Ctx, op: Operator) -> FullyConnected:
    x, filt, y = _int8(ctx.activation(op.inputs[0])), _int8(ctx.t(op.inputs[1])), _int8(ctx.t(op.outputs[0]))
    w = ctx.const(op.inputs[1], "weights")
    _require(w.ndim == 2, "weights must be 2-D")
    _require(op.options.get("weights_format", 0) == 0, "shuffled weights format")
    out_f, in_f = w.shape
    _require(x.size % in_f == 0 and y.size == (x.size // in_f) * out_f, "inconsistent shapes")
    in_scale, in_zp = _scale_zp(x)
    out_scale, _ = _scale_zp(y)
    _require(filt.quant is not None and all(z == 0 for z in filt.quant.zero_points),
             "weights zero point must be 0")
    # Per-tensor as per-channel: TFLM's FULLY_CONNECTED multiplies the two scales as doubles (not as
    # float32, as TFLite's GetQuantizedConvolutionMultipler does); the two differ by up to ~100 in the
    # multiplier, which moves an output by one where the accumulator sits near a rounding tie.
    scales = [float(in_scale) * float(s) / float(out_scale) for s in _filter_scales(filt, out_f, 0)]
    wi = w.astype(np.int64)
    bias, bound = _fold_bias(_bias(ctx, op, out_f), wi.sum(axis=1), in_zp, np.abs(wi).sum(axis=1))
    return FullyConnected(
        index=op.index, op=op.op, input=op.inputs[0], output=op.outputs[0],
        weights=np.ascontiguousarray(w, dtype=np.int8), bias=bias,
        requant=_requant(scales, y, _activation(op.options), bound),
        batches=x.size // in_f, in_features=in_f, out_features=out_f,
        weights_name=filt.name,
    )


def lower_pool(ctx: _Ctx, op: Operator) -> Pool2D:
    x, y = _int8(ctx.activation(op.inputs[0])), _int8(ctx.t(op.outputs[0]))
    o = op.options
    n, ih, iw, ic = _shape4(x.shape)
    _, oh, ow, oc = _shape4(y.shape)
    _require(ic == oc, "pooling changes the channel count")
    kh, kw, sh, sw = o["filter_height"], o["filter_width"], o["stride_h"], o["stride_w"]
    out_scale, out_zp = _scale_zp(y)
    lo, hi = fp.activation_range(_activation(o), out_scale, out_zp)
    return Pool2D(
        index=op.index, op=op.op, input=op.inputs[0], output=op.outputs[0], batches=n,
        in_hwc=(ih, iw, ic), out_hwc=(oh, ow, oc), kernel_hw=(kh, kw), stride_hw=(sh, sw),
        pad_tl=(_padding(o["padding"], ih, oh, kh, sh, 1), _padding(o["padding"], iw, ow, kw, sw, 1)),
        act_min=lo, act_max=hi,
    )


def _operand(ctx: _Ctx, index: int) -> Operand:
    t = _int8(ctx.t(index))
    return Operand(tensor=index, const=np.ascontiguousarray(t.data, dtype=np.int8) if t.is_constant else None)


def _broadcast_strides(shape: tuple[int, ...], out4: tuple[int, int, int, int]) -> tuple[int, int, int, int]:
    s4 = _shape4(shape)
    strides, step = [], 1
    for dim, out_dim in zip(reversed(s4), reversed(out4)):
        _require(dim in (1, out_dim), "shapes do not broadcast")
        strides.append(step if dim > 1 else 0)
        step *= dim
    return tuple(reversed(strides))


def lower_binary(ctx: _Ctx, op: Operator) -> Binary:
    a, b, y = _operand(ctx, op.inputs[0]), _operand(ctx, op.inputs[1]), _int8(ctx.t(op.outputs[0]))
    _require(not (a.is_const and b.is_const), "both inputs are constants")
    ta, tb = ctx.t(op.inputs[0]), ctx.t(op.inputs[1])
    (s1, z1), (s2, z2), (so, zo) = _scale_zp(ta), _scale_zp(tb), _scale_zp(y)
    out4 = _shape4(y.shape)
    lo, hi = fp.activation_range(_activation(op.options), so, zo)
    common = dict(index=op.index, op=op.op, input1=a, input2=b, output=op.outputs[0], out_shape4=out4,
                  strides1=_broadcast_strides(ta.shape, out4), strides2=_broadcast_strides(tb.shape, out4),
                  input1_offset=-z1, input2_offset=-z2, output_offset=zo, act_min=lo, act_max=hi)
    if op.op == "MUL":
        m, s = fp.quantize_multiplier(float(s1) * float(s2) / float(so))
        bound = 255 * 255  # |(a - z1) * (b - z2)|
        return Binary(left_shift=0, input1_multiplier=0, input1_shift=0, input2_multiplier=0,
                      input2_shift=0, output_multiplier=m, output_shift=s,
                      narrow=narrow_requant(bound, [s]), **common)
    left_shift = 20
    twice_max = 2 * float(max(np.float32(s1), np.float32(s2)))
    m1, sh1 = fp.quantize_multiplier(float(s1) / twice_max)
    m2, sh2 = fp.quantize_multiplier(float(s2) / twice_max)
    mo, sho = fp.quantize_multiplier(twice_max / ((1 << left_shift) * float(so)))
    _require(sh1 <= 0 and sh2 <= 0 and sho <= 0, "input or output rescale larger than 1")
    values = range(-128, 128)
    table1 = np.array([fp.mbqm((v - z1) * (1 << left_shift), m1, sh1) for v in values], np.int32)
    table2 = np.array([fp.mbqm((v - z2) * (1 << left_shift), m2, sh2) for v in values], np.int32)
    bound = int(np.abs(table1.astype(np.int64)).max()) + int(np.abs(table2.astype(np.int64)).max())
    return Binary(left_shift=left_shift, input1_multiplier=m1, input1_shift=sh1, input2_multiplier=m2,
                  input2_shift=sh2, output_multiplier=mo, output_shift=sho, input1_table=table1,
                  input2_table=table2, narrow=narrow_requant(bound, [sho]), **common)


def _byte_values(dtype: str) -> np.ndarray:
    """The value of each raw input byte 0..255, for tables indexed by the byte."""
    b = np.arange(256)
    return b if dtype == "uint8" else np.where(b < 128, b, b - 256)


def _lookup(op: Operator, count: int, table: np.ndarray) -> Lookup:
    return Lookup(index=op.index, op=op.op, input=op.inputs[0], output=op.outputs[0], count=count, table=table)


def lower_logistic_tanh(ctx: _Ctx, op: Operator) -> Lookup:
    x, y = _int8(ctx.activation(op.inputs[0])), _int8(ctx.t(op.outputs[0]))
    s, zp = _scale_zp(x)
    so, zo = _scale_zp(y)
    if op.op == "LOGISTIC":
        _require(zo == -128, "LOGISTIC output zero point must be -128")
    multiplier, left_shift = fp.frexp_multiplier(float(s) * float(1 << 27))
    radius = fp.calculate_input_radius(4, left_shift)
    table = np.zeros(256, np.int8)
    for byte, value in enumerate(_byte_values("int8")):
        v = int(value) - zp
        if v <= -radius:
            r = -128
        elif v >= radius:
            r = 127
        else:
            q4 = fp.mbqm(v, multiplier, left_shift)
            if op.op == "LOGISTIC":
                r = fp.clamp(fp.rdbpot(fp.logistic(q4, 4), 23) - 128, -128, 127)
            else:
                r = fp.clamp(fp.rdbpot(fp.tanh(q4, 4), 24), -128, 127)
        table[byte] = r
    return _lookup(op, x.size, table)


def lower_relu(ctx: _Ctx, op: Operator) -> Lookup:
    x, y = _int8(ctx.activation(op.inputs[0])), _int8(ctx.t(op.outputs[0]))
    s, zp = _scale_zp(x)
    so, zo = _scale_zp(y)
    values = _byte_values("int8")
    if op.op == "RELU6":
        six = fp.clamp(fp.round_half_away_f32(np.float32(6.0) / np.float32(s)) + zp, -128, 127)
        table = np.clip(values, zp, six)
    else:
        m, sh = fp.quantize_multiplier(float(s) / float(so))
        lo = max(-128, zo + fp.round_half_away_f32(np.float32(0.0) / np.float32(so)))
        table = np.array([fp.clamp(zo + fp.mbqm(int(v) - zp, m, sh), lo, 127) for v in values])
    return _lookup(op, x.size, table.astype(np.int8))


def lower_quantize(ctx: _Ctx, op: Operator):
    x, y = ctx.activation(op.inputs[0]), _int8(ctx.t(op.outputs[0]))
    so, zo = _scale_zp(y)
    if x.dtype == "float32":
        return QuantizeFloat(index=op.index, op=op.op, input=op.inputs[0], output=op.outputs[0],
                             count=x.size, scale=float(so), zero_point=zo)
    _require(x.dtype in ("int8", "uint8"), f"QUANTIZE from {x.dtype}")
    s, zp = _scale_zp(x)
    m, sh = fp.quantize_multiplier(float(s) / float(so))
    table = [fp.clamp(fp.mbqm(int(v) - zp, m, sh) + zo, -128, 127) for v in _byte_values(x.dtype)]
    return _lookup(op, x.size, np.array(table, np.int8))


def lower_dequantize(ctx: _Ctx, op: Operator) -> Lookup:
    x, y = _int8(ctx.activation(op.inputs[0])), ctx.t(op.outputs[0])
    _require(y.dtype == "float32", f"DEQUANTIZE to {y.dtype}")
    s, zp = _scale_zp(x)
    table = (np.float64(s) * (_byte_values("int8") - zp).astype(np.float64)).astype(np.float32)
    return _lookup(op, x.size, table)


def lower_softmax(ctx: _Ctx, op: Operator) -> Softmax:
    x, y = _int8(ctx.activation(op.inputs[0])), _int8(ctx.t(op.outputs[0]))
    s, _ = _scale_zp(x)
    so, zo = _scale_zp(y)
    _require(zo == -128 and np.float32(so) == np.float32(1.0 / 256), "SOFTMAX output must be scale 1/256, zero point -128")
    beta = float(np.float32(op.options.get("beta", 1.0)))
    real = min(beta * float(s) * float(1 << 26), float((1 << 31) - 1))
    multiplier, left_shift = fp.quantize_multiplier(real)
    max_diff = min(fp.calculate_input_radius(5, left_shift), 255)
    table = np.zeros(256, np.int32)
    for d in range(max_diff + 1):
        table[d] = fp.exp_on_negative_values(fp.mbqm_greater_than_one(-d, multiplier, left_shift), 5)
    depth = x.shape[-1] if x.shape else 1
    return Softmax(index=op.index, op=op.op, input=op.inputs[0], output=op.outputs[0],
                   rows=x.size // depth, depth=depth, exp_table=table, max_diff=max_diff)


def lower_pad(ctx: _Ctx, op: Operator) -> Pad:
    x, y = _int8(ctx.activation(op.inputs[0])), _int8(ctx.t(op.outputs[0]))
    pads = ctx.const(op.inputs[1], "paddings").astype(np.int64).reshape(-1, 2)
    _require(len(pads) == len(x.shape), "paddings do not match the input rank")
    _, zo = _scale_zp(y)
    value = zo
    if op.op == "PADV2" and len(op.inputs) > 2 and op.inputs[2] >= 0:
        value = int(ctx.const(op.inputs[2], "constant value").reshape(-1)[0])
    _require(bool((pads >= 0).all()), "negative padding")
    before = (0,) * (4 - len(pads)) + tuple(int(p) for p in pads[:, 0])
    after = (0,) * (4 - len(pads)) + tuple(int(p) for p in pads[:, 1])
    return Pad(index=op.index, op=op.op, input=op.inputs[0], output=op.outputs[0],
               in_shape4=_shape4(x.shape), before4=before, after4=after, value=value)


def lower_concatenation(ctx: _Ctx, op: Operator) -> Concatenation:
    y = _int8(ctx.t(op.outputs[0]))
    axis = op.options.get("axis", 0)
    rank = len(y.shape)
    axis = axis + rank if axis < 0 else axis
    _require(0 <= axis < rank, "concatenation axis out of range")
    yq = _scale_zp(y)
    operands, inner = [], []
    for i in op.inputs:
        t = _int8(ctx.t(i))
        _require(_scale_zp(t) == yq, "inputs quantized differently from the output")
        operands.append(_operand(ctx, i))
        inner.append(_size(t.shape[axis:]))
    lo, hi = fp.activation_range(_activation(op.options), *yq)
    return Concatenation(index=op.index, op=op.op, inputs=tuple(operands), output=op.outputs[0],
                         outer=_size(y.shape[:axis]), inner=tuple(inner), act_min=lo, act_max=hi)


def lower_mean(ctx: _Ctx, op: Operator) -> Mean:
    x, y = _int8(ctx.activation(op.inputs[0])), _int8(ctx.t(op.outputs[0]))
    axes = ctx.const(op.inputs[1], "axis").reshape(-1)
    rank = len(x.shape)
    axes = sorted({int(a) + rank if a < 0 else int(a) for a in axes})
    _require(axes == list(range(axes[0], axes[-1] + 1)), "MEAN over non-adjacent axes")
    s, zi = _scale_zp(x)
    so, zo = _scale_zp(y)
    m, sh = fp.quantize_multiplier(float(s) / float(so))
    count = _size(x.shape[axes[0]:axes[-1] + 1])
    # TFLM folds 1/count into the multiplier: m * 2^k / count with k = floor(log2(count)),
    # limited to 32 and to 31 + shift.
    k = min(count.bit_length() - 1, 32, 31 + sh)
    m, sh = (m << k) // count, sh - k
    return Mean(index=op.index, op=op.op, input=op.inputs[0], output=op.outputs[0],
                outer=_size(x.shape[:axes[0]]), reduce=_size(x.shape[axes[0]:axes[-1] + 1]),
                inner=_size(x.shape[axes[-1] + 1:]), input_zp=zi, output_zp=zo, multiplier=m, shift=sh)


def lower_alias(ctx: _Ctx, op: Operator) -> Alias:
    x, y = ctx.activation(op.inputs[0]), ctx.t(op.outputs[0])
    _require(x.nbytes == y.nbytes and x.dtype == y.dtype, "reshape changes the size")
    return Alias(index=op.index, op=op.op, input=op.inputs[0], output=op.outputs[0])


LOWERINGS = {
    "CONV_2D": lower_conv,
    "DEPTHWISE_CONV_2D": lower_depthwise,
    "FULLY_CONNECTED": lower_fully_connected,
    "AVERAGE_POOL_2D": lower_pool,
    "MAX_POOL_2D": lower_pool,
    "ADD": lower_binary,
    "SUB": lower_binary,
    "MUL": lower_binary,
    "LOGISTIC": lower_logistic_tanh,
    "TANH": lower_logistic_tanh,
    "RELU": lower_relu,
    "RELU6": lower_relu,
    "QUANTIZE": lower_quantize,
    "DEQUANTIZE": lower_dequantize,
    "SOFTMAX": lower_softmax,
    "PAD": lower_pad,
    "PADV2": lower_pad,
    "CONCATENATION": lower_concatenation,
    "MEAN": lower_mean,
    **{name: lower_alias for name in ALIAS_OPS},
}


def _check_io(sg: Subgraph) -> list[tuple[int, str, str]]:
    problems = []
    if len(sg.inputs) != 1 or len(sg.outputs) != 1:
        problems.append((-1, "MODEL", f"{len(sg.inputs)} inputs and {len(sg.outputs)} outputs; "
                         "the engine takes one input and one output tensor"))
        return problems
    for role, index in (("input", sg.inputs[0]), ("output", sg.outputs[0])):
        t = sg.tensors[index]
        if t.dtype not in ("int8", "float32"):
            problems.append((-1, "MODEL", f"{role} tensor is {t.dtype} (int8 or float32 only)"))
    if any(t.is_variable for t in sg.tensors):
        problems.append((-1, "MODEL", "variable (stateful) tensors"))
    return problems


def lower_model(model: TfliteModel, source: str = "model") -> EngineGraph:
    """Lower every operator of the model's main subgraph, or raise one error listing all failures."""
    problems: list[tuple[int, str, str]] = []
    if len(model.subgraphs) != 1:
        problems.append((-1, "MODEL", f"{len(model.subgraphs)} subgraphs (control flow)"))
    sg = model.main
    problems += _check_io(sg)
    ctx = _Ctx(sg)
    ops = []
    for op in sg.operators:
        lowering = LOWERINGS.get(op.op)
        if lowering is None:
            problems.append((op.index, op.op, "no kernel for this op"))
            continue
        try:
            ops.append(lowering(ctx, op))
        except Unsupported as exc:
            problems.append((op.index, op.op, str(exc)))
    if problems:
        raise UnsupportedOpsError(source, problems)
    used = {sg.inputs[0], sg.outputs[0]}
    for op in sg.operators:
        used.update(i for i in op.inputs if i >= 0 and not sg.tensors[i].is_constant)
        used.update(op.outputs)
    tensors = {}
    for i in sorted(used):
        t = sg.tensors[i]
        tensors[i] = TensorInfo(index=i, name=t.name, shape=t.shape, dtype=t.dtype, nbytes=t.nbytes)
    return EngineGraph(ops=tuple(ops), tensors=tensors, input=sg.inputs[0], output=sg.outputs[0],
                       op_names=tuple(op.op for op in sg.operators))
