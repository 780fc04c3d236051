/* edgec C engine: convolution over SPARSE_DELTA rows, blocks of 8 pixels (see edgec_packed_pw8.h). */
#include "edgec_packed_pw8.h"

/* acc[j] + one SPARSE_DELTA row's dot product with the 8 pixels of an interleaved block (tap k of
 * pixel j at x[8 * k + j], j = 0..7); returns the stream past the row. */
EDGEC_FORCE_INLINE const uint8_t *edgec_pk_delta8(const uint8_t *s, int32_t count_bytes, const int8_t *x,
                                                  int32_t *acc)
{
    const uint32_t pairs = count_bytes == 1 ? s[0] : (uint32_t)s[0] | ((uint32_t)s[1] << 8);
    const uint8_t *const end = s + count_bytes + 3u * pairs;
    int32_t a0 = acc[0], a1 = acc[1], a2 = acc[2], a3 = acc[3], a4 = acc[4], a5 = acc[5], a6 = acc[6], a7 = acc[7];
    s += count_bytes;
/* fourteen registers: gcc finds them when it optimises and keeps no frame pointer (else the C loop;
 * EDGEC_NO_ASM selects it for a build with -fno-omit-frame-pointer) */
#if defined(__GNUC__) && defined(__thumb2__) && defined(__ARM_FEATURE_DSP) && defined(__OPTIMIZE__) && \
    !defined(EDGEC_NO_ASM)
    {
        uint32_t d, v, t, u;
/* the 8 pixels of the tap at x times v: 2 words, 4 SXTB16, 8 SMLAxy */
#define EDGEC_PK_DELTA8_TAP                                                                        \
    "ldr %[t], [%[x]]\n\t"                                                                         \
    "sxtb16 %[u], %[t]\n\t"                                                                        \
    "smlabb %[a0], %[v], %[u], %[a0]\n\t"                                                          \
    "smlabt %[a2], %[v], %[u], %[a2]\n\t"                                                          \
    "sxtb16 %[u], %[t], ror #8\n\t"                                                                \
    "smlabb %[a1], %[v], %[u], %[a1]\n\t"                                                          \
    "smlabt %[a3], %[v], %[u], %[a3]\n\t"                                                          \
    "ldr %[t], [%[x], #4]\n\t"                                                                     \
    "sxtb16 %[u], %[t]\n\t"                                                                        \
    "smlabb %[a4], %[v], %[u], %[a4]\n\t"                                                          \
    "smlabt %[a6], %[v], %[u], %[a6]\n\t"                                                          \
    "sxtb16 %[u], %[t], ror #8\n\t"                                                                \
    "smlabb %[a5], %[v], %[u], %[a5]\n\t"                                                          \
    "smlabt %[a7], %[v], %[u], %[a7]\n\t"
/* one entry pair, 8 pixels: 34 instructions for 16 MACs */
#define EDGEC_PK_DELTA8_PAIR                                                                       \
    "ldrb %[d], [%[s]], #3\n\t"                                                                    \
    "ldrsb %[v], [%[s], #-2]\n\t"                                                                  \
    "and %[t], %[d], #15\n\t"                                                                      \
    "add %[x], %[x], %[t], lsl #3\n\t" EDGEC_PK_DELTA8_TAP                                         \
    "ldrsb %[v], [%[s], #-1]\n\t"                                                                  \
    "lsr %[t], %[d], #4\n\t"                                                                       \
    "add %[x], %[x], %[t], lsl #3\n\t" EDGEC_PK_DELTA8_TAP
#define EDGEC_PK_DELTA8_OPERANDS                                                                   \
    : [s] "+r"(s), [x] "+r"(x), [a0] "+r"(a0), [a1] "+r"(a1), [a2] "+r"(a2), [a3] "+r"(a3), [a4] "+r"(a4), \
      [a5] "+r"(a5), [a6] "+r"(a6), [a7] "+r"(a7), [d] "=&r"(d), [v] "=&r"(v), [t] "=&r"(t), [u] "=&r"(u) \
    : [end] "m"(end)                                                                               \
    : "cc", "memory"
        if (pairs & 1u) {
            __asm__(EDGEC_PK_DELTA8_PAIR EDGEC_PK_DELTA8_OPERANDS);
        }
        if (s < end) { /* two pairs a turn */
            __asm__("1:\n\t" EDGEC_PK_DELTA8_PAIR EDGEC_PK_DELTA8_PAIR
                    "ldr %[t], %[end]\n\t"
                    "cmp %[s], %[t]\n\t"
                    "blo 1b" EDGEC_PK_DELTA8_OPERANDS);
        }
#undef EDGEC_PK_DELTA8_TAP
#undef EDGEC_PK_DELTA8_PAIR
#undef EDGEC_PK_DELTA8_OPERANDS
    }
#else
    for (; s < end; s += 3) {
        const uint32_t d = s[0];
        int32_t v = (int8_t)s[1];
        x += 8 * (d & 15u);
        a0 += v * x[0];
        a1 += v * x[1];
        a2 += v * x[2];
        a3 += v * x[3];
        a4 += v * x[4];
        a5 += v * x[5];
        a6 += v * x[6];
        a7 += v * x[7];
        v = (int8_t)s[2];
        x += 8 * (d >> 4);
        a0 += v * x[0];
        a1 += v * x[1];
        a2 += v * x[2];
        a3 += v * x[3];
        a4 += v * x[4];
        a5 += v * x[5];
        a6 += v * x[6];
        a7 += v * x[7];
    }
#endif
    acc[0] = a0;
    acc[1] = a1;
    acc[2] = a2;
    acc[3] = a3;
    acc[4] = a4;
    acc[5] = a5;
    acc[6] = a6;
    acc[7] = a7;
    return end;
}

/* n taps from src into the block column col (one byte every 8: the pixel's slot), a word at a time. */
static inline void edgec_pk_scatter8(int8_t *col, const int8_t *src, int32_t n)
{
    int32_t i = 0;
    for (; i + 4 <= n; i += 4, col += 32) {
        uint32_t v;
        memcpy(&v, src + i, 4);
        col[0] = (int8_t)v;
        col[8] = (int8_t)(v >> 8);
        col[16] = (int8_t)(v >> 16);
        col[24] = (int8_t)(v >> 24);
    }
    for (; i < n; i++, col += 8) {
        col[0] = src[i];
    }
}

/* Output pixel t's window into its slot of the block (tap k at col[8 * k]); padding taps = input_zp. */
static void edgec_pk_gather8(const edgec_conv_params *p, const int8_t *in_b, int32_t t, int8_t *col)
{
    const int32_t c = p->in_c;
    const int32_t iy0 = (t / p->out_w) * p->stride_h - p->pad_top, ix0 = (t % p->out_w) * p->stride_w - p->pad_left;
    const int whole_rows = p->dilation_w == 1 && ix0 >= 0 && ix0 + p->kernel_w <= p->in_w;
    const int32_t len = p->kernel_w * c;
    int32_t ky, kx, i;
    for (ky = 0; ky < p->kernel_h; ky++) {
        const int32_t iy = iy0 + ky * p->dilation_h;
        if (iy >= 0 && iy < p->in_h && whole_rows) { /* the kernel row is contiguous input */
            edgec_pk_scatter8(col, in_b + (iy * p->in_w + ix0) * c, len);
            col += 8 * len;
            continue;
        }
        for (kx = 0; kx < p->kernel_w; kx++, col += 8 * c) {
            const int32_t ix = ix0 + kx * p->dilation_w;
            if (iy < 0 || iy >= p->in_h || ix < 0 || ix >= p->in_w) {
                for (i = 0; i < c; i++) {
                    col[8 * i] = (int8_t)p->input_zp;
                }
            } else {
                edgec_pk_scatter8(col, in_b + (iy * p->in_w + ix) * c, c);
            }
        }
    }
}

void edgec_conv2d_delta8_s8(const edgec_conv_params *p, const edgec_packed *w, const int8_t *input, int8_t *output,
                            int8_t *scratch)
{
    const int32_t c = p->in_c, oc_n = p->out_c, pixels = p->out_h * p->out_w, count_bytes = w->index_bits / 8;
    const int32_t zp = p->output_zp, lo = p->act_min, hi = p->act_max;
    const int narrow = p->narrow;
    int32_t b, t, oc, j;
    for (b = 0; b < p->batches; b++) {
        const int8_t *in_b = input + b * p->in_h * p->in_w * c;
        int8_t *out_b = output + b * pixels * oc_n;
        for (t = 0; t < pixels; t += 8) {
            const int32_t n = edgec_min(8, pixels - t);
            const uint8_t *s = w->values;
            int8_t *out = out_b + t * oc_n;
            for (j = 0; j < 8; j++) { /* a last block of fewer pixels repeats its first */
                edgec_pk_gather8(p, in_b, t + (j < n ? j : 0), scratch + j);
            }
            for (oc = 0; oc < oc_n; oc++) {
                int32_t acc[8];
                const int32_t bias = p->bias[oc], m = p->multiplier[oc], sh = p->shift[oc];
                acc[0] = acc[1] = acc[2] = acc[3] = acc[4] = acc[5] = acc[6] = acc[7] = bias;
                s = edgec_pk_delta8(s, count_bytes, scratch, acc);
                for (j = 0; j < n; j++) {
                    out[j * oc_n + oc] = edgec_requantize(narrow, acc[j], m, sh, zp, lo, hi);
                }
            }
        }
    }
}
