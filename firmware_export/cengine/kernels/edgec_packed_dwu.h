/* edgec C engine: depthwise convolution over packed weights decoded once (see edgec_packed.h). */
#ifndef EDGEC_PACKED_DWU_H
#define EDGEC_PACKED_DWU_H

#include "edgec_dwconv.h"
#include "edgec_packed.h"

/* The layer's weights decoded once into scratch in the dense layout ([kernel_h * kernel_w][out_c]
 * int8, then one decoded channel), run by the dense kernel edgec_dwconv2d_s8: the dense speed (its
 * DSP path) for the cost of one decoding per inference, where the scratch budget allows. */
void edgec_dwconv2d_unpacked_s8(const edgec_dwconv_params *p, const edgec_packed *w, const int8_t *input,
                                int8_t *output, int32_t *scratch);

#endif /* EDGEC_PACKED_DWU_H */
