/* edgec C engine: pointwise convolution over SPARSE_DELTA rows (see edgec_packed_pw.h). */
#include "edgec_packed_pw.h"

/* acc[j] + one SPARSE_DELTA row's dot product with the 4 pixels x + j * c (j = 0..3); returns the
 * stream past the row. */
static const uint8_t *edgec_pk_delta4(const uint8_t *s, int32_t count_bytes, const int8_t *x, int32_t c,
                                      int32_t *acc)
{
    const uint32_t pairs = count_bytes == 1 ? s[0] : (uint32_t)s[0] | ((uint32_t)s[1] << 8);
    const uint8_t *const end = s + count_bytes + 3u * pairs;
    int32_t a0 = acc[0], a1 = acc[1], a2 = acc[2], a3 = acc[3];
    s += count_bytes;
#if defined(__GNUC__) && defined(__thumb2__)
    if (s < end) {
        const int32_t c3 = 3 * c;
        uint32_t d, v, t;
        __asm__("1:\n\t"
                "ldrb %[d], [%[s]], #3\n\t"
                "ldrsb %[v], [%[s], #-2]\n\t"
                "and %[t], %[d], #15\n\t"
                "add %[x], %[x], %[t]\n\t"
                "ldrsb %[t], [%[x]]\n\t"
                "mla %[a0], %[v], %[t], %[a0]\n\t"
                "ldrsb %[t], [%[x], %[c]]\n\t"
                "mla %[a1], %[v], %[t], %[a1]\n\t"
                "ldrsb %[t], [%[x], %[c], lsl #1]\n\t"
                "mla %[a2], %[v], %[t], %[a2]\n\t"
                "ldrsb %[t], [%[x], %[c3]]\n\t"
                "mla %[a3], %[v], %[t], %[a3]\n\t"
                "ldrsb %[v], [%[s], #-1]\n\t"
                "add %[x], %[x], %[d], lsr #4\n\t"
                "ldrsb %[t], [%[x]]\n\t"
                "mla %[a0], %[v], %[t], %[a0]\n\t"
                "ldrsb %[t], [%[x], %[c]]\n\t"
                "mla %[a1], %[v], %[t], %[a1]\n\t"
                "ldrsb %[t], [%[x], %[c], lsl #1]\n\t"
                "mla %[a2], %[v], %[t], %[a2]\n\t"
                "ldrsb %[t], [%[x], %[c3]]\n\t"
                "mla %[a3], %[v], %[t], %[a3]\n\t"
                "cmp %[s], %[end]\n\t"
                "blo 1b"
                : [s] "+r"(s), [x] "+r"(x), [a0] "+r"(a0), [a1] "+r"(a1), [a2] "+r"(a2), [a3] "+r"(a3),
                  [d] "=&r"(d), [v] "=&r"(v), [t] "=&r"(t)
                : [end] "r"(end), [c] "r"(c), [c3] "r"(c3)
                : "cc", "memory");
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

void edgec_conv1x1_packed_s8(const edgec_conv_params *p, const edgec_packed *w, const int8_t *input, int8_t *output)
{
    const int32_t c = p->in_c, oc_n = p->out_c, pixels = p->out_h * p->out_w, count_bytes = w->index_bits / 8;
    const edgec_pk_out q = {p->bias, p->multiplier, p->shift, p->output_zp, p->act_min, p->act_max, p->narrow};
    int32_t b, t, oc, j;
    for (b = 0; b < p->batches; b++) {
        const int8_t *in_b = input + b * pixels * c;
        int8_t *out_b = output + b * pixels * oc_n;
        for (t = 0; t + 4 <= pixels; t += 4) {
            const uint8_t *s = w->values;
            for (oc = 0; oc < oc_n; oc++) {
                int32_t acc[4] = {0, 0, 0, 0};
                s = edgec_pk_delta4(s, count_bytes, in_b + t * c, c, acc);
                for (j = 0; j < 4; j++) {
                    out_b[(t + j) * oc_n + oc] = edgec_pk_requant(&q, oc, acc[j]);
                }
            }
        }
        for (; t < pixels; t++) {
            const uint8_t *s = w->values;
            for (oc = 0; oc < oc_n; oc++) {
                out_b[t * oc_n + oc] = edgec_pk_requant(&q, oc, edgec_pk_fc_delta(&s, count_bytes, in_b + t * c, 0));
            }
        }
    }
}

