/* edgec C engine: depthwise 2-D convolution, int8.
 *
 * The input offset is folded into the bias as in edgec_conv.c; padded taps count as input_zp.
 * Channels are processed in blocks of EDGEC_DW_BLOCK accumulators kept on the stack.
 */
#include "edgec_dwconv.h"

#define EDGEC_DW_BLOCK 16

void edgec_dwconv2d_s8(const edgec_dwconv_params *p, const int8_t *input, int8_t *output)
{
    const int32_t dm = p->depth_multiplier;
    int32_t acc[EDGEC_DW_BLOCK];
    int32_t b, oy, ox, c0, ky, kx, j;

    for (b = 0; b < p->batches; b++) {
        const int8_t *in_b = input + b * p->in_h * p->in_w * p->in_c;
        for (oy = 0; oy < p->out_h; oy++) {
            const int32_t iy0 = oy * p->stride_h - p->pad_top;
            for (ox = 0; ox < p->out_w; ox++) {
                const int32_t ix0 = ox * p->stride_w - p->pad_left;
                int8_t *out = output + ((b * p->out_h + oy) * p->out_w + ox) * p->out_c;
                for (c0 = 0; c0 < p->out_c; c0 += EDGEC_DW_BLOCK) {
                    const int32_t n = edgec_min(EDGEC_DW_BLOCK, p->out_c - c0);
                    const int full_block = n == EDGEC_DW_BLOCK && dm == 1;
                    for (j = 0; j < n; j++) {
                        acc[j] = p->bias[c0 + j];
                    }
                    for (ky = 0; ky < p->kernel_h; ky++) {
                        const int32_t iy = iy0 + ky * p->dilation_h;
                        for (kx = 0; kx < p->kernel_w; kx++) {
                            const int32_t ix = ix0 + kx * p->dilation_w;
                            const int8_t *w = p->weights + (ky * p->kernel_w + kx) * p->out_c + c0;
                            if (iy >= 0 && iy < p->in_h && ix >= 0 && ix < p->in_w) {
                                const int8_t *src = in_b + (iy * p->in_w + ix) * p->in_c;
                                if (full_block) {
                                    src += c0;
                                    for (j = 0; j < EDGEC_DW_BLOCK; j++) {
                                        acc[j] += (int32_t)w[j] * (int32_t)src[j];
                                    }
                                } else {
                                    for (j = 0; j < n; j++) {
                                        acc[j] += (int32_t)w[j] * (int32_t)src[(c0 + j) / dm];
                                    }
                                }
                            } else {
                                for (j = 0; j < n; j++) {
                                    acc[j] += (int32_t)w[j] * p->input_zp;
                                }
                            }
                        }
                    }
                    for (j = 0; j < n; j++) {
                        const int32_t c = c0 + j;
                        out[c] = edgec_requantize(p->narrow, acc[j], p->multiplier[c], p->shift[c], p->output_zp,
                                                  p->act_min, p->act_max);
                    }
                }
            }
        }
    }
}
