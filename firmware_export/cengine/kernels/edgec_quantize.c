/* edgec C engine: float32 -> int8 affine quantization, as TFLM's reference AffineQuantize:
 * round(x / scale) + zero_point (float division, ties away from zero), clamped. No libm. */
#include "edgec_quantize.h"

void edgec_quantize_f32_s8(const float *input, int8_t *output, int32_t count, float scale, int32_t zero_point)
{
    int32_t i;
    for (i = 0; i < count; i++) {
        float v = input[i] / scale;
        int32_t q;
        float frac;
        /* Beyond +-1000 the result saturates whatever the zero point; NaN goes to the minimum. */
        if (!(v > -1000.0f)) {
            v = -1000.0f;
        } else if (v > 1000.0f) {
            v = 1000.0f;
        }
        q = (int32_t)v; /* truncation; the fraction below is exact for |v| < 2^23 */
        frac = v - (float)q;
        if (frac >= 0.5f) {
            q++;
        } else if (frac <= -0.5f) {
            q--;
        }
        output[i] = edgec_clamp_s8(q + zero_point, -128, 127);
    }
}
