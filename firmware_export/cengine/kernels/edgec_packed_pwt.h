/* edgec C engine: pointwise convolution over clustered weights, tiles of pixels copied to scratch
 * (see edgec_packed.h). */
#ifndef EDGEC_PACKED_PWT_H
#define EDGEC_PACKED_PWT_H

#include "edgec_conv.h"
#include "edgec_packed.h"

/* A pointwise convolution (1x1, stride 1, no padding, one group) over CLUSTERED weights: output
 * pixels `tile` at a time; a tile's input pixels are first copied into scratch, then for each pair
 * of output channels the two rows are decoded once into int16 pairs and run over every pixel of the
 * tile (two pixels at a time; on the DSP path an SMLAD takes a decoded weight word and an SXTB16 of
 * the copied input). Since a tile's outputs are written once its input is copied, the output may
 * overlap the input as the planner's lag allows (inplace.py: the tile's outputs end no later than
 * the input that later tiles read). The decoding costs one pass over the weights a tile.
 * pairs: NULL, or (DSP builds; 4-bit indices into one codebook, in_c a multiple of 8) the pair table of
 * fcpairs.py, which decodes a byte of indices with one load (1.9 instructions a weight on the M7's
 * Thumb-2 path, against 3; packing._pwt_tables).
 * scratch: the two decoded rows (per group of 4 taps, 2 words of each row: 16 bytes a group, groups =
 * ceil(in_c / 4)), then tile * 4 * groups bytes of input (each pixel padded to whole words). */
void edgec_conv2d_pwt_s8(const edgec_conv_params *p, const edgec_packed *w, const int32_t *pairs, int32_t tile,
                         const int8_t *input, int8_t *output, int32_t *scratch);

/* The most kernel rows edgec_conv2d_rows16_s8 takes (ops.rows16_eligible). */
#define EDGEC_ROWS16_MAX_KH 16

/* groups == 1, in_c a multiple of 4, CLUSTERED weights: output channels `rows` at a time (an even
 * count, but for the last chunk), each chunk's rows decoded once per inference into scratch as int16
 * pairs (as edgec_conv2d_pwt_s8's) and run over every output pixel, two pixels at a time: a window's
 * kernel rows are read where they lie in the input (SXTB16 as they are read: no im2col column), a
 * window partly outside, or any window when rows == out_c (the output may then overlap the input as
 * the dense kernel's), first gathered into scratch. When rows < out_c the output must not overlap the
 * input (the planner's lag, inplace.py). scratch: ceil(rows / 2) * taps * 4 bytes of decoded rows,
 * then two windows (2 * taps bytes). */
void edgec_conv2d_rows16_s8(const edgec_conv_params *p, const edgec_packed *w, int32_t rows, const int8_t *input,
                            int8_t *output, int32_t *scratch);

#endif /* EDGEC_PACKED_PWT_H */
