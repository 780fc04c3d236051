/* edgec C engine: depthwise convolution over packed weights (see edgec_packed_dw.h). */
#include "edgec_packed_dw.h"

#define EDGEC_PK_DW_BLOCK 16

void edgec_dwconv2d_packed_s8(const edgec_dwconv_params *p, const edgec_packed *w, int32_t tile,
                              const int8_t *input, int8_t *output, int32_t *scratch)
{
    const int32_t dm = p->depth_multiplier;
    const int32_t taps = p->kernel_h * p->kernel_w;
    const int32_t pixels = p->out_h * p->out_w;
    int8_t *const wblock = (int8_t *)scratch;          /* [taps][16] */
    int8_t *const row = wblock + taps * EDGEC_PK_DW_BLOCK; /* one decoded channel */
    uint8_t *const nz = (uint8_t *)row + taps;         /* [taps][16]: the block's channels whose tap is nonzero */
    uint8_t *const nz_count = nz + taps * EDGEC_PK_DW_BLOCK; /* [taps] */
    int32_t acc[EDGEC_PK_DW_BLOCK];
    int32_t b, t0, t, c0, ky, kx, j, k, m;

    for (b = 0; b < p->batches; b++) {
        const int8_t *in_b = input + b * p->in_h * p->in_w * p->in_c;
        int8_t *out_b = output + b * pixels * p->out_c;
        for (t0 = 0; t0 < pixels; t0 += tile) {
            const int32_t n_px = edgec_min(tile, pixels - t0);
            uint32_t cursor = 0;
            for (c0 = 0; c0 < p->out_c; c0 += EDGEC_PK_DW_BLOCK) {
                const int32_t n = edgec_min(EDGEC_PK_DW_BLOCK, p->out_c - c0);
                for (k = 0; k < taps; k++) {
                    nz_count[k] = 0;
                }
                for (j = 0; j < n; j++) {
                    edgec_unpack_dense(w, c0 + j, &cursor, row);
                    for (k = 0; k < taps; k++) {
                        wblock[k * EDGEC_PK_DW_BLOCK + j] = row[k];
                        if (row[k] != 0) {
                            nz[k * EDGEC_PK_DW_BLOCK + nz_count[k]++] = (uint8_t)j;
                        }
                    }
                }
                for (t = t0; t < t0 + n_px; t++) {
                    const int32_t oy = t / p->out_w, ox = t % p->out_w;
                    const int32_t iy0 = oy * p->stride_h - p->pad_top, ix0 = ox * p->stride_w - p->pad_left;
                    int8_t *out = out_b + t * p->out_c;
                    for (j = 0; j < n; j++) {
                        acc[j] = p->bias[c0 + j];
                    }
                    for (ky = 0; ky < p->kernel_h; ky++) {
                        const int32_t iy = iy0 + ky * p->dilation_h;
                        for (kx = 0; kx < p->kernel_w; kx++) {
                            const int32_t ix = ix0 + kx * p->dilation_w;
                            const int32_t r = ky * p->kernel_w + kx;
                            const int8_t *wk = wblock + r * EDGEC_PK_DW_BLOCK;
                            const uint8_t *nzk = nz + r * EDGEC_PK_DW_BLOCK;
                            if (iy >= 0 && iy < p->in_h && ix >= 0 && ix < p->in_w) {
                                const int8_t *src = in_b + (iy * p->in_w + ix) * p->in_c;
                                if (dm == 1 && nz_count[r] < n) { /* the nonzero taps only */
                                    src += c0;
                                    for (m = 0; m < nz_count[r]; m++) {
                                        j = nzk[m];
                                        acc[j] += (int32_t)wk[j] * (int32_t)src[j];
                                    }
                                } else if (dm == 1) {
                                    src += c0;
                                    for (j = 0; j < n; j++) {
                                        acc[j] += (int32_t)wk[j] * (int32_t)src[j];
                                    }
                                } else {
                                    for (j = 0; j < n; j++) {
                                        acc[j] += (int32_t)wk[j] * (int32_t)src[(c0 + j) / dm];
                                    }
                                }
                            } else {
                                for (j = 0; j < n; j++) {
                                    acc[j] += (int32_t)wk[j] * p->input_zp;
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
