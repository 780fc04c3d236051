/* edgec C engine: element-wise ADD, SUB and MUL on int8 with broadcasting up to 4-D. */
#ifndef EDGEC_BINARY_H
#define EDGEC_BINARY_H

#include "edgec_common.h"

typedef struct {
    const int32_t *table1, *table2; /* ADD/SUB: rescaled input value of each int8 x, at x + 128 */
    int32_t shape[4];    /* output shape */
    int32_t strides1[4]; /* element strides of input 1 per output dimension (0: broadcast) */
    int32_t strides2[4];
    int32_t elementwise; /* both inputs laid out as the output: one flat loop */
    int32_t input1_offset, input2_offset, output_offset;
    int32_t left_shift, input1_multiplier, input1_shift, input2_multiplier, input2_shift;
    int32_t output_multiplier, output_shift, act_min, act_max;
    int32_t narrow; /* 1: the output rescale may take edgec_mbqm_narrow (decided at generation time) */
} edgec_binary_params;

/* Output elements in order; element i is written after both of its inputs are read. */
void edgec_add_s8(const edgec_binary_params *p, const int8_t *in1, const int8_t *in2, int8_t *out);
void edgec_sub_s8(const edgec_binary_params *p, const int8_t *in1, const int8_t *in2, int8_t *out);
void edgec_mul_s8(const edgec_binary_params *p, const int8_t *in1, const int8_t *in2, int8_t *out);

#endif /* EDGEC_BINARY_H */
