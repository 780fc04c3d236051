/* edgec C engine: depthwise column layers over clustered weights, a chunk of channel groups at a time
 * decoded into the pair layout of dwpairs.py and run by edgec_dwpair.c's kernels (see edgec_packed.h). */
#ifndef EDGEC_PACKED_DWP_H
#define EDGEC_PACKED_DWP_H

#include "edgec_dwconv.h"
#include "edgec_dwpair.h"
#include "edgec_packed.h"
#include "edgec_packed_dwg.h"

/* A column layer that the dense engine runs by pairs of taps (dwpairs.eligible), its weights CLUSTERED
 * with 4-bit indices into one codebook: channels in chunks of `chunk` groups of 4; a chunk's weights
 * are decoded once into scratch in the layout of dwpairs.py (per group the doubled biases, per pair of
 * taps the doubled weights (w[2i], w[2i + 1]) of each channel, per channel the rescale (m, k, e)) and
 * `run` (edgec_dwpair_groups_s8 or edgec_dwpair_groups_t<T>_s8, as dwpairs.entry chooses for the
 * dense layer) runs its groups over every output, as a dense layer's layout runs. The output may
 * overlap the input as edgec_dwconv2d_dwg_s8's may (chunk after chunk, each on its own channels).
 * scratch: chunk * (16 + 4 * ceil(taps / 2)) words. Builds without the DSP path take
 * edgec_dwconv2d_dwg_s8 (its scratch is no larger). */
#if defined(EDGEC_DSP)
typedef void (*edgec_dwp_run)(const edgec_dwconv_params *p, const int32_t *dsp, int32_t g0, int32_t groups,
                              const int8_t *input, int8_t *output);
void edgec_dwconv2d_dwp_s8(const edgec_dwconv_params *p, const edgec_packed *w, int32_t chunk, edgec_dwp_run run,
                           const int8_t *input, int8_t *output, int32_t *scratch);
#else
#define edgec_dwconv2d_dwp_s8(p, w, chunk, run, input, output, scratch) \
    edgec_dwconv2d_dwg_s8(p, w, chunk, input, output, scratch)
#endif

#endif /* EDGEC_PACKED_DWP_H */
