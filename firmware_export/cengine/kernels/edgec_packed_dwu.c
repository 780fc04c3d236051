/* edgec C engine: depthwise convolution over packed weights decoded once (see edgec_packed_dwu.h). */
#include "edgec_packed_dwu.h"

void edgec_dwconv2d_unpacked_s8(const edgec_dwconv_params *p, const edgec_packed *w, const int8_t *input,
                                int8_t *output, int32_t *scratch)
{
    const int32_t taps = p->kernel_h * p->kernel_w, oc_n = p->out_c;
    int8_t *const dense = (int8_t *)scratch;                  /* [taps][out_c] */
    int8_t *const row = dense + edgec_align4(taps * oc_n);    /* one decoded channel */
    edgec_dwconv_params q = *p;
    uint32_t cursor = 0;
    int32_t c, k;
    if (w->format == EDGEC_SPARSE) { /* zeros, then each channel's nonzeros at its set bits */
        const uint8_t *mask = w->mask;
        const int8_t *v = (const int8_t *)w->values;
        memset(dense, 0, (size_t)(taps * oc_n));
        for (c = 0; c < oc_n; c++) {
            for (k = 0; k < taps; k += 8) {
                uint32_t m = *mask++;
                while (m) {
                    dense[(k + edgec_ctz(m)) * oc_n + c] = *v++;
                    m &= m - 1u;
                }
            }
        }
    } else {
        for (c = 0; c < oc_n; c++) {
            edgec_unpack_dense(w, c, &cursor, row);
            for (k = 0; k < taps; k++) {
                dense[k * oc_n + c] = row[k];
            }
        }
    }
    q.weights = dense;
    edgec_dwconv2d_s8(&q, input, output);
}
