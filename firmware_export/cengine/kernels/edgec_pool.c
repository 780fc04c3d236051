/* edgec C engine: pooling, int8. Windows are clipped to the input (padding is not counted);
 * the average rounds half away from zero, as TFLM's reference kernel does. */
#include "edgec_pool.h"

static inline int8_t edgec_avg_out(const edgec_pool_params *p, int32_t acc, int32_t count)
{
    if (count > 0) {
        acc = acc > 0 ? (acc + count / 2) / count : (acc - count / 2) / count;
    }
    return edgec_clamp_s8(acc, p->act_min, p->act_max);
}

#if defined(__BYTE_ORDER__) && defined(__ORDER_LITTLE_ENDIAN__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__ && \
    !defined(EDGEC_V6M)
/* Four channels of a little-endian word: each byte sign-extended into its own sum (SXTAB, SBFX on
 * Armv7-M). Not on Armv6-M, which has no unaligned word load. */
#define EDGEC_POOL_WORDS 1
#endif

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
                c = 0;
#if defined(EDGEC_POOL_WORDS)
                /* average: four channels a pass over the window, words of the input in place */
                for (; average && c + 4 <= p->channels; c += 4) {
                    const int32_t step = p->channels;
                    int32_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
                    for (y = y_start; y < y_end; y++) {
                        const int8_t *src = in_b + ((iy0 + y) * p->in_w + ix0 + x_start) * step + c;
                        for (x = x_start; x < x_end; x++, src += step) {
                            uint32_t w;
                            memcpy(&w, src, 4);
                            s0 += (int8_t)(uint8_t)w;
                            s1 += (int8_t)(uint8_t)(w >> 8);
                            s2 += (int8_t)(uint8_t)(w >> 16);
                            s3 += (int8_t)(uint8_t)(w >> 24);
                        }
                    }
                    out[c] = edgec_avg_out(p, s0, count);
                    out[c + 1] = edgec_avg_out(p, s1, count);
                    out[c + 2] = edgec_avg_out(p, s2, count);
                    out[c + 3] = edgec_avg_out(p, s3, count);
                }
#endif
                for (; c < p->channels; c++) {
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
                    out[c] = average ? edgec_avg_out(p, acc, count) : edgec_clamp_s8(acc, p->act_min, p->act_max);
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
