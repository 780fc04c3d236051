/* edgec C engine: pointwise convolution over clustered weights, tiles of pixels copied to scratch
 * (see edgec_packed_pwt.h). The arithmetic is the dense kernel's: the same int8 weights and inputs,
 * the bias (input offset folded in) and output stage; only the order of the integer sums differs. */
#include "edgec_packed_pwt.h"

/* Rows `row` and `row + 1` (the same row twice when it is the last) decoded into dst: per group of
 * 4 taps k..k+3, the int16 pairs (w_k, w_k+2), (w_k+1, w_k+3) of the first row, then of the second
 * (what SXTB16 and SXTB16 ROR 8 make of a word of input); taps past the last are 0. */
static void edgec_pwt_decode(const edgec_packed *w, int32_t row, int32_t pair, int32_t groups, int32_t *dst)
{
    const int32_t taps = w->taps, bits = w->index_bits;
    int32_t r, g, j;
    for (r = 0; r < 2; r++) {
        const int32_t at = pair ? row + r : row;
        const int8_t *cb = edgec_codebook(w, at);
        int32_t *d = dst + 2 * r;
        if (bits == 4 && (taps & 3) == 0) { /* two indices a byte, the row byte-aligned */
            const uint8_t *s = w->values + (uint32_t)at * (uint32_t)taps / 2u;
            for (g = 0; g < groups; g++, s += 2, d += 4) {
                const uint32_t a = s[0], b = s[1];
                d[0] = (int32_t)((uint32_t)(uint16_t)cb[a & 15u] | ((uint32_t)(int32_t)cb[b & 15u] << 16));
                d[1] = (int32_t)((uint32_t)(uint16_t)cb[a >> 4] | ((uint32_t)(int32_t)cb[b >> 4] << 16));
            }
        } else {
            edgec_bitreader br;
            edgec_br_init(&br, w->values, (uint32_t)at * (uint32_t)taps * (uint32_t)bits);
            for (g = 0; g < groups; g++, d += 4) {
                int32_t v[4];
                for (j = 0; j < 4; j++) {
                    v[j] = 4 * g + j < taps ? (int32_t)cb[edgec_br_get(&br, bits)] : 0;
                }
                d[0] = (int32_t)((uint32_t)(uint16_t)v[0] | ((uint32_t)v[2] << 16));
                d[1] = (int32_t)((uint32_t)(uint16_t)v[1] | ((uint32_t)v[3] << 16));
            }
        }
    }
}

#if defined(EDGEC_DSP) && defined(__ARM_FEATURE_DSP) && defined(__GNUC__) && !defined(EDGEC_NO_DSP) && \
    !defined(EDGEC_NO_ASM)
/* One group of 4 taps: the input words of the two pixels (pointers advanced), unpacked by SXTB16,
 * against the decoded words of the two rows (advanced by 16 bytes): 16 instructions, 16 MACs. */
#define EDGEC_PWT_GROUP "ldr %[xa], [%[x0]], #4\n\t"                                                       \
                        "ldr %[xb], [%[x1]], #4\n\t"                                                       \
                        "ldrd %[wl], %[wh], [%[w]], #16\n\t"                                                \
                        "sxtb16 %[t], %[xa]\n\t"                                                           \
                        "sxtb16 %[xa], %[xa], ror #8\n\t"                                                  \
                        "smlad %[a00], %[wl], %[t], %[a00]\n\t"                                            \
                        "smlad %[a00], %[wh], %[xa], %[a00]\n\t"                                           \
                        "sxtb16 %[u], %[xb]\n\t"                                                           \
                        "sxtb16 %[xb], %[xb], ror #8\n\t"                                                  \
                        "smlad %[a01], %[wl], %[u], %[a01]\n\t"                                            \
                        "smlad %[a01], %[wh], %[xb], %[a01]\n\t"                                           \
                        "ldrd %[wl], %[wh], [%[w], #-8]\n\t"                                                \
                        "smlad %[a10], %[wl], %[t], %[a10]\n\t"                                            \
                        "smlad %[a10], %[wh], %[xa], %[a10]\n\t"                                           \
                        "smlad %[a11], %[wl], %[u], %[a11]\n\t"                                            \
                        "smlad %[a11], %[wh], %[xb], %[a11]\n\t"
#define EDGEC_PWT_ASM(TEXT)                                                                              \
    __asm__(TEXT                                                                                         \
            : [a00] "+r"(a00), [a01] "+r"(a01), [a10] "+r"(a10), [a11] "+r"(a11), [x0] "+r"(x0),         \
              [x1] "+r"(x1), [w] "+r"(wp), [xa] "=&r"(xa), [xb] "=&r"(xb), [t] "=&r"(t), [u] "=&r"(u),    \
              [wl] "=&r"(wl), [wh] "=&r"(wh)                                                             \
            :                                                                                            \
            : "memory")
#endif

/* acc = {row 0 . pixel 0, row 0 . pixel 1, row 1 . pixel 0, row 1 . pixel 1} over `groups` groups of
 * the decoded rows wd and the input words of the two pixels. */
static inline void edgec_pwt_mac(const int32_t *wd, const int8_t *x0, const int8_t *x1, int32_t groups,
                                 int32_t *acc)
{
    int32_t a00 = 0, a01 = 0, a10 = 0, a11 = 0;
#if defined(EDGEC_PWT_ASM)
    const int32_t *wp = wd;
    const int32_t *const end = wd + 4 * groups, *const end4 = wd + 16 * (groups >> 2);
    int32_t xa, xb, t, u, wl, wh;
    while (wp != end4) {
        EDGEC_PWT_ASM(EDGEC_PWT_GROUP EDGEC_PWT_GROUP EDGEC_PWT_GROUP EDGEC_PWT_GROUP);
    }
    while (wp != end) {
        EDGEC_PWT_ASM(EDGEC_PWT_GROUP);
    }
#elif defined(EDGEC_DSP)
    int32_t g;
    for (g = 0; g < groups; g++, wd += 4, x0 += 4, x1 += 4) {
        int32_t xa, xb;
        memcpy(&xa, x0, 4);
        memcpy(&xb, x1, 4);
        {
            const int32_t xa_lo = edgec_sxtb16(xa), xa_hi = edgec_sxtb16_ror8(xa);
            const int32_t xb_lo = edgec_sxtb16(xb), xb_hi = edgec_sxtb16_ror8(xb);
            a00 = edgec_smlad(wd[1], xa_hi, edgec_smlad(wd[0], xa_lo, a00));
            a01 = edgec_smlad(wd[1], xb_hi, edgec_smlad(wd[0], xb_lo, a01));
            a10 = edgec_smlad(wd[3], xa_hi, edgec_smlad(wd[2], xa_lo, a10));
            a11 = edgec_smlad(wd[3], xb_hi, edgec_smlad(wd[2], xb_lo, a11));
        }
    }
#else
    int32_t g;
    for (g = 0; g < groups; g++, wd += 4, x0 += 4, x1 += 4) {
        /* the decoded words hold taps (0, 2) and (1, 3) of the group, low half first */
        const int32_t p0 = (int16_t)wd[0], p2 = (int16_t)((uint32_t)wd[0] >> 16);
        const int32_t p1 = (int16_t)wd[1], p3 = (int16_t)((uint32_t)wd[1] >> 16);
        const int32_t q0 = (int16_t)wd[2], q2 = (int16_t)((uint32_t)wd[2] >> 16);
        const int32_t q1 = (int16_t)wd[3], q3 = (int16_t)((uint32_t)wd[3] >> 16);
        a00 += p0 * x0[0] + p1 * x0[1] + p2 * x0[2] + p3 * x0[3];
        a01 += p0 * x1[0] + p1 * x1[1] + p2 * x1[2] + p3 * x1[3];
        a10 += q0 * x0[0] + q1 * x0[1] + q2 * x0[2] + q3 * x0[3];
        a11 += q0 * x1[0] + q1 * x1[1] + q2 * x1[2] + q3 * x1[3];
    }
#endif
    acc[0] = a00;
    acc[1] = a01;
    acc[2] = a10;
    acc[3] = a11;
}

void edgec_conv2d_pwt_s8(const edgec_conv_params *p, const edgec_packed *w, int32_t tile, const int8_t *input,
                         int8_t *output, int32_t *scratch)
{
    const int32_t cin = p->in_c, groups = (cin + 3) / 4, stride = 4 * groups, oc_n = p->out_c;
    const int32_t pixels = p->out_h * p->out_w;
    const edgec_pk_out q = {p->bias, p->multiplier, p->shift, p->output_zp, p->act_min, p->act_max, p->narrow};
    int32_t *const rows = scratch;                            /* [groups][4] words: two decoded rows */
    int8_t *const xt = (int8_t *)(void *)(scratch + 4 * groups); /* [tile][stride] the tile's input */
    int32_t b, t0, i, oc;
    for (b = 0; b < p->batches; b++) {
        const int8_t *in_b = input + b * pixels * cin;
        int8_t *out_b = output + b * pixels * oc_n;
        for (t0 = 0; t0 < pixels; t0 += tile) {
            const int32_t n = edgec_min(tile, pixels - t0);
            int8_t *const out_t = out_b + t0 * oc_n;
            if (stride == cin) {
                memcpy(xt, in_b + t0 * cin, (size_t)(n * cin));
            } else {
                for (i = 0; i < n; i++) { /* the pad bytes meet zero weights: their value does not matter */
                    memcpy(xt + i * stride, in_b + (t0 + i) * cin, (size_t)cin);
                }
            }
            for (oc = 0; oc < oc_n; oc += 2) {
                const int pair = oc + 1 < oc_n;
                edgec_pwt_decode(w, oc, pair, groups, rows);
                for (i = 0; i < n; i += 2) {
                    const int two = i + 1 < n;
                    const int8_t *x0 = xt + i * stride;
                    int32_t acc[4];
                    edgec_pwt_mac(rows, x0, two ? x0 + stride : x0, groups, acc);
                    out_t[i * oc_n + oc] = edgec_pk_requant(&q, oc, acc[0]);
                    if (pair) {
                        out_t[i * oc_n + oc + 1] = edgec_pk_requant(&q, oc + 1, acc[2]);
                    }
                    if (two) {
                        out_t[(i + 1) * oc_n + oc] = edgec_pk_requant(&q, oc, acc[1]);
                        if (pair) {
                            out_t[(i + 1) * oc_n + oc + 1] = edgec_pk_requant(&q, oc + 1, acc[3]);
                        }
                    }
                }
            }
        }
    }
}
