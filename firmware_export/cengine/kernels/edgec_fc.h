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

void edgec_fully_connected_s8(const edgec_fc_params *p, const int8_t *input, int8_t *output);

#endif /* EDGEC_FC_H */
