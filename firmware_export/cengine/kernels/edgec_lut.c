/* edgec C engine: table look-up element-wise ops. */
#include "edgec_lut.h"

void edgec_lut_s8(const int8_t *table, const int8_t *input, int8_t *output, int32_t count)
{
    int32_t i;
    for (i = 0; i < count; i++) {
        output[i] = table[(uint8_t)input[i]];
    }
}

void edgec_lut_f32(const float *table, const int8_t *input, float *output, int32_t count)
{
    int32_t i;
    for (i = 0; i < count; i++) {
        output[i] = table[(uint8_t)input[i]];
    }
}
