/* edgec C engine: depthwise column layers by pairs of taps (DSP builds; dwpairs.py). */
#ifndef EDGEC_DWPAIR_H
#define EDGEC_DWPAIR_H

#include "edgec_dwconv.h"

/* A column layer (kernel and input 1 wide, stride 1, valid padding, dm 1) given the pair layout of
 * dwpairs.py in p->dsp, on DSP builds; the other builds take edgec_dwconv2d_s8 (dense arrays). */
#if defined(EDGEC_DSP)
void edgec_dwpair_s8(const edgec_dwconv_params *p, const int8_t *input, int8_t *output);
#else
#define edgec_dwpair_s8 edgec_dwconv2d_s8
#endif

#endif /* EDGEC_DWPAIR_H */
