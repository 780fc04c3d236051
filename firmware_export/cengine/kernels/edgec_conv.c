/* edgec C engine: 2-D convolution, int8.
 *
 * acc = bias' + sum(w * x) where bias' already holds -input_zp * sum(w): the input offset leaves
 * the inner loop. Taps that fall in the padding count as x = input_zp (their real value is 0),
 * which gives exactly TFLM's sum over valid taps of w * (x - input_zp).
 *
 * With the DSP extension (groups == 1), two output pixels at a time are first gathered into two
 * columns of int16 pairs in the scratch buffer (im2col, padding taps = input_zp), then each pair of output
 * channels is computed over both columns at once: a 32-bit load of 4 weights is unpacked once by
 * SXTB16 into (w0, w2) and (w1, w3), so the columns store each group of 4 taps in that order,
 * (x0, x2, x1, x3), and every SMLAD takes one unpacked weight word and one column word.
 *
 * On Armv6-M (EDGEC_V6M: no SIMD), four output pixels whose windows lie inside the input are
 * computed at a time: each weight byte is loaded once for four MACs, from the windows in place.
 */
#include "edgec_conv.h"

static inline int8_t edgec_conv_out(const edgec_conv_params *p, int32_t oc, int32_t acc)
{
    return edgec_requantize(p->narrow, acc + p->bias[oc], p->multiplier[oc], p->shift[oc], p->output_zp,
                            p->act_min, p->act_max);
}

static int32_t edgec_conv_border(const edgec_conv_params *p, const int8_t *in, const int8_t *w,
                                 int32_t iy0, int32_t ix0, int32_t cin)
{
    int32_t acc = 0;
    int32_t ky, kx;
    for (ky = 0; ky < p->kernel_h; ky++) {
        const int32_t iy = iy0 + ky * p->dilation_h;
        for (kx = 0; kx < p->kernel_w; kx++) {
            const int32_t ix = ix0 + kx * p->dilation_w;
            const int8_t *wt = w + (ky * p->kernel_w + kx) * cin;
            if (iy >= 0 && iy < p->in_h && ix >= 0 && ix < p->in_w) {
                acc += edgec_dot_s8(in + (iy * p->in_w + ix) * p->in_c, wt, cin);
            } else {
                acc += p->input_zp * edgec_sum_s8(wt, cin);
            }
        }
    }
    return acc;
}

#if defined(EDGEC_V6M)
/* S_k += sum over i < N of A_k[i] * W[i], k < 4, N >= 1: four windows against one weight row.
 * A macro on the caller's own scalars (the assembly clobbers memory: an array of sums would live there). */
/* The assembly needs every low register: gcc finds them at -O1 to -O3, not at -O0 or -Os (a frame
 * pointer or its size heuristics take one), where the C loop below computes the same sums; define
 * EDGEC_NO_ASM for it too when building with -fno-omit-frame-pointer. */
#if defined(__ARM_ARCH_6M__) && defined(__GNUC__) && defined(__OPTIMIZE__) && !defined(__OPTIMIZE_SIZE__) && \
    !defined(EDGEC_NO_ASM)
/* LDRSB takes a register offset only: one index, counting up from -n to 0, serves the five rows;
 * the eight low registers hold the pointers, the index and the two operands, the sums sit in high
 * registers (ADD reaches them): 15 instructions for 4 MACs, where gcc's own allocation spills. gcc
 * emits Thumb-1 inline assembly in the divided syntax: MUL and ADD #imm are MULS and ADDS. */
#define EDGEC_DOT4_S8(S0, S1, S2, S3, A0, A1, A2, A3, W, N)                                                \
    do {                                                                                                 \
        const int32_t n_ = (N);                                                                          \
        int32_t i_ = -n_, x_, wv_;                                                                       \
        __asm__ volatile("1:\n\t"                                                                         \
                         "ldrsb %[wv], [%[w], %[i]]\n\t"                                                  \
                         "ldrsb %[x], [%[a0], %[i]]\n\t"                                                  \
                         "mul %[x], %[wv]\n\t"                                                            \
                         "add %[s0], %[x]\n\t"                                                            \
                         "ldrsb %[x], [%[a1], %[i]]\n\t"                                                  \
                         "mul %[x], %[wv]\n\t"                                                            \
                         "add %[s1], %[x]\n\t"                                                            \
                         "ldrsb %[x], [%[a2], %[i]]\n\t"                                                  \
                         "mul %[x], %[wv]\n\t"                                                            \
                         "add %[s2], %[x]\n\t"                                                            \
                         "ldrsb %[x], [%[a3], %[i]]\n\t"                                                  \
                         "mul %[x], %[wv]\n\t"                                                            \
                         "add %[s3], %[x]\n\t"                                                            \
                         "add %[i], #1\n\t"                                                               \
                         "bne 1b"                                                                        \
                         : [s0] "+h"(S0), [s1] "+h"(S1), [s2] "+h"(S2), [s3] "+h"(S3), [i] "+l"(i_),        \
                           [x] "=&l"(x_), [wv] "=&l"(wv_)                                                \
                         : [a0] "l"((A0) + n_), [a1] "l"((A1) + n_), [a2] "l"((A2) + n_),                 \
                           [a3] "l"((A3) + n_), [w] "l"((W) + n_)                                        \
                         : "cc", "memory");                                                              \
    } while (0)
#else
#define EDGEC_DOT4_S8(S0, S1, S2, S3, A0, A1, A2, A3, W, N)                                                \
    do {                                                                                                 \
        const int8_t *a0_ = (A0), *a1_ = (A1), *a2_ = (A2), *a3_ = (A3), *w_ = (W);                      \
        int32_t i_, n_ = (N);                                                                            \
        for (i_ = 0; i_ < n_; i_++) {                                                                    \
            const int32_t wi_ = w_[i_];                                                                  \
            S0 += (int32_t)a0_[i_] * wi_;                                                                \
            S1 += (int32_t)a1_[i_] * wi_;                                                                \
            S2 += (int32_t)a2_[i_] * wi_;                                                                \
            S3 += (int32_t)a3_[i_] * wi_;                                                                \
        }                                                                                                \
    } while (0)
#endif

#endif

/* Every channel of output pixel (oy, ox): the general path (any groups, dilation, padding). */
static void edgec_conv_pixel(const edgec_conv_params *p, const int8_t *in_b, int32_t oy, int32_t ox, int8_t *out)
{
    const int32_t cin = p->in_c / p->groups;
    const int32_t cout_per_group = p->out_c / p->groups;
    const int32_t taps = p->kernel_h * p->kernel_w * cin;
    const int32_t row = p->kernel_w * cin; /* contiguous weights and input of one kernel row */
#if defined(EDGEC_DSP)
    const int contiguous_rows = 0; /* groups == 1 has taken the im2col path */
#else
    const int contiguous_rows = p->groups == 1 && p->dilation_w == 1;
#endif
    const int32_t iy0 = oy * p->stride_h - p->pad_top;
    const int32_t ix0 = ox * p->stride_w - p->pad_left;
    const int inside = iy0 >= 0 && iy0 + (p->kernel_h - 1) * p->dilation_h < p->in_h && ix0 >= 0 &&
                       ix0 + (p->kernel_w - 1) * p->dilation_w < p->in_w;
    int32_t oc = 0;
#if defined(EDGEC_V6M)
    if (inside && contiguous_rows) {
        /* Four output channels per pass over the window: the four weight rows take the four
         * windows' place in EDGEC_DOT4_S8, the window the weights'. */
        const int8_t *src = in_b + (iy0 * p->in_w + ix0) * p->in_c;
        const int32_t stride = p->dilation_h * p->in_w * p->in_c;
        int32_t r;
        for (; oc + 4 <= p->out_c; oc += 4) {
            const int8_t *w = p->weights + oc * taps;
            int32_t s0 = p->bias[oc], s1 = p->bias[oc + 1], s2 = p->bias[oc + 2], s3 = p->bias[oc + 3];
            for (r = 0; r < p->kernel_h; r++) {
                const int8_t *wr = w + r * row;
                EDGEC_DOT4_S8(s0, s1, s2, s3, wr, wr + taps, wr + 2 * taps, wr + 3 * taps, src + r * stride, row);
            }
            out[oc] = edgec_requantize(p->narrow, s0, p->multiplier[oc], p->shift[oc], p->output_zp, p->act_min,
                                       p->act_max);
            out[oc + 1] = edgec_requantize(p->narrow, s1, p->multiplier[oc + 1], p->shift[oc + 1], p->output_zp,
                                           p->act_min, p->act_max);
            out[oc + 2] = edgec_requantize(p->narrow, s2, p->multiplier[oc + 2], p->shift[oc + 2], p->output_zp,
                                           p->act_min, p->act_max);
            out[oc + 3] = edgec_requantize(p->narrow, s3, p->multiplier[oc + 3], p->shift[oc + 3], p->output_zp,
                                           p->act_min, p->act_max);
        }
    }
#endif
    if (inside && contiguous_rows) {
        /* Two output channels per pass over the window. */
        const int8_t *src = in_b + (iy0 * p->in_w + ix0) * p->in_c;
        const int32_t stride = p->dilation_h * p->in_w * p->in_c;
        for (; oc + 2 <= p->out_c; oc += 2) {
            const int8_t *w = p->weights + oc * taps;
            int32_t acc0, acc1;
            edgec_dot_rows2_s8(src, stride, w, w + taps, p->kernel_h, row, &acc0, &acc1);
            out[oc] = edgec_conv_out(p, oc, acc0);
            out[oc + 1] = edgec_conv_out(p, oc + 1, acc1);
        }
    }
    for (; oc < p->out_c; oc++) {
        const int8_t *w = p->weights + oc * taps;
        const int8_t *in = in_b + (oc / cout_per_group) * cin;
        int32_t acc;
        if (inside && contiguous_rows) {
            acc = edgec_dot_rows_s8(in + (iy0 * p->in_w + ix0) * p->in_c, p->dilation_h * p->in_w * p->in_c, w,
                                    p->kernel_h, row);
        } else {
            acc = edgec_conv_border(p, in, w, iy0, ix0, cin);
        }
        out[oc] = edgec_conv_out(p, oc, acc);
    }
}

#if defined(EDGEC_DSP)
/* The columns of two output pixels, interleaved: taps come in groups of 4, each group four 32-bit
 * words (two int16 taps each, low half first): the first pixel's taps (x0, x2), (x1, x3), then the
 * second pixel's. A word of 4 int8 values x unpacks by SXTB16 into (x0, x2) and by SXTB16 ROR 8 into
 * (x1, x3), for inputs and weights alike; the last group is padded with zero taps. The weights of a
 * channel are read in whole words too: past its last tap they run into the next channel (or the
 * zeros the generator appends to the array), against the columns' zero taps. */
/* The window of output pixel (oy, ox) into the column pair `col` as its pixel `slot` (0 or 1).
 * When in_c is a multiple of 4 every group of 4 taps is 4 consecutive input bytes, unpacked
 * directly; otherwise the window is first gathered as bytes into `bytes` (padded bytes). */
static void edgec_im2col_s16(const edgec_conv_params *p, const int8_t *in_b, int32_t oy, int32_t ox,
                             int32_t *col, int32_t slot, int8_t *bytes)
{
    const int32_t cin = p->in_c;
    const int32_t taps = p->kernel_h * p->kernel_w * cin;
    const int32_t padded = (taps + 3) & ~3;
    const int32_t iy0 = oy * p->stride_h - p->pad_top;
    const int32_t ix0 = ox * p->stride_w - p->pad_left;
    const int32_t zp_pair = (int32_t)(((uint32_t)(uint16_t)p->input_zp << 16) | (uint16_t)p->input_zp);
    const int whole_groups = (cin & 3) == 0;
    /* the window's columns all inside the input, one run of row_len bytes per kernel row */
    const int cols_inside = p->dilation_w == 1 && ix0 >= 0 && ix0 + p->kernel_w <= p->in_w;
    const int32_t row_len = p->kernel_w * cin;
    int32_t ky, kx, c, k = 0;
    col += 2 * slot;
    for (ky = 0; ky < p->kernel_h; ky++) {
        const int32_t iy = iy0 + ky * p->dilation_h;
        const int row_inside = iy >= 0 && iy < p->in_h;
        if (row_inside && cols_inside) {
            const int8_t *src = in_b + (iy * p->in_w + ix0) * cin;
            if (whole_groups) {
                int32_t *dst = col + k;
                for (c = 0; c < row_len; c += 4, dst += 4) {
                    int32_t x;
                    memcpy(&x, src + c, 4);
                    dst[0] = edgec_sxtb16(x);
                    dst[1] = edgec_sxtb16_ror8(x);
                }
            } else {
                for (c = 0; c < row_len; c++) {
                    bytes[k + c] = src[c];
                }
            }
            k += row_len;
            continue;
        }
        for (kx = 0; kx < p->kernel_w; kx++, k += cin) {
            const int32_t ix = ix0 + kx * p->dilation_w;
            const int inside = row_inside && ix >= 0 && ix < p->in_w;
            const int8_t *src = inside ? in_b + (iy * p->in_w + ix) * cin : in_b;
            if (whole_groups) {
                int32_t *dst = col + k;
                if (inside) {
                    for (c = 0; c < cin; c += 4, dst += 4) {
                        int32_t x;
                        memcpy(&x, src + c, 4);
                        dst[0] = edgec_sxtb16(x);
                        dst[1] = edgec_sxtb16_ror8(x);
                    }
                } else {
                    for (c = 0; c < cin; c += 4, dst += 4) {
                        dst[0] = zp_pair;
                        dst[1] = zp_pair;
                    }
                }
            } else {
                for (c = 0; c < cin; c++) {
                    bytes[k + c] = inside ? src[c] : (int8_t)p->input_zp;
                }
            }
        }
    }
    if (!whole_groups) {
        for (k = taps; k < padded; k++) {
            bytes[k] = 0;
        }
        for (k = 0; k < padded; k += 4, col += 4) {
            int32_t x;
            memcpy(&x, bytes + k, 4);
            col[0] = edgec_sxtb16(x);
            col[1] = edgec_sxtb16_ror8(x);
        }
    }
}

#if defined(__ARM_FEATURE_DSP) && defined(__GNUC__) && !defined(EDGEC_NO_DSP)
/* One group of 4 taps of channels W0 and W1 (one word each, pointers advanced) over the two pixels
 * of the column pair C (advanced by the group's 4 words): 16 instructions, 16 MACs; gcc, given
 * the C, loads the column words one by one. */
#define EDGEC_MAC_2X2_GROUP "ldrd %[x0], %[x1], [%[c]], #16\n\t"                                          \
                            "ldrd %[y0], %[y1], [%[c], #-8]\n\t"                                        \
                            "ldr %[w], [%[w0]], #4\n\t"                                                 \
                            "sxtb16 %[t], %[w]\n\t"                                                     \
                            "sxtb16 %[w], %[w], ror #8\n\t"                                             \
                            "smlad %[a00], %[t], %[x0], %[a00]\n\t"                                     \
                            "smlad %[a01], %[t], %[y0], %[a01]\n\t"                                     \
                            "smlad %[a00], %[w], %[x1], %[a00]\n\t"                                     \
                            "smlad %[a01], %[w], %[y1], %[a01]\n\t"                                     \
                            "ldr %[w], [%[w1]], #4\n\t"                                                 \
                            "sxtb16 %[t], %[w]\n\t"                                                     \
                            "sxtb16 %[w], %[w], ror #8\n\t"                                             \
                            "smlad %[a10], %[t], %[x0], %[a10]\n\t"                                     \
                            "smlad %[a11], %[t], %[y0], %[a11]\n\t"                                     \
                            "smlad %[a10], %[w], %[x1], %[a10]\n\t"                                     \
                            "smlad %[a11], %[w], %[y1], %[a11]\n\t"
#define EDGEC_MAC_2X2_ASM(TEXT)                                                                          \
    __asm__(TEXT                                                                                         \
            : [a00] "+r"(a00), [a01] "+r"(a01), [a10] "+r"(a10), [a11] "+r"(a11), [w0] "+r"(w0),         \
              [w1] "+r"(w1), [c] "+r"(c), [x0] "=&r"(x0), [x1] "=&r"(x1), [y0] "=&r"(y0), [y1] "=&r"(y1), \
              [w] "=&r"(w), [t] "=&r"(t)                                                                 \
            :                                                                                            \
            : "memory")
#endif

/* Dot products of the weights of channels w0 and w1 with the column pair c over `groups` groups
 * of 4 taps, plus b0 (channel w0) or b1 (w1): *s00 = b0 + w0.pixel0, *s01 = b0 + w0.pixel1,
 * *s10 = b1 + w1.pixel0, *s11 = b1 + w1.pixel1. */
EDGEC_FORCE_INLINE void edgec_mac_2x2(const int8_t *w0, const int8_t *w1, const int32_t *c, int32_t groups,
                                      int32_t b0, int32_t b1, int32_t *s00, int32_t *s01, int32_t *s10,
                                      int32_t *s11)
{
    int32_t a00 = b0, a01 = b0, a10 = b1, a11 = b1;
    const int32_t *const end = c + 4 * groups, *const end4 = c + 16 * (groups >> 2);
#if defined(EDGEC_MAC_2X2_ASM)
    int32_t x0, x1, y0, y1, w, t;
    while (c != end4) {
        EDGEC_MAC_2X2_ASM(EDGEC_MAC_2X2_GROUP EDGEC_MAC_2X2_GROUP EDGEC_MAC_2X2_GROUP EDGEC_MAC_2X2_GROUP);
    }
    while (c != end) {
        EDGEC_MAC_2X2_ASM(EDGEC_MAC_2X2_GROUP);
    }
#else
    (void)end4;
    for (; c != end; c += 4, w0 += 4, w1 += 4) {
        int32_t wa, wb, wa_lo, wa_hi, wb_lo, wb_hi;
        memcpy(&wa, w0, 4);
        memcpy(&wb, w1, 4);
        wa_lo = edgec_sxtb16(wa);
        wa_hi = edgec_sxtb16_ror8(wa);
        wb_lo = edgec_sxtb16(wb);
        wb_hi = edgec_sxtb16_ror8(wb);
        a00 = edgec_smlad(wa_hi, c[1], edgec_smlad(wa_lo, c[0], a00));
        a01 = edgec_smlad(wa_hi, c[3], edgec_smlad(wa_lo, c[2], a01));
        a10 = edgec_smlad(wb_hi, c[1], edgec_smlad(wb_lo, c[0], a10));
        a11 = edgec_smlad(wb_hi, c[3], edgec_smlad(wb_lo, c[2], a11));
    }
#endif
    *s00 = a00;
    *s01 = a01;
    *s10 = a10;
    *s11 = a11;
}

/* Channels whose sums (two pixels each) wait on the stack for their rescale: the MAC loop and the
 * rescale loop each keep their few values in registers (one loop doing both spills them). */
#define EDGEC_CONV_CHUNK 32

/* sums[2k + j] = bias[k] + the dot product of channel k's weights (w + k * taps) with pixel j of
 * the column pair, k < n; channels two at a time (an odd last channel with itself). */
#if defined(__GNUC__)
__attribute__((noinline)) /* apart from the pixel loop, whose values would spill around the MAC loop */
#endif
static void edgec_conv_sums(const int8_t *w, int32_t taps, const int32_t *bias, const int32_t *col, int32_t groups,
                            int32_t n, int32_t *sums)
{
    int32_t k;
    for (k = 0; k + 2 <= n; k += 2, w += 2 * taps, sums += 4) {
        edgec_mac_2x2(w, w + taps, col, groups, bias[k], bias[k + 1], &sums[0], &sums[1], &sums[2], &sums[3]);
    }
    if (k < n) {
        int32_t s10, s11;
        edgec_mac_2x2(w, w, col, groups, bias[k], 0, &sums[0], &sums[1], &s10, &s11);
    }
}

/* out0[c], out1[c] = the rescaled sums[2c], sums[2c + 1], c < n. narrow: the short
 * rescale; full: 1 when the activation range is all of int8 (the clamp is one SSAT), 2 when its
 * top is 127 (SSAT and a conditional move), 0 otherwise; both constants at each call site. out1 may equal out0 (one pixel: its two sums are the same). */
EDGEC_FORCE_INLINE void edgec_conv_rescale_body(const int32_t *sums, int32_t n, const int32_t *multiplier, const int8_t *shift, int32_t zp,
                                                int32_t lo, int32_t hi, int8_t *out0, int8_t *out1, int narrow,
                                                int full)
{
    int32_t c;
    for (c = 0; c < n; c++, sums += 2) {
        const int32_t m = multiplier[c];
        const int sh = shift[c];
        int32_t y0, y1;
        if (narrow) {
            y0 = edgec_mbqm_narrow(sums[0], m, sh) + zp;
            y1 = edgec_mbqm_narrow(sums[1], m, sh) + zp;
        } else {
            y0 = edgec_mbqm(sums[0], m, sh) + zp;
            y1 = edgec_mbqm(sums[1], m, sh) + zp;
        }
#if defined(__ARM_FEATURE_DSP) && defined(__GNUC__) && !defined(EDGEC_NO_DSP)
        if (full) {
            y0 = edgec_ssat8(y0);
            y1 = edgec_ssat8(y1);
            if (full == 2) { /* hi is 127: the clamp to lo conditional, not a branch (gcc branches) */
                __asm__("cmp %0, %2\n\tit lt\n\tmovlt %0, %2\n\t"
                        "cmp %1, %2\n\tit lt\n\tmovlt %1, %2"
                        : "+r"(y0), "+r"(y1)
                        : "r"(lo)
                        : "cc");
            }
        } else
#endif
        {
            (void)full;
            y0 = y0 < lo ? lo : (y0 > hi ? hi : y0);
            y1 = y1 < lo ? lo : (y1 > hi ? hi : y1);
        }
        out0[c] = (int8_t)y0;
        out1[c] = (int8_t)y1;
    }
}

static void edgec_conv_rescale(const edgec_conv_params *p, int32_t oc, int32_t n, const int32_t *sums, int8_t *out0,
                               int8_t *out1)
{
    const int32_t *const multiplier = p->multiplier + oc;
    const int8_t *const shift = p->shift + oc;
    const int32_t zp = p->output_zp, lo = p->act_min, hi = p->act_max;
    out0 += oc;
    out1 += oc;
    if (p->narrow && lo <= -128 && hi >= 127) {
        edgec_conv_rescale_body(sums, n, multiplier, shift, zp, lo, hi, out0, out1, 1, 1);
    } else if (p->narrow && hi >= 127) {
        edgec_conv_rescale_body(sums, n, multiplier, shift, zp, lo, hi, out0, out1, 1, 2);
    } else if (p->narrow) {
        edgec_conv_rescale_body(sums, n, multiplier, shift, zp, lo, hi, out0, out1, 1, 0);
    } else {
        edgec_conv_rescale_body(sums, n, multiplier, shift, zp, lo, hi, out0, out1, 0, 0);
    }
}

/* groups == 1: output pixels two at a time (raster order), through the scratch column pair; their
 * outputs are written once both windows are read (the planner's in-place lag relies on it). */
void edgec_conv2d_s8_im2col(const edgec_conv_params *p, const int8_t *input, int8_t *output, int32_t *scratch,
                            int32_t out_stride)
{
    const int32_t taps = p->kernel_h * p->kernel_w * p->in_c;
    const int32_t padded = (taps + 3) & ~3;
    const int32_t groups = padded / 4;
    const int32_t pixels = p->out_h * p->out_w, out_c = p->out_c;
    int8_t *const bytes = (int8_t *)(scratch + padded);
    const int32_t px_step = out_stride;
    int32_t sums[2 * EDGEC_CONV_CHUNK];
    int32_t b, px, oc;
    for (b = 0; b < p->batches; b++) {
        const int8_t *in_b = input + b * p->in_h * p->in_w * p->in_c;
        int8_t *out_b = output + b * pixels * px_step;
        for (px = 0; px < pixels; px += 2) {
            const int two = px + 1 < pixels;
            int8_t *const out0 = out_b + px * px_step;
            int8_t *const out1 = two ? out0 + px_step : out0;
            const int32_t px1 = two ? px + 1 : px;
            edgec_im2col_s16(p, in_b, px / p->out_w, px % p->out_w, scratch, 0, bytes);
            edgec_im2col_s16(p, in_b, px1 / p->out_w, px1 % p->out_w, scratch, 1, bytes);
            for (oc = 0; oc < out_c; oc += EDGEC_CONV_CHUNK) {
                const int32_t n = edgec_min(EDGEC_CONV_CHUNK, out_c - oc);
                edgec_conv_sums(p->weights + oc * taps, taps, p->bias + oc, scratch, groups, n, sums);
                edgec_conv_rescale(p, oc, n, sums, out0, out1);
            }
        }
    }
}
#endif

#if defined(EDGEC_V6M)
/* The window of output pixel px (raster order) when it lies wholly inside the input, else NULL. */
static const int8_t *edgec_conv_window(const edgec_conv_params *p, const int8_t *in_b, int32_t px)
{
    const int32_t iy0 = (px / p->out_w) * p->stride_h - p->pad_top;
    const int32_t ix0 = (px % p->out_w) * p->stride_w - p->pad_left;
    if (iy0 < 0 || iy0 + (p->kernel_h - 1) * p->dilation_h >= p->in_h || ix0 < 0 ||
        ix0 + (p->kernel_w - 1) * p->dilation_w >= p->in_w) {
        return NULL;
    }
    return in_b + (iy0 * p->in_w + ix0) * p->in_c;
}

/* Whether the outputs of four pixels, from `out`, miss their windows (first..last, raster order).
 * The memory planner may overlap a convolution's output with its input (inplace.py), for a kernel
 * that writes pixel by pixel; four pixels at a time also reread the windows of the block after
 * writing its first outputs, so a block whose outputs would reach them goes pixel by pixel. */
static int edgec_block_apart(const edgec_conv_params *p, const int8_t *first, const int8_t *last, const int8_t *out,
                             int32_t out_stride)
{
    const uintptr_t out_lo = (uintptr_t)out, out_hi = out_lo + (uintptr_t)(3 * out_stride + p->out_c);
    const uintptr_t in_lo = (uintptr_t)first;
    const uintptr_t in_hi = (uintptr_t)last + (uintptr_t)((p->kernel_h - 1) * p->dilation_h * p->in_w * p->in_c +
                                                          p->kernel_w * p->in_c);
    return out_hi <= in_lo || out_lo >= in_hi;
}

/* groups == 1, dilation_w == 1: every channel of four output pixels (raster order, their outputs
 * consecutive) whose windows w0..w3 lie inside the input. The parameters are read into locals
 * once: the int8_t output stores may alias them. */
static void edgec_conv_pixels4(const edgec_conv_params *p, const int8_t *w0, const int8_t *w1, const int8_t *w2,
                               const int8_t *w3, int8_t *out, int32_t px_step)
{
    const int32_t row = p->kernel_w * p->in_c, kernel_h = p->kernel_h, out_c = p->out_c;
    const int32_t taps = kernel_h * row;
    const int32_t stride = p->dilation_h * p->in_w * p->in_c;
    const int8_t *const weights = p->weights;
    const int32_t *const bias = p->bias, *const multiplier = p->multiplier;
    const int8_t *const shift = p->shift;
    const int32_t narrow = p->narrow, zp = p->output_zp, lo = p->act_min, hi = p->act_max;
    int32_t oc, r;
    for (oc = 0; oc < out_c; oc++, out++) {
        const int8_t *w = weights + oc * taps;
        const int32_t b = bias[oc], m = multiplier[oc];
        const int sh = shift[oc];
        int32_t s0 = b, s1 = b, s2 = b, s3 = b;
        for (r = 0; r < kernel_h; r++) {
            const int32_t off = r * stride;
            EDGEC_DOT4_S8(s0, s1, s2, s3, w0 + off, w1 + off, w2 + off, w3 + off, w + r * row, row);
        }
        out[0] = edgec_requantize(narrow, s0, m, sh, zp, lo, hi);
        out[px_step] = edgec_requantize(narrow, s1, m, sh, zp, lo, hi);
        out[2 * px_step] = edgec_requantize(narrow, s2, m, sh, zp, lo, hi);
        out[3 * px_step] = edgec_requantize(narrow, s3, m, sh, zp, lo, hi);
    }
}
#endif

void edgec_conv2d_s8_strided(const edgec_conv_params *p, const int8_t *input, int8_t *output, int32_t *scratch,
                             int32_t out_stride)
{
    int32_t b, oy, ox;

#if defined(EDGEC_DSP)
    if (p->groups == 1) {
        edgec_conv2d_s8_im2col(p, input, output, scratch, out_stride);
        return;
    }
#endif
    (void)scratch;
#if defined(EDGEC_V6M)
    if (p->groups == 1 && p->dilation_w == 1) {
        const int32_t pixels = p->out_h * p->out_w;
        int32_t px, k;
        for (b = 0; b < p->batches; b++) {
            const int8_t *in_b = input + b * p->in_h * p->in_w * p->in_c;
            int8_t *out_b = output + b * pixels * out_stride;
            for (px = 0; px < pixels; px++) {
                const int8_t *src[4];
                for (k = 0; k < 4 && px + k < pixels; k++) {
                    src[k] = edgec_conv_window(p, in_b, px + k);
                    if (src[k] == NULL) {
                        break;
                    }
                }
                if (k == 4 && edgec_block_apart(p, src[0], src[3], out_b + px * out_stride, out_stride)) {
                    edgec_conv_pixels4(p, src[0], src[1], src[2], src[3], out_b + px * out_stride, out_stride);
                    px += 3;
                } else {
                    edgec_conv_pixel(p, in_b, px / p->out_w, px % p->out_w, out_b + px * out_stride);
                }
            }
        }
        return;
    }
#endif
    for (b = 0; b < p->batches; b++) {
        const int8_t *in_b = input + b * p->in_h * p->in_w * p->in_c;
        for (oy = 0; oy < p->out_h; oy++) {
            for (ox = 0; ox < p->out_w; ox++) {
                edgec_conv_pixel(p, in_b, oy, ox, output + ((b * p->out_h + oy) * p->out_w + ox) * out_stride);
            }
        }
    }
}
