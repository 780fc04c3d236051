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
 */
#include "edgec_conv.h"

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

#if defined(EDGEC_DSP)
/* A column is an array of 32-bit words, each two int16 taps (low half first). Within each whole
 * group of 4 taps the order is (0, 2, 1, 3); the last taps % 4 taps keep their place. */
static void edgec_col_set(int32_t *col, int32_t k, int32_t taps4, int32_t value)
{
    const int32_t pos = k < taps4 ? (k & ~3) | ((k & 1) << 1) | ((k >> 1) & 1) : k;
    const uint32_t word = (uint32_t)col[pos >> 1];
    const uint32_t v = (uint32_t)value & 0xffffu;
    col[pos >> 1] = (int32_t)((pos & 1) ? (word & 0xffffu) | (v << 16) : (word & 0xffff0000u) | v);
}

static int32_t edgec_col_get(const int32_t *col, int32_t k)
{
    return (int16_t)(((uint32_t)col[k >> 1] >> ((k & 1) * 16)) & 0xffffu);
}

/* The window of output pixel (oy, ox) as one column of kernel_h * kernel_w * in_c taps. */
static void edgec_im2col_s16(const edgec_conv_params *p, const int8_t *in_b, int32_t oy, int32_t ox,
                             int32_t *col)
{
    const int32_t cin = p->in_c;
    const int32_t taps4 = (p->kernel_h * p->kernel_w * cin) & ~3;
    const int32_t iy0 = oy * p->stride_h - p->pad_top;
    const int32_t ix0 = ox * p->stride_w - p->pad_left;
    const int32_t zp_pair = (int32_t)(((uint32_t)(uint16_t)p->input_zp << 16) | (uint16_t)p->input_zp);
    int32_t ky, kx, c, k = 0;
    for (ky = 0; ky < p->kernel_h; ky++) {
        const int32_t iy = iy0 + ky * p->dilation_h;
        for (kx = 0; kx < p->kernel_w; kx++, k += cin) {
            const int32_t ix = ix0 + kx * p->dilation_w;
            const int inside = iy >= 0 && iy < p->in_h && ix >= 0 && ix < p->in_w;
            const int8_t *src = inside ? in_b + (iy * p->in_w + ix) * cin : in_b;
            if ((cin & 3) == 0) { /* k is a multiple of 4: whole groups, two words each */
                int32_t *dst = col + (k >> 1);
                if (inside) {
                    for (c = 0; c < cin; c += 4, dst += 2) {
                        int32_t x;
                        memcpy(&x, src + c, 4);
                        dst[0] = edgec_sxtb16(x);
                        dst[1] = edgec_sxtb16_ror8(x);
                    }
                } else {
                    for (c = 0; c < cin; c += 2) {
                        *dst++ = zp_pair;
                    }
                }
            } else {
                for (c = 0; c < cin; c++) {
                    edgec_col_set(col, k + c, taps4, inside ? src[c] : p->input_zp);
                }
            }
        }
    }
}

/* 4 taps of channels a and b (4 weights each in one word) over two columns (two words each). */
#define EDGEC_MAC_2X2_STEP(wa, wb, x0a, x0b, x1a, x1b)                                                  \
    do {                                                                                             \
        const int32_t wa_lo = edgec_sxtb16(wa), wa_hi = edgec_sxtb16_ror8(wa);                       \
        const int32_t wb_lo = edgec_sxtb16(wb), wb_hi = edgec_sxtb16_ror8(wb);                       \
        a00 = edgec_smlad(wa_hi, (x0b), edgec_smlad(wa_lo, (x0a), a00));                            \
        a01 = edgec_smlad(wa_hi, (x1b), edgec_smlad(wa_lo, (x1a), a01));                            \
        a10 = edgec_smlad(wb_hi, (x0b), edgec_smlad(wb_lo, (x0a), a10));                            \
        a11 = edgec_smlad(wb_hi, (x1b), edgec_smlad(wb_lo, (x1a), a11));                            \
    } while (0)

/* Dot products of the weights of channels w0 and w1 with columns c0 and c1 (taps long):
 * acc[0] = w0.c0, acc[1] = w0.c1, acc[2] = w1.c0, acc[3] = w1.c1. */
static void edgec_mac_2x2(const int8_t *w0, const int8_t *w1, const int32_t *c0, const int32_t *c1,
                          int32_t taps, int32_t *acc)
{
    int32_t a00 = 0, a01 = 0, a10 = 0, a11 = 0;
    const int32_t taps4 = taps & ~3;
    int32_t i;
    i = 0;
    for (; i + 8 <= taps4; i += 8, c0 += 4, c1 += 4) {
        int32_t wa, wb, wc, wd;
        memcpy(&wa, w0 + i, 4);
        memcpy(&wb, w1 + i, 4);
        memcpy(&wc, w0 + i + 4, 4);
        memcpy(&wd, w1 + i + 4, 4);
        EDGEC_MAC_2X2_STEP(wa, wb, c0[0], c0[1], c1[0], c1[1]);
        EDGEC_MAC_2X2_STEP(wc, wd, c0[2], c0[3], c1[2], c1[3]);
    }
    for (; i < taps4; i += 4, c0 += 2, c1 += 2) {
        int32_t wa, wb;
        memcpy(&wa, w0 + i, 4);
        memcpy(&wb, w1 + i, 4);
        EDGEC_MAC_2X2_STEP(wa, wb, c0[0], c0[1], c1[0], c1[1]);
    }
    for (; i < taps; i++) {
        const int32_t x0 = edgec_col_get(c0, i - taps4), x1 = edgec_col_get(c1, i - taps4);
        a00 += (int32_t)w0[i] * x0;
        a01 += (int32_t)w0[i] * x1;
        a10 += (int32_t)w1[i] * x0;
        a11 += (int32_t)w1[i] * x1;
    }
    acc[0] = a00;
    acc[1] = a01;
    acc[2] = a10;
    acc[3] = a11;
}

static int8_t edgec_conv_out(const edgec_conv_params *p, int32_t oc, int32_t acc)
{
    return edgec_requantize(acc + p->bias[oc], p->multiplier[oc], p->shift[oc], p->output_zp, p->act_min,
                            p->act_max);
}

/* groups == 1: output pixels two at a time (raster order), through the scratch columns. */
static void edgec_conv2d_s8_im2col(const edgec_conv_params *p, const int8_t *input, int8_t *output,
                                   int32_t *scratch)
{
    const int32_t taps = p->kernel_h * p->kernel_w * p->in_c;
    const int32_t words = ((taps + 3) & ~3) / 2;
    const int32_t pixels = p->out_h * p->out_w;
    int32_t *const col0 = scratch;
    int32_t *const col1 = col0 + words;
    int32_t b, px, oc;
    for (b = 0; b < p->batches; b++) {
        const int8_t *in_b = input + b * p->in_h * p->in_w * p->in_c;
        int8_t *out_b = output + b * pixels * p->out_c;
        for (px = 0; px < pixels; px += 2) {
            const int two = px + 1 < pixels;
            int8_t *out0 = out_b + px * p->out_c;
            int8_t *out1 = out0 + p->out_c;
            int32_t acc[4];
            edgec_im2col_s16(p, in_b, px / p->out_w, px % p->out_w, col0);
            if (two) {
                edgec_im2col_s16(p, in_b, (px + 1) / p->out_w, (px + 1) % p->out_w, col1);
            } else {
                memcpy(col1, col0, (size_t)words * sizeof(int32_t));
            }
            for (oc = 0; oc + 2 <= p->out_c; oc += 2) {
                const int8_t *w = p->weights + oc * taps;
                edgec_mac_2x2(w, w + taps, col0, col1, taps, acc);
                out0[oc] = edgec_conv_out(p, oc, acc[0]);
                out0[oc + 1] = edgec_conv_out(p, oc + 1, acc[2]);
                if (two) {
                    out1[oc] = edgec_conv_out(p, oc, acc[1]);
                    out1[oc + 1] = edgec_conv_out(p, oc + 1, acc[3]);
                }
            }
            if (oc < p->out_c) { /* odd channel count: the last channel with itself */
                const int8_t *w = p->weights + oc * taps;
                edgec_mac_2x2(w, w, col0, col1, taps, acc);
                out0[oc] = edgec_conv_out(p, oc, acc[0]);
                if (two) {
                    out1[oc] = edgec_conv_out(p, oc, acc[1]);
                }
            }
        }
    }
}
#endif

void edgec_conv2d_s8(const edgec_conv_params *p, const int8_t *input, int8_t *output, int32_t *scratch)
{
    const int32_t cin = p->in_c / p->groups;
    const int32_t cout_per_group = p->out_c / p->groups;
    const int32_t taps = p->kernel_h * p->kernel_w * cin;
    const int32_t row = p->kernel_w * cin; /* contiguous weights and input of one kernel row */
    const int contiguous_rows = p->groups == 1 && p->dilation_w == 1;
    int32_t b, oy, ox, oc;

#if defined(EDGEC_DSP)
    if (p->groups == 1) {
        edgec_conv2d_s8_im2col(p, input, output, scratch);
        return;
    }
#endif
    (void)scratch;
    for (b = 0; b < p->batches; b++) {
        const int8_t *in_b = input + b * p->in_h * p->in_w * p->in_c;
        for (oy = 0; oy < p->out_h; oy++) {
            const int32_t iy0 = oy * p->stride_h - p->pad_top;
            const int rows_inside = iy0 >= 0 && iy0 + (p->kernel_h - 1) * p->dilation_h < p->in_h;
            for (ox = 0; ox < p->out_w; ox++) {
                const int32_t ix0 = ox * p->stride_w - p->pad_left;
                const int inside = rows_inside && ix0 >= 0 &&
                                   ix0 + (p->kernel_w - 1) * p->dilation_w < p->in_w;
                int8_t *out = output + ((b * p->out_h + oy) * p->out_w + ox) * p->out_c;
                oc = 0;
                if (inside && contiguous_rows) {
                    /* Two output channels per pass over the window. */
                    const int8_t *src = in_b + (iy0 * p->in_w + ix0) * p->in_c;
                    const int32_t stride = p->dilation_h * p->in_w * p->in_c;
                    for (; oc + 2 <= p->out_c; oc += 2) {
                        const int8_t *w = p->weights + oc * taps;
                        int32_t acc0, acc1;
                        edgec_dot_rows2_s8(src, stride, w, w + taps, p->kernel_h, row, &acc0, &acc1);
                        out[oc] = edgec_requantize(acc0 + p->bias[oc], p->multiplier[oc], p->shift[oc],
                                                   p->output_zp, p->act_min, p->act_max);
                        out[oc + 1] = edgec_requantize(acc1 + p->bias[oc + 1], p->multiplier[oc + 1],
                                                       p->shift[oc + 1], p->output_zp, p->act_min, p->act_max);
                    }
                }
                for (; oc < p->out_c; oc++) {
                    const int8_t *w = p->weights + oc * taps;
                    const int8_t *in = in_b + (oc / cout_per_group) * cin;
                    int32_t acc = p->bias[oc];
                    if (inside && contiguous_rows) {
                        acc += edgec_dot_rows_s8(in + (iy0 * p->in_w + ix0) * p->in_c,
                                                 p->dilation_h * p->in_w * p->in_c, w, p->kernel_h, row);
                    } else {
                        acc += edgec_conv_border(p, in, w, iy0, ix0, cin);
                    }
                    out[oc] = edgec_requantize(acc, p->multiplier[oc], p->shift[oc], p->output_zp,
                                               p->act_min, p->act_max);
                }
            }
        }
    }
}
