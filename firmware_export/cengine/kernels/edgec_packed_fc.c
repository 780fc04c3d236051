/* edgec C engine: fully connected over packed weights (see edgec_packed_fc.h). */
#include "edgec_packed_fc.h"

/* acc + one CLUSTERED row's dot product with x: 4-bit indices of a byte-aligned row eight at a
 * time (one word), anything else through the bit reader. */
static int32_t edgec_pk_fc_clustered(const edgec_packed *w, int32_t row, const int8_t *x, int32_t acc)
{
    const int32_t taps = w->taps, bits = w->index_bits;
    const int8_t *const cb = edgec_codebook(w, row);
    const uint32_t start = (uint32_t)row * (uint32_t)taps * (uint32_t)bits;
    edgec_bitreader r;
    int32_t k = 0;
    if (bits == 4 && (start & 7u) == 0) {
        const uint8_t *s = w->values + (start >> 3);
        for (; k + 8 <= taps; k += 8, s += 4) {
            uint32_t i;
            memcpy(&i, s, 4);
            acc += cb[i & 15u] * (int32_t)x[k] + cb[(i >> 4) & 15u] * (int32_t)x[k + 1] +
                   cb[(i >> 8) & 15u] * (int32_t)x[k + 2] + cb[(i >> 12) & 15u] * (int32_t)x[k + 3] +
                   cb[(i >> 16) & 15u] * (int32_t)x[k + 4] + cb[(i >> 20) & 15u] * (int32_t)x[k + 5] +
                   cb[(i >> 24) & 15u] * (int32_t)x[k + 6] + cb[i >> 28] * (int32_t)x[k + 7];
        }
    }
    if (k < taps) {
        edgec_br_init(&r, w->values, start + (uint32_t)k * (uint32_t)bits);
        for (; k < taps; k++) {
            acc += cb[edgec_br_get(&r, bits)] * (int32_t)x[k];
        }
    }
    return acc;
}

/* acc + one SPARSE_CLUSTERED row's dot product with x, over the set bits of its mask; *cursor (bits
 * of the index stream) advances past the row. */
static int32_t edgec_pk_fc_sparse_clustered(const edgec_packed *w, int32_t row, uint32_t *cursor, const int8_t *x,
                                            int32_t acc)
{
    const int32_t taps = w->taps, bits = w->index_bits;
    const uint8_t *const mask = w->mask + row * ((taps + 7) >> 3);
    const int8_t *const cb = edgec_codebook(w, row);
    edgec_bitreader r;
    int32_t k0, n = 0;
    edgec_br_init(&r, w->values, *cursor);
    for (k0 = 0; k0 < taps; k0 += 8) {
        uint32_t m = mask[k0 >> 3];
        while (m) {
            const int32_t k = k0 + edgec_ctz(m);
            m &= m - 1u;
            acc += cb[edgec_br_get(&r, bits)] * (int32_t)x[k];
            n++;
        }
    }
    *cursor += (uint32_t)(n * bits);
    return acc;
}

void edgec_fully_connected_packed_s8(const edgec_fc_params *p, const edgec_packed *w, const int8_t *input,
                                     int8_t *output)
{
    const int32_t zp = p->output_zp, lo = p->act_min, hi = p->act_max, count_bytes = w->index_bits / 8;
    const int narrow = p->narrow;
    int32_t b, o;
    for (b = 0; b < p->batches; b++) {
        const int8_t *x = input + b * p->in_features;
        int8_t *y = output + b * p->out_features;
        uint32_t cursor = 0;
        if (w->format == EDGEC_SPARSE_DELTA) {
            const uint8_t *stream = w->values;
            for (o = 0; o < p->out_features; o++) {
                const int32_t q = p->per_channel ? o : 0;
                y[o] = edgec_requantize(narrow, edgec_pk_fc_delta(&stream, count_bytes, x, p->bias[o]),
                                        p->multiplier[q], p->shift[q], zp, lo, hi);
            }
            continue;
        }
        for (o = 0; o < p->out_features; o++) {
            const int32_t q = p->per_channel ? o : 0;
            int32_t acc;
            if (w->format == EDGEC_CLUSTERED) {
                acc = edgec_pk_fc_clustered(w, o, x, p->bias[o]);
            } else {
                acc = edgec_pk_fc_sparse_clustered(w, o, &cursor, x, p->bias[o]);
            }
            y[o] = edgec_requantize(narrow, acc, p->multiplier[q], p->shift[q], zp, lo, hi);
        }
    }
}
