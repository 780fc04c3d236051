/* edgec C engine: depthwise convolution over DW_BLOCK weights (see edgec_packed.h). */
#ifndef EDGEC_PACKED_DWB_H
#define EDGEC_PACKED_DWB_H

#include "edgec_dwconv.h"
#include "edgec_packed.h"

/* Taps of a window (the per-pixel table of the kept taps' inputs). */
#define EDGEC_DWB_MAX_TAPS 32
/* Input channels up to which a padded tap reads a row of input_zp bytes on the stack (more: the
 * generic path checks each kept tap). */
#define EDGEC_DWB_ZP_MAX_C 256

/* Depthwise convolution (depth multiplier 1) with weights stored as DW_BLOCK: per group of 4
 * channels, its kept taps only. Output pixels in raster order, each group of a pixel from its kept
 * taps, written group by group (the dense kernel's order: its in-place overlap); no scratch.
 * DSP builds with p->dsp (dwblocks.py: the doubled biases, the kept taps' doubled int16 weight
 * pairs and the rescale of each group) run a Thumb-2 loop over the kept taps: the pixels whose
 * windows lie inside the input in runs along a row (or down a column), through a table of the taps'
 * input offsets; a border pixel through its own table (a tap outside points at input_zp bytes).
 * The other builds read the int8 values in C. */
void edgec_dwconv2d_dwblock_s8(const edgec_dwconv_params *p, const edgec_packed *w, const int8_t *input,
                               int8_t *output);

#endif /* EDGEC_PACKED_DWB_H */
