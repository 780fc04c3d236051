/* edgec C engine: depthwise convolution over clustered weights, a chunk of channel groups at a time
 * in the DSP layout (see edgec_packed.h). */
#ifndef EDGEC_PACKED_DWG_H
#define EDGEC_PACKED_DWG_H

#include "edgec_dwconv.h"
#include "edgec_packed.h"

/* Depthwise, depth multiplier 1, out_c a multiple of 4, CLUSTERED weights, the activation range all
 * of int8 and the narrow rescale (dwlayout.py's conditions): channels in chunks of `chunk` groups of
 * 4; a chunk's weights are decoded once into scratch in the layout of dwlayout.py (per group the
 * doubled biases, per tap the doubled weights as int16 pairs (c, c + 2), (c + 1, c + 3), per channel
 * the rescale (m, k, e)) and the chunk runs over every output pixel (on the DSP path the layout's
 * lines kernels, edgec_dwconv2d_chunk_s8, as a dense layer's layout runs). Channel c of the output depends on
 * channel c of the input alone, so chunk after chunk the output may overlap the input as the dense
 * kernel's may, provided offset(input) - offset(output) is a multiple of in_c (the planner's check,
 * packing.py): a chunk's writes then land on its own channels of pixels it has consumed.
 * scratch: chunk * (16 + 2 * taps) words. */
void edgec_dwconv2d_dwg_s8(const edgec_dwconv_params *p, const edgec_packed *w, int32_t chunk, const int8_t *input,
                           int8_t *output, int32_t *scratch);

#endif /* EDGEC_PACKED_DWG_H */
