/* edgec C engine: clustered depthwise column layers through the records of edgec_dwcol.h (see
 * edgec_packed_dwc.h). */
#include "edgec_packed_dwc.h"

#include <string.h>

#define EDGEC_DWC_WORDS 7 /* dwcols.WORDS */

static int32_t edgec_dwc_pair(int32_t lo, int32_t hi)
{
    return (int32_t)(((uint32_t)lo & 0xffffu) | ((uint32_t)hi << 16));
}

/* Records [first, first + count) of the layer into dst, T taps (3 or 5: specialised at each call). The
 * common case, 4-bit indices into one codebook, doubles the codebook once and reads a channel's T
 * indices in one 16- or 24-bit load; any other, edgec_unpack_dense. */
EDGEC_FORCE_INLINE void edgec_dwc_decode(const edgec_dwc_params *p, const edgec_packed *w, int32_t first,
                                         int32_t count, int32_t *dst, const int32_t taps)
{
    const int32_t *src = p->records + 4 * first;
    const int32_t *const end = src + 4 * count;
    int32_t v[5], t;
    if (w->index_bits == 4 && w->shared) {
        const uint8_t *const values = w->values;
        int32_t book[16];
        for (t = 0; t < w->clusters; t++) {
            book[t] = 2 * w->codebook[t];
        }
        for (; src < end; src += 4, dst += EDGEC_DWC_WORDS) {
            const uint32_t c = (uint32_t)src[0], i = c * (uint32_t)taps;
            const uint8_t *const s = values + (i >> 1);
            uint16_t lo;
            uint32_t x;
            memcpy(&lo, s, 2);
            x = ((uint32_t)lo | (taps == 5 ? (uint32_t)s[2] << 16 : 0u)) >> ((i & 1u) << 2);
            dst[0] = (int32_t)c;
            if (taps == 5) {
                dst[1] = edgec_dwc_pair(book[x & 15u], book[(x >> 4) & 15u]);
                dst[2] = edgec_dwc_pair(book[(x >> 8) & 15u], book[(x >> 12) & 15u]);
                dst[3] = edgec_dwc_pair(book[(x >> 16) & 15u], 0);
            } else {
                dst[1] = book[x & 15u];
                dst[2] = book[(x >> 4) & 15u];
                dst[3] = book[(x >> 8) & 15u];
            }
            memcpy(dst + 4, src + 1, 12);
        }
        return;
    }
    for (; src < end; src += 4, dst += EDGEC_DWC_WORDS) {
        int8_t row[5];
        uint32_t cursor = 0;
        edgec_unpack_dense(w, src[0], &cursor, row);
        for (t = 0; t < taps; t++) {
            v[t] = 2 * row[t];
        }
        dst[0] = src[0];
        if (taps == 5) {
            dst[1] = edgec_dwc_pair(v[0], v[1]);
            dst[2] = edgec_dwc_pair(v[2], v[3]);
            dst[3] = edgec_dwc_pair(v[4], 0);
        } else {
            memcpy(dst + 1, v, 12);
        }
        memcpy(dst + 4, src + 1, 12);
    }
}

/* The records [rec, end) of shift e in plain C (builds without the DSP functions): s = 2 acc,
 * (k - [s < 0] + round(s m / 2^32)) >> e, saturated to int8. */
static void edgec_dwc_run(const edgec_dwc_params *p, const int8_t *input, int8_t *output, const int32_t *rec,
                          const int32_t *end, int32_t e)
{
    const int32_t stride = p->channels, taps = p->taps;
    for (; rec < end; rec += EDGEC_DWC_WORDS) {
        const int8_t *const x = input + rec[0];
        int8_t *const out = output + rec[0];
        int32_t w[5], r, t;
        for (t = 0; t < taps; t++) {
            const uint32_t word = (uint32_t)rec[1 + (taps == 5 ? t / 2 : t)];
            w[t] = taps == 5 ? (int32_t)(int16_t)(uint16_t)(word >> (16 * (t % 2))) : (int32_t)word;
        }
        for (r = 0; r < p->outputs; r++) {
            int32_t s = rec[4], y;
            for (t = 0; t < taps; t++) {
                s += w[t] * x[(r + t) * stride];
            }
            y = (int32_t)(((int64_t)s * rec[5] + ((int64_t)1 << 31)) >> 32);
            y = (rec[6] - (s < 0 ? 1 : 0) + y) >> e;
            out[r * stride] = edgec_clamp_s8(y, -128, 127);
        }
    }
}

void edgec_dwconv2d_dwc_s8(const edgec_dwc_params *p, const edgec_packed *w, int32_t chunk, const int8_t *input,
                           int8_t *output, int32_t *scratch)
{
    int32_t first, s = 0;
    for (first = 0; first < p->channels; first += chunk) {
        const int32_t last = edgec_min(first + chunk, p->channels);
        int32_t at = first;
        if (p->taps == 5) {
            edgec_dwc_decode(p, w, first, last - first, scratch, 5);
        } else {
            edgec_dwc_decode(p, w, first, last - first, scratch, 3);
        }
        while (at < last) { /* the chunk's records of each shift in turn */
            const int32_t stop = edgec_min((int32_t)p->ends[s], last);
            const int32_t *const rec = scratch + EDGEC_DWC_WORDS * (at - first);
            const int32_t *const end = scratch + EDGEC_DWC_WORDS * (stop - first);
            if (p->fns != NULL) {
                p->fns[s](input, output, rec, end);
            } else {
                edgec_dwc_run(p, input, output, rec, end, p->shifts[s]);
            }
            if (stop == (int32_t)p->ends[s]) {
                s++;
            }
            at = stop;
        }
    }
}
