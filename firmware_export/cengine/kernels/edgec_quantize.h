/* edgec C engine: QUANTIZE from float32 to int8. */
#ifndef EDGEC_QUANTIZE_H
#define EDGEC_QUANTIZE_H

#include "edgec_common.h"

/* Element i is written after element i is read. */
void edgec_quantize_f32_s8(const float *input, int8_t *output, int32_t count, float scale, int32_t zero_point);

#endif /* EDGEC_QUANTIZE_H */
