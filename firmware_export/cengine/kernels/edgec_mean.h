/* edgec C engine: MEAN over a block of adjacent axes, int8. */
#ifndef EDGEC_MEAN_H
#define EDGEC_MEAN_H

#include "edgec_common.h"

typedef struct {
    int32_t outer, reduce, inner; /* input viewed as [outer][reduce][inner] */
    int32_t input_zp, output_zp, multiplier, shift;
} edgec_mean_params;

void edgec_mean_s8(const edgec_mean_params *p, const int8_t *input, int8_t *output);

#endif /* EDGEC_MEAN_H */
