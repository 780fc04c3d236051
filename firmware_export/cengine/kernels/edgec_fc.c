/* edgec C engine: fully connected, int8: one dot product per output feature. */
#include "edgec_fc.h"

void edgec_fully_connected_s8(const edgec_fc_params *p, const int8_t *input, int8_t *output)
{
    int32_t b, o;
    for (b = 0; b < p->batches; b++) {
        const int8_t *x = input + b * p->in_features;
        int8_t *y = output + b * p->out_features;
        for (o = 0; o < p->out_features; o++) {
            const int32_t q = p->per_channel ? o : 0;
            const int32_t acc = p->bias[o] + edgec_dot_s8(x, p->weights + o * p->in_features, p->in_features);
            y[o] = edgec_requantize(p->narrow, acc, p->multiplier[q], p->shift[q], p->output_zp, p->act_min,
                                    p->act_max);
        }
    }
}
