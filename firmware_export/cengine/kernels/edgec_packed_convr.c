/* edgec C engine: convolution over clustered weights, a chunk of decoded rows at a time (see
 * edgec_packed_convr.h). The arithmetic is the dense kernel's over the same int8 weights. */
#include "edgec_packed_convr.h"

void edgec_conv2d_rows_s8(const edgec_conv_params *p, const edgec_packed *w, int32_t rows, const int8_t *input,
                          int8_t *output, int32_t *scratch)
{
    const int32_t taps = w->taps, out_c = p->out_c;
    const int32_t padded = (taps + 3) & ~3;
    const int32_t im2col_bytes = 4 * padded + ((p->in_c & 3) ? padded : 0);
    int8_t *const dense = (int8_t *)scratch + im2col_bytes;
    edgec_conv_params q = *p;
    uint32_t cursor = 0;
    int32_t c0, r;
    for (c0 = 0; c0 < out_c; c0 += rows) {
        const int32_t n = edgec_min(rows, out_c - c0);
        for (r = 0; r < n; r++) {
            edgec_unpack_dense(w, c0 + r, &cursor, dense + r * taps);
        }
        /* the dense kernel reads a row's taps in whole words: the last row's run past its end
         * meets the columns' zero taps */
        dense[n * taps] = dense[n * taps + 1] = dense[n * taps + 2] = 0;
        q.weights = dense;
        q.bias = p->bias + c0;
        q.multiplier = p->multiplier + c0;
        q.shift = p->shift + c0;
        q.out_c = n;
        edgec_conv2d_s8_strided(&q, input, output + c0, scratch, out_c);
    }
}
