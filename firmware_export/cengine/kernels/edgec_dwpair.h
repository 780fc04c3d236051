/* edgec C engine: depthwise column layers by pairs of taps (DSP builds; dwpairs.py). */
#ifndef EDGEC_DWPAIR_H
#define EDGEC_DWPAIR_H

#include "edgec_dwconv.h"

/* A column layer (kernel and input 1 wide, stride 1, valid padding, dm 1) given the pair layout of
 * dwpairs.py in p->dsp, on DSP builds; the other builds take edgec_dwconv2d_s8 (dense arrays). */
#if defined(EDGEC_DSP)
void edgec_dwpair_s8(const edgec_dwconv_params *p, const int8_t *input, int8_t *output);
/* The same over groups g0 .. g0 + groups - 1 of 4 channels, their layout at dsp (not p->dsp): the pairs
 * built on the stack, or in registers (edgec_dwpair_groups_t<T>_s8). */
void edgec_dwpair_groups_s8(const edgec_dwconv_params *p, const int32_t *dsp, int32_t g0, int32_t groups,
                            const int8_t *input, int8_t *output);
#else
#define edgec_dwpair_s8 edgec_dwconv2d_s8
#endif
/* The same with the pairs built in registers for each output (few outputs), T the kernel's height
 * (3..16): edgec_dwpair_t<T>_s8. */
#if defined(EDGEC_DSP)
#define EDGEC_DWD_DECLARE(T)                                                                             \
    void edgec_dwpair_t##T##_s8(const edgec_dwconv_params *p, const int8_t *input, int8_t *output);      \
    void edgec_dwpair_groups_t##T##_s8(const edgec_dwconv_params *p, const int32_t *dsp, int32_t g0,     \
                                       int32_t groups, const int8_t *input, int8_t *output);
#else
#define EDGEC_DWD_DECLARE(T)
#define edgec_dwpair_t3_s8 edgec_dwconv2d_s8
#define edgec_dwpair_t4_s8 edgec_dwconv2d_s8
#define edgec_dwpair_t5_s8 edgec_dwconv2d_s8
#define edgec_dwpair_t6_s8 edgec_dwconv2d_s8
#define edgec_dwpair_t7_s8 edgec_dwconv2d_s8
#define edgec_dwpair_t8_s8 edgec_dwconv2d_s8
#define edgec_dwpair_t9_s8 edgec_dwconv2d_s8
#define edgec_dwpair_t10_s8 edgec_dwconv2d_s8
#define edgec_dwpair_t11_s8 edgec_dwconv2d_s8
#define edgec_dwpair_t12_s8 edgec_dwconv2d_s8
#define edgec_dwpair_t13_s8 edgec_dwconv2d_s8
#define edgec_dwpair_t14_s8 edgec_dwconv2d_s8
#define edgec_dwpair_t15_s8 edgec_dwconv2d_s8
#define edgec_dwpair_t16_s8 edgec_dwconv2d_s8
#endif
EDGEC_DWD_DECLARE(3)
EDGEC_DWD_DECLARE(4)
EDGEC_DWD_DECLARE(5)
EDGEC_DWD_DECLARE(6)
EDGEC_DWD_DECLARE(7)
EDGEC_DWD_DECLARE(8)
EDGEC_DWD_DECLARE(9)
EDGEC_DWD_DECLARE(10)
EDGEC_DWD_DECLARE(11)
EDGEC_DWD_DECLARE(12)
EDGEC_DWD_DECLARE(13)
EDGEC_DWD_DECLARE(14)
EDGEC_DWD_DECLARE(15)
EDGEC_DWD_DECLARE(16)

#endif /* EDGEC_DWPAIR_H */
