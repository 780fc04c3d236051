/* edgec C engine: convolution over CLUSTERED weights through a table of weight pairs. */
#ifndef EDGEC_PACKED_CVP_H
#define EDGEC_PACKED_CVP_H

#include "edgec_conv.h"
#include "edgec_packed.h"

/* Pixels per group of edgec_conv2d_pairs_s8 (ops.PAIR_PIXELS). */
#define EDGEC_CVP_PIXELS 4

/* A one-group convolution over CLUSTERED weights with 4-bit indices, one codebook for the tensor
 * (shared) and in_c a multiple of 4. Output pixels four at a time (raster order, the last group
 * shorter): their windows are first gathered into scratch as int16 pairs of consecutive taps
 * (x[k], x[k + 1]), the four pixels' pairs of a tap pair side by side (padding taps = input_zp); then
 * for each output channel every byte b of its indices (taps k, k + 1) is one word of the pair table
 * (256 int32: low half codebook[b & 15], high half codebook[b >> 4], as fcpairs.py builds it)
 * multiplied by the four pixels' pairs with four SMLADs. A group's outputs are written once its
 * windows are gathered: the output may overlap the input as the planner's lag allows (inplace.py).
 * `pairs` is the generator's table (flash, DSP builds) or NULL: on DSP builds the kernel then builds
 * it in scratch after the columns (1 KiB more); the other builds make each weight from the codebook:
 * the same sums. Scratch: EDGEC_CVP_PIXELS * taps * 2 bytes (+ 1 KiB for a table built there). */
void edgec_conv2d_pairs_s8(const edgec_conv_params *p, const edgec_packed *w, const int32_t *pairs,
                           const int8_t *input, int8_t *output, int32_t *scratch);

#endif /* EDGEC_PACKED_CVP_H */
