/* edgec C engine: average and max pooling, int8 (TFLite AVERAGE_POOL_2D, MAX_POOL_2D). */
#ifndef EDGEC_POOL_H
#define EDGEC_POOL_H

#include "edgec_common.h"

typedef struct {
    int32_t batches, in_h, in_w, channels, out_h, out_w;
    int32_t kernel_h, kernel_w, stride_h, stride_w, pad_top, pad_left;
    int32_t act_min, act_max;
} edgec_pool_params;

/* Output pixels in raster order, channels in order within a pixel. */
void edgec_avgpool_s8(const edgec_pool_params *p, const int8_t *input, int8_t *output);
void edgec_maxpool_s8(const edgec_pool_params *p, const int8_t *input, int8_t *output);

#endif /* EDGEC_POOL_H */
