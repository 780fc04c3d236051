/* edgec C engine: fully connected over CLUSTERED weights through a table of weight pairs. */
#ifndef EDGEC_PACKED_FCP_H
#define EDGEC_PACKED_FCP_H

#include "edgec_fc.h"
#include "edgec_packed.h"

/* Fully connected over CLUSTERED weights with 4-bit indices, one codebook for the tensor (shared) and
 * an even number of taps. With the DSP extension: the input widened once to int16 in scratch (after
 * the table when pairs is NULL), then, two rows at a time, each byte b of a row's indices (taps k,
 * k + 1) is one word of the pair table (256 int32: the low half codebook[b & 15], the high half
 * codebook[b >> 4]) multiplied by the input pair (x[k], x[k + 1]) with one SMLAD: about 1.8
 * instructions a MAC. The table is `pairs` (the generator's, in flash) or, when pairs is NULL, built
 * in the first 1 KiB of scratch. Scratch: in_features int16 (+ 1 KiB), word-aligned. On the other
 * paths it runs edgec_fully_connected_packed_s8, which reads the same weights. */
void edgec_fully_connected_pairs_s8(const edgec_fc_params *p, const edgec_packed *w, const int32_t *pairs,
                                    const int8_t *input, int8_t *output, int32_t *scratch);

#endif /* EDGEC_PACKED_FCP_H */
