/* edgec C engine: depthwise convolution over SPARSE_FIXED rows (see edgec_packed_dws.h). */
#include "edgec_packed_dws.h"

void edgec_dwconv2d_sparse_s8(const edgec_dwconv_params *p, const edgec_packed *w, const int8_t *input,
                              int8_t *output)
{
    const int32_t kernel_w = p->kernel_w, taps = p->kernel_h * kernel_w, entries = w->max_nonzeros;
    const int32_t in_h = p->in_h, in_w = p->in_w, in_c = p->in_c, out_c = p->out_c, dm = p->depth_multiplier;
    const int32_t span_h = (p->kernel_h - 1) * p->dilation_h, span_w = (kernel_w - 1) * p->dilation_w;
    const int32_t pos_bytes = (entries + 1) >> 1, narrow = p->narrow, output_zp = p->output_zp;
    const int32_t act_min = p->act_min, act_max = p->act_max, input_zp = p->input_zp;
    const int32_t *const bias = p->bias, *const multiplier = p->multiplier;
    const int8_t *const shift = p->shift;
    int32_t off[16], dy[16], dx[16]; /* per tap: offset in the input from the window's first tap, and its place */
    int32_t b, oy, ox, c, e, k;
    for (k = 0; k < taps; k++) {
        dy[k] = (k / kernel_w) * p->dilation_h;
        dx[k] = (k % kernel_w) * p->dilation_w;
        off[k] = (dy[k] * in_w + dx[k]) * in_c;
    }
    for (b = 0; b < p->batches; b++) {
        const int8_t *in_b = input + b * in_h * in_w * in_c;
        int8_t *out = output + b * p->out_h * p->out_w * out_c;
        for (oy = 0; oy < p->out_h; oy++) {
            const int32_t iy0 = oy * p->stride_h - p->pad_top;
            for (ox = 0; ox < p->out_w; ox++, out += out_c) {
                const int32_t ix0 = ox * p->stride_w - p->pad_left;
                const uint8_t *pos = w->mask;
                const int8_t *val = (const int8_t *)w->values;
                if (dm == 1 && iy0 >= 0 && ix0 >= 0 && iy0 + span_h < in_h && ix0 + span_w < in_w) {
                    const int8_t *x = in_b + (iy0 * in_w + ix0) * in_c;
                    if (entries == 2) { /* 3x3 at 75 %: the common case, one byte of positions a channel */
                        for (c = 0; c < out_c; c++, x++, pos++, val += 2) {
                            const uint32_t q = *pos;
                            const int32_t acc = bias[c] + (int32_t)val[0] * (int32_t)x[off[q & 15u]] +
                                                (int32_t)val[1] * (int32_t)x[off[q >> 4]];
                            out[c] = edgec_requantize(narrow, acc, multiplier[c], shift[c], output_zp, act_min,
                                                      act_max);
                        }
                        continue;
                    }
                    for (c = 0; c < out_c; c++, x++, pos += pos_bytes, val += entries) {
                        int32_t acc = bias[c];
                        for (e = 0; e + 1 < entries; e += 2) {
                            const uint32_t q = pos[e >> 1];
                            acc += (int32_t)val[e] * (int32_t)x[off[q & 15u]];
                            acc += (int32_t)val[e + 1] * (int32_t)x[off[q >> 4]];
                        }
                        if (entries & 1) {
                            acc += (int32_t)val[entries - 1] * (int32_t)x[off[pos[entries >> 1] & 15u]];
                        }
                        out[c] = edgec_requantize(narrow, acc, multiplier[c], shift[c], output_zp, act_min,
                                                  act_max);
                    }
                    continue;
                }
                /* a window across the border, or a depth multiplier above 1: each entry's tap checked */
                for (c = 0; c < out_c; c++, pos += pos_bytes, val += entries) {
                    const int32_t ic = c / dm;
                    int32_t acc = bias[c];
                    for (e = 0; e < entries; e++) {
                        const uint32_t q = (pos[e >> 1] >> ((e & 1) << 2)) & 15u;
                        const int32_t iy = iy0 + dy[q], ix = ix0 + dx[q];
                        const int32_t xv = (iy >= 0 && iy < in_h && ix >= 0 && ix < in_w)
                                               ? (int32_t)in_b[(iy * in_w + ix) * in_c + ic]
                                               : input_zp;
                        acc += (int32_t)val[e] * xv;
                    }
                    out[c] = edgec_requantize(narrow, acc, multiplier[c], shift[c], output_zp, act_min, act_max);
                }
            }
        }
    }
}
