/* edgec C engine: float32 -> int8 affine quantization, as TFLM's reference AffineQuantize:
 * (int32)(x / scale + 0.5) + zero_point, clamped. No libm. */
#include "edgec_quantize.h"

void edgec_quantize_f32_s8(const float *input, int8_t *output, int32_t count, float scale, int32_t zero_point)
{
    int32_t i;
    for (i = 0; i < count; i++) {
        double v = (double)(input[i] / scale) + 0.5;
        int32_t q;
        if (!(v > -2147483648.0)) { /* also catches NaN */
            q = INT32_MIN;
        } else if (v >= 2147483647.0) {
            q = INT32_MAX;
        } else {
            q = (int32_t)v;
        }
        if (q > INT32_MIN && q < INT32_MAX) {
            q += zero_point;
        }
        output[i] = edgec_clamp_s8(q, -128, 127);
    }
}
