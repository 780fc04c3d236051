/* edgec C engine: 2-D convolution, int8.
 *
 * acc = bias' + sum(w * x) where bias' already holds -input_zp * sum(w): the input offset leaves
 * the inner loop. Taps that fall in the padding count as x = input_zp (their real value is 0),
 * which gives exactly TFLM's sum over valid taps of w * (x - input_zp).
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

void edgec_conv2d_s8(const edgec_conv_params *p, const int8_t *input, int8_t *output)
{
    const int32_t cin = p->in_c / p->groups;
    const int32_t cout_per_group = p->out_c / p->groups;
    const int32_t taps = p->kernel_h * p->kernel_w * cin;
    const int32_t row = p->kernel_w * cin; /* contiguous weights and input of one kernel row */
    const int contiguous_rows = p->groups == 1 && p->dilation_w == 1;
    int32_t b, oy, ox, oc;

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
