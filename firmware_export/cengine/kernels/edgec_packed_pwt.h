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
 * scratch: the two decoded rows (per group of 4 taps, 2 words of each row: 16 bytes a group, groups =
 * ceil(in_c / 4)), then tile * 4 * groups bytes of input (each pixel padded to whole words). */
void edgec_conv2d_pwt_s8(const edgec_conv_params *p, const edgec_packed *w, int32_t tile, const int8_t *input,
                         int8_t *output, int32_t *scratch);

#endif /* EDGEC_PACKED_PWT_H */
