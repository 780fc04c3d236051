/* edgec C engine: SOFTMAX, int8 in, int8 out (scale 1/256, zero point -128). */
#ifndef EDGEC_SOFTMAX_H
#define EDGEC_SOFTMAX_H

#include "edgec_common.h"

typedef struct {
    const int32_t *exp_table; /* [256]: exp(-beta * scale * d) in Q0.31 for d = max - x */
    int32_t max_diff;         /* larger differences contribute 0 */
    int32_t rows, depth;
} edgec_softmax_params;

/* Row by row; element c of a row is written after element c is read for the last time. */
void edgec_softmax_s8(const edgec_softmax_params *p, const int8_t *input, int8_t *output);

#endif /* EDGEC_SOFTMAX_H */
