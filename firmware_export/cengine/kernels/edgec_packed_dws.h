/* edgec C engine: depthwise convolution over SPARSE_FIXED rows (see edgec_packed.h). */
#ifndef EDGEC_PACKED_DWS_H
#define EDGEC_PACKED_DWS_H

#include "edgec_dwconv.h"
#include "edgec_packed.h"

/* Depthwise convolution with weights stored as SPARSE_FIXED rows (at most 16 taps), read as stored:
 * output pixels in raster order, each channel of a pixel from its K entries only (K =
 * w->max_nonzeros), written as soon as it is computed, so the layer overlaps its input in place
 * as the dense kernel does. No scratch. A window inside the input reads each entry's tap at a
 * precomputed offset; a window that crosses the border checks each entry's tap (padding:
 * input_zp). */
void edgec_dwconv2d_sparse_s8(const edgec_dwconv_params *p, const edgec_packed *w, const int8_t *input,
                              int8_t *output);

#endif /* EDGEC_PACKED_DWS_H */
