/* edgec C engine: depthwise 2-D convolution, int8 (TFLite DEPTHWISE_CONV_2D). */
#ifndef EDGEC_DWCONV_H
#define EDGEC_DWCONV_H

#include "edgec_common.h"

typedef struct {
    const int8_t *weights;     /* [kernel_h][kernel_w][out_c] */
    const int32_t *bias;       /* [out_c]: bias - input_zp * sum(weights of the channel) */
    const int32_t *multiplier; /* [out_c] */
    const int8_t *shift;       /* [out_c] */
    int32_t batches, in_h, in_w, in_c, out_h, out_w, out_c;
    int32_t kernel_h, kernel_w, stride_h, stride_w, dilation_h, dilation_w, pad_top, pad_left;
    int32_t depth_multiplier, input_zp, output_zp, act_min, act_max;
    int32_t narrow; /* 1: generation proved |acc| < 2^30 and right shifts only (edgec_mbqm_narrow) */
    const int32_t *dsp; /* DSP builds: the layout of dwlayout.py (bias, weights and rescale per group of
                           4 channels), or NULL */
} edgec_dwconv_params;

/* Output pixels in raster order; each pixel in blocks of 16 channels, written block by block. */
void edgec_dwconv2d_s8(const edgec_dwconv_params *p, const int8_t *input, int8_t *output);

/* A layer given the DSP layout (dwlayout.py) on DSP builds: the layout's own entry, so that a firmware
 * whose depthwise layers all have it does not link the generic code; other builds take the above. */
#if defined(EDGEC_DSP)
void edgec_dwconv2d_layout_s8(const edgec_dwconv_params *p, const int8_t *input, int8_t *output);
#else
#define edgec_dwconv2d_layout_s8 edgec_dwconv2d_s8
#endif

/* Channels c0 .. c0 + 4 groups - 1 of a layer through a layout of those groups alone (dwlayout.py's
 * words, the last group's last e carrying LAST_GROUP), as edgec_dwconv2d_layout_s8 runs a whole
 * layer's (on any core: without the DSP path, in C): dm == 1, out_c a multiple of 4, c0 too. The
 * pixels go in raster order; only the chunk's channels are read and written. */
void edgec_dwconv2d_chunk_s8(const edgec_dwconv_params *p, const int32_t *layout, int32_t c0, int32_t groups,
                             const int8_t *input, int8_t *output);

/* Shared by the Thumb-2 loops over the DSP layout (edgec_dwconv.c, edgec_packed_dwb.c, edgec_dwpair.c):
 * the rescale of the sum in register S, (m, k, e) read from the layout at r6, the int8 stored at r7
 * (SMMLAR adds k - [S < 0]; dwlayout.py); and the opening of an assembly function in a section of its
 * own, so that a firmware links only the ones its layers call. */
#define EDGEC_DWL_RESCALE(S)                                                                             \
    "ldm r6!, {r8-r10}\n\t"                                                                              \
    "add r9, r9, " S ", asr #31\n\t"                                                                     \
    "smmlar " S ", " S ", r8, r9\n\t"                                                                    \
    "asr " S ", " S ", r10\n\t"                                                                          \
    "ssat " S ", #8, " S "\n\t"                                                                          \
    "strb " S ", [r7], #1\n\t"
#define EDGEC_DWL_FUNC(NAME) ".section .text." NAME ",\"ax\",%progbits\n\t" EDGEC_ASM_HEAD(NAME)
/* A global Thumb-2 function's head, after the directive that opens its section. */
#define EDGEC_ASM_HEAD(NAME)                                                                             \
    ".syntax unified\n\t"                                                                                \
    ".thumb\n\t"                                                                                         \
    ".p2align 2\n\t"                                                                                     \
    ".global " NAME "\n\t"                                                                               \
    ".hidden " NAME "\n\t"                                                                               \
    ".thumb_func\n\t"                                                                                    \
    ".type " NAME ", %function\n" NAME ":\n\t"

#endif /* EDGEC_DWCONV_H */
