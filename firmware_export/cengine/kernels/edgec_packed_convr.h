/* edgec C engine: convolution over clustered weights, decoded a chunk of rows at a time (see
 * edgec_packed.h). */
#ifndef EDGEC_PACKED_CONVR_H
#define EDGEC_PACKED_CONVR_H

#include "edgec_conv.h"
#include "edgec_packed.h"

/* groups == 1, weights CLUSTERED: output channels `rows` at a time, each chunk's rows decoded once
 * into scratch in the dense layout and run over every output pixel by the dense kernel
 * (edgec_conv2d_s8_strided: its DSP path, im2col columns recomputed per chunk), so the decoding
 * costs one pass over the weights per inference. When rows < out_c every pixel's first chunk is
 * written before the last chunk reads the input: the output must not overlap the input (the
 * planner's lag, inplace.py); rows == out_c keeps the dense kernel's order.
 * scratch: the dense kernel's im2col columns (P = round_up(taps, 4) words, and P bytes more when
 * in_c is not a multiple of 4), then round_up(rows * taps + 3, 4) bytes of decoded rows. */
void edgec_conv2d_rows_s8(const edgec_conv_params *p, const edgec_packed *w, int32_t rows, const int8_t *input,
                          int8_t *output, int32_t *scratch);

#endif /* EDGEC_PACKED_CONVR_H */
