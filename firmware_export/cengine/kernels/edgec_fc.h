/* edgec C engine: fully connected, int8 (TFLite FULLY_CONNECTED). */
#ifndef EDGEC_FC_H
#define EDGEC_FC_H

#include "edgec_common.h"

typedef struct {
    const int8_t *weights;     /* [out_features][in_features] */
    const int32_t *bias;       /* [out_features]: bias - input_zp * sum(weights of the row) */
    const int32_t *multiplier; /* [out_features], or [1] when not per_channel */
    const int8_t *shift;       /* same length as multiplier */
    int32_t batches, in_features, out_features, per_channel;
    int32_t output_zp, act_min, act_max;
    int32_t narrow; /* 1: generation proved |acc| < 2^30 and right shifts only (edgec_mbqm_narrow) */
} edgec_fc_params;

/* The rescale of the DSP path's kernels: narrow with act_max 127 (SSAT), narrow, or the general
 * edgec_mbqm. */
#define EDGEC_FC_NARROW_SSAT 2
#define EDGEC_FC_NARROW 1
#define EDGEC_FC_GENERAL 0

void edgec_fully_connected_narrow_ssat_s8(const edgec_fc_params *p, const int8_t *input, int8_t *output);
void edgec_fully_connected_narrow_s8(const edgec_fc_params *p, const int8_t *input, int8_t *output);
void edgec_fully_connected_general_s8(const edgec_fc_params *p, const int8_t *input, int8_t *output);

/* The kernel of the layer's rescale: the generated engine's params are constants, so the choice
 * is made when it is compiled and a firmware links only the kernels its layers use. Elsewhere
 * than the DSP path the three are the same. */
static inline void edgec_fully_connected_s8(const edgec_fc_params *p, const int8_t *input, int8_t *output)
{
#if defined(EDGEC_DSP)
    if (p->narrow && p->act_max >= 127) {
        edgec_fully_connected_narrow_ssat_s8(p, input, output);
    } else if (p->narrow) {
        edgec_fully_connected_narrow_s8(p, input, output);
    } else {
        edgec_fully_connected_general_s8(p, input, output);
    }
#else
    edgec_fully_connected_general_s8(p, input, output);
#endif
}

/* Rows whose sums wait on the stack for their rescale (edgec_fc.c, edgec_packed_fcp.c): the MAC loop
 * and the rescale loop each keep their few values in registers. A multiple of 3 (and of 2). */
#define EDGEC_FC_CHUNK 48

/* y[k] = the rescaled s[k], k < n, row o + k; narrow and clamp (2: SSAT and, if lo > -128, a
 * conditional move; 0: the general clamp) constants at each call site. */
EDGEC_FORCE_INLINE void edgec_fc_rescale_body(const edgec_fc_params *p, const int32_t *s, int32_t n, int32_t o,
                                              int8_t *y, int narrow, int clamp)
{
    const int32_t *const multiplier = p->multiplier;
    const int8_t *const shift = p->shift;
    const int32_t step = p->per_channel ? 1 : 0, zp = p->output_zp, lo = p->act_min, hi = p->act_max;
    int32_t k;
    for (k = 0; k < n; k++) {
        const int32_t q = (o + k) * step;
        int32_t v = (narrow ? edgec_mbqm_narrow(s[k], multiplier[q], shift[q])
                            : edgec_mbqm(s[k], multiplier[q], shift[q])) + zp;
#if defined(__ARM_FEATURE_DSP) && defined(__GNUC__) && !defined(EDGEC_NO_DSP)
        if (clamp == 2) {
            v = edgec_ssat8(v);
            __asm__("cmp %0, %1\n\tit lt\n\tmovlt %0, %1" : "+r"(v) : "r"(lo) : "cc");
        } else
#endif
        {
            (void)clamp;
            v = v < lo ? lo : (v > hi ? hi : v);
        }
        y[k] = (int8_t)v;
    }
}

#endif /* EDGEC_FC_H */
