/* edgec C engine: depthwise convolution over SPARSE_FIXED rows (see edgec_packed.h). */
#ifndef EDGEC_PACKED_DWS_H
#define EDGEC_PACKED_DWS_H

#include "edgec_dwconv.h"
#include "edgec_packed.h"

/* Input channels up to which a pixel's padded taps are read from a row of input_zp on the stack. */
#define EDGEC_DWS_ZP_MAX_C 256

/* Depthwise convolution with weights stored as SPARSE_FIXED rows (at most 16 taps), read as stored,
 * no scratch: output pixels in raster order, each channel of a pixel from its K entries only (K =
 * w->max_nonzeros), written at once (the dense kernel's in-place overlap). Per pixel, a table of
 * where each tap's channel 0 lies: in the input, or (a tap outside it) in a row of input_zp bytes;
 * then each channel reads its K taps through it. Depth multipliers above 1, and inputs of more than
 * EDGEC_DWS_ZP_MAX_C channels at the border, check each entry's tap instead. */
void edgec_dwconv2d_sparse_s8(const edgec_dwconv_params *p, const edgec_packed *w, const int8_t *input,
                              int8_t *output);

#endif /* EDGEC_PACKED_DWS_H */
