/* edgec C engine: depthwise column layers one channel at a time, the C twin of edgec_dwcol.h's
 * assembly (the records of dwcols.py, the same sums and rescale). */
#include "edgec_dwcol.h"

#if defined(EDGEC_DSP)
/* Tap t's doubled weight of a record (T = 5: int16 pairs). */
static int32_t edgec_dwcol_weight(const int32_t *r, int32_t taps, int32_t t)
{
    if (taps != 5) {
        return r[1 + t];
    }
    return (int32_t)(int16_t)(uint16_t)((uint32_t)r[1 + t / 2] >> (16 * (t % 2)));
}

void edgec_dwcol_run(const int8_t *input, int8_t *output, const int32_t *rec, const int32_t *end, int32_t taps,
                     int32_t c_stride, int32_t e, int32_t n)
{
    const int32_t words = taps == 5 ? 7 : 4 + taps;
    for (; rec < end; rec += words) {
        const int32_t c = rec[0], bias = rec[words - 3], m = rec[words - 2], k = rec[words - 1];
        const int8_t *x = input + c;
        int8_t *out = output + c;
        int32_t r, t;
        for (r = 0; r < n; r++) {
            int32_t s = bias, y;
            for (t = 0; t < taps; t++) {
                s += edgec_dwcol_weight(rec, taps, t) * x[(r + t) * c_stride];
            }
            y = (int32_t)(((int64_t)s * m + ((int64_t)1 << 31)) >> 32); /* SMMULR */
            out[r * c_stride] = (int8_t)edgec_ssat8((k - (s < 0 ? 1 : 0) + y) >> e);
        }
    }
}
#endif
