/* edgec C engine: ADD / SUB / MUL, int8, with TFLite's rescaling:
 * ADD/SUB bring both inputs to a common scale with 20 bits of headroom (a table per input, made at
 * generation time with the same arithmetic), add or subtract, then rescale to the output; MUL rescales the product of the offset inputs. */
#include "edgec_binary.h"

enum { EDGEC_ADD, EDGEC_SUB, EDGEC_MUL };

static int8_t edgec_binary_one(const edgec_binary_params *p, int kind, int32_t a, int32_t b)
{
    int32_t raw;
    if (kind == EDGEC_MUL) {
        raw = edgec_mbqm((a + p->input1_offset) * (b + p->input2_offset), p->output_multiplier, p->output_shift);
    } else {
        /* = edgec_mbqm((a + input_offset) << left_shift, input multiplier, input shift), tabulated */
        const int32_t sa = p->table1[a + 128];
        const int32_t sb = p->table2[b + 128];
        raw = edgec_mbqm(kind == EDGEC_ADD ? sa + sb : sa - sb, p->output_multiplier, p->output_shift);
    }
    return edgec_clamp_s8(raw + p->output_offset, p->act_min, p->act_max);
}

static void edgec_binary_s8(const edgec_binary_params *p, int kind, const int8_t *in1,
                            const int8_t *in2, int8_t *out)
{
    int32_t d0, d1, d2, d3;
    if (p->elementwise) {
        const int32_t n = p->shape[0] * p->shape[1] * p->shape[2] * p->shape[3];
        int32_t i;
        for (i = 0; i < n; i++) {
            out[i] = edgec_binary_one(p, kind, in1[i], in2[i]);
        }
        return;
    }
    for (d0 = 0; d0 < p->shape[0]; d0++) {
        for (d1 = 0; d1 < p->shape[1]; d1++) {
            for (d2 = 0; d2 < p->shape[2]; d2++) {
                const int8_t *a = in1 + d0 * p->strides1[0] + d1 * p->strides1[1] + d2 * p->strides1[2];
                const int8_t *b = in2 + d0 * p->strides2[0] + d1 * p->strides2[1] + d2 * p->strides2[2];
                for (d3 = 0; d3 < p->shape[3]; d3++) {
                    *out++ = edgec_binary_one(p, kind, a[d3 * p->strides1[3]], b[d3 * p->strides2[3]]);
                }
            }
        }
    }
}

void edgec_add_s8(const edgec_binary_params *p, const int8_t *in1, const int8_t *in2, int8_t *out)
{
    edgec_binary_s8(p, EDGEC_ADD, in1, in2, out);
}

void edgec_sub_s8(const edgec_binary_params *p, const int8_t *in1, const int8_t *in2, int8_t *out)
{
    edgec_binary_s8(p, EDGEC_SUB, in1, in2, out);
}

void edgec_mul_s8(const edgec_binary_params *p, const int8_t *in1, const int8_t *in2, int8_t *out)
{
    edgec_binary_s8(p, EDGEC_MUL, in1, in2, out);
}
