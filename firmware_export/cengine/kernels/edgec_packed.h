/* edgec C engine: convolution, depthwise and fully-connected kernels over compressed weights.
 *
 * A layer's weights are a matrix of `channels` rows (output channels) of `taps` int8 values, the
 * taps of a row in the dense kernel's order (conv: ky, kx, c; depthwise: ky, kx; FC: input
 * feature). They are stored in one of three formats, and decoded a row at a time as they run:
 *   CLUSTERED         every tap's index into the row's codebook (`index_bits` bits, LSB first,
 *                     one bit stream: row r starts at bit r * taps * index_bits);
 *   SPARSE            a bitmask of the nonzero taps ((taps + 7) / 8 bytes per row, bit k % 8 of
 *                     byte k / 8 for tap k) and the nonzero values, int8, rows one after the other;
 *   SPARSE_CLUSTERED  the bitmask, and a codebook index for each nonzero only (one bit stream).
 * The codebook is [channels][clusters] int8, or [clusters] when `shared` (one serves every row).
 */
#ifndef EDGEC_PACKED_H
#define EDGEC_PACKED_H

#include "edgec_common.h"
#include "edgec_conv.h"
#include "edgec_dwconv.h"
#include "edgec_fc.h"

#define EDGEC_CLUSTERED 1
#define EDGEC_SPARSE 2
#define EDGEC_SPARSE_CLUSTERED 3

typedef struct {
    int32_t format, channels, taps;
    const uint8_t *mask;    /* sparse formats: [channels][(taps + 7) / 8] */
    const uint8_t *values;  /* SPARSE: int8 nonzeros; clustered formats: the index bit stream */
    const int8_t *codebook; /* clustered formats */
    int32_t index_bits, clusters, shared;
    int32_t max_nonzeros; /* sparse formats: the most nonzeros of a row (sizes the decoded list) */
} edgec_packed;

/* Convolution with packed weights. Output pixels in tiles of `tile` (raster order): the window
 * offsets of a tile are computed once, then for each output channel (or pair) its weights are
 * decoded once into the scratch and applied to every pixel of the tile, reading the input in
 * place (padding taps = input_zp). Within a tile, outputs are written channel by channel.
 * scratch: edgec sizes it at generation (ops.Conv2D.scratch_bytes). */
void edgec_conv2d_packed_s8(const edgec_conv_params *p, const edgec_packed *w, int32_t tile,
                            const int8_t *input, int8_t *output, int32_t *scratch);

/* Depthwise convolution with packed weights: tiles of `tile` output pixels; for each block of 16
 * channels the weights are decoded into the scratch ([kernel_h * kernel_w][16] int8) with, per tap,
 * the list of the block's channels whose weight is nonzero; then the tile's pixels are computed as
 * by edgec_dwconv2d_s8, a tap of a partly zero block over its nonzero channels only. */
void edgec_dwconv2d_packed_s8(const edgec_dwconv_params *p, const edgec_packed *w, int32_t tile,
                              const int8_t *input, int8_t *output, int32_t *scratch);

/* Fully connected with packed weights, decoded as each row is used (no buffer). */
void edgec_fully_connected_packed_s8(const edgec_fc_params *p, const edgec_packed *w, const int8_t *input,
                                     int8_t *output);

#endif /* EDGEC_PACKED_H */
