/* edgec C engine: fully connected, int8: one dot product per output feature.
 *
 * With the DSP extension, three output features (weight rows) at a time: each word of 4 inputs is
 * loaded and unpacked by SXTB16 into (x0, x2) and (x1, x3) once for the three rows, and each row's
 * word of 4 weights the same way, then two SMLAD per row. Inputs past the last multiple of 4 and
 * the last rows of a chunk past a multiple of 3 take the plain dot product; the sums of a chunk of
 * rows are rescaled in a loop of their own.
 */
#include "edgec_fc.h"

#if defined(EDGEC_DSP)
#if defined(__ARM_FEATURE_DSP) && defined(__GNUC__) && !defined(EDGEC_NO_DSP)
/* One word of 4 inputs against rows 0 (at wa), 1 and 2 (register offsets n and 2n from it). */
#define EDGEC_FC_ROWS3_WORD "ldr %[xv], [%[xp]], #4\n\t"                                                    \
                            "ldr %[wv], [%[wa], %[n], lsl #1]\n\t"                                        \
                            "sxtb16 %[x02], %[xv]\n\t"                                                    \
                            "sxtb16 %[xv], %[xv], ror #8\n\t"                                             \
                            "sxtb16 %[t], %[wv]\n\t"                                                      \
                            "sxtb16 %[wv], %[wv], ror #8\n\t"                                             \
                            "smlad %[s2], %[x02], %[t], %[s2]\n\t"                                        \
                            "smlad %[s2], %[xv], %[wv], %[s2]\n\t"                                        \
                            "ldr %[wv], [%[wa], %[n]]\n\t"                                                \
                            "sxtb16 %[t], %[wv]\n\t"                                                      \
                            "sxtb16 %[wv], %[wv], ror #8\n\t"                                             \
                            "smlad %[s1], %[x02], %[t], %[s1]\n\t"                                        \
                            "smlad %[s1], %[xv], %[wv], %[s1]\n\t"                                        \
                            "ldr %[wv], [%[wa]], #4\n\t"                                                  \
                            "sxtb16 %[t], %[wv]\n\t"                                                      \
                            "sxtb16 %[wv], %[wv], ror #8\n\t"                                             \
                            "smlad %[s0], %[x02], %[t], %[s0]\n\t"                                        \
                            "smlad %[s0], %[xv], %[wv], %[s0]\n\t"
#define EDGEC_FC_ROWS3_ASM(TEXT)                                                                         \
    __asm__(TEXT                                                                                         \
            : [s0] "+r"(s0), [s1] "+r"(s1), [s2] "+r"(s2), [xp] "+r"(xp), [wa] "+r"(wa), [xv] "=&r"(xv),     \
              [x02] "=&r"(x02), [wv] "=&r"(wv), [t] "=&r"(t)                                             \
            : [n] "r"(n), [end] "r"(end)                                                                 \
            : "cc", "memory")
#endif

/* s_k += the dot product of x and row k (k < 3; rows `n` bytes apart from w), n inputs. */
EDGEC_FORCE_INLINE void edgec_fc_rows3(const int8_t *x, const int8_t *w, int32_t n, int32_t *sums)
{
    const int8_t *const w1 = w + n, *const w2 = w1 + n;
    int32_t s0 = sums[0], s1 = sums[1], s2 = sums[2];
    int32_t i = n & ~3;
#if defined(__ARM_FEATURE_DSP) && defined(__GNUC__) && !defined(EDGEC_NO_DSP)
    /* Two words a turn: 38 instructions for 24 MACs in eleven registers (gcc finds them on every
     * core, frame pointer or not); gcc, given the C below, spills the row pointers. */
    if (i > 0) {
        const int8_t *xp = x, *wa = w;
        const int8_t *const end = x + (n & ~7);
        int32_t xv, x02, wv, t;
        if (xp != end) {
            EDGEC_FC_ROWS3_ASM("1:\n\t" EDGEC_FC_ROWS3_WORD EDGEC_FC_ROWS3_WORD "cmp %[xp], %[end]\n\tbne 1b");
        }
        if (n & 4) {
            EDGEC_FC_ROWS3_ASM(EDGEC_FC_ROWS3_WORD);
        }
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
        }
    }
#endif
    for (; i < n; i++) {
        const int32_t xi = x[i];
        s0 += xi * w[i];
        s1 += xi * w1[i];
        s2 += xi * w2[i];
    }
    sums[0] = s0;
    sums[1] = s1;
    sums[2] = s2;
}
#endif

/* rescale (DSP path): EDGEC_FC_NARROW_SSAT, EDGEC_FC_NARROW or EDGEC_FC_GENERAL (edgec_fc.h), a
 * constant at each call site; the other paths rescale as p says. */
EDGEC_FORCE_INLINE void edgec_fc_body(const edgec_fc_params *p, const int8_t *input, int8_t *output,
                                      const int rescale)
{
    const int8_t *const weights = p->weights;
    const int32_t *const bias = p->bias;
    const int32_t batches = p->batches, n = p->in_features, out_n = p->out_features;
    int32_t b, o, k;
#if defined(EDGEC_DSP)
    int32_t s[EDGEC_FC_CHUNK];
#endif
    for (b = 0; b < batches; b++) {
        const int8_t *x = input + b * n;
        int8_t *y = output + b * out_n;
#if defined(EDGEC_DSP)
        for (o = 0; o < out_n; o += EDGEC_FC_CHUNK) {
            const int32_t rows = edgec_min(EDGEC_FC_CHUNK, out_n - o);
            for (k = 0; k + 3 <= rows; k += 3) {
                s[k] = bias[o + k];
                s[k + 1] = bias[o + k + 1];
                s[k + 2] = bias[o + k + 2];
                edgec_fc_rows3(x, weights + (o + k) * n, n, s + k);
            }
            for (; k < rows; k++) {
                s[k] = bias[o + k] + edgec_dot_s8(x, weights + (o + k) * n, n);
            }
            if (rescale == EDGEC_FC_NARROW_SSAT) {
                edgec_fc_rescale_body(p, s, rows, o, y + o, 1, 2);
            } else if (rescale == EDGEC_FC_NARROW) {
                edgec_fc_rescale_body(p, s, rows, o, y + o, 1, 0);
            } else {
                edgec_fc_rescale_body(p, s, rows, o, y + o, 0, 0);
            }
        }
#else
        for (o = 0; o < out_n; o++) {
            const int32_t q = p->per_channel ? o : 0;
            const int32_t acc = bias[o] + edgec_dot_s8(x, weights + o * n, n);
            y[o] = edgec_requantize(p->narrow, acc, p->multiplier[q], p->shift[q], p->output_zp, p->act_min,
                                    p->act_max);
        }
        (void)k;
        (void)rescale;
#endif
    }
}

/* One function per rescale: an engine links those its layers use. */
void edgec_fully_connected_narrow_ssat_s8(const edgec_fc_params *p, const int8_t *input, int8_t *output)
{
    edgec_fc_body(p, input, output, EDGEC_FC_NARROW_SSAT);
}

void edgec_fully_connected_narrow_s8(const edgec_fc_params *p, const int8_t *input, int8_t *output)
{
    edgec_fc_body(p, input, output, EDGEC_FC_NARROW);
}

void edgec_fully_connected_general_s8(const edgec_fc_params *p, const int8_t *input, int8_t *output)
{
    edgec_fc_body(p, input, output, EDGEC_FC_GENERAL);
}
