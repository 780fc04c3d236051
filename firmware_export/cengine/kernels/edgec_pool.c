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

#if defined(EDGEC_DSP) && !defined(EDGEC_EMULATE_DSP)
/* The larger of each pair of signed bytes of a and b: SSUB8 sets a lane's GE flag where
 * a - b >= 0, SEL takes a's byte there and b's elsewhere (one asm: nothing between them). */
static inline uint32_t edgec_max_s8x4(uint32_t a, uint32_t b)
{
    uint32_t r;
    __asm__("ssub8 %0, %1, %2\n\tsel %0, %1, %2" : "=&r"(r) : "r"(a), "r"(b) : "cc");
    return r;
}
#elif defined(EDGEC_DSP)
static inline uint32_t edgec_max_s8x4(uint32_t a, uint32_t b)
{
    uint32_t r = 0;
    int lane;
    for (lane = 0; lane < 32; lane += 8) {
        const int8_t x = (int8_t)(uint8_t)(a >> lane), y = (int8_t)(uint8_t)(b >> lane);
        r |= (uint32_t)(uint8_t)(x >= y ? x : y) << lane;
    }
    return r;
}
#endif

#if defined(EDGEC_DSP)
/* Max pooling of one output pixel, four channels a word: the lanes start at act_min (the lower clamp)
 * and take the larger byte of each input word of the window (SSUB8 + SEL); the upper clamp is the
 * same per-lane selection, mirrored. Returns the first channel not done. */
static int32_t edgec_maxpool_words(const edgec_pool_params *p, const int8_t *base, int32_t rows, int32_t cols,
                                   int8_t *out)
{
    const int32_t step = p->channels, row_step = p->in_w * p->channels;
    const uint32_t lo = 0x01010101u * (uint8_t)(int8_t)p->act_min;
    const uint32_t hi = 0x01010101u * (uint8_t)(int8_t)p->act_max;
    int32_t c, y, x;
    for (c = 0; c + 4 <= p->channels; c += 4) {
        uint32_t acc = lo, top;
        const int8_t *row = base + c;
        for (y = 0; y < rows; y++, row += row_step) {
            const int8_t *src = row;
            for (x = 0; x < cols; x++, src += step) {
                uint32_t w;
                memcpy(&w, src, 4);
                acc = edgec_max_s8x4(acc, w);
            }
        }
        top = edgec_max_s8x4(acc, hi); /* max(acc, hi) lane by lane; min(acc, hi) is the other one */
        acc = acc ^ hi ^ top;
        memcpy(out + c, &acc, 4);
    }
    return c;
}
#endif

/* average: a constant at each call site (each entry point links only its own pooling). */
EDGEC_FORCE_INLINE void edgec_pool_s8(const edgec_pool_params *p, const int8_t *input, int8_t *output,
                                      const int average)
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
#if defined(EDGEC_DSP)
                if (!average) {
                    c = edgec_maxpool_words(p, in_b + ((iy0 + y_start) * p->in_w + ix0 + x_start) * p->channels,
                                            y_end - y_start, x_end - x_start, out);
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
