/* edgec C engine: ADD / SUB / MUL, int8, with TFLite's rescaling:
 * ADD/SUB bring both inputs to a common scale with 20 bits of headroom (a table per input, made at
 * generation time with the same arithmetic), add or subtract, then rescale to the output; MUL rescales the product of the offset inputs. */
#include "edgec_binary.h"

enum { EDGEC_ADD, EDGEC_SUB, EDGEC_MUL };

/* What every element needs, copied out of the parameters once: the int8_t output stores may alias
 * them, which would make the compiler reload every field for every element. */
typedef struct {
    const int32_t *table1, *table2;
    int32_t input1_offset, input2_offset, output_offset, output_multiplier, output_shift;
    int32_t act_min, act_max, narrow;
} edgec_binary_stage;

/* narrow is q.narrow, or the constant 1 where the caller has tested it (one loop each way). */
static inline int8_t edgec_binary_one(const edgec_binary_stage q, int kind, int narrow, int32_t a, int32_t b)
{
    int32_t raw;
    if (kind == EDGEC_MUL) {
        raw = (a + q.input1_offset) * (b + q.input2_offset);
    } else {
        /* = edgec_mbqm((a + input_offset) << left_shift, input multiplier, input shift), tabulated */
        const int32_t sa = q.table1[a + 128];
        const int32_t sb = q.table2[b + 128];
        raw = kind == EDGEC_ADD ? sa + sb : sa - sb;
    }
    raw = narrow ? edgec_mbqm_narrow(raw, q.output_multiplier, q.output_shift)
                 : edgec_mbqm(raw, q.output_multiplier, q.output_shift);
    return edgec_clamp_s8(raw + q.output_offset, q.act_min, q.act_max);
}

EDGEC_FORCE_INLINE void edgec_binary_s8(const edgec_binary_params *p, int kind, const int8_t *in1,
                                        const int8_t *in2, int8_t *out)
{
    const edgec_binary_stage q = {p->table1, p->table2, p->input1_offset, p->input2_offset, p->output_offset,
                                  p->output_multiplier, p->output_shift, p->act_min, p->act_max, p->narrow};
    int32_t d0, d1, d2, d3;
    if (p->elementwise) {
        const int32_t n = p->shape[0] * p->shape[1] * p->shape[2] * p->shape[3];
        int32_t i;
#if defined(__ARM_FEATURE_DSP) && defined(__GNUC__) && !defined(EDGEC_NO_DSP)
        if (q.narrow && kind != EDGEC_MUL && q.act_max >= 127) {
            /* the tables indexed by the signed value; SSAT and a conditional move for the clamp */
            const int32_t *const t1 = q.table1 + 128, *const t2 = q.table2 + 128;
            const int32_t m = q.output_multiplier, sh = q.output_shift, zp = q.output_offset, lo = q.act_min;
            for (i = 0; i < n; i++) {
                const int32_t sa = t1[in1[i]], sb = t2[in2[i]];
                int32_t y = edgec_ssat8(edgec_mbqm_narrow(kind == EDGEC_ADD ? sa + sb : sa - sb, m, sh) + zp);
                __asm__("cmp %0, %1\n\tit lt\n\tmovlt %0, %1" : "+r"(y) : "r"(lo) : "cc");
                out[i] = (int8_t)y;
            }
            return;
        }
#endif
        if (q.narrow) {
            for (i = 0; i < n; i++) {
                out[i] = edgec_binary_one(q, kind, 1, in1[i], in2[i]);
            }
        } else {
            for (i = 0; i < n; i++) {
                out[i] = edgec_binary_one(q, kind, 0, in1[i], in2[i]);
            }
        }
        return;
    }
    for (d0 = 0; d0 < p->shape[0]; d0++) {
        for (d1 = 0; d1 < p->shape[1]; d1++) {
            for (d2 = 0; d2 < p->shape[2]; d2++) {
                const int8_t *a = in1 + d0 * p->strides1[0] + d1 * p->strides1[1] + d2 * p->strides1[2];
                const int8_t *b = in2 + d0 * p->strides2[0] + d1 * p->strides2[1] + d2 * p->strides2[2];
                const int32_t step1 = p->strides1[3], step2 = p->strides2[3], n = p->shape[3];
                for (d3 = 0; d3 < n; d3++) {
                    *out++ = edgec_binary_one(q, kind, q.narrow, a[d3 * step1], b[d3 * step2]);
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
