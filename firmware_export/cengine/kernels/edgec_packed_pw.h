/* edgec C engine: convolution over SPARSE_DELTA rows (see edgec_packed.h). */
#ifndef EDGEC_PACKED_PW_H
#define EDGEC_PACKED_PW_H

#include "edgec_conv.h"
#include "edgec_packed.h"

/* Convolution (one group) whose weights are SPARSE_DELTA rows, read as stored (no decoding). The
 * pixels of a batch in tiles of 4: each output channel's row is walked once for the 4 pixels, their
 * outputs written channel by channel; the last pixels one at a time. A pointwise convolution (1x1,
 * stride 1, no padding; scratch NULL) reads its input in place; any other first copies the 4
 * windows into scratch ([4][taps] int8, padding taps = input_zp). */
void edgec_conv2d_delta_s8(const edgec_conv_params *p, const edgec_packed *w, const int8_t *input, int8_t *output,
                           int8_t *scratch);

#endif /* EDGEC_PACKED_PW_H */
