/* edgec C engine: fully connected over packed weights (see edgec_packed.h). */
#ifndef EDGEC_PACKED_FC_H
#define EDGEC_PACKED_FC_H

#include "edgec_fc.h"
#include "edgec_packed.h"

/* Fully connected with packed weights, decoded as each row is used (no buffer): SPARSE_DELTA walks
 * the entries (no branch per tap); CLUSTERED reads the indices a byte at a time; SPARSE_CLUSTERED
 * walks the set bits of the mask. */
void edgec_fully_connected_packed_s8(const edgec_fc_params *p, const edgec_packed *w, const int8_t *input,
                                     int8_t *output);

#endif /* EDGEC_PACKED_FC_H */
