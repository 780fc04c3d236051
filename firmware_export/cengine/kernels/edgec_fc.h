/* edgec C engine: fully connected, int8 (TFLite FULLY_CONNECTED). */
#ifndef EDGEC_FC_H
#define EDGEC_FC_H

#include "edgec_common.h"

typedef struct {
    const int8_t *weights;     /* [out_features][in_features] */
    const int32_t *bias;       /* [out_features]: bias - input_zp * sum(weights of the row) */
    const int32_t *multiplier; /* [out_features], or [1] when not per_channel */
    const int8_t *shift;       /* same length as multiplier */
    int32_t batches, in_features, out_features, per_channel;
    int32_t output_zp, act_min, act_max;
    int32_t narrow; /* 1: generation proved |acc| < 2^30 and right shifts only (edgec_mbqm_narrow) */
} edgec_fc_params;

/* The rescale of the DSP path's kernels: narrow with act_max 127 (SSAT), narrow, or the general
 * edgec_mbqm. */
#define EDGEC_FC_NARROW_SSAT 2
#define EDGEC_FC_NARROW 1
#define EDGEC_FC_GENERAL 0

void edgec_fully_connected_narrow_ssat_s8(const edgec_fc_params *p, const int8_t *input, int8_t *output);
void edgec_fully_connected_narrow_s8(const edgec_fc_params *p, const int8_t *input, int8_t *output);
void edgec_fully_connected_general_s8(const edgec_fc_params *p, const int8_t *input, int8_t *output);

/* The kernel of the layer's rescale: the generated engine's params are constants, so the choice
 * is made when it is compiled and a firmware links only the kernels its layers use. Elsewhere
 * than the DSP path the three are the same. */
static inline void edgec_fully_connected_s8(const edgec_fc_params *p, const int8_t *input, int8_t *output)
{
#if defined(EDGEC_DSP)
    if (p->narrow && p->act_max >= 127) {
        edgec_fully_connected_narrow_ssat_s8(p, input, output);
    } else if (p->narrow) {
        edgec_fully_connected_narrow_s8(p, input, output);
    } else {
        edgec_fully_connected_general_s8(p, input, output);
    }
#else
    edgec_fully_connected_general_s8(p, input, output);
#endif
}

#endif /* EDGEC_FC_H */
