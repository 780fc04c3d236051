/* edgec C engine: PAD (constant value) and strided copies for CONCATENATION. */
#include "edgec_copy.h"

void edgec_pad_s8(const edgec_pad_params *p, const int8_t *input, int8_t *output)
{
    const int32_t o1 = p->before[1] + p->in_shape[1] + p->after[1];
    const int32_t o2 = p->before[2] + p->in_shape[2] + p->after[2];
    const int32_t o3 = p->before[3] + p->in_shape[3] + p->after[3];
    const int32_t o0 = p->before[0] + p->in_shape[0] + p->after[0];
    int32_t d0, d1, d2;
    for (d0 = 0; d0 < o0; d0++) {
        const int32_t i0 = d0 - p->before[0];
        for (d1 = 0; d1 < o1; d1++) {
            const int32_t i1 = d1 - p->before[1];
            for (d2 = 0; d2 < o2; d2++) {
                const int32_t i2 = d2 - p->before[2];
                int8_t *out = output + ((d0 * o1 + d1) * o2 + d2) * o3;
                if (i0 < 0 || i0 >= p->in_shape[0] || i1 < 0 || i1 >= p->in_shape[1] ||
                    i2 < 0 || i2 >= p->in_shape[2]) {
                    memset(out, p->value, (size_t)o3);
                } else {
                    const int8_t *in = input + ((i0 * p->in_shape[1] + i1) * p->in_shape[2] + i2) * p->in_shape[3];
                    memset(out, p->value, (size_t)p->before[3]);
                    memcpy(out + p->before[3], in, (size_t)p->in_shape[3]);
                    memset(out + p->before[3] + p->in_shape[3], p->value, (size_t)p->after[3]);
                }
            }
        }
    }
}

void edgec_copy_rows(int8_t *dst, const int8_t *src, int32_t rows, int32_t row_bytes, int32_t dst_stride)
{
    int32_t r;
    for (r = 0; r < rows; r++) {
        memcpy(dst + r * dst_stride, src + r * row_bytes, (size_t)row_bytes);
    }
}
