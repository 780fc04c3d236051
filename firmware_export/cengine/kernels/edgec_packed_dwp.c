/* edgec C engine: depthwise column layers over clustered weights decoded, a chunk of channel groups
 * at a time, into the pair layout of dwpairs.py (see edgec_packed_dwp.h). */
#include "edgec_packed_dwp.h"

#if defined(EDGEC_DSP)
/* A channel's pairs of taps into d (every 4th word): taps from nibble `odd` (0 or 1) of s on (low
 * nibble first); lo[i], hi[i]: code i doubled as the low, the high half of a pair. */
#if defined(__GNUC__)
__attribute__((noinline)) /* its own registers: the tables' pointers held across the loop */
#endif
static void edgec_dwp_channel(const uint8_t *s, int32_t taps, uint32_t odd, const uint32_t *lo, const uint32_t *hi,
                              int32_t *d)
{
    const uint8_t *const end = s + taps / 2;
    if (odd == 0u) { /* a pair of taps a byte */
        for (; s != end; s++, d += 4) {
            const uint32_t b = *s;
            *d = (int32_t)(lo[b & 15u] | hi[b >> 4]);
        }
        if (taps & 1) {
            *d = (int32_t)lo[*s & 15u];
        }
    } else { /* the high nibble of one byte, the low of the next */
        for (; s != end; s++, d += 4) {
            const uint32_t b = (uint32_t)s[0] | ((uint32_t)s[1] << 8);
            *d = (int32_t)(lo[(b >> 4) & 15u] | hi[(b >> 8) & 15u]);
        }
        if (taps & 1) {
            *d = (int32_t)lo[*s >> 4];
        }
    }
}

/* The layout of groups g0 .. g0 + groups - 1 into dst (dwpairs.layout's words). Channel c's taps are
 * nibbles c * taps .. of the stream: a pair of taps is one byte where c * taps is even. */
static void edgec_dwp_layout(const edgec_dwconv_params *p, const edgec_packed *w, int32_t g0, int32_t groups,
                             const uint32_t *lo, const uint32_t *hi, int32_t *dst)
{
    const int32_t taps = p->kernel_h, n_pairs = (taps + 1) / 2;
    int32_t g, j;
    for (g = 0; g < groups; g++, dst += 16 + 4 * n_pairs) {
        const int32_t c0 = 4 * (g0 + g);
        int32_t *const rescale = dst + 4 + 4 * n_pairs;
        for (j = 0; j < 4; j++) {
            const int32_t c = c0 + j, e = -(int32_t)p->shift[c];
            const uint32_t n0 = (uint32_t)(c * taps);
            dst[j] = 2 * p->bias[c];
            edgec_dwp_channel(w->values + (n0 >> 1), taps, n0 & 1u, lo, hi, dst + 4 + j);
            rescale[3 * j] = p->multiplier[c];
            rescale[3 * j + 1] = (int32_t)((uint32_t)(2 * p->output_zp + 1) << (e - 1));
            rescale[3 * j + 2] = e;
        }
    }
}

void edgec_dwconv2d_dwp_s8(const edgec_dwconv_params *p, const edgec_packed *w, int32_t chunk, edgec_dwp_run run,
                           const int8_t *input, int8_t *output, int32_t *scratch)
{
    const int32_t all = p->out_c / 4;
    uint32_t lo[16], hi[16];
    int32_t g0, k;
    for (k = 0; k < 16; k++) {
        const uint32_t twice = (uint32_t)(2 * (int32_t)(k < w->clusters ? w->codebook[k] : 0));
        lo[k] = twice & 0xFFFFu;
        hi[k] = twice << 16;
    }
    for (g0 = 0; g0 < all; g0 += chunk) {
        const int32_t groups = edgec_min(chunk, all - g0);
        edgec_dwp_layout(p, w, g0, groups, lo, hi, scratch);
        run(p, scratch, g0, groups, input, output);
    }
}
#endif
