/* edgec C engine: convolution over packed weights, decoded per tile (see edgec_packed.h). */
#ifndef EDGEC_PACKED_CONV_H
#define EDGEC_PACKED_CONV_H

#include "edgec_conv.h"
#include "edgec_packed.h"

/* Convolution with packed weights. Output pixels in tiles of `tile` (raster order): the window
 * offsets of a tile are computed once, then for each output channel (or pair) its weights are
 * decoded once into the scratch and applied to every pixel of the tile, reading the input in
 * place (padding taps = input_zp). Within a tile, outputs are written channel by channel.
 * scratch: edgec sizes it at generation (ops.Conv2D.scratch_bytes). */
void edgec_conv2d_packed_s8(const edgec_conv_params *p, const edgec_packed *w, int32_t tile,
                            const int8_t *input, int8_t *output, int32_t *scratch);

#endif /* EDGEC_PACKED_CONV_H */
