/* edgec C engine: convolution and fully connected over BLOCK / BLOCK_CLUSTERED rows (see edgec_packed.h). */
#ifndef EDGEC_PACKED_BLK_H
#define EDGEC_PACKED_BLK_H

#include "edgec_conv.h"
#include "edgec_fc.h"
#include "edgec_packed.h"

/* Convolution (one group) whose weights are BLOCK or BLOCK_CLUSTERED rows. The pixels of a batch in
 * tiles of `tile` (1, 2 or 4): their windows are first gathered into scratch as int16, block by
 * block (block b of the tile's pixel j: 4 int16 at 4 * (b * tile + j), lanes x0, x2, x1, x3, so
 * that the DSP path multiplies a block with two SMLAD against SXTB16 of the weights' word; padding
 * taps = input_zp, the last block's missing taps 0); then each output channel's nonzero blocks are
 * read once for the tile's pixels, zero blocks skipped. A last tile of fewer pixels repeats its
 * first. scratch: [tile * blocks * 4] int16, then (BLOCK_CLUSTERED) [max_nonzeros * 4] int8, the
 * row's blocks decoded from their codebook indices. */
#define EDGEC_BLK_CONV_DECL(NAME)                                                                      \
    void NAME(const edgec_conv_params *p, const edgec_packed *w, const int8_t *input, int8_t *output,  \
              int32_t *scratch)
EDGEC_BLK_CONV_DECL(edgec_conv2d_block4_idx8_s8);
EDGEC_BLK_CONV_DECL(edgec_conv2d_block4_idx16_s8);
EDGEC_BLK_CONV_DECL(edgec_conv2d_block2_idx8_s8);
EDGEC_BLK_CONV_DECL(edgec_conv2d_block2_idx16_s8);
EDGEC_BLK_CONV_DECL(edgec_conv2d_block1_idx8_s8);
EDGEC_BLK_CONV_DECL(edgec_conv2d_block1_idx16_s8);

/* The kernel of one tile and index width: the generated engine passes a constant tile and w, so
 * the choice is made when it is compiled and the firmware links that kernel alone. */
static inline void edgec_conv2d_block_s8(const edgec_conv_params *p, const edgec_packed *w, int32_t tile,
                                         const int8_t *input, int8_t *output, int32_t *scratch)
{
    const int wide = w->index_bits == 16;
    if (tile == 4) {
        (wide ? edgec_conv2d_block4_idx16_s8 : edgec_conv2d_block4_idx8_s8)(p, w, input, output, scratch);
    } else if (tile == 2) {
        (wide ? edgec_conv2d_block2_idx16_s8 : edgec_conv2d_block2_idx8_s8)(p, w, input, output, scratch);
    } else {
        (wide ? edgec_conv2d_block1_idx16_s8 : edgec_conv2d_block1_idx8_s8)(p, w, input, output, scratch);
    }
}

/* Fully connected over BLOCK or BLOCK_CLUSTERED rows: each row's nonzero blocks against the input's
 * words. scratch: when in_features is not a multiple of 4, the input padded with zeros to whole
 * words ([align4(in_features)] int8); then (BLOCK_CLUSTERED) [max_nonzeros * 4] int8 for a decoded
 * row. NULL when neither is needed. */
void edgec_fully_connected_block_idx8_s8(const edgec_fc_params *p, const edgec_packed *w, const int8_t *input,
                                         int8_t *output, int32_t *scratch);
void edgec_fully_connected_block_idx16_s8(const edgec_fc_params *p, const edgec_packed *w, const int8_t *input,
                                          int8_t *output, int32_t *scratch);
static inline void edgec_fully_connected_block_s8(const edgec_fc_params *p, const edgec_packed *w,
                                                  const int8_t *input, int8_t *output, int32_t *scratch)
{
    (w->index_bits == 16 ? edgec_fully_connected_block_idx16_s8 : edgec_fully_connected_block_idx8_s8)(
        p, w, input, output, scratch);
}

#endif /* EDGEC_PACKED_BLK_H */
