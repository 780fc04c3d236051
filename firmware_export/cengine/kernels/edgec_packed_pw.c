/* edgec C engine: convolution over SPARSE_DELTA rows (see edgec_packed_pw.h). */
#include "edgec_packed_pw.h"

/* acc[j] + one SPARSE_DELTA row's dot product with the 4 pixels x + j * c (j = 0..3); returns the
 * stream past the row. */
EDGEC_FORCE_INLINE const uint8_t *edgec_pk_delta4(const uint8_t *s, int32_t count_bytes, const int8_t *x,
                                                  int32_t c, int32_t *acc)
{
    const uint32_t pairs = count_bytes == 1 ? s[0] : (uint32_t)s[0] | ((uint32_t)s[1] << 8);
    const uint8_t *const end = s + count_bytes + 3u * pairs;
    int32_t a0 = acc[0], a1 = acc[1], a2 = acc[2], a3 = acc[3];
    s += count_bytes;
#if defined(__GNUC__) && defined(__thumb2__)
    {
        const int32_t c3 = 3 * c;
        uint32_t d, v, t;
/* one entry pair, 4 pixels: 24 instructions for 8 MACs */
#define EDGEC_PK_DELTA4_PAIR                                                                       \
    "ldrb %[d], [%[s]], #3\n\t"                                                                    \
    "ldrsb %[v], [%[s], #-2]\n\t"                                                                  \
    "and %[t], %[d], #15\n\t"                                                                      \
    "add %[x], %[x], %[t]\n\t"                                                                     \
    "ldrsb %[t], [%[x]]\n\t"                                                                       \
    "mla %[a0], %[v], %[t], %[a0]\n\t"                                                             \
    "ldrsb %[t], [%[x], %[c]]\n\t"                                                                 \
    "mla %[a1], %[v], %[t], %[a1]\n\t"                                                             \
    "ldrsb %[t], [%[x], %[c], lsl #1]\n\t"                                                         \
    "mla %[a2], %[v], %[t], %[a2]\n\t"                                                             \
    "ldrsb %[t], [%[x], %[c3]]\n\t"                                                                \
    "mla %[a3], %[v], %[t], %[a3]\n\t"                                                             \
    "ldrsb %[v], [%[s], #-1]\n\t"                                                                  \
    "add %[x], %[x], %[d], lsr #4\n\t"                                                             \
    "ldrsb %[t], [%[x]]\n\t"                                                                       \
    "mla %[a0], %[v], %[t], %[a0]\n\t"                                                             \
    "ldrsb %[t], [%[x], %[c]]\n\t"                                                                 \
    "mla %[a1], %[v], %[t], %[a1]\n\t"                                                             \
    "ldrsb %[t], [%[x], %[c], lsl #1]\n\t"                                                         \
    "mla %[a2], %[v], %[t], %[a2]\n\t"                                                             \
    "ldrsb %[t], [%[x], %[c3]]\n\t"                                                                \
    "mla %[a3], %[v], %[t], %[a3]\n\t"
#define EDGEC_PK_DELTA4_OPERANDS                                                                   \
    : [s] "+r"(s), [x] "+r"(x), [a0] "+r"(a0), [a1] "+r"(a1), [a2] "+r"(a2), [a3] "+r"(a3), [d] "=&r"(d), \
      [v] "=&r"(v), [t] "=&r"(t)                                                                   \
    : [end] "r"(end), [c] "r"(c), [c3] "r"(c3)                                                     \
    : "cc", "memory"
        if (pairs & 1u) {
            __asm__(EDGEC_PK_DELTA4_PAIR EDGEC_PK_DELTA4_OPERANDS);
        }
        if (pairs & 2u) {
            __asm__(EDGEC_PK_DELTA4_PAIR EDGEC_PK_DELTA4_PAIR EDGEC_PK_DELTA4_OPERANDS);
        }
        if (s < end) { /* four pairs a turn */
            __asm__("1:\n\t" EDGEC_PK_DELTA4_PAIR EDGEC_PK_DELTA4_PAIR EDGEC_PK_DELTA4_PAIR EDGEC_PK_DELTA4_PAIR
                    "cmp %[s], %[end]\n\t"
                    "blo 1b" EDGEC_PK_DELTA4_OPERANDS);
        }
#undef EDGEC_PK_DELTA4_PAIR
#undef EDGEC_PK_DELTA4_OPERANDS
    }
#else
    for (; s < end; s += 3) {
        const uint32_t d = s[0];
        int32_t v = (int8_t)s[1];
        x += d & 15u;
        a0 += v * x[0];
        a1 += v * x[c];
        a2 += v * x[2 * c];
        a3 += v * x[3 * c];
        v = (int8_t)s[2];
        x += d >> 4;
        a0 += v * x[0];
        a1 += v * x[c];
        a2 += v * x[2 * c];
        a3 += v * x[3 * c];
    }
#endif
    acc[0] = a0;
    acc[1] = a1;
    acc[2] = a2;
    acc[3] = a3;
    return end;
}

/* n bytes from src to dst, a word at a time (short runs: cheaper than a call to memcpy). */
static inline void edgec_pk_copy(int8_t *dst, const int8_t *src, int32_t n)
{
    int32_t i = 0;
    for (; i + 16 <= n; i += 16) {
        uint32_t v0, v1, v2, v3;
        memcpy(&v0, src + i, 4);
        memcpy(&v1, src + i + 4, 4);
        memcpy(&v2, src + i + 8, 4);
        memcpy(&v3, src + i + 12, 4);
        memcpy(dst + i, &v0, 4);
        memcpy(dst + i + 4, &v1, 4);
        memcpy(dst + i + 8, &v2, 4);
        memcpy(dst + i + 12, &v3, 4);
    }
    for (; i + 4 <= n; i += 4) {
        uint32_t v;
        memcpy(&v, src + i, 4);
        memcpy(dst + i, &v, 4);
    }
    for (; i < n; i++) {
        dst[i] = src[i];
    }
}

/* Output pixel t's window as its taps (ky, kx, c) into col[taps]; padding taps = input_zp. */
static void edgec_pk_im2col(const edgec_conv_params *p, const int8_t *in_b, int32_t t, int8_t *col)
{
    const int32_t c = p->in_c, len = p->kernel_w * c;
    const int32_t iy0 = (t / p->out_w) * p->stride_h - p->pad_top, ix0 = (t % p->out_w) * p->stride_w - p->pad_left;
    const int whole_rows = p->dilation_w == 1 && ix0 >= 0 && ix0 + p->kernel_w <= p->in_w;
    int32_t ky, kx, i;
    for (ky = 0; ky < p->kernel_h; ky++, col += len) {
        const int32_t iy = iy0 + ky * p->dilation_h;
        const int8_t *row = in_b + iy * p->in_w * c;
        if (iy < 0 || iy >= p->in_h) {
            memset(col, p->input_zp, (size_t)len);
        } else if (whole_rows) {
            edgec_pk_copy(col, row + ix0 * c, len);
        } else {
            for (kx = 0; kx < p->kernel_w; kx++) {
                const int32_t ix = ix0 + kx * p->dilation_w;
                int8_t *dst = col + kx * c;
                if (ix < 0 || ix >= p->in_w) {
                    for (i = 0; i < c; i++) {
                        dst[i] = (int8_t)p->input_zp;
                    }
                } else {
                    edgec_pk_copy(dst, row + ix * c, c);
                }
            }
        }
    }
}

/* Every output channel of a tile of 4 pixels (their taps at x + j * step): walk the row, then the
 * 4 outputs. Inlined with narrow constant, so that neither variant tests it per output. */
EDGEC_FORCE_INLINE void edgec_pk_delta_tile(const edgec_conv_params *p, const uint8_t *s, const int8_t *x,
                                            int32_t step, int8_t *out, const int narrow, int32_t count_bytes)
{
    const int32_t oc_n = p->out_c, zp = p->output_zp, lo = p->act_min, hi = p->act_max;
    const int32_t *bias = p->bias, *mult = p->multiplier;
    const int8_t *shift = p->shift;
    int8_t *const end = out + oc_n;
    for (; out < end; out++) {
        int32_t acc[4];
        const int32_t b = *bias++;
        acc[0] = acc[1] = acc[2] = acc[3] = b;
        s = edgec_pk_delta4(s, count_bytes, x, step, acc);
        {
            const int32_t m = *mult++, sh = *shift++;
            out[0] = edgec_requantize(narrow, acc[0], m, sh, zp, lo, hi);
            out[oc_n] = edgec_requantize(narrow, acc[1], m, sh, zp, lo, hi);
            out[2 * oc_n] = edgec_requantize(narrow, acc[2], m, sh, zp, lo, hi);
            out[3 * oc_n] = edgec_requantize(narrow, acc[3], m, sh, zp, lo, hi);
        }
    }
}

void edgec_conv2d_delta_s8(const edgec_conv_params *p, const edgec_packed *w, const int8_t *input, int8_t *output,
                           int8_t *scratch)
{
    const int32_t c = p->in_c, oc_n = p->out_c, pixels = p->out_h * p->out_w, count_bytes = w->index_bits / 8;
    const int32_t taps = w->taps;
    const int pointwise = scratch == NULL;
    const int32_t step = pointwise ? c : taps; /* from one pixel's taps to the next one's */
    const int32_t *const bias = p->bias, *const mult = p->multiplier;
    const int8_t *const shift = p->shift;
    const int32_t zp = p->output_zp, lo = p->act_min, hi = p->act_max;
    const int narrow = p->narrow;
    int32_t b, t, oc, j;
    for (b = 0; b < p->batches; b++) {
        const int8_t *in_b = input + b * p->in_h * p->in_w * c;
        int8_t *out_b = output + b * pixels * oc_n;
        for (t = 0; t + 4 <= pixels; t += 4) {
            const int8_t *x = in_b + t * c;
            int8_t *out = out_b + t * oc_n;
            if (!pointwise) {
                for (j = 0; j < 4; j++) {
                    edgec_pk_im2col(p, in_b, t + j, scratch + j * taps);
                }
                x = scratch;
            }
            if (narrow) {
                edgec_pk_delta_tile(p, w->values, x, step, out, 1, count_bytes);
            } else {
                edgec_pk_delta_tile(p, w->values, x, step, out, 0, count_bytes);
            }
        }
        for (; t < pixels; t++) {
            const uint8_t *s = w->values;
            const int8_t *x = in_b + t * c;
            if (!pointwise) {
                edgec_pk_im2col(p, in_b, t, scratch);
                x = scratch;
            }
            for (oc = 0; oc < oc_n; oc++) {
                out_b[t * oc_n + oc] = edgec_requantize(narrow, edgec_pk_fc_delta(&s, count_bytes, x, bias[oc]),
                                                        mult[oc], shift[oc], zp, lo, hi);
            }
        }
    }
}
