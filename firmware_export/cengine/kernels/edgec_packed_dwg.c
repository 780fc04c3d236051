/* edgec C engine: depthwise convolution over clustered weights, a chunk of channel groups at a time
 * decoded into the DSP layout (see edgec_packed_dwg.h) and run by edgec_dwconv.c's kernels of the
 * layout (edgec_dwconv2d_chunk_s8), as a dense layer's layout is. */
#include "edgec_packed_dwg.h"

#define EDGEC_DWG_MAX_TAPS 25 /* dwlayout.MAX_TAPS */
/* dwlayout.LAST_GROUP: on the chunk's last group's last e, it ends a pixel's loop over the groups */
#define EDGEC_DWG_LAST_GROUP 256

/* The layout of groups c0 / 4 .. c0 / 4 + groups - 1 into dst (dwlayout.layout's words). */
static void edgec_dwg_layout(const edgec_dwconv_params *p, const edgec_packed *w, int32_t c0, int32_t groups,
                             int32_t taps, int32_t *dst)
{
    int8_t rows[4][EDGEC_DWG_MAX_TAPS];
    uint32_t cursor = 0;
    int32_t g, j, t;
    for (g = 0; g < groups; g++) {
        const int32_t c = c0 + 4 * g;
        for (j = 0; j < 4; j++) {
            *dst++ = 2 * p->bias[c + j];
        }
        if (w->index_bits == 4) { /* 4-bit indices read in place: nibble c * taps + t of the stream */
            const uint8_t *const v = w->values;
            const int8_t *const b0 = edgec_codebook(w, c), *const b1 = edgec_codebook(w, c + 1);
            const int8_t *const b2 = edgec_codebook(w, c + 2), *const b3 = edgec_codebook(w, c + 3);
            uint32_t i0 = (uint32_t)(c * taps), i1 = i0 + (uint32_t)taps, i2 = i1 + (uint32_t)taps;
            uint32_t i3 = i2 + (uint32_t)taps;
#define EDGEC_DWG_NIB(i) ((v[(i) >> 1] >> (((i) & 1u) << 2)) & 15u)
            for (t = 0; t < taps; t++, i0++, i1++, i2++, i3++) {
                *dst++ = (int32_t)(((uint32_t)(2 * b0[EDGEC_DWG_NIB(i0)]) & 0xffffu) |
                                   ((uint32_t)(2 * b2[EDGEC_DWG_NIB(i2)]) << 16));
                *dst++ = (int32_t)(((uint32_t)(2 * b1[EDGEC_DWG_NIB(i1)]) & 0xffffu) |
                                   ((uint32_t)(2 * b3[EDGEC_DWG_NIB(i3)]) << 16));
            }
#undef EDGEC_DWG_NIB
        } else {
            for (j = 0; j < 4; j++) {
                edgec_unpack_dense(w, c + j, &cursor, rows[j]);
            }
            for (t = 0; t < taps; t++) {
                *dst++ = (int32_t)(((uint32_t)(2 * rows[0][t]) & 0xffffu) | ((uint32_t)(2 * rows[2][t]) << 16));
                *dst++ = (int32_t)(((uint32_t)(2 * rows[1][t]) & 0xffffu) | ((uint32_t)(2 * rows[3][t]) << 16));
            }
        }
        for (j = 0; j < 4; j++) {
            const int32_t e = -(int32_t)p->shift[c + j];
            *dst++ = p->multiplier[c + j];
            *dst++ = (int32_t)((uint32_t)(2 * p->output_zp + 1) << (e - 1));
            *dst++ = e;
        }
    }
    dst[-1] += EDGEC_DWG_LAST_GROUP;
}

void edgec_dwconv2d_dwg_s8(const edgec_dwconv_params *p, const edgec_packed *w, int32_t chunk, const int8_t *input,
                           int8_t *output, int32_t *scratch)
{
    const int32_t out_c = p->out_c, taps = p->kernel_h * p->kernel_w;
    int32_t c0;
    for (c0 = 0; c0 < out_c; c0 += 4 * chunk) {
        const int32_t groups = edgec_min(chunk, (out_c - c0) / 4);
        edgec_dwg_layout(p, w, c0, groups, taps, scratch);
        edgec_dwconv2d_chunk_s8(p, scratch, c0, groups, input, output);
    }
}
