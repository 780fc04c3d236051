/* edgec C engine: fully connected, int8: one dot product per output feature.
 *
 * With the DSP extension, four output features (weight rows) at a time: each word of 4 inputs is
 * loaded and unpacked by SXTB16 into (x0, x2) and (x1, x3) once for the four rows, and each row's
 * word of 4 weights the same way, then two SMLAD per row. Inputs past the last multiple of 4 and
 * the last out_features % 4 rows take the plain dot product. The parameters are read into locals
 * once: the int8_t output stores may alias them.
 */
#include "edgec_fc.h"

#if defined(EDGEC_DSP)
/* s_k += the dot product of x and row k (k < 4; rows `n` bytes apart from w), n inputs. */
static inline void edgec_fc_rows4(const int8_t *x, const int8_t *w, int32_t n, int32_t *sums)
{
    const int8_t *const w1 = w + n, *const w2 = w1 + n, *const w3 = w2 + n;
    int32_t s0 = sums[0], s1 = sums[1], s2 = sums[2], s3 = sums[3];
    int32_t i = n & ~3;
#if defined(__ARM_FEATURE_DSP) && defined(__GNUC__) && !defined(EDGEC_NO_DSP)
    /* Rows 0 and 1 from w, rows 2 and 3 from wb = w + 2n (a register offset reaches row 1 and 3):
     * 25 instructions for 16 MACs; gcc, given the C below, spills the row pointers. */
    if (i > 0) {
        const int8_t *xp = x, *wa = w, *wb = w2;
        const int8_t *const end = x + i;
        int32_t xv, x02, wv, t;
        __asm__("1:\n\t"
                "ldr %[xv], [%[xp]], #4\n\t"
                "ldr %[wv], [%[wa], %[n]]\n\t"
                "sxtb16 %[x02], %[xv]\n\t"
                "sxtb16 %[xv], %[xv], ror #8\n\t"
                "sxtb16 %[t], %[wv]\n\t"
                "sxtb16 %[wv], %[wv], ror #8\n\t"
                "smlad %[s1], %[x02], %[t], %[s1]\n\t"
                "smlad %[s1], %[xv], %[wv], %[s1]\n\t"
                "ldr %[wv], [%[wa]], #4\n\t"
                "sxtb16 %[t], %[wv]\n\t"
                "sxtb16 %[wv], %[wv], ror #8\n\t"
                "smlad %[s0], %[x02], %[t], %[s0]\n\t"
                "smlad %[s0], %[xv], %[wv], %[s0]\n\t"
                "ldr %[wv], [%[wb], %[n]]\n\t"
                "sxtb16 %[t], %[wv]\n\t"
                "sxtb16 %[wv], %[wv], ror #8\n\t"
                "smlad %[s3], %[x02], %[t], %[s3]\n\t"
                "smlad %[s3], %[xv], %[wv], %[s3]\n\t"
                "ldr %[wv], [%[wb]], #4\n\t"
                "sxtb16 %[t], %[wv]\n\t"
                "sxtb16 %[wv], %[wv], ror #8\n\t"
                "smlad %[s2], %[x02], %[t], %[s2]\n\t"
                "smlad %[s2], %[xv], %[wv], %[s2]\n\t"
                "cmp %[xp], %[end]\n\t"
                "bne 1b"
                : [s0] "+r"(s0), [s1] "+r"(s1), [s2] "+r"(s2), [s3] "+r"(s3), [xp] "+r"(xp), [wa] "+r"(wa),
                  [wb] "+r"(wb), [xv] "=&r"(xv), [x02] "=&r"(x02), [wv] "=&r"(wv), [t] "=&r"(t)
                : [n] "r"(n), [end] "r"(end)
                : "cc", "memory");
    }
#else
    {
        int32_t k;
        for (k = 0; k < i; k += 4) {
            int32_t xv, wv, x02, x13;
            memcpy(&xv, x + k, 4);
            x02 = edgec_sxtb16(xv);
            x13 = edgec_sxtb16_ror8(xv);
            memcpy(&wv, w + k, 4);
            s0 = edgec_smlad(x13, edgec_sxtb16_ror8(wv), edgec_smlad(x02, edgec_sxtb16(wv), s0));
            memcpy(&wv, w1 + k, 4);
            s1 = edgec_smlad(x13, edgec_sxtb16_ror8(wv), edgec_smlad(x02, edgec_sxtb16(wv), s1));
            memcpy(&wv, w2 + k, 4);
            s2 = edgec_smlad(x13, edgec_sxtb16_ror8(wv), edgec_smlad(x02, edgec_sxtb16(wv), s2));
            memcpy(&wv, w3 + k, 4);
            s3 = edgec_smlad(x13, edgec_sxtb16_ror8(wv), edgec_smlad(x02, edgec_sxtb16(wv), s3));
        }
    }
#endif
    for (; i < n; i++) {
        const int32_t xi = x[i];
        s0 += xi * w[i];
        s1 += xi * w1[i];
        s2 += xi * w2[i];
        s3 += xi * w3[i];
    }
    sums[0] = s0;
    sums[1] = s1;
    sums[2] = s2;
    sums[3] = s3;
}
#endif

void edgec_fully_connected_s8(const edgec_fc_params *p, const int8_t *input, int8_t *output)
{
    const int8_t *const weights = p->weights;
    const int32_t *const bias = p->bias, *const multiplier = p->multiplier;
    const int8_t *const shift = p->shift;
    const int32_t batches = p->batches, n = p->in_features, out_n = p->out_features, step = p->per_channel ? 1 : 0;
    const int32_t narrow = p->narrow, zp = p->output_zp, lo = p->act_min, hi = p->act_max;
    int32_t b, o;
    for (b = 0; b < batches; b++) {
        const int8_t *x = input + b * n;
        int8_t *y = output + b * out_n;
        o = 0;
#if defined(EDGEC_DSP)
        for (; o + 4 <= out_n; o += 4) {
            int32_t s[4], k;
            for (k = 0; k < 4; k++) {
                s[k] = bias[o + k];
            }
            edgec_fc_rows4(x, weights + o * n, n, s);
            for (k = 0; k < 4; k++) {
                const int32_t q = (o + k) * step;
                y[o + k] = edgec_requantize(narrow, s[k], multiplier[q], shift[q], zp, lo, hi);
            }
        }
#endif
        for (; o < out_n; o++) {
            const int32_t q = o * step;
            const int32_t acc = bias[o] + edgec_dot_s8(x, weights + o * n, n);
            y[o] = edgec_requantize(narrow, acc, multiplier[q], shift[q], zp, lo, hi);
        }
    }
}
