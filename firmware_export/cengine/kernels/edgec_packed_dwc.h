/* edgec C engine: depthwise column layers of 3 and 5 taps over clustered weights, a chunk of channels
 * at a time decoded into the records of edgec_dwcol.h (see edgec_packed.h, dwcolpack.py). */
#ifndef EDGEC_PACKED_DWC_H
#define EDGEC_PACKED_DWC_H

#include "edgec_dwcol.h"
#include "edgec_packed.h"

/* A column layer's function of one shift e (edgec_dwcol.h: NAME(input, output, records, end)). */
typedef void (*edgec_dwc_fn)(const int8_t *input, int8_t *output, const int32_t *rec, const int32_t *end);

typedef struct {
    /* per channel, in order of (e, channel): its byte offset c, doubled bias, m and k (dwlayout.py) */
    const int32_t *records;
    /* DSP builds: the layer's function of each shift (EDGEC_DWCOL3 / EDGEC_DWCOL5); others NULL (C) */
    const edgec_dwc_fn *fns;
    const uint8_t *ends;   /* per shift, one past its last channel in that order */
    const uint8_t *shifts; /* per shift, e */
    int32_t count, channels, taps, outputs; /* count: the shifts */
} edgec_dwc_params;

/* The layer (CLUSTERED weights, w->taps = taps) in chunks of `chunk` channels in the records' order:
 * each chunk decoded into scratch as edgec_dwcol.h's 7-word records (the record's words from flash,
 * the weights from the indices, doubled: T = 3 one a word, T = 5 the int16 pairs (w0, w1), (w2, w3),
 * (w4, 0)), then run per shift by the layer's functions (one call per shift the chunk holds). A
 * channel's outputs are written after the rows they read, channel after channel, as the dense
 * layer's (inplace.inplace_period). scratch: 7 * chunk words. */
void edgec_dwconv2d_dwc_s8(const edgec_dwc_params *p, const edgec_packed *w, int32_t chunk, const int8_t *input,
                           int8_t *output, int32_t *scratch);

#endif /* EDGEC_PACKED_DWC_H */
