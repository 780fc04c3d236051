/* edgec C engine: pointwise convolution over SPARSE_DELTA rows (see edgec_packed.h). */
#ifndef EDGEC_PACKED_PW_H
#define EDGEC_PACKED_PW_H

#include "edgec_conv.h"
#include "edgec_packed.h"

/* A 1x1 convolution, stride 1, one group, no padding, whose weights are SPARSE_DELTA rows: no
 * decoding and no scratch. The pixels of a batch in tiles of 4 (each output channel's row walked
 * once for the 4 pixels, their outputs written channel by channel, as the memory plan assumes of a
 * tile of 4); the last pixels one at a time. */
void edgec_conv1x1_packed_s8(const edgec_conv_params *p, const edgec_packed *w, const int8_t *input, int8_t *output);

#endif /* EDGEC_PACKED_PW_H */
