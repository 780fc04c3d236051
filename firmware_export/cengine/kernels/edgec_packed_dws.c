/* edgec C engine: depthwise convolution over SPARSE_FIXED rows (see edgec_packed_dws.h). */
#include "edgec_packed_dws.h"

/* A function of its own: a loop with every register to itself. */
#if defined(__GNUC__)
#define EDGEC_DWS_NOINLINE __attribute__((noinline))
#else
#define EDGEC_DWS_NOINLINE
#endif

/* One pixel, depth multiplier 1, two entries a channel (3x3 at 75 %): tap[k] is tap k's channel 0
 * (in the input, or a row of input_zp). NARROW: a constant (each rescale its own loop). */
EDGEC_FORCE_INLINE void edgec_dws_pixel2(const edgec_dwconv_params *p, const uint8_t *pos, const int8_t *val,
                                         const int8_t *const *tap, int8_t *out, const int NARROW)
{
    const int32_t out_c = p->out_c, zp = p->output_zp, act_min = p->act_min, act_max = p->act_max;
    const int32_t *bias = p->bias, *multiplier = p->multiplier;
    const int8_t *shift = p->shift;
    const uint8_t *const end = pos + out_c;
    int32_t c = 0;
    for (; pos < end; pos++, val += 2, c++) {
        const uint32_t q = *pos;
        const int32_t acc = *bias++ + (int32_t)val[0] * (int32_t)tap[q & 15u][c] +
                            (int32_t)val[1] * (int32_t)tap[q >> 4][c];
        out[c] = edgec_requantize(NARROW, acc, *multiplier++, *shift++, zp, act_min, act_max);
    }
}

static EDGEC_DWS_NOINLINE void edgec_dws_pixel2_narrow(const edgec_dwconv_params *p, const uint8_t *pos,
                                                       const int8_t *val, const int8_t *const *tap, int8_t *out)
{
    edgec_dws_pixel2(p, pos, val, tap, out, 1);
}

static EDGEC_DWS_NOINLINE void edgec_dws_pixel2_wide(const edgec_dwconv_params *p, const uint8_t *pos,
                                                     const int8_t *val, const int8_t *const *tap, int8_t *out)
{
    edgec_dws_pixel2(p, pos, val, tap, out, 0);
}

/* One pixel, depth multiplier 1, any number of entries a channel. */
static EDGEC_DWS_NOINLINE void edgec_dws_pixel(const edgec_dwconv_params *p, const edgec_packed *w,
                                               const int8_t *const *tap, int8_t *out)
{
    const int32_t entries = w->max_nonzeros;
    const uint8_t *pos = w->mask;
    const int8_t *val = (const int8_t *)w->values;
    int32_t c, e;
    for (c = 0; c < p->out_c; c++) {
        int32_t acc = p->bias[c];
        for (e = 0; e + 1 < entries; e += 2, pos++, val += 2) {
            acc += (int32_t)val[0] * (int32_t)tap[*pos & 15u][c] + (int32_t)val[1] * (int32_t)tap[*pos >> 4][c];
        }
        if (entries & 1) {
            acc += (int32_t)*val++ * (int32_t)tap[*pos++ & 15u][c];
        }
        out[c] = edgec_requantize(p->narrow, acc, p->multiplier[c], p->shift[c], p->output_zp, p->act_min,
                                  p->act_max);
    }
}

void edgec_dwconv2d_sparse_s8(const edgec_dwconv_params *p, const edgec_packed *w, const int8_t *input,
                              int8_t *output)
{
    const int32_t kernel_w = p->kernel_w, taps = p->kernel_h * kernel_w, entries = w->max_nonzeros;
    const int32_t in_h = p->in_h, in_w = p->in_w, in_c = p->in_c, dm = p->depth_multiplier;
    const int32_t out_c = p->out_c, input_zp = p->input_zp, pos_bytes = (entries + 1) >> 1;
    const int zp_row = in_c <= EDGEC_DWS_ZP_MAX_C;
    int8_t zeros[EDGEC_DWS_ZP_MAX_C]; /* input_zp: what a padded tap reads */
    const int8_t *tap[16];
    int32_t dy[16], dx[16]; /* per tap: its row and column in the window */
    int32_t b, oy, ox, c, e, k;
    for (k = 0; k < taps; k++) {
        dy[k] = (k / kernel_w) * p->dilation_h;
        dx[k] = (k % kernel_w) * p->dilation_w;
    }
    for (c = 0; zp_row && c < in_c; c++) {
        zeros[c] = (int8_t)input_zp;
    }
    for (b = 0; b < p->batches; b++) {
        const int8_t *const in_b = input + b * in_h * in_w * in_c;
        int8_t *out = output + b * p->out_h * p->out_w * out_c;
        for (oy = 0; oy < p->out_h; oy++) {
            const int32_t iy0 = oy * p->stride_h - p->pad_top;
            for (ox = 0; ox < p->out_w; ox++, out += out_c) {
                const int32_t ix0 = ox * p->stride_w - p->pad_left;
                const uint8_t *pos = w->mask;
                const int8_t *val = (const int8_t *)w->values;
                int outside = 0;
                for (k = 0; k < taps; k++) {
                    const int32_t iy = iy0 + dy[k], ix = ix0 + dx[k];
                    if (iy >= 0 && iy < in_h && ix >= 0 && ix < in_w) {
                        tap[k] = in_b + (iy * in_w + ix) * in_c;
                    } else {
                        tap[k] = zeros;
                        outside = 1;
                    }
                }
                if (dm == 1 && (zp_row || !outside)) {
                    if (entries != 2) {
                        edgec_dws_pixel(p, w, tap, out);
                    } else if (p->narrow) {
                        edgec_dws_pixel2_narrow(p, pos, val, tap, out);
                    } else {
                        edgec_dws_pixel2_wide(p, pos, val, tap, out);
                    }
                    continue;
                }
                for (c = 0; c < out_c; c++, pos += pos_bytes, val += entries) {
                    const int32_t ic = c / dm;
                    int32_t acc = p->bias[c];
                    for (e = 0; e < entries; e++) {
                        const uint32_t q = (pos[e >> 1] >> ((e & 1) << 2)) & 15u;
                        const int32_t iy = iy0 + dy[q], ix = ix0 + dx[q];
                        acc += (int32_t)val[e] * (iy >= 0 && iy < in_h && ix >= 0 && ix < in_w
                                                      ? (int32_t)in_b[(iy * in_w + ix) * in_c + ic]
                                                      : input_zp);
                    }
                    out[c] = edgec_requantize(p->narrow, acc, p->multiplier[c], p->shift[c], p->output_zp,
                                              p->act_min, p->act_max);
                }
            }
        }
    }
}
