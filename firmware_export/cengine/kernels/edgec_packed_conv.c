/* edgec C engine: convolution over packed weights (see edgec_packed_conv.h).
 *
 * A row's weights are decoded once per tile of output pixels, so the decoding is paid once for
 * `tile` pixels; the row's packed data is read in order, rows one after the other (the cursor of
 * the sparse formats is the running count of values, or bits, of earlier rows).
 */
#include "edgec_packed_conv.h"

/* The hot loops stay out of line: inlined into the large conv kernel they lose registers to it. */
#if defined(__GNUC__)
#define EDGEC_PK_LOOP static __attribute__((noinline))
#else
#define EDGEC_PK_LOOP static
#endif

/* Row `row` of a sparse format as its nonzeros: entry ent[j] of tap k = r * seg_len + c holds the
 * window offset seg_off[r] + c (low 16 bits) and the value (high 16 bits, signed); seg_end[r] = number of nonzeros in segments 0..r, seg_sum[r] the
 * sum of the segment's values. Walks the set bits of the mask. Returns the number of nonzeros. */
static int32_t edgec_unpack_list(const edgec_packed *w, int32_t row, uint32_t *cursor, const int32_t *seg_off,
                                 int32_t seg_len, uint32_t *ent, uint16_t *seg_end, int32_t *seg_sum)
{
    const int32_t taps = w->taps, bits = w->index_bits, runs = taps / seg_len;
    const uint8_t *mask = w->mask + row * ((taps + 7) >> 3);
    const int clustered = w->format == EDGEC_SPARSE_CLUSTERED;
    const int8_t *cb = edgec_codebook(w, row);
    const int8_t *values = (const int8_t *)w->values + *cursor;
    edgec_bitreader r = {NULL, 0, 0};
    int32_t n = 0, seg = 0, seg_next = seg_len, delta = seg_off[0], sum = 0, k0;
    if (clustered) {
        edgec_br_init(&r, w->values, *cursor);
    }
    for (k0 = 0; k0 < taps; k0 += 8) {
        uint32_t m = mask[k0 >> 3];
        while (m) {
            const int32_t k = k0 + edgec_ctz(m);
            int32_t v;
            m &= m - 1u;
            while (k >= seg_next) { /* the segments before tap k are complete */
                seg_end[seg] = (uint16_t)n;
                seg_sum[seg] = sum;
                sum = 0;
                seg++;
                delta = seg_off[seg] - seg * seg_len;
                seg_next += seg_len;
            }
            v = clustered ? cb[edgec_br_get(&r, bits)] : values[n];
            ent[n] = (uint32_t)(uint16_t)(delta + k) | ((uint32_t)v << 16);
            sum += v;
            n++;
        }
    }
    for (; seg < runs; seg++) {
        seg_end[seg] = (uint16_t)n;
        seg_sum[seg] = sum;
        sum = 0;
    }
    *cursor += clustered ? (uint32_t)(n * bits) : (uint32_t)n;
    return n;
}

/* acc[0] += w0.x0, acc[1] += w0.x1, acc[2] += w1.x0, acc[3] += w1.x1 over n taps. */
EDGEC_FORCE_INLINE void edgec_pk_mac2x2(const int8_t *w0, const int8_t *w1, const int8_t *x0, const int8_t *x1, int32_t n,
                            int32_t *acc)
{
    int32_t a00 = acc[0], a01 = acc[1], a10 = acc[2], a11 = acc[3];
    int32_t i = 0;
#if defined(EDGEC_DSP)
    for (; i + 4 <= n; i += 4) {
        int32_t wa, wb, xa, xb, xa_lo, xa_hi, xb_lo, xb_hi, wa_lo, wa_hi, wb_lo, wb_hi;
        memcpy(&xa, x0 + i, 4);
        memcpy(&xb, x1 + i, 4);
        memcpy(&wa, w0 + i, 4);
        memcpy(&wb, w1 + i, 4);
        xa_lo = edgec_sxtb16(xa);
        xa_hi = edgec_sxtb16_ror8(xa);
        xb_lo = edgec_sxtb16(xb);
        xb_hi = edgec_sxtb16_ror8(xb);
        wa_lo = edgec_sxtb16(wa);
        wa_hi = edgec_sxtb16_ror8(wa);
        wb_lo = edgec_sxtb16(wb);
        wb_hi = edgec_sxtb16_ror8(wb);
        a00 = edgec_smlad(wa_hi, xa_hi, edgec_smlad(wa_lo, xa_lo, a00));
        a01 = edgec_smlad(wa_hi, xb_hi, edgec_smlad(wa_lo, xb_lo, a01));
        a10 = edgec_smlad(wb_hi, xa_hi, edgec_smlad(wb_lo, xa_lo, a10));
        a11 = edgec_smlad(wb_hi, xb_hi, edgec_smlad(wb_lo, xb_lo, a11));
    }
#endif
    for (; i < n; i++) {
        const int32_t xa = x0[i], xb = x1[i];
        a00 += w0[i] * xa;
        a01 += w0[i] * xb;
        a10 += w1[i] * xa;
        a11 += w1[i] * xb;
    }
    acc[0] = a00;
    acc[1] = a01;
    acc[2] = a10;
    acc[3] = a11;
}

/* acc + value * x for an entry e (the value in its high half): SMLATB on the DSP extension. */
static inline int32_t edgec_pk_mla_top(uint32_t e, int32_t x, int32_t acc)
{
#if !defined(EDGEC_NO_DSP) && defined(__ARM_FEATURE_DSP) && defined(__GNUC__)
    int32_t r;
    __asm__("smlatb %0, %1, %2, %3" : "=r"(r) : "r"(e), "r"(x), "r"(acc));
    return r;
#else
    return acc + ((int32_t)e >> 16) * x;
#endif
}

#define EDGEC_PK_SPARSE_STEP(e)                                                                    \
    do {                                                                                           \
        const uint32_t o_ = (e) & 0xffffu;                                                         \
        s0 = edgec_pk_mla_top((e), x0[o_], s0);                                                    \
        s1 = edgec_pk_mla_top((e), x1[o_], s1);                                                    \
        s2 = edgec_pk_mla_top((e), x2[o_], s2);                                                    \
        s3 = edgec_pk_mla_top((e), x3[o_], s3);                                                    \
    } while (0)

/* acc[p] += sum of value * x[p][offset] over the n entries, for the 4 pixels p. */
EDGEC_PK_LOOP void edgec_pk_sparse4(const uint32_t *ent, int32_t n, const int8_t *const *x, int32_t *acc)
{
    const int8_t *x0 = x[0], *x1 = x[1], *x2 = x[2], *x3 = x[3];
    int32_t s0 = acc[0], s1 = acc[1], s2 = acc[2], s3 = acc[3];
    const uint32_t *end = ent + n;
    for (; ent < end; ent++) { /* not unrolled: 4 pointers and 4 sums leave too few registers */
        const uint32_t e0 = *ent;
        EDGEC_PK_SPARSE_STEP(e0);
    }
    acc[0] = s0;
    acc[1] = s1;
    acc[2] = s2;
    acc[3] = s3;
}

/* edgec_pk_sparse4 for groups of 2 pixels, and of 1. */
EDGEC_PK_LOOP void edgec_pk_sparse2(const uint32_t *ent, int32_t n, const int8_t *const *x, int32_t *acc)
{
    const int8_t *x0 = x[0], *x1 = x[1];
    int32_t s0 = acc[0], s1 = acc[1];
    const uint32_t *end = ent + n;
    if (n & 1) {
        const uint32_t e0 = *ent++;
        s0 = edgec_pk_mla_top(e0, x0[e0 & 0xffffu], s0);
        s1 = edgec_pk_mla_top(e0, x1[e0 & 0xffffu], s1);
    }
    for (; ent < end; ent += 2) {
        const uint32_t e0 = ent[0], e1 = ent[1];
        s0 = edgec_pk_mla_top(e0, x0[e0 & 0xffffu], s0);
        s1 = edgec_pk_mla_top(e0, x1[e0 & 0xffffu], s1);
        s0 = edgec_pk_mla_top(e1, x0[e1 & 0xffffu], s0);
        s1 = edgec_pk_mla_top(e1, x1[e1 & 0xffffu], s1);
    }
    acc[0] = s0;
    acc[1] = s1;
}

EDGEC_PK_LOOP void edgec_pk_sparse1(const uint32_t *ent, int32_t n, const int8_t *const *x, int32_t *acc)
{
    const int8_t *x0 = x[0];
    int32_t s0 = acc[0];
    const uint32_t *end = ent + n;
    if (n & 1) {
        const uint32_t e0 = *ent++;
        s0 = edgec_pk_mla_top(e0, x0[e0 & 0xffffu], s0);
    }
    for (; ent < end; ent += 2) {
        const uint32_t e0 = ent[0], e1 = ent[1];
        s0 = edgec_pk_mla_top(e0, x0[e0 & 0xffffu], s0);
        s0 = edgec_pk_mla_top(e1, x0[e1 & 0xffffu], s0);
    }
    acc[0] = s0;
}

/* The first `count` (1 .. 4) pixels of x: a group of 3 runs as 2 + 1. */
static void edgec_pk_sparse_n(const uint32_t *ent, int32_t n, const int8_t *const *x, int32_t *acc, int32_t count)
{
    if (count == 4) {
        edgec_pk_sparse4(ent, n, x, acc);
    } else if (count == 1) {
        edgec_pk_sparse1(ent, n, x, acc);
    } else {
        edgec_pk_sparse2(ent, n, x, acc);
        if (count == 3) {
            edgec_pk_sparse1(ent, n, x + 2, acc + 2);
        }
    }
}

#if defined(EDGEC_DSP)
/* edgec_pk_mac2x2 with the weights already unpacked: per 4 taps the words (w0, w2) and (w1, w3),
 * int16 pairs (n a multiple of 4). */
#define EDGEC_PK_W16_STEP(t)                                                                       \
    do {                                                                                           \
        int32_t xa, xb, wa_lo, wa_hi, wb_lo, wb_hi, xa_lo, xa_hi, xb_lo, xb_hi;                    \
        memcpy(&xa, x0 + (t), 4);                                                                  \
        memcpy(&xb, x1 + (t), 4);                                                                  \
        memcpy(&wa_lo, w0 + 2 * (t), 4);                                                           \
        memcpy(&wa_hi, w0 + 2 * (t) + 4, 4);                                                       \
        memcpy(&wb_lo, w1 + 2 * (t), 4);                                                           \
        memcpy(&wb_hi, w1 + 2 * (t) + 4, 4);                                                       \
        xa_lo = edgec_sxtb16(xa);                                                                  \
        xa_hi = edgec_sxtb16_ror8(xa);                                                             \
        xb_lo = edgec_sxtb16(xb);                                                                  \
        xb_hi = edgec_sxtb16_ror8(xb);                                                             \
        a00 = edgec_smlad(wa_hi, xa_hi, edgec_smlad(wa_lo, xa_lo, a00));                           \
        a01 = edgec_smlad(wa_hi, xb_hi, edgec_smlad(wa_lo, xb_lo, a01));                           \
        a10 = edgec_smlad(wb_hi, xa_hi, edgec_smlad(wb_lo, xa_lo, a10));                           \
        a11 = edgec_smlad(wb_hi, xb_hi, edgec_smlad(wb_lo, xb_lo, a11));                           \
    } while (0)

EDGEC_FORCE_INLINE void edgec_pk_mac2x2_w16(const int8_t *w0, const int8_t *w1, const int8_t *x0, const int8_t *x1,
                                            int32_t n, int32_t *acc)
{
    int32_t a00 = acc[0], a01 = acc[1], a10 = acc[2], a11 = acc[3];
    int32_t i = 0;
    for (; i + 16 <= n; i += 16, x0 += 16, x1 += 16, w0 += 32, w1 += 32) {
        EDGEC_PK_W16_STEP(0);
        EDGEC_PK_W16_STEP(4);
        EDGEC_PK_W16_STEP(8);
        EDGEC_PK_W16_STEP(12);
    }
    for (; i < n; i += 4, x0 += 4, x1 += 4, w0 += 8, w1 += 8) {
        EDGEC_PK_W16_STEP(0);
    }
    acc[0] = a00;
    acc[1] = a01;
    acc[2] = a10;
    acc[3] = a11;
}

/* The whole windows of two pixels (every kernel row inside the input): `rows` kernel rows of len
 * taps (a multiple of 4), `stride` bytes apart in the input, over the decoded rows w0, w1 as int16
 * pairs; the accumulators stay in registers across the kernel rows. */
EDGEC_FORCE_INLINE void edgec_pk_window_w16(const int8_t *w0_, const int8_t *w1_, const int8_t *x0_,
                                            const int8_t *x1_, int32_t stride, int32_t rows, int32_t len,
                                            int32_t *acc)
{
    int32_t a00 = acc[0], a01 = acc[1], a10 = acc[2], a11 = acc[3];
    int32_t r;
    for (r = 0; r < rows; r++, x0_ += stride, x1_ += stride, w0_ += 2 * len, w1_ += 2 * len) {
        const int8_t *x0 = x0_, *x1 = x1_, *w0 = w0_, *w1 = w1_;
        int32_t i = 0;
        for (; i + 16 <= len; i += 16, x0 += 16, x1 += 16, w0 += 32, w1 += 32) {
            EDGEC_PK_W16_STEP(0);
            EDGEC_PK_W16_STEP(4);
            EDGEC_PK_W16_STEP(8);
            EDGEC_PK_W16_STEP(12);
        }
        for (; i < len; i += 4, x0 += 4, x1 += 4, w0 += 8, w1 += 8) {
            EDGEC_PK_W16_STEP(0);
        }
    }
    acc[0] = a00;
    acc[1] = a01;
    acc[2] = a10;
    acc[3] = a11;
}
#endif

/* Taps t .. t + n - 1 of the decoded rows w0, w1 (unpacked to int16 pairs when w16) over x0, x1. */
EDGEC_FORCE_INLINE void edgec_pk_mac(int w16, const int8_t *w0, const int8_t *w1, int32_t t, const int8_t *x0,
                                     const int8_t *x1, int32_t n, int32_t *acc)
{
#if defined(EDGEC_DSP)
    if (w16) {
        edgec_pk_mac2x2_w16(w0 + 2 * t, w1 + 2 * t, x0, x1, n, acc);
        return;
    }
#endif
    (void)w16;
    edgec_pk_mac2x2(w0 + t, w1 + t, x0, x1, n, acc);
}

/* The whole windows of two pixels at x0, x1: `rows` kernel rows of len taps, `stride` bytes apart. */
EDGEC_FORCE_INLINE void edgec_pk_window(int w16, const int8_t *w0, const int8_t *w1, const int8_t *x0,
                                        const int8_t *x1, int32_t stride, int32_t rows, int32_t len, int32_t *acc)
{
    int32_t r;
#if defined(EDGEC_DSP)
    if (w16) {
        edgec_pk_window_w16(w0, w1, x0, x1, stride, rows, len, acc);
        return;
    }
#endif
    for (r = 0; r < rows; r++) {
        edgec_pk_mac(w16, w0, w1, r * len, x0 + r * stride, x1 + r * stride, len, acc);
    }
}

/* Row `row` decoded into dst: int8 taps, or with w16 (DSP path, taps a multiple of 4) each group of
 * 4 taps as the int16 pairs (w0, w2), (w1, w3). dst holds 2 * taps bytes: the int8 taps are decoded
 * into its second half, then unpacked front to back, which never overtakes them. */
static void edgec_pk_decode_row(const edgec_packed *w, int32_t row, uint32_t *cursor, int8_t *dst, int w16)
{
#if defined(EDGEC_DSP)
    if (w16 && w->format == EDGEC_CLUSTERED && w->index_bits == 4) {
        /* 4 taps = 16 bits of indices (taps a multiple of 4: rows start on a halfword) */
        const int32_t taps = w->taps;
        const int8_t *cb = edgec_codebook(w, row);
        const uint8_t *s = w->values + (uint32_t)row * (uint32_t)taps / 2u;
        int32_t k;
        for (k = 0; k < taps; k += 4, s += 2) {
            const uint32_t idx = (uint32_t)s[0] | ((uint32_t)s[1] << 8);
            const uint32_t lo = (uint16_t)cb[idx & 15u] | ((uint32_t)(uint16_t)cb[(idx >> 8) & 15u] << 16);
            const uint32_t hi = (uint16_t)cb[(idx >> 4) & 15u] | ((uint32_t)(uint16_t)cb[idx >> 12] << 16);
            memcpy(dst + 2 * k, &lo, 4);
            memcpy(dst + 2 * k + 4, &hi, 4);
        }
        return;
    }
    if (w16) {
        const int32_t taps = w->taps;
        int8_t *const bytes = dst + taps;
        int32_t k;
        edgec_unpack_dense(w, row, cursor, bytes);
        for (k = 0; k < taps; k += 4) {
            int32_t x, lo, hi;
            memcpy(&x, bytes + k, 4);
            lo = edgec_sxtb16(x);
            hi = edgec_sxtb16_ror8(x);
            memcpy(dst + 2 * k, &lo, 4);
            memcpy(dst + 2 * k + 4, &hi, 4);
        }
        return;
    }
#endif
    (void)w16;
    edgec_unpack_dense(w, row, cursor, dst);
}

/* Whether tap row ky, column kx of a window at (iy0, ix0) lies inside the input. */
static inline int edgec_pk_inside(const edgec_conv_params *p, int32_t iy0, int32_t ix0, int32_t ky, int32_t kx)
{
    const int32_t iy = iy0 + ky * p->dilation_h, ix = ix0 + kx * p->dilation_w;
    return iy >= 0 && iy < p->in_h && ix >= 0 && ix < p->in_w;
}

/* The tile's output pixels t0 .. t0 + n - 1, in an order where pixels whose windows have the same
 * taps inside the input are adjacent (whole windows first): order[i] is the pixel (from t0), with
 * its window origin (py, px), the offset of its window's first tap (base), which taps (ky, kx) lie
 * inside (bit ky * kernel_w + kx of inside) and group[i], how many of pixels i, i+1, i+2, i+3
 * (at most 4) share pixel i's inside taps. */
static void edgec_pk_tile(const edgec_conv_params *p, int32_t t0, int32_t n, int32_t *base, int16_t *py,
                          int16_t *px, uint64_t *inside, uint8_t *order, uint8_t *group)
{
    int32_t i, j, ky, kx;
    for (i = 0; i < n; i++) {
        const int32_t oy = (t0 + i) / p->out_w, ox = (t0 + i) % p->out_w;
        const int32_t iy0 = oy * p->stride_h - p->pad_top, ix0 = ox * p->stride_w - p->pad_left;
        uint64_t m = 0;
        for (ky = 0; ky < p->kernel_h; ky++) {
            for (kx = 0; kx < p->kernel_w; kx++) {
                if (edgec_pk_inside(p, iy0, ix0, ky, kx)) {
                    m |= (uint64_t)1 << (ky * p->kernel_w + kx);
                }
            }
        }
        /* insertion by mask, descending; stable */
        for (j = i; j > 0 && inside[j - 1] < m; j--) {
            inside[j] = inside[j - 1];
            base[j] = base[j - 1];
            py[j] = py[j - 1];
            px[j] = px[j - 1];
            order[j] = order[j - 1];
        }
        inside[j] = m;
        base[j] = (iy0 * p->in_w + ix0) * p->in_c;
        py[j] = (int16_t)iy0;
        px[j] = (int16_t)ix0;
        order[j] = (uint8_t)i;
    }
    for (i = 0; i < n; i++) {
        for (j = 1; j < 4 && i + j < n && inside[i + j] == inside[i]; j++) {
        }
        group[i] = (uint8_t)j;
    }
}

/* Where kernel row ky of pixel t reads: 0 outside the input (every tap is padding), 1 inside
 * (all of its taps), 2 partly inside. */
static inline int edgec_pk_row(const edgec_conv_params *p, int32_t iy0, int32_t ix0, int32_t ky)
{
    const int32_t iy = iy0 + ky * p->dilation_h;
    if (iy < 0 || iy >= p->in_h) {
        return 0;
    }
    return ix0 >= 0 && ix0 + (p->kernel_w - 1) * p->dilation_w < p->in_w ? 1 : 2;
}

/* Sparse rows: one channel of a group of `count` pixels whose windows have the same taps inside
 * (mask), at window origins x[0..count-1]. The entries of consecutive segments inside are
 * contiguous in the list: each run of them is one pass; the segments outside count input_zp
 * times the sum of their values (and are not read). */
static void edgec_pk_sparse_border(const edgec_conv_params *p, const int8_t *const *x, uint64_t mask,
                                   const uint32_t *ent, const uint16_t *seg_end, const int32_t *seg_sum, int32_t *acc,
                                   int32_t count)
{
    const int32_t runs = p->kernel_h * p->kernel_w;
    int32_t start = 0, outside = 0, r = 0, j;
    while (r < runs) {
        if ((mask >> r) & 1u) {
            while (r + 1 < runs && ((mask >> (r + 1)) & 1u)) {
                r++;
            }
            edgec_pk_sparse_n(ent + start, seg_end[r] - start, x, acc, count);
        } else {
            outside += seg_sum[r];
        }
        start = seg_end[r];
        r++;
    }
    for (j = 0; j < count; j++) {
        acc[j] += outside * p->input_zp;
    }
}

void edgec_conv2d_packed_s8(const edgec_conv_params *p, const edgec_packed *w, int32_t tile,
                            const int8_t *input, int8_t *output, int32_t *scratch)
{
    const int32_t cin = p->in_c / p->groups;
    const int32_t cpg = p->out_c / p->groups;
    const int32_t kh = p->kernel_h, kw = p->kernel_w, runs = kh * kw;
    const int32_t taps = runs * cin, len = kw * cin;
    const int32_t pixels = p->out_h * p->out_w;
    const int merge_rows = p->groups == 1 && p->dilation_w == 1; /* a kernel row is contiguous input */
    const int sparse = w->format != EDGEC_CLUSTERED;
    const edgec_pk_out q = {p->bias, p->multiplier, p->shift, p->output_zp, p->act_min, p->act_max, p->narrow};
    /* scratch: inside[tile] (uint64), seg_off[runs], seg_sum[runs], base[tile] (int32); iy0[tile],
     * ix0[tile] (int16); order[tile], group[tile]; zp[kernel_w * cin]; then the decoded row(s): two
     * dense rows (int16 pairs on the DSP path), or one row's nonzeros (seg_end[runs], ent[]). */
    uint64_t *const inside = (uint64_t *)(void *)scratch;
    int32_t *const seg_off = (int32_t *)(inside + tile);
    int32_t *const seg_sum = seg_off + runs;
    int32_t *const base = seg_sum + runs;
    int16_t *const py = (int16_t *)(base + tile);
    int16_t *const px = py + tile;
    uint8_t *const order = (uint8_t *)(px + tile);
    uint8_t *const group = order + edgec_align4(tile);
    const uint64_t all = runs == 64 ? ~(uint64_t)0 : (((uint64_t)1 << runs) - 1u);
    int8_t *const zp = (int8_t *)group + edgec_align4(tile);
    int8_t *const dec = zp + edgec_align4(len);
    int8_t *const row0 = dec, *const row1 = dec + 2 * edgec_align4(taps);
    const int w16 = (cin & 3) == 0;
    uint16_t *const seg_end = (uint16_t *)dec;
    uint32_t *const ent = (uint32_t *)(void *)(dec + edgec_align4(2 * runs));
    int32_t b, t0, i, ky, kx, oc;

    for (ky = 0; ky < kh; ky++) {
        for (kx = 0; kx < kw; kx++) {
            seg_off[ky * kw + kx] = (ky * p->dilation_h * p->in_w + kx * p->dilation_w) * p->in_c;
        }
    }
    memset(zp, p->input_zp, (size_t)len);
    for (b = 0; b < p->batches; b++) {
        const int8_t *in_b = input + b * p->in_h * p->in_w * p->in_c;
        int8_t *out_b = output + b * pixels * p->out_c;
        for (t0 = 0; t0 < pixels; t0 += tile) {
            const int32_t n = edgec_min(tile, pixels - t0);
            int8_t *const out_t = out_b + t0 * p->out_c;
            uint32_t cursor = 0;
            edgec_pk_tile(p, t0, n, base, py, px, inside, order, group);
            for (oc = 0; oc < p->out_c;) {
                const int32_t g = oc / cpg;
                const int8_t *in_g = in_b + g * cin;
                if (sparse) {
                    /* one channel, a group of up to four pixels at a time (x of a smaller group padded with its
                     * first pixel's; only its `count` pixels are computed) */
                    const int32_t nz = edgec_unpack_list(w, oc, &cursor, seg_off, cin, ent, seg_end, seg_sum);
                    for (i = 0; i < n; i += group[i]) {
                        const int32_t count = group[i];
                        int32_t acc[4] = {0, 0, 0, 0}, j;
                        const int8_t *x[4];
                        for (j = 0; j < 4; j++) {
                            /* the window origin; for a window partly outside, only taps inside are read */
                            x[j] = (const int8_t *)((uintptr_t)in_g + (uintptr_t)(intptr_t)base[i + (j < count ? j : 0)]);
                        }
                        if (inside[i] != all) {
                            edgec_pk_sparse_border(p, x, inside[i], ent, seg_end, seg_sum, acc, count);
                        } else if (count == 4) {
                            edgec_pk_sparse4(ent, nz, x, acc);
                        } else {
                            edgec_pk_sparse_n(ent, nz, x, acc, count);
                        }
                        for (j = 0; j < count; j++) {
                            out_t[order[i + j] * p->out_c + oc] = edgec_pk_requant(&q, oc, acc[j]);
                        }
                    }
                    oc++;
                } else {
                    /* two channels (when in the same group), two pixels at a time */
                    const int pair = oc + 1 < p->out_c && (oc + 1) / cpg == g;
                    const int8_t *w1 = pair ? row1 : row0;
                    edgec_pk_decode_row(w, oc, &cursor, row0, w16);
                    if (pair) {
                        edgec_pk_decode_row(w, oc + 1, &cursor, row1, w16);
                    }
                    for (i = 0; i < n; i += 2) {
                        const int two = i + 1 < n;
                        const int32_t j = two ? i + 1 : i;
                        int32_t acc[4] = {0, 0, 0, 0};
                        if (merge_rows) {
                            /* row by row; a row partly inside segment by segment */
                            const int both = inside[i] == all && inside[j] == all;
                            if (both) {
                                edgec_pk_window(w16, row0, w1, in_g + base[i], in_g + base[j],
                                                p->dilation_h * p->in_w * p->in_c, kh, len, acc);
                            }
                            for (ky = 0; ky < kh && !both; ky++) {
                                const int ri = edgec_pk_row(p, py[i], px[i], ky);
                                const int rj = edgec_pk_row(p, py[j], px[j], ky);
                                const int32_t o = seg_off[ky * kw];
                                if (ri != 2 && rj != 2) {
                                    edgec_pk_mac(w16, row0, w1, ky * len, ri ? in_g + base[i] + o : zp,
                                                 rj ? in_g + base[j] + o : zp, len, acc);
                                    continue;
                                }
                                for (kx = 0; kx < kw; kx++) {
                                    const int32_t r = ky * kw + kx;
                                    const int8_t *x0 = edgec_pk_inside(p, py[i], px[i], ky, kx)
                                                           ? in_g + base[i] + seg_off[r] : zp;
                                    const int8_t *x1 = edgec_pk_inside(p, py[j], px[j], ky, kx)
                                                           ? in_g + base[j] + seg_off[r] : zp;
                                    edgec_pk_mac(w16, row0, w1, r * cin, x0, x1, cin, acc);
                                }
                            }
                        } else {
                            for (ky = 0; ky < kh; ky++) {
                                for (kx = 0; kx < kw; kx++) {
                                    const int32_t r = ky * kw + kx;
                                    const int8_t *x0 = edgec_pk_inside(p, py[i], px[i], ky, kx)
                                                           ? in_g + base[i] + seg_off[r] : zp;
                                    const int8_t *x1 = edgec_pk_inside(p, py[j], px[j], ky, kx)
                                                           ? in_g + base[j] + seg_off[r] : zp;
                                    edgec_pk_mac(w16, row0, w1, r * cin, x0, x1, cin, acc);
                                }
                            }
                        }
                        out_t[order[i] * p->out_c + oc] = edgec_pk_requant(&q, oc, acc[0]);
                        if (two) {
                            out_t[order[j] * p->out_c + oc] = edgec_pk_requant(&q, oc, acc[1]);
                        }
                        if (pair) {
                            out_t[order[i] * p->out_c + oc + 1] = edgec_pk_requant(&q, oc + 1, acc[2]);
                            if (two) {
                                out_t[order[j] * p->out_c + oc + 1] = edgec_pk_requant(&q, oc + 1, acc[3]);
                            }
                        }
                    }
                    oc += pair ? 2 : 1;
                }
            }
        }
    }
}

