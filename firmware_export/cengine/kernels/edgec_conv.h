/* edgec C engine: 2-D convolution, int8 (TFLite CONV_2D with per-channel quantization). */
#ifndef EDGEC_CONV_H
#define EDGEC_CONV_H

#include "edgec_common.h"

typedef struct {
    const int8_t *weights;     /* [out_c][kernel_h][kernel_w][in_c / groups] */
    const int32_t *bias;       /* [out_c]: bias - input_zp * sum(weights of the channel) */
    const int32_t *multiplier; /* [out_c] */
    const int8_t *shift;       /* [out_c] */
    int32_t batches, in_h, in_w, in_c, out_h, out_w, out_c;
    int32_t kernel_h, kernel_w, stride_h, stride_w, dilation_h, dilation_w, pad_top, pad_left;
    int32_t groups, input_zp, output_zp, act_min, act_max;
    int32_t narrow; /* 1: generation proved |acc| < 2^30 and right shifts only (edgec_mbqm_narrow) */
} edgec_conv_params;

/* Each output pixel's out_c channels written `out_stride` bytes after the previous pixel's
 * (out_stride >= out_c): a slice of the channels of a wider output (edgec_packed_convr). Output
 * pixels in raster order, one at a time, or (DSP path) two at a time with both windows read before
 * either is written; for each pixel, output channels in order, one or two at a time (the in-place
 * lag of the planner depends on this order).
 * scratch: P = round_up(kernel_h * kernel_w * in_c, 4) words (two im2col columns of int16 pairs,
 * interleaved), and P bytes more when in_c is not a multiple of 4 (a window's bytes gathered), used
 * on the DSP path when groups == 1; NULL is fine otherwise. */
void edgec_conv2d_s8_strided(const edgec_conv_params *p, const int8_t *input, int8_t *output, int32_t *scratch,
                             int32_t out_stride);

#if defined(EDGEC_DSP)
/* edgec_conv2d_s8_strided when groups == 1 on the DSP path (im2col). */
void edgec_conv2d_s8_im2col(const edgec_conv_params *p, const int8_t *input, int8_t *output, int32_t *scratch,
                            int32_t out_stride);
#endif

/* The convolution, out_stride = out_c. The generated engine's params are constants, so the DSP
 * path's choice is made when it is compiled: a firmware without grouped convolutions does not link
 * the general path. */
static inline void edgec_conv2d_s8(const edgec_conv_params *p, const int8_t *input, int8_t *output,
                                   int32_t *scratch)
{
#if defined(EDGEC_DSP)
    if (p->groups == 1) {
        edgec_conv2d_s8_im2col(p, input, output, scratch, p->out_c);
        return;
    }
#endif
    edgec_conv2d_s8_strided(p, input, output, scratch, p->out_c);
}

#endif /* EDGEC_CONV_H */
