/* edgec C engine: int8 MEAN: sum of (x - input_zp) over the reduced axes, times a multiplier that
 * holds both the input/output scale ratio and 1/count (folded at generation time, as TFLM does). */
#include "edgec_mean.h"

void edgec_mean_s8(const edgec_mean_params *p, const int8_t *input, int8_t *output)
{
    int32_t o, i, r;
    for (o = 0; o < p->outer; o++) {
        for (i = 0; i < p->inner; i++) {
            const int8_t *x = input + o * p->reduce * p->inner + i;
            int32_t acc = 0;
            for (r = 0; r < p->reduce; r++) {
                acc += x[r * p->inner] - p->input_zp;
            }
            acc = edgec_mbqm(acc, p->multiplier, p->shift) + p->output_zp;
            output[o * p->inner + i] = edgec_clamp_s8(acc, -128, 127);
        }
    }
}
