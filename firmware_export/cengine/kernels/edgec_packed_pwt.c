/* edgec C engine: pointwise convolution over clustered weights, tiles of pixels copied to scratch
 * (see edgec_packed_pwt.h). The arithmetic is the dense kernel's: the same int8 weights and inputs,
 * the bias (input offset folded in) and output stage; only the order of the integer sums differs. */
#include "edgec_packed_pwt.h"

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
/* A row's group of 4 taps from two bytes of 4-bit indices at S (advanced) through the codebook C: the
 * int16 pairs (w0, w2), (w1, w3) stored at d (advanced by 8 bytes). */
#define EDGEC_PWT_DECODE(S, C) "ldrh %[h], [%[" S "]], #2\n\t"                                                \
                               "and %[a], %[h], #15\n\t"                                                     \
                               "ubfx %[b], %[h], #8, #4\n\t"                                                 \
                               "ldrsb %[a], [%[" C "], %[a]]\n\t"                                            \
                               "ldrsb %[b], [%[" C "], %[b]]\n\t"                                            \
                               "ubfx %[e], %[h], #4, #4\n\t"                                                 \
                               "lsr %[f], %[h], #12\n\t"                                                     \
                               "ldrsb %[e], [%[" C "], %[e]]\n\t"                                            \
                               "ldrsb %[f], [%[" C "], %[f]]\n\t"                                            \
                               "pkhbt %[a], %[a], %[b], lsl #16\n\t"                                         \
                               "pkhbt %[e], %[e], %[f], lsl #16\n\t"                                         \
                               "strd %[a], %[e], [%[d]], #8\n\t"
/* Through the pair table: a row's two groups of 4 taps from a word of 4-bit indices at S (advanced),
 * each byte's word of the table (the int16 pair of its two taps) repacked by PKHBT / PKHTB into (w0,
 * w2), (w1, w3), stored at D (advanced by 16 bytes a group): 15 instructions for 8 weights. */
#define EDGEC_PWT_TABLE_GROUP(EA, EB)                                                                     \
    EA EB "ldr %[a], [%[tab], %[a], lsl #2]\n\t"                                                            \
          "ldr %[b], [%[tab], %[b], lsl #2]\n\t"                                                            \
          "pkhbt %[e], %[a], %[b], lsl #16\n\t"                                                             \
          "pkhtb %[f], %[b], %[a], asr #16\n\t"                                                             \
          "strd %[e], %[f], [%[d]], #16\n\t"
#define EDGEC_PWT_TABLE_WORD                                                                              \
    "ldr %[h], [%[s]], #4\n\t" EDGEC_PWT_TABLE_GROUP("uxtb %[a], %[h]\n\t", "uxtb %[b], %[h], ror #8\n\t") \
        EDGEC_PWT_TABLE_GROUP("uxtb %[a], %[h], ror #16\n\t", "lsr %[b], %[h], #24\n\t")
#endif

/* Rows `row` and `row + 1` (the same row twice when it is the last) decoded into dst through the pair
 * table tab (fcpairs.table: word b the int16 pair (code[b & 15], code[b >> 4]) of the two taps whose
 * indices share byte b; 4-bit indices into one codebook, taps a multiple of 8). */
static void edgec_pwt_decode_table(const edgec_packed *w, const int32_t *tab, int32_t row, int32_t pair,
                                   int32_t groups, int32_t *dst)
{
    const int32_t taps = w->taps;
    int32_t r, g;
    for (r = 0; r < 2; r++) {
        const int32_t at = pair ? row + r : row;
        const uint8_t *s = w->values + (uint32_t)at * (uint32_t)taps / 2u;
        int32_t *d = dst + 2 * r;
#if defined(EDGEC_PWT_ASM)
        const int32_t *const end = d + 4 * groups;
        uint32_t h, a, b, e, f;
        (void)g;
        while (d != end) {
            __asm__(EDGEC_PWT_TABLE_WORD
                    : [s] "+r"(s), [d] "+r"(d), [h] "=&r"(h), [a] "=&r"(a), [b] "=&r"(b), [e] "=&r"(e),
                      [f] "=&r"(f)
                    : [tab] "r"(tab)
                    : "memory");
        }
#else
        for (g = 0; g < groups; g++, s += 2, d += 4) {
            const uint32_t t0 = (uint32_t)tab[s[0]], t1 = (uint32_t)tab[s[1]]; /* (w0, w1), (w2, w3) */
            d[0] = (int32_t)((t0 & 0xFFFFu) | (t1 << 16));
            d[1] = (int32_t)((t0 >> 16) | (t1 & 0xFFFF0000u));
        }
#endif
    }
}

/* Rows `row` and `row + 1` (the same row twice when it is the last) decoded into dst: per group of
 * 4 taps k..k+3, the int16 pairs (w_k, w_k+2), (w_k+1, w_k+3) of the first row, then of the second
 * (what SXTB16 and SXTB16 ROR 8 make of a word of input); taps past the last are 0. */
static void edgec_pwt_decode(const edgec_packed *w, int32_t row, int32_t pair, int32_t groups, int32_t *dst)
{
    const int32_t taps = w->taps, bits = w->index_bits;
    int32_t r, g, j;
#if defined(EDGEC_PWT_ASM)
    if (bits == 4 && (taps & 3) == 0) { /* both rows in one pass: 12 instructions a row's group */
        const int32_t second = pair ? row + 1 : row;
        const uint8_t *s0 = w->values + (uint32_t)row * (uint32_t)taps / 2u;
        const uint8_t *s1 = w->values + (uint32_t)second * (uint32_t)taps / 2u;
        const int8_t *c0 = edgec_codebook(w, row), *c1 = edgec_codebook(w, second);
        const int32_t *const end = dst + 4 * groups;
        uint32_t h, a, b, e, f;
        while (dst != end) {
            __asm__(EDGEC_PWT_DECODE("s0", "c0") EDGEC_PWT_DECODE("s1", "c1")
                    : [s0] "+r"(s0), [s1] "+r"(s1), [d] "+r"(dst), [h] "=&r"(h), [a] "=&r"(a), [b] "=&r"(b),
                      [e] "=&r"(e), [f] "=&r"(f)
                    : [c0] "r"(c0), [c1] "r"(c1)
                    : "memory");
        }
        return;
    }
#endif
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


/* acc += {row 0 . pixel 0, row 0 . pixel 1, row 1 . pixel 0, row 1 . pixel 1} over `groups` groups of
 * the decoded rows wd and the input words of the two pixels. */
static inline void edgec_pwt_mac(const int32_t *wd, const int8_t *x0, const int8_t *x1, int32_t groups,
                                 int32_t *acc)
{
    int32_t a00 = acc[0], a01 = acc[1], a10 = acc[2], a11 = acc[3];
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

/* One output: acc (its bias included) rescaled; full: the activation range is all of int8 (the
 * narrow rescale, clamped by one SSAT). Constant at each call site. */
EDGEC_FORCE_INLINE int8_t edgec_pwt_out(int32_t acc, int32_t m, int32_t sh, int32_t zp, int32_t lo, int32_t hi,
                                        int narrow, int full)
{
#if defined(EDGEC_DSP)
    if (full) {
        return (int8_t)edgec_ssat8(edgec_mbqm_narrow(acc, m, sh) + zp);
    }
#else
    (void)full; /* the clamp to lo, hi is the same */
#endif
    return edgec_clamp_s8((narrow ? edgec_mbqm_narrow(acc, m, sh) : edgec_mbqm(acc, m, sh)) + zp, lo, hi);
}

/* Output channels oc and oc + 1 (pair; else oc alone) of the tile's n pixels from the decoded rows:
 * two pixels at a time, the rows' bias, multiplier and shift held across them. */
EDGEC_FORCE_INLINE void edgec_pwt_rows(const edgec_conv_params *p, const int32_t *rows, const int8_t *xt,
                                       int32_t stride, int32_t groups, int32_t n, int32_t oc, int pair,
                                       int8_t *out, int narrow, int full)
{
    const int32_t oc_n = p->out_c, zp = p->output_zp, lo = p->act_min, hi = p->act_max;
    const int32_t oc1 = pair ? oc + 1 : oc;
    const int32_t b0 = p->bias[oc], m0 = p->multiplier[oc], s0 = p->shift[oc];
    const int32_t b1 = p->bias[oc1], m1 = p->multiplier[oc1], s1 = p->shift[oc1];
    int32_t i;
    out += oc;
    for (i = 0; i < n; i += 2, xt += 2 * stride, out += 2 * oc_n) {
        const int two = i + 1 < n;
        int32_t acc[4] = {0, 0, 0, 0};
        edgec_pwt_mac(rows, xt, two ? xt + stride : xt, groups, acc);
        out[0] = edgec_pwt_out(acc[0] + b0, m0, s0, zp, lo, hi, narrow, full);
        if (pair) {
            out[1] = edgec_pwt_out(acc[2] + b1, m1, s1, zp, lo, hi, narrow, full);
        }
        if (two) {
            out[oc_n] = edgec_pwt_out(acc[1] + b0, m0, s0, zp, lo, hi, narrow, full);
            if (pair) {
                out[oc_n + 1] = edgec_pwt_out(acc[3] + b1, m1, s1, zp, lo, hi, narrow, full);
            }
        }
    }
}

void edgec_conv2d_pwt_s8(const edgec_conv_params *p, const edgec_packed *w, const int32_t *pairs, int32_t tile,
                         const int8_t *input, int8_t *output, int32_t *scratch)
{
    const int32_t cin = p->in_c, groups = (cin + 3) / 4, stride = 4 * groups, oc_n = p->out_c;
    const int32_t pixels = p->out_h * p->out_w;
    const int full = p->narrow && p->act_min <= -128 && p->act_max >= 127;
    int32_t *const rows = scratch;                               /* [groups][4] words: two decoded rows */
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
                if (pairs != NULL) {
                    edgec_pwt_decode_table(w, pairs, oc, pair, groups, rows);
                } else {
                    edgec_pwt_decode(w, oc, pair, groups, rows);
                }
                if (full) {
                    edgec_pwt_rows(p, rows, xt, stride, groups, n, oc, pair, out_t, 1, 1);
                } else if (p->narrow) {
                    edgec_pwt_rows(p, rows, xt, stride, groups, n, oc, pair, out_t, 1, 0);
                } else {
                    edgec_pwt_rows(p, rows, xt, stride, groups, n, oc, pair, out_t, 0, 0);
                }
            }
        }
    }
}

/* The window of output pixel px as kernel_h pointers to its rows (kernel_w * in_c bytes each): in
 * the input where the window lies inside and `direct`, else gathered into buf (input_zp outside). */
static void edgec_rows16_window(const edgec_conv_params *p, const int8_t *in_b, int32_t oy, int32_t ox, int direct,
                                int8_t *buf, const int8_t **x)
{
    const int32_t cin = p->in_c, kw = p->kernel_w, kh = p->kernel_h, len = kw * cin;
    const int32_t iy0 = oy * p->stride_h - p->pad_top, ix0 = ox * p->stride_w - p->pad_left;
    const int cols = ix0 >= 0 && ix0 + (kw - 1) * p->dilation_w < p->in_w;
    int32_t ky, kx;
    if (direct && cols && p->dilation_w == 1 && iy0 >= 0 && iy0 + (kh - 1) * p->dilation_h < p->in_h) {
        const int32_t step = p->dilation_h * p->in_w * cin;
        const int8_t *at = in_b + (iy0 * p->in_w + ix0) * cin;
        for (ky = 0; ky < kh; ky++, at += step) {
            x[ky] = at;
        }
        return;
    }
    for (ky = 0; ky < kh; ky++) {
        const int32_t iy = iy0 + ky * p->dilation_h;
        const int row = iy >= 0 && iy < p->in_h;
        if (direct && row && cols && p->dilation_w == 1) {
            x[ky] = in_b + (iy * p->in_w + ix0) * cin;
            continue;
        }
        for (kx = 0; kx < kw; kx++) {
            const int32_t ix = ix0 + kx * p->dilation_w;
            if (row && ix >= 0 && ix < p->in_w) {
                memcpy(buf + kx * cin, in_b + (iy * p->in_w + ix) * cin, (size_t)cin);
            } else {
                memset(buf + kx * cin, (int)(int8_t)p->input_zp, (size_t)cin);
            }
        }
        x[ky] = buf;
        buf += len;
    }
}

void edgec_conv2d_rows16_s8(const edgec_conv_params *p, const edgec_packed *w, int32_t rows, const int8_t *input,
                            int8_t *output, int32_t *scratch)
{
    const int32_t cin = p->in_c, taps = w->taps, groups = taps / 4, row_groups = p->kernel_w * cin / 4;
    const int32_t kh = p->kernel_h, oc_n = p->out_c, pixels = p->out_h * p->out_w;
    const int32_t pairs = (rows + 1) / 2;
    const int full = p->narrow && p->act_min <= -128 && p->act_max >= 127;
    const int32_t zp = p->output_zp, lo = p->act_min, hi = p->act_max;
    int8_t *const buf0 = (int8_t *)(void *)(scratch + 4 * groups * pairs); /* two gathered windows */
    int8_t *const buf1 = buf0 + taps;
    const int direct = rows < oc_n; /* the output apart from the input (inplace.py): windows read in place */
    const int8_t *x0[EDGEC_ROWS16_MAX_KH], *x1[EDGEC_ROWS16_MAX_KH];
    int32_t b, c0, r, px, ky;
    for (c0 = 0; c0 < oc_n; c0 += rows) {
        const int32_t n = edgec_min(rows, oc_n - c0);
        for (r = 0; r < n; r += 2) {
            edgec_pwt_decode(w, c0 + r, r + 1 < n, groups, scratch + 4 * groups * (r / 2));
        }
        for (b = 0; b < p->batches; b++) {
            const int8_t *in_b = input + b * p->in_h * p->in_w * cin;
            int8_t *out_b = output + b * pixels * oc_n;
            int32_t oy = 0, ox = 0; /* pixel px */
            for (px = 0; px < pixels; px += 2) {
                const int two = px + 1 < pixels;
                int8_t *o0 = out_b + px * oc_n + c0, *o1 = two ? o0 + oc_n : o0;
                edgec_rows16_window(p, in_b, oy, ox, direct, buf0, x0);
                if (++ox == p->out_w) {
                    ox = 0;
                    oy++;
                }
                if (two) {
                    edgec_rows16_window(p, in_b, oy, ox, direct, buf1, x1);
                    if (++ox == p->out_w) {
                        ox = 0;
                        oy++;
                    }
                } else {
                    for (ky = 0; ky < kh; ky++) {
                        x1[ky] = x0[ky];
                    }
                }
                for (r = 0; r < n; r += 2) {
                    const int pair = r + 1 < n;
                    const int32_t *wd = scratch + 4 * groups * (r / 2);
                    const int32_t oc = c0 + r, oc1 = pair ? oc + 1 : oc;
                    int32_t acc[4];
                    acc[0] = acc[1] = p->bias[oc];
                    acc[2] = acc[3] = p->bias[oc1];
                    for (ky = 0; ky < kh; ky++) {
                        edgec_pwt_mac(wd + 4 * row_groups * ky, x0[ky], x1[ky], row_groups, acc);
                    }
                    if (full) {
                        o0[r] = edgec_pwt_out(acc[0], p->multiplier[oc], p->shift[oc], zp, lo, hi, 1, 1);
                        o1[r] = edgec_pwt_out(acc[1], p->multiplier[oc], p->shift[oc], zp, lo, hi, 1, 1);
                        if (pair) {
                            o0[r + 1] = edgec_pwt_out(acc[2], p->multiplier[oc1], p->shift[oc1], zp, lo, hi, 1, 1);
                            o1[r + 1] = edgec_pwt_out(acc[3], p->multiplier[oc1], p->shift[oc1], zp, lo, hi, 1, 1);
                        }
                    } else {
                        o0[r] = edgec_pwt_out(acc[0], p->multiplier[oc], p->shift[oc], zp, lo, hi, p->narrow, 0);
                        o1[r] = edgec_pwt_out(acc[1], p->multiplier[oc], p->shift[oc], zp, lo, hi, p->narrow, 0);
                        if (pair) {
                            o0[r + 1] = edgec_pwt_out(acc[2], p->multiplier[oc1], p->shift[oc1], zp, lo, hi, p->narrow,
                                                      0);
                            o1[r + 1] = edgec_pwt_out(acc[3], p->multiplier[oc1], p->shift[oc1], zp, lo, hi, p->narrow,
                                                      0);
                        }
                    }
                }
            }
        }
    }
}
