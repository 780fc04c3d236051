/* edgec C engine: convolution and fully connected over BLOCK / BLOCK_CLUSTERED rows
 * (see edgec_packed_blk.h). */
#include "edgec_packed_blk.h"

/* Lane of tap k & 3 in a pixel's block of 4 int16: x0, x2, x1, x3 (the words SXTB16(v) and
 * SXTB16(v, ror 8) of the taps' int8 word v). */
static const uint8_t edgec_blk_lane[4] = {0, 2, 1, 3};

/* n int8 taps of src as taps k .. k + n - 1 of the window whose first block is at col (blocks
 * 4 * tile int16 apart). */
static void edgec_blk_put(int16_t *col, int32_t tile, int32_t k, const int8_t *src, int32_t n)
{
    const int32_t step = 4 * tile;
    int16_t *d;
    for (; n > 0 && (k & 3); k++, n--) {
        col[(k >> 2) * step + edgec_blk_lane[k & 3]] = *src++;
    }
    for (d = col + (k >> 2) * step; n >= 4; n -= 4, k += 4, src += 4, d += step) {
        uint32_t v;
        memcpy(&v, src, 4);
#if defined(EDGEC_DSP)
        {
            const int32_t a = edgec_sxtb16((int32_t)v), b = edgec_sxtb16_ror8((int32_t)v);
            memcpy(d, &a, 4);
            memcpy(d + 2, &b, 4);
        }
#else
        d[0] = (int8_t)v;
        d[1] = (int8_t)(v >> 16);
        d[2] = (int8_t)(v >> 8);
        d[3] = (int8_t)(v >> 24);
#endif
    }
    for (; n > 0; k++, n--) {
        col[(k >> 2) * step + edgec_blk_lane[k & 3]] = *src++;
    }
}

/* n taps of value v from tap k on (padding). */
static void edgec_blk_fill(int16_t *col, int32_t tile, int32_t k, int32_t v, int32_t n)
{
    for (; n > 0; k++, n--) {
        col[(k >> 2) * 4 * tile + edgec_blk_lane[k & 3]] = (int16_t)v;
    }
}

/* Output pixel t's window (taps ky, kx, c) into the tile slot col. */
static void edgec_blk_gather(const edgec_conv_params *p, const int8_t *in_b, int32_t t, int16_t *col, int32_t tile,
                             int32_t taps)
{
    const int32_t c = p->in_c, len = p->kernel_w * c;
    const int32_t iy0 = (t / p->out_w) * p->stride_h - p->pad_top, ix0 = (t % p->out_w) * p->stride_w - p->pad_left;
    const int whole_rows = p->dilation_w == 1 && ix0 >= 0 && ix0 + p->kernel_w <= p->in_w;
    int32_t ky, kx, k = 0;
    for (ky = 0; ky < p->kernel_h; ky++) {
        const int32_t iy = iy0 + ky * p->dilation_h;
        const int8_t *row = in_b + iy * p->in_w * c;
        if (iy < 0 || iy >= p->in_h) {
            edgec_blk_fill(col, tile, k, p->input_zp, len);
            k += len;
        } else if (whole_rows) {
            edgec_blk_put(col, tile, k, row + ix0 * c, len);
            k += len;
        } else {
            for (kx = 0; kx < p->kernel_w; kx++, k += c) {
                const int32_t ix = ix0 + kx * p->dilation_w;
                if (ix < 0 || ix >= p->in_w) {
                    edgec_blk_fill(col, tile, k, p->input_zp, c);
                } else {
                    edgec_blk_put(col, tile, k, row + ix * c, c);
                }
            }
        }
    }
    edgec_blk_fill(col, tile, taps, 0, -taps & 3); /* the last block's missing taps (their weights are 0) */
}

/* A row's count of stored blocks; *s advances past it (wide: two bytes an entry). */
EDGEC_FORCE_INLINE int32_t edgec_blk_count(const uint8_t **s, const int wide)
{
    int32_t n;
    if (wide) {
        n = (int32_t)(*s)[0] | ((int32_t)(*s)[1] << 8);
        *s += 2;
    } else {
        n = (*s)[0];
        *s += 1;
    }
    return n;
}

/* A BLOCK_CLUSTERED row's n stored blocks decoded from the index stream at s into dec. */
static void edgec_blk_decode(const edgec_packed *w, int32_t row, const uint8_t *s, int32_t n, int8_t *dec)
{
    const int8_t *const cb = edgec_codebook(w, row);
    int32_t i;
    for (i = 0; i < n; i++, s += 2) {
        dec[4 * i] = cb[s[0] & 15u];
        dec[4 * i + 1] = cb[s[0] >> 4];
        dec[4 * i + 2] = cb[s[1] & 15u];
        dec[4 * i + 3] = cb[s[1] >> 4];
    }
}

/* The int8 values of a row's n stored blocks: in place (BLOCK), or decoded into dec (BLOCK_CLUSTERED);
 * *values advances past them. */
EDGEC_FORCE_INLINE const int8_t *edgec_blk_values(const edgec_packed *w, int32_t row, const uint8_t **values,
                                                  int32_t n, int8_t *dec)
{
    const uint8_t *const s = *values;
    if (w->format == EDGEC_BLOCK) {
        *values = s + 4 * n;
        return (const int8_t *)s;
    }
    edgec_blk_decode(w, row, s, n, dec);
    *values = s + 2 * n;
    return dec;
}

/* Thumb-2 loops for the DSP path: thirteen registers, found when gcc optimises and keeps no frame
 * pointer (else the C loops; EDGEC_NO_ASM selects them for a build with -fno-omit-frame-pointer). */
#if defined(EDGEC_DSP) && defined(__GNUC__) && defined(__thumb2__) && defined(__ARM_FEATURE_DSP) && \
    defined(__OPTIMIZE__) && !defined(EDGEC_NO_ASM)
#define EDGEC_BLK_ASM 1
/* one stored block: its index (LD), its word of weights as (w0, w2) and (w1, w3), the address of
 * its windows' block (SH: log2 of its bytes, 8 * tile) */
#define EDGEC_BLK_HEAD(LD, SH)                                                                     \
    LD "ldr %[w], [%[wv]], #4\n\t"                                                                 \
       "add %[t], %[x], %[t], lsl #" SH "\n\t"                                                     \
       "sxtb16 %[u], %[w], ror #8\n\t"                                                             \
       "sxtb16 %[w], %[w]\n\t"
/* pixel j of the tile: its two words (x0, x2), (x1, x3) and two SMLAD */
#define EDGEC_BLK_PIX(A, OFF)                                                                      \
    "ldrd %[xa], %[xb], [%[t], #" OFF "]\n\t"                                                      \
    "smlad %[" A "], %[xa], %[w], %[" A "]\n\t"                                                    \
    "smlad %[" A "], %[xb], %[u], %[" A "]\n\t"
#define EDGEC_BLK_LD8 "ldrb %[t], [%[s]], #1\n\t"
#define EDGEC_BLK_LD16 "ldrh %[t], [%[s]], #2\n\t"
#define EDGEC_BLK_T4(LD) EDGEC_BLK_HEAD(LD, "5") EDGEC_BLK_PIX("a0", "0") EDGEC_BLK_PIX("a1", "8") \
    EDGEC_BLK_PIX("a2", "16") EDGEC_BLK_PIX("a3", "24")
#define EDGEC_BLK_T2(LD) EDGEC_BLK_HEAD(LD, "4") EDGEC_BLK_PIX("a0", "0") EDGEC_BLK_PIX("a1", "8")
#define EDGEC_BLK_T1(LD) EDGEC_BLK_HEAD(LD, "3") EDGEC_BLK_PIX("a0", "0")
#define EDGEC_BLK_OPERANDS                                                                         \
    : [s] "+r"(s), [wv] "+r"(wv), [a0] "+r"(a0), [a1] "+r"(a1), [a2] "+r"(a2), [a3] "+r"(a3), [t] "=&r"(t), \
      [w] "=&r"(w), [u] "=&r"(u), [xa] "=&r"(xa), [xb] "=&r"(xb)                                   \
    : [x] "r"(x), [end] "r"(end)                                                                   \
    : "cc", "memory"
/* an odd block alone, then two a turn */
#define EDGEC_BLK_LOOP(BLOCK)                                                                      \
    do {                                                                                           \
        if (n & 1) {                                                                               \
            __asm__(BLOCK EDGEC_BLK_OPERANDS);                                                     \
        }                                                                                          \
        if (s < end) {                                                                             \
            __asm__("1:\n\t" BLOCK BLOCK "cmp %[s], %[end]\n\t"                                    \
                    "blo 1b" EDGEC_BLK_OPERANDS);                                                  \
        }                                                                                          \
    } while (0)
#endif

/* acc[j] + the row's dot product with the tile's pixels j < tile: n stored blocks (values wv, block
 * indices at s), windows gathered at x. */
EDGEC_FORCE_INLINE void edgec_blk_dot(const uint8_t *s, const int wide, int32_t n, const int8_t *wv, const int16_t *x,
                                      const int32_t tile, int32_t *acc)
{
    int32_t a0 = acc[0], a1 = tile > 1 ? acc[1] : 0, a2 = tile > 2 ? acc[2] : 0, a3 = tile > 2 ? acc[3] : 0;
#if defined(EDGEC_BLK_ASM)
    {
        const uint8_t *const end = s + (wide ? 2 * n : n);
        int32_t t, w, u, xa, xb;
        if (tile == 4 && wide) {
            EDGEC_BLK_LOOP(EDGEC_BLK_T4(EDGEC_BLK_LD16));
        } else if (tile == 4) {
            EDGEC_BLK_LOOP(EDGEC_BLK_T4(EDGEC_BLK_LD8));
        } else if (tile == 2 && wide) {
            EDGEC_BLK_LOOP(EDGEC_BLK_T2(EDGEC_BLK_LD16));
        } else if (tile == 2) {
            EDGEC_BLK_LOOP(EDGEC_BLK_T2(EDGEC_BLK_LD8));
        } else if (wide) {
            EDGEC_BLK_LOOP(EDGEC_BLK_T1(EDGEC_BLK_LD16));
        } else {
            EDGEC_BLK_LOOP(EDGEC_BLK_T1(EDGEC_BLK_LD8));
        }
    }
#else
    int32_t i;
    for (i = 0; i < n; i++, wv += 4) {
        const int32_t b = wide ? (int32_t)s[2 * i] | ((int32_t)s[2 * i + 1] << 8) : (int32_t)s[i];
        const int16_t *xs = x + b * 4 * tile;
#if defined(EDGEC_DSP)
        int32_t wq, w02, w13, v0, v1;
        memcpy(&wq, wv, 4);
        w02 = edgec_sxtb16(wq);
        w13 = edgec_sxtb16_ror8(wq);
        memcpy(&v0, xs, 4);
        memcpy(&v1, xs + 2, 4);
        a0 = edgec_smlad(v1, w13, edgec_smlad(v0, w02, a0));
        if (tile > 1) {
            memcpy(&v0, xs + 4, 4);
            memcpy(&v1, xs + 6, 4);
            a1 = edgec_smlad(v1, w13, edgec_smlad(v0, w02, a1));
        }
        if (tile > 2) {
            memcpy(&v0, xs + 8, 4);
            memcpy(&v1, xs + 10, 4);
            a2 = edgec_smlad(v1, w13, edgec_smlad(v0, w02, a2));
            memcpy(&v0, xs + 12, 4);
            memcpy(&v1, xs + 14, 4);
            a3 = edgec_smlad(v1, w13, edgec_smlad(v0, w02, a3));
        }
#else
        {
            const int32_t w0 = wv[0], w1 = wv[1], w2 = wv[2], w3 = wv[3];
            a0 += w0 * xs[0] + w2 * xs[1] + w1 * xs[2] + w3 * xs[3];
            if (tile > 1) {
                a1 += w0 * xs[4] + w2 * xs[5] + w1 * xs[6] + w3 * xs[7];
            }
            if (tile > 2) {
                a2 += w0 * xs[8] + w2 * xs[9] + w1 * xs[10] + w3 * xs[11];
                a3 += w0 * xs[12] + w2 * xs[13] + w1 * xs[14] + w3 * xs[15];
            }
        }
#endif
    }
#endif
    acc[0] = a0;
    if (tile > 1) {
        acc[1] = a1;
    }
    if (tile > 2) {
        acc[2] = a2;
        acc[3] = a3;
    }
}

/* Output channels per rescale pass: their tile's sums wait on the stack (16 x 4 int32). */
#define EDGEC_BLK_CHUNK 16

/* out[j * out_c + c] = sums[c][j] rescaled, c < count, j < n. narrow: the short rescale; full: 1
 * when the activation range is all of int8 (one SSAT), 0 otherwise; constants at each call site. */
EDGEC_FORCE_INLINE void edgec_blk_rescale_body(const int32_t (*sums)[4], int32_t count, int32_t n,
                                               const int32_t *multiplier, const int8_t *shift, int32_t zp, int32_t lo,
                                               int32_t hi, int32_t out_c, int8_t *out, const int narrow,
                                               const int full)
{
    int32_t c, j;
    for (c = 0; c < count; c++) {
        const int32_t m = multiplier[c];
        const int sh = shift[c];
        for (j = 0; j < n; j++) {
            int32_t y = (narrow ? edgec_mbqm_narrow(sums[c][j], m, sh) : edgec_mbqm(sums[c][j], m, sh)) + zp;
#if defined(__ARM_FEATURE_DSP) && defined(__GNUC__) && !defined(EDGEC_NO_DSP)
            if (full) {
                y = edgec_ssat8(y);
            } else
#endif
            {
                (void)full;
                y = y < lo ? lo : (y > hi ? hi : y);
            }
            out[j * out_c + c] = (int8_t)y;
        }
    }
}

static void edgec_blk_rescale(const edgec_conv_params *p, int32_t oc, int32_t count, int32_t n,
                              const int32_t (*sums)[4], int8_t *out)
{
    const int32_t *const m = p->multiplier + oc;
    const int8_t *const sh = p->shift + oc;
    const int32_t zp = p->output_zp, lo = p->act_min, hi = p->act_max, oc_n = p->out_c;
    out += oc;
    if (p->narrow && lo <= -128 && hi >= 127) {
        edgec_blk_rescale_body(sums, count, n, m, sh, zp, lo, hi, oc_n, out, 1, 1);
    } else if (p->narrow) {
        edgec_blk_rescale_body(sums, count, n, m, sh, zp, lo, hi, oc_n, out, 1, 0);
    } else if (lo <= -128 && hi >= 127) {
        edgec_blk_rescale_body(sums, count, n, m, sh, zp, lo, hi, oc_n, out, 0, 1);
    } else {
        edgec_blk_rescale_body(sums, count, n, m, sh, zp, lo, hi, oc_n, out, 0, 0);
    }
}

EDGEC_FORCE_INLINE void edgec_blk_conv_body(const edgec_conv_params *p, const edgec_packed *w, const int32_t tile,
                                            const int wide, const int8_t *input, int8_t *output, int32_t *scratch)
{
    const int32_t c = p->in_c, oc_n = p->out_c, pixels = p->out_h * p->out_w, taps = w->taps;
    const int32_t nblk = (taps + 3) >> 2, entry = wide ? 2 : 1;
    int16_t *const x = (int16_t *)(void *)scratch;
    int8_t *const dec = (int8_t *)(void *)(scratch + 2 * tile * nblk);
    int32_t sums[EDGEC_BLK_CHUNK][4];
    int32_t b, t, oc, j;
    for (b = 0; b < p->batches; b++) {
        const int8_t *in_b = input + b * p->in_h * p->in_w * c;
        int8_t *out_b = output + b * pixels * oc_n;
        for (t = 0; t < pixels; t += tile) {
            const int32_t n = edgec_min(tile, pixels - t);
            const uint8_t *s = w->mask, *values = w->values;
            for (j = 0; j < tile; j++) {
                edgec_blk_gather(p, in_b, t + (j < n ? j : 0), x + 4 * j, tile, taps);
            }
            for (oc = 0; oc < oc_n; oc += EDGEC_BLK_CHUNK) {
                const int32_t count = edgec_min(EDGEC_BLK_CHUNK, oc_n - oc);
                int32_t k;
                for (k = 0; k < count; k++) {
                    const int32_t stored = edgec_blk_count(&s, wide);
                    const int8_t *wv = edgec_blk_values(w, oc + k, &values, stored, dec);
                    int32_t *const acc = sums[k];
                    acc[0] = acc[1] = acc[2] = acc[3] = p->bias[oc + k];
                    edgec_blk_dot(s, wide, stored, wv, x, tile, acc);
                    s += stored * entry;
                }
                edgec_blk_rescale(p, oc, count, n, (const int32_t(*)[4])sums, out_b + t * oc_n);
            }
        }
    }
}

/* One function per tile and index width (edgec_packed_blk.h picks one at the call site): an
 * engine links only those its layers use. */
#define EDGEC_BLK_CONV(NAME, TILE, WIDE)                                                               \
    void NAME(const edgec_conv_params *p, const edgec_packed *w, const int8_t *input, int8_t *output,  \
              int32_t *scratch)                                                                        \
    {                                                                                                  \
        edgec_blk_conv_body(p, w, TILE, WIDE, input, output, scratch);                                 \
    }
EDGEC_BLK_CONV(edgec_conv2d_block4_idx8_s8, 4, 0)
EDGEC_BLK_CONV(edgec_conv2d_block4_idx16_s8, 4, 1)
EDGEC_BLK_CONV(edgec_conv2d_block2_idx8_s8, 2, 0)
EDGEC_BLK_CONV(edgec_conv2d_block2_idx16_s8, 2, 1)
EDGEC_BLK_CONV(edgec_conv2d_block1_idx8_s8, 1, 0)
EDGEC_BLK_CONV(edgec_conv2d_block1_idx16_s8, 1, 1)

#if defined(EDGEC_BLK_ASM)
/* one stored block against the input's word at its index: 10 instructions for 4 MACs */
#define EDGEC_BLK_FC(LD)                                                                           \
    LD "ldr %[w], [%[wv]], #4\n\t"                                                                 \
       "ldr %[xa], [%[x], %[t], lsl #2]\n\t"                                                       \
       "sxtb16 %[u], %[w], ror #8\n\t"                                                             \
       "sxtb16 %[w], %[w]\n\t"                                                                     \
       "sxtb16 %[t], %[xa], ror #8\n\t"                                                            \
       "sxtb16 %[xa], %[xa]\n\t"                                                                   \
       "smlad %[a0], %[xa], %[w], %[a0]\n\t"                                                       \
       "smlad %[a0], %[t], %[u], %[a0]\n\t"
#define EDGEC_BLK_FC_OPERANDS                                                                      \
    : [s] "+r"(s), [wv] "+r"(wv), [a0] "+r"(acc), [t] "=&r"(t), [w] "=&r"(w), [u] "=&r"(u), [xa] "=&r"(xa) \
    : [x] "r"(x), [end] "r"(end)                                                                   \
    : "cc", "memory"
#define EDGEC_BLK_FC_LOOP(BLOCK)                                                                   \
    do {                                                                                           \
        if (n & 1) {                                                                               \
            __asm__(BLOCK EDGEC_BLK_FC_OPERANDS);                                                  \
        }                                                                                          \
        if (s < end) {                                                                             \
            __asm__("1:\n\t" BLOCK BLOCK "cmp %[s], %[end]\n\t"                                    \
                    "blo 1b" EDGEC_BLK_FC_OPERANDS);                                               \
        }                                                                                          \
    } while (0)
#endif

/* acc + a row's n stored blocks (values wv, block indices at s) against x's words. */
EDGEC_FORCE_INLINE int32_t edgec_blk_fc_dot(const uint8_t *s, const int wide, int32_t n, const int8_t *wv,
                                            const int8_t *x, int32_t acc)
{
#if defined(EDGEC_BLK_ASM)
    const uint8_t *const end = s + (wide ? 2 * n : n);
    int32_t t, w, u, xa;
    if (wide) {
        EDGEC_BLK_FC_LOOP(EDGEC_BLK_FC(EDGEC_BLK_LD16));
    } else {
        EDGEC_BLK_FC_LOOP(EDGEC_BLK_FC(EDGEC_BLK_LD8));
    }
#else
    int32_t i;
    for (i = 0; i < n; i++, wv += 4) {
        const int32_t b = wide ? (int32_t)s[2 * i] | ((int32_t)s[2 * i + 1] << 8) : (int32_t)s[i];
        const int8_t *xs = x + 4 * b;
#if defined(EDGEC_DSP)
        int32_t wq, xq;
        memcpy(&wq, wv, 4);
        memcpy(&xq, xs, 4);
        acc = edgec_smlad(edgec_sxtb16(xq), edgec_sxtb16(wq), acc);
        acc = edgec_smlad(edgec_sxtb16_ror8(xq), edgec_sxtb16_ror8(wq), acc);
#else
        acc += wv[0] * xs[0] + wv[1] * xs[1] + wv[2] * xs[2] + wv[3] * xs[3];
#endif
    }
#endif
    return acc;
}

EDGEC_FORCE_INLINE void edgec_blk_fc_body(const edgec_fc_params *p, const edgec_packed *w, const int wide,
                                          const int8_t *input, int8_t *output, int32_t *scratch)
{
    const int32_t taps = w->taps, entry = wide ? 2 : 1, padded = edgec_align4(taps);
    const int32_t zp = p->output_zp, lo = p->act_min, hi = p->act_max;
    const int narrow = p->narrow;
    int8_t *const pad = (int8_t *)(void *)scratch;
    int8_t *const dec = pad + (taps & 3 ? padded : 0);
    int32_t b, o;
    for (b = 0; b < p->batches; b++) {
        const int8_t *x = input + b * p->in_features;
        int8_t *y = output + b * p->out_features;
        const uint8_t *s = w->mask, *values = w->values;
        if (taps & 3) {
            memcpy(pad, x, (size_t)taps);
            memset(pad + taps, 0, (size_t)(padded - taps));
            x = pad;
        }
        for (o = 0; o < p->out_features; o++) {
            const int32_t count = edgec_blk_count(&s, wide), q = p->per_channel ? o : 0;
            const int8_t *wv = edgec_blk_values(w, o, &values, count, dec);
            const int32_t acc = edgec_blk_fc_dot(s, wide, count, wv, x, p->bias[o]);
            s += count * entry;
            y[o] = edgec_requantize(narrow, acc, p->multiplier[q], p->shift[q], zp, lo, hi);
        }
    }
}

void edgec_fully_connected_block_idx8_s8(const edgec_fc_params *p, const edgec_packed *w, const int8_t *input,
                                         int8_t *output, int32_t *scratch)
{
    edgec_blk_fc_body(p, w, 0, input, output, scratch);
}

void edgec_fully_connected_block_idx16_s8(const edgec_fc_params *p, const edgec_packed *w, const int8_t *input,
                                          int8_t *output, int32_t *scratch)
{
    edgec_blk_fc_body(p, w, 1, input, output, scratch);
}
