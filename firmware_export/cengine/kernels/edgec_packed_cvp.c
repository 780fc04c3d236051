/* edgec C engine: convolution over CLUSTERED weights through a table of weight pairs (see
 * edgec_packed_cvp.h). */
#include "edgec_packed_cvp.h"

/* The int16 pair (lo, hi) as a word, lo in the low half. */
static inline uint32_t edgec_cvp_pair(int32_t lo, int32_t hi)
{
    return (uint32_t)(uint16_t)lo | ((uint32_t)hi << 16);
}

/* n (a multiple of 4) input bytes from src as tap pairs into col, every 4th word (slot of a group). */
static void edgec_cvp_copy(const int8_t *src, int32_t n, uint32_t *col)
{
    int32_t c;
    for (c = 0; c < n; c += 4, col += 8) {
#if defined(EDGEC_DSP)
        int32_t x, lo, hi;
        memcpy(&x, src + c, 4);
        lo = edgec_sxtb16(x);      /* (x0, x2) */
        hi = edgec_sxtb16_ror8(x); /* (x1, x3) */
#if defined(__ARM_FEATURE_DSP) && defined(__GNUC__) && !defined(EDGEC_NO_DSP)
        {
            uint32_t a, b;
            __asm__("pkhbt %0, %1, %2, lsl #16" : "=r"(a) : "r"(lo), "r"(hi));
            __asm__("pkhtb %0, %1, %2, asr #16" : "=r"(b) : "r"(hi), "r"(lo));
            col[0] = a; /* (x0, x1) */
            col[4] = b; /* (x2, x3) */
        }
#else
        col[0] = ((uint32_t)lo & 0xFFFFu) | ((uint32_t)hi << 16);
        col[4] = ((uint32_t)hi & 0xFFFF0000u) | ((uint32_t)lo >> 16);
#endif
#else
        col[0] = edgec_cvp_pair(src[c], src[c + 1]);
        col[4] = edgec_cvp_pair(src[c + 2], src[c + 3]);
#endif
    }
}

/* The window of output pixel (oy, ox) as slot `slot` of the group's columns: word 4 j + slot holds
 * the taps (2 j, 2 j + 1). */
static void edgec_cvp_gather(const edgec_conv_params *p, const int8_t *in_b, int32_t oy, int32_t ox,
                             uint32_t *col)
{
    const int32_t cin = p->in_c, kw = p->kernel_w, len = kw * cin;
    const int32_t iy0 = oy * p->stride_h - p->pad_top, ix0 = ox * p->stride_w - p->pad_left;
    const int cols = p->dilation_w == 1 && ix0 >= 0 && ix0 + kw <= p->in_w;
    const uint32_t zp = edgec_cvp_pair(p->input_zp, p->input_zp);
    int32_t ky, kx, c;
    for (ky = 0; ky < p->kernel_h; ky++, col += 2 * len) {
        const int32_t iy = iy0 + ky * p->dilation_h;
        const int row = iy >= 0 && iy < p->in_h;
        if (row && cols) {
            edgec_cvp_copy(in_b + (iy * p->in_w + ix0) * cin, len, col);
            continue;
        }
        for (kx = 0; kx < kw; kx++) {
            const int32_t ix = ix0 + kx * p->dilation_w;
            uint32_t *dst = col + 2 * kx * cin;
            if (row && ix >= 0 && ix < p->in_w) {
                edgec_cvp_copy(in_b + (iy * p->in_w + ix) * cin, cin, dst);
            } else {
                for (c = 0; c < cin; c += 2, dst += 4) {
                    *dst = zp;
                }
            }
        }
    }
}

#if defined(EDGEC_DSP)
#if defined(__GNUC__) && defined(__thumb2__) && defined(__ARM_FEATURE_DSP) && defined(__OPTIMIZE__) && \
    !defined(EDGEC_NO_ASM)
/* One byte of the index word i (EXTRACT puts it in t): its table word against the four pixels' pairs
 * (two LDRDs): 8 instructions for 8 MACs. */
#define EDGEC_CVP_BYTE(EXTRACT)                                                                    \
    EXTRACT "ldr %[t], [%[tab], %[t], lsl #2]\n\t"                                                 \
            "ldrd %[c0], %[c1], [%[col]], #8\n\t"                                                  \
            "smlad %[s0], %[t], %[c0], %[s0]\n\t"                                                  \
            "smlad %[s1], %[t], %[c1], %[s1]\n\t"                                                  \
            "ldrd %[c0], %[c1], [%[col]], #8\n\t"                                                  \
            "smlad %[s2], %[t], %[c0], %[s2]\n\t"                                                  \
            "smlad %[s3], %[t], %[c1], %[s3]\n\t"
/* A word of indices: 8 taps, 33 instructions for 32 MACs. */
#define EDGEC_CVP_WORD                                                                             \
    "ldr %[i], [%[idx]], #4\n\t" EDGEC_CVP_BYTE("uxtb %[t], %[i]\n\t")                             \
    EDGEC_CVP_BYTE("uxtb %[t], %[i], ror #8\n\t") EDGEC_CVP_BYTE("uxtb %[t], %[i], ror #16\n\t")   \
    EDGEC_CVP_BYTE("lsr %[t], %[i], #24\n\t")
#define EDGEC_CVP_ASM 1
#endif

/* acc[0..3] (bias on entry) += the dot products of one channel's indices (a byte for two taps, `bytes`
 * of them, even) with the four pixels' columns, through the pair table: words of indices, then a
 * halfword left. */
static void edgec_cvp_dot4(const uint8_t *idx, int32_t bytes, const int32_t *tab, const uint32_t *col,
                           int32_t *acc)
{
    int32_t s0 = acc[0], s1 = acc[1], s2 = acc[2], s3 = acc[3];
    const uint8_t *const end = idx + (bytes & ~3);
    int32_t k;
#if defined(EDGEC_CVP_ASM)
    if (bytes & 4) { /* an odd word first: then two a turn */
        uint32_t i, t, c0, c1;
        __asm__(EDGEC_CVP_WORD
                : [idx] "+r"(idx), [col] "+r"(col), [s0] "+r"(s0), [s1] "+r"(s1), [s2] "+r"(s2), [s3] "+r"(s3),
                  [i] "=&r"(i), [t] "=&r"(t), [c0] "=&r"(c0), [c1] "=&r"(c1)
                : [tab] "r"(tab)
                : "memory");
    }
    if (idx != end) {
        uint32_t i, t, c0, c1;
        __asm__("1:\n\t" EDGEC_CVP_WORD EDGEC_CVP_WORD "cmp %[idx], %[end]\n\tbne 1b"
                : [idx] "+r"(idx), [col] "+r"(col), [s0] "+r"(s0), [s1] "+r"(s1), [s2] "+r"(s2), [s3] "+r"(s3),
                  [i] "=&r"(i), [t] "=&r"(t), [c0] "=&r"(c0), [c1] "=&r"(c1)
                : [tab] "r"(tab), [end] "r"(end)
                : "cc", "memory");
    }
#else
    while (idx != end) {
        uint32_t i;
        memcpy(&i, idx, 4);
        idx += 4;
        for (k = 0; k < 4; k++, i >>= 8, col += 4) {
            const int32_t t = tab[i & 255u];
            s0 = edgec_smlad(t, col[0], s0);
            s1 = edgec_smlad(t, col[1], s1);
            s2 = edgec_smlad(t, col[2], s2);
            s3 = edgec_smlad(t, col[3], s3);
        }
    }
#endif
    for (k = 0; k < (bytes & 3); k++, col += 4) {
        const int32_t t = tab[idx[k]];
        s0 = edgec_smlad(t, col[0], s0);
        s1 = edgec_smlad(t, col[1], s1);
        s2 = edgec_smlad(t, col[2], s2);
        s3 = edgec_smlad(t, col[3], s3);
    }
    acc[0] = s0;
    acc[1] = s1;
    acc[2] = s2;
    acc[3] = s3;
}
#endif

#if defined(EDGEC_DSP)
/* tab[16 h + l] = (codebook[h] << 16) | (uint16_t)codebook[l]; entries past the codebook's `clusters`
 * (which no index reaches) 0. */
static void edgec_cvp_table(const int8_t *codebook, int32_t clusters, int32_t *tab)
{
    uint32_t low[16];
    int32_t h, l;
    for (l = 0; l < 16; l++) {
        low[l] = l < clusters ? (uint32_t)(uint16_t)codebook[l] : 0u;
    }
    for (h = 0; h < 16; h++, tab += 16) {
        const uint32_t hi = h < clusters ? (uint32_t)(int32_t)codebook[h] << 16 : 0u;
        for (l = 0; l < 16; l++) {
            tab[l] = (int32_t)(low[l] | hi);
        }
    }
}
#endif

#if !defined(EDGEC_DSP)
/* The same sums with each pair made from the codebook (no table). */
static void edgec_cvp_dot4_book(const uint8_t *idx, int32_t bytes, const int8_t *cb, const uint32_t *col,
                                int32_t *acc)
{
    int32_t j, k;
    for (j = 0; j < bytes; j++, col += 4) {
        const int32_t w0 = cb[idx[j] & 15u], w1 = cb[idx[j] >> 4];
        for (k = 0; k < 4; k++) {
            acc[k] += w0 * (int16_t)(col[k] & 0xFFFFu) + w1 * (int16_t)(col[k] >> 16);
        }
    }
}
#endif

/* acc rescaled to int8; full: 1 when the activation range is all of int8 (the narrow rescale, one
 * SSAT), 2 when its top is 127 (SSAT, then the bottom), 0 otherwise. Constant at each call site. */
EDGEC_FORCE_INLINE int8_t edgec_cvp_out(int32_t acc, int32_t m, int sh, int32_t zp, int32_t lo, int32_t hi,
                                        int narrow, int full)
{
#if defined(EDGEC_DSP)
    if (full) {
        const int32_t y = edgec_ssat8(edgec_mbqm_narrow(acc, m, sh) + zp);
        return (int8_t)(full == 2 && y < lo ? lo : y);
    }
#else
    (void)full; /* the clamp to lo, hi is the same */
#endif
    return edgec_clamp_s8((narrow ? edgec_mbqm_narrow(acc, m, sh) : edgec_mbqm(acc, m, sh)) + zp, lo, hi);
}

/* Every output channel of the group's n pixels (columns gathered), their outputs from `out`. */
EDGEC_FORCE_INLINE void edgec_cvp_channels(const edgec_conv_params *p, const edgec_packed *w, const int32_t *tab,
                                           const uint32_t *col, int8_t *out, int32_t n, int narrow, int full)
{
    const int32_t bytes = w->taps / 2, out_c = p->out_c;
    const int32_t zp = p->output_zp, lo = p->act_min, hi = p->act_max;
    const uint8_t *idx = w->values;
    int32_t oc, k;
#if !defined(EDGEC_DSP)
    const int8_t *const cb = edgec_codebook(w, 0);
    (void)tab;
#endif
    for (oc = 0; oc < out_c; oc++, idx += bytes) {
        const int32_t bias = p->bias[oc], m = p->multiplier[oc];
        const int sh = p->shift[oc];
        int32_t acc[EDGEC_CVP_PIXELS] = {bias, bias, bias, bias};
#if defined(EDGEC_DSP)
        edgec_cvp_dot4(idx, bytes, tab, col, acc);
#else
        edgec_cvp_dot4_book(idx, bytes, cb, col, acc);
#endif
        for (k = 0; k < n; k++) {
            out[k * out_c + oc] = edgec_cvp_out(acc[k], m, sh, zp, lo, hi, narrow, full);
        }
    }
}

void edgec_conv2d_pairs_s8(const edgec_conv_params *p, const edgec_packed *w, const int32_t *pairs,
                           const int8_t *input, int8_t *output, int32_t *scratch)
{
    const int32_t out_c = p->out_c, pixels = p->out_h * p->out_w;
    const int full = !p->narrow ? 0 : p->act_min <= -128 && p->act_max >= 127 ? 1 : p->act_max >= 127 ? 2 : 0;
    uint32_t *const col = (uint32_t *)(void *)scratch;
    int32_t b, px, k;
#if defined(EDGEC_DSP)
    if (pairs == NULL) { /* built after the columns */
        int32_t *const tab = scratch + EDGEC_CVP_PIXELS * w->taps / 2;
        edgec_cvp_table(edgec_codebook(w, 0), w->clusters, tab);
        pairs = tab;
    }
#endif
    for (b = 0; b < p->batches; b++) {
        const int8_t *in_b = input + b * p->in_h * p->in_w * p->in_c;
        int8_t *out_b = output + b * pixels * out_c;
        for (px = 0; px < pixels; px += EDGEC_CVP_PIXELS) {
            const int32_t n = edgec_min(EDGEC_CVP_PIXELS, pixels - px);
            int8_t *const out = out_b + px * out_c;
            /* a shorter group repeats its first pixel in the slots left (computed, not written) */
            for (k = 0; k < EDGEC_CVP_PIXELS; k++) {
                const int32_t q = px + (k < n ? k : 0);
                edgec_cvp_gather(p, in_b, q / p->out_w, q % p->out_w, col + k);
            }
            if (full == 1) {
                edgec_cvp_channels(p, w, pairs, col, out, n, 1, 1);
            } else if (full == 2) {
                edgec_cvp_channels(p, w, pairs, col, out, n, 1, 2);
            } else if (p->narrow) {
                edgec_cvp_channels(p, w, pairs, col, out, n, 1, 0);
            } else {
                edgec_cvp_channels(p, w, pairs, col, out, n, 0, 0);
            }
        }
    }
}
