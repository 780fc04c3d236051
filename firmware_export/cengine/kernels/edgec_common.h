/* edgec C engine: fixed-point helpers shared by the kernels.
 *
 * The arithmetic is the TFLite quantization specification's: SaturatingRoundingDoublingHighMul,
 * RoundingDivideByPOT and the double-rounding MultiplyByQuantizedMultiplier of TFLite Micro's
 * reference kernels. C99, freestanding: <stdint.h>, <stddef.h>, <string.h>, <limits.h> only.
 *
 * Cortex-M cores with the DSP extension (__ARM_FEATURE_DSP) use the ACLE SIMD intrinsics for the
 * int8 dot products; EDGEC_EMULATE_DSP gives the same path in portable C (to test it on a host),
 * and EDGEC_NO_DSP forces the generic path. Every path computes identical results.
 */
#ifndef EDGEC_COMMON_H
#define EDGEC_COMMON_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#if defined(__GNUC__)
#define EDGEC_ALIGN(n) __attribute__((aligned(n)))
/* A kernel body specialised at each call site on a constant argument. */
#define EDGEC_FORCE_INLINE static inline __attribute__((always_inline))
#else
#define EDGEC_ALIGN(n)
#define EDGEC_FORCE_INLINE static inline
#endif

#if !defined(EDGEC_NO_DSP) && defined(__ARM_FEATURE_DSP) && defined(__ARM_FEATURE_SIMD32)
#include <arm_acle.h>
#define EDGEC_DSP 1
/* Sign-extend bytes 0 and 2 (resp. 1 and 3) of a word into two int16 lanes. */
#define edgec_sxtb16(x) ((int32_t)__sxtb16((int8x4_t)(x)))
#if defined(__GNUC__)
/* One SXTB16 with its operand rotated (gcc does not fuse the rotation into the intrinsic). */
static inline int32_t edgec_sxtb16_ror8(int32_t x)
{
    int32_t r;
    __asm__("sxtb16 %0, %1, ror #8" : "=r"(r) : "r"(x));
    return r;
}
#else
#define edgec_sxtb16_ror8(x) ((int32_t)__sxtb16((int8x4_t)(((uint32_t)(x) >> 8) | ((uint32_t)(x) << 24))))
#endif
/* acc + lo(a) * lo(b) + hi(a) * hi(b), int16 lanes. */
#define edgec_smlad(a, b, acc) ((int32_t)__smlad((int16x2_t)(a), (int16x2_t)(b), (int32_t)(acc)))
/* acc + lo(a) * lo(b), resp. acc + hi(a) * hi(b), int16 lanes. */
#define edgec_smlabb(a, b, acc) ((int32_t)__smlabb((int32_t)(a), (int32_t)(b), (int32_t)(acc)))
#define edgec_smlatt(a, b, acc) ((int32_t)__smlatt((int32_t)(a), (int32_t)(b), (int32_t)(acc)))
/* x saturated to int8 (SSAT #8). */
#define edgec_ssat8(x) ((int32_t)__ssat((int32_t)(x), 8))
#elif defined(EDGEC_EMULATE_DSP)
#define EDGEC_DSP 1
static inline int32_t edgec_sxtb16(int32_t x)
{
    uint32_t lo = (uint32_t)(int32_t)(int8_t)(x & 0xff) & 0xffffu;
    uint32_t hi = (uint32_t)(int32_t)(int8_t)((x >> 16) & 0xff) & 0xffffu;
    return (int32_t)(lo | (hi << 16));
}
static inline int32_t edgec_sxtb16_ror8(int32_t x)
{
    return edgec_sxtb16((int32_t)(((uint32_t)x >> 8) | ((uint32_t)x << 24)));
}
static inline int32_t edgec_smlad(int32_t a, int32_t b, int32_t acc)
{
    int32_t a_lo = (int16_t)(a & 0xffff), a_hi = (int16_t)(((uint32_t)a >> 16) & 0xffff);
    int32_t b_lo = (int16_t)(b & 0xffff), b_hi = (int16_t)(((uint32_t)b >> 16) & 0xffff);
    return (int32_t)((uint32_t)acc + (uint32_t)(a_lo * b_lo) + (uint32_t)(a_hi * b_hi));
}
static inline int32_t edgec_ssat8(int32_t x)
{
    return x < -128 ? -128 : (x > 127 ? 127 : x);
}
static inline int32_t edgec_smlabb(int32_t a, int32_t b, int32_t acc)
{
    return (int32_t)((uint32_t)acc + (uint32_t)((int32_t)(int16_t)(a & 0xffff) * (int16_t)(b & 0xffff)));
}
static inline int32_t edgec_smlatt(int32_t a, int32_t b, int32_t acc)
{
    return (int32_t)((uint32_t)acc + (uint32_t)((int32_t)(int16_t)(((uint32_t)a >> 16) & 0xffff) *
                                                (int16_t)(((uint32_t)b >> 16) & 0xffff)));
}
#endif

#if !defined(EDGEC_DSP) && (defined(__ARM_ARCH_6M__) || defined(EDGEC_SCALAR))
/* The scalar path of Armv6-M (no SIMD, no 32 x 32 -> 64 multiply, LDRSB with a register offset
 * only); EDGEC_SCALAR gives it on a host, to test it there. */
#define EDGEC_V6M 1
#endif

static inline int32_t edgec_min(int32_t a, int32_t b) { return a < b ? a : b; }
static inline int32_t edgec_max(int32_t a, int32_t b) { return a > b ? a : b; }

static inline int8_t edgec_clamp_s8(int32_t x, int32_t lo, int32_t hi)
{
    return (int8_t)(x < lo ? lo : (x > hi ? hi : x));
}

/* gemmlowp SaturatingRoundingDoublingHighMul: round(a * b / 2^31), saturating -1 * -1.
 * gemmlowp truncates (ab + nudge) / 2^31 toward zero with nudge = 2^30 for ab >= 0 and 1 - 2^30
 * below; for ab < 0 that truncation is floor((ab + 1 - 2^30 + 2^31 - 1) / 2^31), so both cases
 * are floor((ab + 2^30) / 2^31): one arithmetic shift, no branch on the sign. */
static inline int32_t edgec_srdhm(int32_t a, int32_t b)
{
    if (a == b && a == INT32_MIN) {
        return INT32_MAX;
    }
    return (int32_t)(((int64_t)a * (int64_t)b + ((int64_t)1 << 30)) >> 31);
}

/* gemmlowp RoundingDivideByPOT: arithmetic shift right, rounding half away from zero. */
static inline int32_t edgec_rdbpot(int32_t x, int exponent)
{
    const int32_t mask = (int32_t)(((int64_t)1 << exponent) - 1);
    const int32_t remainder = x & mask;
    const int32_t threshold = (mask >> 1) + (x < 0 ? 1 : 0);
    return (x >> exponent) + (remainder > threshold ? 1 : 0);
}

/* x * 2^exponent (exponent > 0), saturating to int32. */
static inline int32_t edgec_sat_shl(int32_t x, int exponent)
{
    const int32_t threshold = (int32_t)(((int64_t)1 << (31 - exponent)) - 1);
    if (x > threshold) {
        return INT32_MAX;
    }
    if (x < -threshold) {
        return INT32_MIN;
    }
    return (int32_t)((uint32_t)x << exponent);
}

/* TFLite MultiplyByQuantizedMultiplier (double rounding): x * multiplier * 2^(shift - 31). */
static inline int32_t edgec_mbqm(int32_t x, int32_t multiplier, int shift)
{
    const int left = shift > 0 ? shift : 0;
    const int right = shift > 0 ? 0 : -shift;
    return edgec_rdbpot(edgec_srdhm((int32_t)((uint32_t)x << left), multiplier), right);
}

#if defined(EDGEC_V6M)
/* floor((a * b + 2^31) / 2^32) from four 16 x 16 -> 32 products (Armv6-M has no long multiply:
 * a 64-bit product would be a library call). With a = ah 2^16 + al and b = bh 2^16 + bl (ah, bh
 * signed, al, bl unsigned), a b + 2^31 = hh 2^32 + (lh + hl) 2^16 + ll + 2^31; each middle product
 * splits into its floor-shifted top and its low 16 bits, and the low bits' sum t, below 2^18,
 * carries floor(t / 2^16) into the top (the 16 lowest bits of ll cannot). Exact, mod 2^32. */
static inline int32_t edgec_mulhi_round(int32_t a, int32_t b)
{
    const uint32_t al = (uint32_t)a & 0xffffu, bl = (uint32_t)b & 0xffffu;
    const int32_t ah = a >> 16, bh = b >> 16;
    const uint32_t ll = al * bl;
    const int32_t lh = (int32_t)al * bh, hl = ah * (int32_t)bl;
    const uint32_t t = (ll >> 16) + ((uint32_t)lh & 0xffffu) + ((uint32_t)hl & 0xffffu) + 0x8000u;
    return (int32_t)((uint32_t)(ah * bh) + (uint32_t)(lh >> 16) + (uint32_t)(hl >> 16) + (t >> 16));
}
#endif

/* edgec_mbqm, exactly, when generation has proved |x| < 2^30 and shift <= -1 (a right shift):
 * SaturatingRoundingDoublingHighMul is floor((x * m + 2^30) / 2^31) = floor((2x * m + 2^31) / 2^32),
 * one SMMULR (2x does not overflow, m < 2^31 never saturates), and RoundingDivideByPOT(y, e) is
 * floor((y + 2^(e-1) - [y < 0]) / 2^e) = (((y - [y < 0]) >> (e - 1)) + 1) >> 1, which cannot
 * overflow; e - 1 = -shift - 1 = ~shift. */
static inline int32_t edgec_mbqm_narrow(int32_t x, int32_t multiplier, int shift)
{
    int32_t y;
#if defined(__ARM_FEATURE_DSP) && defined(__GNUC__) && !defined(EDGEC_NO_DSP)
    __asm__("smmulr %0, %1, %2" : "=r"(y) : "r"(x * 2), "r"(multiplier));
#elif defined(EDGEC_V6M)
    y = edgec_mulhi_round(x * 2, multiplier);
#else
    y = (int32_t)(((int64_t)x * 2 * multiplier + ((int64_t)1 << 31)) >> 32);
#endif
    y = (y - (int32_t)((uint32_t)y >> 31)) >> ~shift;
    return (y + 1) >> 1;
}

/* Output rescale and clamp of a MAC kernel; narrow: the layer's accumulators and shifts allow
 * edgec_mbqm_narrow (decided at generation time), otherwise the general edgec_mbqm. */
static inline int8_t edgec_requantize(int narrow, int32_t acc, int32_t multiplier, int shift,
                                      int32_t zero_point, int32_t act_min, int32_t act_max)
{
    const int32_t scaled = narrow ? edgec_mbqm_narrow(acc, multiplier, shift) : edgec_mbqm(acc, multiplier, shift);
    return edgec_clamp_s8(scaled + zero_point, act_min, act_max);
}

#if !defined(EDGEC_DSP) && !defined(EDGEC_V6M) && (defined(__SSE2__) || defined(__ARM_NEON) || \
                                                    defined(__ARM_FEATURE_MVE))
/* Targets with vector units: 16 independent int32 lanes that compilers vectorize. */
#define EDGEC_LANES 16
#endif

/* Sum over r < rows and i < n of a[r * a_stride + i] * b[r * n + i], int8 x int8 -> int32:
 * a dot product over `rows` strided rows of a (a kernel window) and contiguous b (its weights).
 * Integer sums are exact in any order, so every path gives the same result. */
static inline int32_t edgec_dot_rows_s8(const int8_t *a, int32_t a_stride, const int8_t *b,
                                        int32_t rows, int32_t n)
{
    int32_t acc = 0;
    int32_t r, i;
#if defined(EDGEC_LANES)
    int32_t lanes[EDGEC_LANES] = {0};
    int32_t j;
#endif
    for (r = 0; r < rows; r++, a += a_stride, b += n) {
        i = 0;
#if defined(EDGEC_DSP)
        for (; i + 4 <= n; i += 4) {
            int32_t wa, wb;
            memcpy(&wa, a + i, 4);
            memcpy(&wb, b + i, 4);
            acc = edgec_smlad(edgec_sxtb16(wa), edgec_sxtb16(wb), acc);
            acc = edgec_smlad(edgec_sxtb16_ror8(wa), edgec_sxtb16_ror8(wb), acc);
        }
#elif defined(EDGEC_LANES)
        for (; i + EDGEC_LANES <= n; i += EDGEC_LANES) {
            for (j = 0; j < EDGEC_LANES; j++) {
                lanes[j] += (int32_t)a[i + j] * (int32_t)b[i + j];
            }
        }
#else
        for (; i + 4 <= n; i += 4) {
            acc += (int32_t)a[i] * (int32_t)b[i] + (int32_t)a[i + 1] * (int32_t)b[i + 1] +
                   (int32_t)a[i + 2] * (int32_t)b[i + 2] + (int32_t)a[i + 3] * (int32_t)b[i + 3];
        }
#endif
        for (; i < n; i++) {
            acc += (int32_t)a[i] * (int32_t)b[i];
        }
    }
#if defined(EDGEC_LANES)
    for (j = 0; j < EDGEC_LANES; j++) {
        acc += lanes[j];
    }
#endif
    return acc;
}

/* Two windowed dot products sharing the input a: weights b0 and b1 (two output channels).
 * On the DSP path each input word is unpacked once for both; elsewhere it is two passes. */
static inline void edgec_dot_rows2_s8(const int8_t *a, int32_t a_stride, const int8_t *b0, const int8_t *b1,
                                      int32_t rows, int32_t n, int32_t *sum0, int32_t *sum1)
{
#if defined(EDGEC_DSP)
    int32_t acc0 = 0, acc1 = 0;
    int32_t r, i;
    for (r = 0; r < rows; r++, a += a_stride, b0 += n, b1 += n) {
        for (i = 0; i + 4 <= n; i += 4) {
            int32_t wa, w0, w1, a_even, a_odd;
            memcpy(&wa, a + i, 4);
            memcpy(&w0, b0 + i, 4);
            memcpy(&w1, b1 + i, 4);
            a_even = edgec_sxtb16(wa);
            a_odd = edgec_sxtb16_ror8(wa);
            acc0 = edgec_smlad(a_even, edgec_sxtb16(w0), acc0);
            acc0 = edgec_smlad(a_odd, edgec_sxtb16_ror8(w0), acc0);
            acc1 = edgec_smlad(a_even, edgec_sxtb16(w1), acc1);
            acc1 = edgec_smlad(a_odd, edgec_sxtb16_ror8(w1), acc1);
        }
        for (; i < n; i++) {
            acc0 += (int32_t)a[i] * (int32_t)b0[i];
            acc1 += (int32_t)a[i] * (int32_t)b1[i];
        }
    }
    *sum0 = acc0;
    *sum1 = acc1;
#else
    *sum0 = edgec_dot_rows_s8(a, a_stride, b0, rows, n);
    *sum1 = edgec_dot_rows_s8(a, a_stride, b1, rows, n);
#endif
}

/* Sum of a[i] * b[i], int8 x int8 -> int32. */
static inline int32_t edgec_dot_s8(const int8_t *a, const int8_t *b, int32_t n)
{
    return edgec_dot_rows_s8(a, 0, b, 1, n);
}

/* Sum of the n int8 values at a. */
static inline int32_t edgec_sum_s8(const int8_t *a, int32_t n)
{
    int32_t acc = 0;
    int32_t i;
    for (i = 0; i < n; i++) {
        acc += a[i];
    }
    return acc;
}

#endif /* EDGEC_COMMON_H */
