/* edgec C engine: what the packed kernels share (see edgec_packed.h).
 *
 * The arithmetic of every packed kernel is the dense kernels': acc = bias' + sum(w * x), padding
 * taps count as input_zp, the same output stage. Only the order of the integer sums differs (zero
 * weights are skipped), which is exact.
 */
#include "edgec_packed.h"

void edgec_unpack_dense(const edgec_packed *w, int32_t row, uint32_t *cursor, int8_t *dst)
{
    const int32_t taps = w->taps, bits = w->index_bits;
    const int8_t *cb = edgec_codebook(w, row);
    edgec_bitreader r = {NULL, 0, 0};
    int32_t k;
    if (w->format == EDGEC_CLUSTERED) {
        if (bits == 4 && (taps & 1) == 0) { /* two indices a byte, the row byte-aligned */
            const uint8_t *s = w->values + (uint32_t)row * (uint32_t)taps / 2u;
            for (k = 0; k < taps; k += 2, s++) {
                dst[k] = cb[*s & 15u];
                dst[k + 1] = cb[*s >> 4];
            }
            return;
        }
        edgec_br_init(&r, w->values, (uint32_t)row * (uint32_t)taps * (uint32_t)bits);
        for (k = 0; k < taps; k++) {
            dst[k] = cb[edgec_br_get(&r, bits)];
        }
        return;
    }
    {
        const uint8_t *mask = w->mask + row * ((taps + 7) >> 3);
        const int clustered = w->format == EDGEC_SPARSE_CLUSTERED;
        uint32_t at = *cursor;
        if (clustered) {
            edgec_br_init(&r, w->values, at);
        }
        for (k = 0; k < taps; k++) {
            if (mask[k >> 3] & (1u << (k & 7))) {
                dst[k] = clustered ? cb[edgec_br_get(&r, bits)] : (int8_t)w->values[at];
                at += clustered ? (uint32_t)bits : 1u;
            } else {
                dst[k] = 0;
            }
        }
        *cursor = at;
    }
}
