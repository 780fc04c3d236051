/* edgec C engine: depthwise convolution over packed weights (see edgec_packed.h). */
#ifndef EDGEC_PACKED_DW_H
#define EDGEC_PACKED_DW_H

#include "edgec_dwconv.h"
#include "edgec_packed.h"

/* Depthwise convolution with packed weights: tiles of `tile` output pixels; for each block of 16
 * channels the weights are decoded into the scratch ([kernel_h * kernel_w][16] int8) with, per tap,
 * the list of the block's channels whose weight is nonzero; then the tile's pixels are computed as
 * by edgec_dwconv2d_s8, a tap of a partly zero block over its nonzero channels only. */
void edgec_dwconv2d_packed_s8(const edgec_dwconv_params *p, const edgec_packed *w, int32_t tile,
                              const int8_t *input, int8_t *output, int32_t *scratch);

#endif /* EDGEC_PACKED_DW_H */
