/* edgec C engine: int8 softmax, TFLite's fixed-point algorithm.
 *
 * The exponentials depend only on d = max - x in [0, 255], so they come from a table computed at
 * generation time (gemmlowp's exp_on_negative_values on Q5.26). The sum is kept in Q12.19, its
 * reciprocal computed by Newton-Raphson in Q2.29 (gemmlowp's one_over_one_plus_x_for_x_in_0_1),
 * and each output is exp * reciprocal rounded to 8 bits. */
#include "edgec_softmax.h"

static int edgec_clz32(uint32_t x)
{
#if defined(__GNUC__)
    return x == 0 ? 32 : __builtin_clz(x);
#else
    int n = 0;
    if (x == 0) {
        return 32;
    }
    while (!(x & 0x80000000u)) {
        x <<= 1;
        n++;
    }
    return n;
#endif
}

static int32_t edgec_rounding_half_sum(int32_t a, int32_t b)
{
    const int64_t sum = (int64_t)a + (int64_t)b;
    return (int32_t)((sum + (sum >= 0 ? 1 : -1)) / 2);
}

/* 1 / (1 + a) for a in [0, 1), Q0.31 in and out. */
static int32_t edgec_one_over_one_plus_x(int32_t a)
{
    const int32_t half_denominator = edgec_rounding_half_sum(a, INT32_MAX);
    int32_t x = (int32_t)(1515870810u + (uint32_t)edgec_srdhm(half_denominator, -1010580540));
    int i;
    for (i = 0; i < 3; i++) {
        const int32_t one_minus = (int32_t)((uint32_t)(1 << 29) - (uint32_t)edgec_srdhm(half_denominator, x));
        x = (int32_t)((uint32_t)x + (uint32_t)edgec_sat_shl(edgec_srdhm(x, one_minus), 2));
    }
    return edgec_sat_shl(x, 1);
}

void edgec_softmax_s8(const edgec_softmax_params *p, const int8_t *input, int8_t *output)
{
    int32_t r, c;
    for (r = 0; r < p->rows; r++) {
        const int8_t *x = input + r * p->depth;
        int8_t *y = output + r * p->depth;
        int32_t max = -128, sum = 0, scale, headroom, exponent;
        for (c = 0; c < p->depth; c++) {
            max = edgec_max(max, x[c]);
        }
        for (c = 0; c < p->depth; c++) {
            const int32_t d = max - x[c];
            if (d <= p->max_diff) {
                sum += edgec_rdbpot(p->exp_table[d], 12);
            }
        }
        headroom = edgec_clz32((uint32_t)sum);
        scale = edgec_one_over_one_plus_x((int32_t)(((uint32_t)sum << headroom) - (1u << 31)));
        exponent = 12 - headroom + 31 - 8;
        for (c = 0; c < p->depth; c++) {
            const int32_t d = max - x[c];
            if (d <= p->max_diff) {
                const int32_t v = edgec_rdbpot(edgec_srdhm(scale, p->exp_table[d]), exponent) - 128;
                y[c] = edgec_clamp_s8(v, -128, 127);
            } else {
                y[c] = -128;
            }
        }
    }
}
