/* edgec C engine: data movement, int8 (PAD, CONCATENATION). */
#ifndef EDGEC_COPY_H
#define EDGEC_COPY_H

#include "edgec_common.h"

typedef struct {
    int32_t in_shape[4], before[4], after[4];
    int32_t value;
} edgec_pad_params;

void edgec_pad_s8(const edgec_pad_params *p, const int8_t *input, int8_t *output);

/* rows blocks of row_bytes from src (contiguous) to dst, dst blocks dst_stride apart. */
void edgec_copy_rows(int8_t *dst, const int8_t *src, int32_t rows, int32_t row_bytes, int32_t dst_stride);

#endif /* EDGEC_COPY_H */
