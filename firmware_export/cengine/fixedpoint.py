"""Integer arithmetic of the TFLite quantization specification, in exact Python integers.

Used at generation time to precompute what a device must not compute at start-up: per-channel
multipliers and shifts, and the 256-entry look-up tables of the int8 element-wise ops (logistic,
tanh, relu, requantize, dequantize, the softmax exponentials). Each function mirrors the integer
semantics of TFLite Micro's reference kernels (int32 wrap-around, C truncating division, the
double-rounding `MultiplyByQuantizedMultiplier`), so a table computed here is the table of what
the oracle computes; the per-op tests check every table entry against the tflite-micro interpreter.
"""
from __future__ import annotations

import math

import numpy as np

INT32_MIN = -(1 << 31)
INT32_MAX = (1 << 31) - 1


def wrap32(x: int) -> int:
    """Two's-complement int32 wrap-around of an exact integer."""
    return ((x + (1 << 31)) & 0xFFFFFFFF) - (1 << 31)


def round_half_away(x: float) -> int:
    """std::round / TfLiteRound: to nearest, ties away from zero (exact for any double)."""
    a = abs(x)
    f = math.floor(a)
    r = f + 1 if a - f >= 0.5 else f
    return int(r) if x >= 0 else -int(r)


def round_half_away_f32(x: np.float32) -> int:
    """roundf on a float32 value (exact: the float is widened to double without loss)."""
    return round_half_away(float(np.float32(x)))


def quantize_multiplier(real: float) -> tuple[int, int]:
    """TFLite `QuantizeMultiplier` (double rounding build): real ~= m * 2^(shift - 31)."""
    if real == 0.0:
        return 0, 0
    q, shift = math.frexp(real)
    q_fixed = round_half_away(q * (1 << 31))
    if q_fixed == (1 << 31):
        q_fixed //= 2
        shift += 1
    if shift < -31:
        shift, q_fixed = 0, 0
    return q_fixed, shift


def frexp_multiplier(real: float) -> tuple[int, int]:
    """The multiplier of TFLM's int8 LOGISTIC/TANH prepare: frexp without the 2^31 fix-up."""
    q, shift = math.frexp(real)
    return wrap32(round_half_away(q * (1 << 31))), shift


def _trunc_div(a: int, b: int) -> int:
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b > 0) else -q


def srdhm(a: int, b: int) -> int:
    """gemmlowp SaturatingRoundingDoublingHighMul on int32."""
    if a == b == INT32_MIN:
        return INT32_MAX
    ab = a * b
    nudge = (1 << 30) if ab >= 0 else (1 - (1 << 30))
    return wrap32(_trunc_div(ab + nudge, 1 << 31))


def rdbpot(x: int, exponent: int) -> int:
    """gemmlowp RoundingDivideByPOT: rounding arithmetic right shift, ties away from zero."""
    mask = (1 << exponent) - 1
    remainder = x & mask
    threshold = (mask >> 1) + (1 if x < 0 else 0)
    return (x >> exponent) + (1 if remainder > threshold else 0)


def mbqm(x: int, multiplier: int, shift: int) -> int:
    """TFLite MultiplyByQuantizedMultiplier (double rounding, TFLM's default build)."""
    left = shift if shift > 0 else 0
    right = 0 if shift > 0 else -shift
    return rdbpot(srdhm(wrap32(x * (1 << left)), multiplier), right)


def mbqm_greater_than_one(x: int, multiplier: int, left_shift: int) -> int:
    return srdhm(wrap32(x * (1 << left_shift)), multiplier)


def sat_shift_left(x: int, exponent: int) -> int:
    """gemmlowp SaturatingRoundingMultiplyByPOT with a positive exponent (int32)."""
    threshold = (1 << (31 - exponent)) - 1
    if x > threshold:
        return INT32_MAX
    if x < -threshold:
        return INT32_MIN
    return wrap32(x * (1 << exponent))


def _add(a: int, b: int) -> int:
    return wrap32(a + b)


def _sub(a: int, b: int) -> int:
    return wrap32(a - b)


def _rounding_half_sum(a: int, b: int) -> int:
    s = a + b
    return wrap32(_trunc_div(s + (1 if s >= 0 else -1), 2))


def _exp_on_interval(a: int) -> int:
    """exp(x) for x in [-1/4, 0), Q0.31 in and out."""
    constant_term = 1895147668
    constant_1_over_3 = 715827883
    x = _add(a, 1 << 28)
    x2 = srdhm(x, x)
    x3 = srdhm(x2, x)
    x4 = srdhm(x2, x2)
    x4_over_4 = rdbpot(x4, 2)
    poly = rdbpot(_add(srdhm(_add(x4_over_4, x3), constant_1_over_3), x2), 1)
    return _add(constant_term, srdhm(constant_term, _add(x, poly)))


_EXP_BARREL = ((-2, 1672461947), (-1, 1302514674), (0, 790015084), (1, 290630308),
               (2, 39332535), (3, 720401), (4, 242))


def exp_on_negative_values(a: int, integer_bits: int) -> int:
    """gemmlowp exp_on_negative_values: Q(integer_bits) input, Q0.31 result."""
    frac_bits = 31 - integer_bits
    one_quarter = 1 << (frac_bits - 2)
    a_mod = _sub(a & (one_quarter - 1), one_quarter)
    result = _exp_on_interval(sat_shift_left(a_mod, integer_bits) if integer_bits else a_mod)
    remainder = _sub(a_mod, a)
    for exponent, multiplier in _EXP_BARREL:
        if integer_bits > exponent and remainder & (1 << (frac_bits + exponent)):
            result = srdhm(result, multiplier)
    if integer_bits > 5 and a < -(1 << (36 - integer_bits)):
        result = 0
    if a == 0:
        result = INT32_MAX
    return result


def _newton_reciprocal(half_denominator: int) -> int:
    x = _add(1515870810, srdhm(half_denominator, -1010580540))
    for _ in range(3):
        one_minus = _sub(1 << 29, srdhm(half_denominator, x))
        x = _add(x, sat_shift_left(srdhm(x, one_minus), 2))
    return x


def one_over_one_plus_x(a: int) -> int:
    """gemmlowp one_over_one_plus_x_for_x_in_0_1 (Q0.31)."""
    x = _newton_reciprocal(_rounding_half_sum(a, INT32_MAX))
    return sat_shift_left(x, 1)


def one_minus_x_over_one_plus_x(a: int) -> int:
    x = _newton_reciprocal(_rounding_half_sum(a, INT32_MAX))
    return sat_shift_left(_sub(x, 1 << 29), 2)


def logistic(a: int, integer_bits: int) -> int:
    """gemmlowp logistic: Q(integer_bits) input, Q0.31 result."""
    if a == 0:
        return 1 << 30
    abs_a = a if a > 0 else wrap32(-a)
    positive = one_over_one_plus_x(exp_on_negative_values(wrap32(-abs_a), integer_bits))
    return positive if a > 0 else _sub(INT32_MAX, positive)


def tanh(a: int, integer_bits: int) -> int:
    """gemmlowp tanh: Q(integer_bits) input, Q0.31 result."""
    if a == 0:
        return 0
    n = a if a < 0 else wrap32(-a)
    t = one_minus_x_over_one_plus_x(exp_on_negative_values(n, integer_bits + 1))
    return wrap32(-t) if a < 0 else t


def calculate_input_radius(integer_bits: int, left_shift: int, total_signed_bits: int = 31) -> int:
    value = 1.0 * ((1 << integer_bits) - 1) * (1 << (total_signed_bits - integer_bits)) / (1 << left_shift)
    return int(math.floor(value))


def clamp(x: int, lo: int, hi: int) -> int:
    return lo if x < lo else hi if x > hi else x


def quantize_f32(value: float, scale: float, zero_point: int, lo: int, hi: int) -> int:
    """TFLite's float32 `Quantize` of an activation bound: zero_point + round(value / scale)."""
    q = np.float32(np.float32(value) / np.float32(scale))
    return clamp(zero_point + round_half_away_f32(q), lo, hi)


def activation_range(activation: str, scale: float, zero_point: int) -> tuple[int, int]:
    """CalculateActivationRangeQuantized for an int8 output: the clamp bounds of a fused activation."""
    lo, hi = -128, 127
    if activation == "RELU":
        return max(lo, quantize_f32(0.0, scale, zero_point, INT32_MIN, INT32_MAX)), hi
    if activation == "RELU6":
        return (max(lo, quantize_f32(0.0, scale, zero_point, INT32_MIN, INT32_MAX)),
                min(hi, quantize_f32(6.0, scale, zero_point, INT32_MIN, INT32_MAX)))
    if activation == "RELU_N1_TO_1":
        return (max(lo, quantize_f32(-1.0, scale, zero_point, INT32_MIN, INT32_MAX)),
                min(hi, quantize_f32(1.0, scale, zero_point, INT32_MIN, INT32_MAX)))
    return lo, hi
