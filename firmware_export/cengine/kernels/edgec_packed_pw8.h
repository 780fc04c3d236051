/* edgec C engine: convolution over SPARSE_DELTA rows, blocks of 8 pixels (see edgec_packed.h). */
#ifndef EDGEC_PACKED_PW8_H
#define EDGEC_PACKED_PW8_H

#include "edgec_conv.h"
#include "edgec_packed.h"

/* As edgec_conv2d_delta_s8 (edgec_packed_pw.h), over blocks of 8 pixels: their windows are first
 * gathered into scratch interleaved ([taps][8] int8: tap k of the block's pixel j at 8 * k + j;
 * padding taps = input_zp; a last block of fewer pixels repeats its first), so that one walk of a
 * row serves 8 pixels, two words a tap. */
void edgec_conv2d_delta8_s8(const edgec_conv_params *p, const edgec_packed *w, const int8_t *input, int8_t *output,
                            int8_t *scratch);

#endif /* EDGEC_PACKED_PW8_H */
