/* edgec C engine: element-wise ops on int8 input as 256-entry tables indexed by the input byte
 * (LOGISTIC, TANH, RELU, RELU6, int8 QUANTIZE, DEQUANTIZE), precomputed at generation time. */
#ifndef EDGEC_LUT_H
#define EDGEC_LUT_H

#include "edgec_common.h"

/* Element i is written after element i is read. */
void edgec_lut_s8(const int8_t *table, const int8_t *input, int8_t *output, int32_t count);
void edgec_lut_f32(const float *table, const int8_t *input, float *output, int32_t count);

#endif /* EDGEC_LUT_H */
