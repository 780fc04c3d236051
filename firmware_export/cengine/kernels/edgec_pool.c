/* edgec C engine: pooling, int8. Windows are clipped to the input (padding is not counted);
 * the average rounds half away from zero, as TFLM's reference kernel does. */
#include "edgec_pool.h"

static void edgec_pool_s8(const edgec_pool_params *p, const int8_t *input, int8_t *output, int average)
{
    int32_t b, oy, ox, c, y, x;
    for (b = 0; b < p->batches; b++) {
        const int8_t *in_b = input + b * p->in_h * p->in_w * p->channels;
        for (oy = 0; oy < p->out_h; oy++) {
            const int32_t iy0 = oy * p->stride_h - p->pad_top;
            const int32_t y_start = edgec_max(0, -iy0);
            const int32_t y_end = edgec_min(p->kernel_h, p->in_h - iy0);
            for (ox = 0; ox < p->out_w; ox++) {
                const int32_t ix0 = ox * p->stride_w - p->pad_left;
                const int32_t x_start = edgec_max(0, -ix0);
                const int32_t x_end = edgec_min(p->kernel_w, p->in_w - ix0);
                const int32_t count = (y_end - y_start) * (x_end - x_start);
                int8_t *out = output + ((b * p->out_h + oy) * p->out_w + ox) * p->channels;
                for (c = 0; c < p->channels; c++) {
                    int32_t acc = average ? 0 : -128;
                    for (y = y_start; y < y_end; y++) {
                        const int8_t *row = in_b + ((iy0 + y) * p->in_w + ix0) * p->channels + c;
                        for (x = x_start; x < x_end; x++) {
                            const int32_t v = row[x * p->channels];
                            if (average) {
                                acc += v;
                            } else if (v > acc) {
                                acc = v;
                            }
                        }
                    }
                    if (average && count > 0) {
                        acc = acc > 0 ? (acc + count / 2) / count : (acc - count / 2) / count;
                    }
                    out[c] = edgec_clamp_s8(acc, p->act_min, p->act_max);
                }
            }
        }
    }
}

void edgec_avgpool_s8(const edgec_pool_params *p, const int8_t *input, int8_t *output)
{
    edgec_pool_s8(p, input, output, 1);
}

void edgec_maxpool_s8(const edgec_pool_params *p, const int8_t *input, int8_t *output)
{
    edgec_pool_s8(p, input, output, 0);
}
