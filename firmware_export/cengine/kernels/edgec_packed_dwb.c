/* edgec C engine: depthwise convolution over DW_BLOCK weights (see edgec_packed_dwb.h). */
#include "edgec_packed_dwb.h"

/* One output pixel, the int8 values: tap[t] is tap t's channel 0 (in the input, or a row of
 * input_zp), NULL for a tap outside the input when there is no such row. */
static void edgec_dwb_pixel(const edgec_dwconv_params *p, const edgec_packed *w, const int8_t *const *tap,
                            int8_t *out)
{
    const int32_t out_c = p->out_c, input_zp = p->input_zp;
    const uint8_t *m = w->mask;
    const int8_t *v = (const int8_t *)w->values;
    int32_t c, j, k;
    for (c = 0; c < out_c; c += 4) {
        const int32_t n = edgec_min(4, out_c - c), count = *m++;
        int32_t acc[4] = {0, 0, 0, 0};
        for (j = 0; j < n; j++) {
            acc[j] = p->bias[c + j];
        }
        for (k = 0; k < count; k++, v += 4) {
            const int8_t *x = tap[*m++];
            for (j = 0; j < n; j++) {
                acc[j] += (int32_t)v[j] * (x != NULL ? (int32_t)x[c + j] : input_zp);
            }
        }
        for (j = 0; j < n; j++) {
            out[c + j] = edgec_requantize(p->narrow, acc[j], p->multiplier[c + j], p->shift[c + j], p->output_zp,
                                          p->act_min, p->act_max);
        }
    }
}

#if defined(EDGEC_DSP)
/* What a call of the layout's loop runs: `pixels` output pixels, the window of each `step` bytes
 * past the previous one's end of channels (its start + out_c). */
typedef struct {
    const int32_t *layout; /* dwblocks.py */
    const uint8_t *mask;   /* the packed weights' tap lists */
    int32_t out_c, pixels, step;
} edgec_dwb_args;

#if defined(__ARM_FEATURE_DSP) && defined(__GNUC__) && !defined(EDGEC_NO_DSP) && defined(__thumb2__) && \
    !defined(EDGEC_NO_ASM)
#define EDGEC_DWB_ASM 1
/* Every channel of a->pixels output pixels: tap t of a group at channel offset c reads the word at
 * x + c + offsets[t] (intptr_t: 4 bytes on the target). Per kept tap 12 instructions (4 MACs), per group 31 more (its rescale 24). */
void edgec_dwb_run(const int8_t *x, const intptr_t *offsets, int8_t *out, const edgec_dwb_args *a);

/* r0-r3 the sums, r4 the window + the group's channel offset, r5 the kept taps left, r6 the layout,
 * r7 the output, r12 the offsets, lr the tap lists; on the stack: the end of the pixel's output,
 * pixels left, step, layout, tap lists, out_c. */
__asm__(EDGEC_DWL_FUNC("edgec_dwb_run")
        "push {r4-r11, lr}\n\t"
        "sub sp, sp, #24\n\t"
        "mov r4, r0\n\t"
        "mov r12, r1\n\t"
        "mov r7, r2\n\t"
        "ldm r3, {r5, r6, r8, r9, r10}\n\t"
        "str r5, [sp, #12]\n\t"
        "str r6, [sp, #16]\n\t"
        "str r8, [sp, #20]\n\t"
        "str r9, [sp, #4]\n\t"
        "str r10, [sp, #8]\n"
        "0:\n\t"
        "ldr r6, [sp, #12]\n\t"
        "ldr lr, [sp, #16]\n\t"
        "ldr r8, [sp, #20]\n\t"
        "add r8, r7, r8\n\t"
        "str r8, [sp]\n"
        "1:\n\t"
        "ldm r6!, {r0-r3}\n\t"
        "ldrb r5, [lr], #1\n\t"
        "cbz r5, 3f\n"
        "2:\n\t"
        "ldrb r8, [lr], #1\n\t"
        "ldr r8, [r12, r8, lsl #2]\n\t"
        "ldr r8, [r4, r8]\n\t"
        "ldrd r10, r11, [r6], #8\n\t"
        "sxtb16 r9, r8\n\t"
        "sxtb16 r8, r8, ror #8\n\t"
        "smlabb r0, r9, r10, r0\n\t"
        "smlatt r2, r9, r10, r2\n\t"
        "smlabb r1, r8, r11, r1\n\t"
        "smlatt r3, r8, r11, r3\n\t"
        "subs r5, r5, #1\n\t"
        "bne 2b\n"
        "3:\n\t"
        "add r4, r4, #4\n\t"
        EDGEC_DWL_RESCALE("r0") EDGEC_DWL_RESCALE("r1") EDGEC_DWL_RESCALE("r2") EDGEC_DWL_RESCALE("r3")
        "ldr r8, [sp]\n\t"
        "cmp r7, r8\n\t"
        "bne 1b\n\t"
        "ldr r8, [sp, #8]\n\t"
        "add r4, r4, r8\n\t"
        "ldr r8, [sp, #4]\n\t"
        "subs r8, r8, #1\n\t"
        "str r8, [sp, #4]\n\t"
        "bne 0b\n\t"
        "add sp, sp, #24\n\t"
        "pop {r4-r11, pc}\n\t"
        ".size edgec_dwb_run, .-edgec_dwb_run\n\t");
#else
/* A channel's rescale from its (m, k, e), as the assembly computes it. */
static int8_t edgec_dwb_rescale(int32_t s, const int32_t *r)
{
    const int32_t y = (int32_t)(((int64_t)s * r[0] + ((int64_t)1 << 31)) >> 32); /* SMMULR */
    return (int8_t)edgec_ssat8((r[1] - (s < 0 ? 1 : 0) + y) >> r[2]);
}

/* The assembly in C. */
static void edgec_dwb_run(const int8_t *x, const intptr_t *offsets, int8_t *out, const edgec_dwb_args *a)
{
    int32_t px, c, k;
    for (px = 0; px < a->pixels; px++, x += a->out_c + a->step) {
        const int32_t *g = a->layout;
        const uint8_t *m = a->mask;
        for (c = 0; c < a->out_c; c += 4, out += 4) {
            int32_t s0 = g[0], s1 = g[1], s2 = g[2], s3 = g[3];
            const int32_t count = *m++;
            g += 4;
            for (k = 0; k < count; k++, g += 2) {
                int32_t xv, e, o;
                memcpy(&xv, (const int8_t *)((uintptr_t)x + (uintptr_t)(c + offsets[*m++])), 4);
                e = edgec_sxtb16(xv);
                o = edgec_sxtb16_ror8(xv);
                s0 = edgec_smlabb(e, g[0], s0);
                s2 = edgec_smlatt(e, g[0], s2);
                s1 = edgec_smlabb(o, g[1], s1);
                s3 = edgec_smlatt(o, g[1], s3);
            }
            out[0] = edgec_dwb_rescale(s0, g);
            out[1] = edgec_dwb_rescale(s1, g + 3);
            out[2] = edgec_dwb_rescale(s2, g + 6);
            out[3] = edgec_dwb_rescale(s3, g + 9);
            g += 12;
        }
    }
}
#endif

/* One output pixel whose window starts at input row iy0, column ix0, through the layout: the taps'
 * offsets from in_b (a tap outside the input: the row of input_zp bytes). */
static void edgec_dwb_border(const edgec_dwconv_params *p, const edgec_packed *w, const int8_t *in_b, int32_t iy0,
                             int32_t ix0, const int8_t *zp_row, int8_t *out)
{
    const int32_t in_h = p->in_h, in_w = p->in_w, in_c = p->in_c, kernel_w = p->kernel_w;
    const int32_t taps = p->kernel_h * kernel_w;
    const intptr_t zp_at = (intptr_t)zp_row - (intptr_t)in_b;
    intptr_t offsets[EDGEC_DWB_MAX_TAPS];
    edgec_dwb_args a;
    int32_t t;
    for (t = 0; t < taps; t++) {
        const int32_t iy = iy0 + (t / kernel_w) * p->dilation_h, ix = ix0 + (t % kernel_w) * p->dilation_w;
        offsets[t] = iy >= 0 && iy < in_h && ix >= 0 && ix < in_w ? (intptr_t)((iy * in_w + ix) * in_c) : zp_at;
    }
    a.layout = p->dsp;
    a.mask = w->mask;
    a.out_c = p->out_c;
    a.pixels = 1;
    a.step = 0;
    edgec_dwb_run(in_b, offsets, out, &a);
}

/* Every output pixel through the layout (dwblocks.py: out_c a multiple of 4, at most
 * EDGEC_DW_DSP_MAX_C = EDGEC_DWB_ZP_MAX_C channels). */
static void edgec_dwb_layout(const edgec_dwconv_params *p, const edgec_packed *w, const int8_t *input,
                             int8_t *output, const int8_t *zp_row)
{
    const int32_t in_h = p->in_h, in_w = p->in_w, in_c = p->in_c, out_h = p->out_h, out_w = p->out_w;
    const int32_t out_c = p->out_c, kernel_w = p->kernel_w, taps = p->kernel_h * kernel_w;
    const int32_t sh = p->stride_h, sw = p->stride_w, pt = p->pad_top, pl = p->pad_left;
    const int32_t span_h = (p->kernel_h - 1) * p->dilation_h, span_w = (kernel_w - 1) * p->dilation_w;
    /* the rows (columns) whose windows lie inside: oy * sh >= pt and oy * sh - pt + span_h < in_h */
    const int32_t top = edgec_min((pt + sh - 1) / sh, out_h);
    const int32_t bottom = in_h - 1 - span_h + pt >= 0 ? edgec_max(edgec_min((in_h - 1 - span_h + pt) / sh + 1, out_h), top)
                                                       : top;
    const int32_t lo = edgec_min((pl + sw - 1) / sw, out_w);
    const int32_t hi = in_w - 1 - span_w + pl >= 0 ? edgec_max(edgec_min((in_w - 1 - span_w + pl) / sw + 1, out_w), lo)
                                                   : lo;
    /* one output column whose windows lie inside across: a run down the rows */
    const int column = out_w == 1 && lo == 0 && hi == 1;
    intptr_t inside[EDGEC_DWB_MAX_TAPS];
    edgec_dwb_args a;
    int32_t b, oy, ox, t;
    for (t = 0; t < taps; t++) {
        inside[t] = ((t / kernel_w) * p->dilation_h * in_w + (t % kernel_w) * p->dilation_w) * in_c;
    }
    a.layout = p->dsp;
    a.mask = w->mask;
    a.out_c = out_c;
    for (b = 0; b < p->batches; b++) {
        const int8_t *in_b = input + b * in_h * in_w * in_c;
        int8_t *out_b = output + b * out_h * out_w * out_c;
        for (oy = 0; oy < out_h; oy++) {
            const int32_t iy0 = oy * sh - pt;
            int8_t *out = out_b + oy * out_w * out_c;
            if (column && oy == top && bottom > top) {
                a.pixels = bottom - top;
                a.step = sh * in_w * in_c - out_c;
                edgec_dwb_run(in_b + (iy0 * in_w - pl) * in_c, inside, out, &a);
                oy = bottom - 1;
                continue;
            }
            if (oy >= top && oy < bottom && hi > lo) {
                for (ox = 0; ox < lo; ox++) {
                    edgec_dwb_border(p, w, in_b, iy0, ox * sw - pl, zp_row, out + ox * out_c);
                }
                a.pixels = hi - lo;
                a.step = sw * in_c - out_c;
                edgec_dwb_run(in_b + (iy0 * in_w + lo * sw - pl) * in_c, inside, out + lo * out_c, &a);
                for (ox = hi; ox < out_w; ox++) {
                    edgec_dwb_border(p, w, in_b, iy0, ox * sw - pl, zp_row, out + ox * out_c);
                }
                continue;
            }
            for (ox = 0; ox < out_w; ox++) {
                edgec_dwb_border(p, w, in_b, iy0, ox * sw - pl, zp_row, out + ox * out_c);
            }
        }
    }
}
#endif

void edgec_dwconv2d_dwblock_s8(const edgec_dwconv_params *p, const edgec_packed *w, const int8_t *input,
                               int8_t *output)
{
    const int32_t in_h = p->in_h, in_w = p->in_w, in_c = p->in_c, kernel_w = p->kernel_w;
    const int32_t taps = p->kernel_h * kernel_w;
    int8_t zp_row[EDGEC_DWB_ZP_MAX_C]; /* input_zp: what a padded tap reads */
    const int8_t *tap[EDGEC_DWB_MAX_TAPS];
    int32_t b, oy, ox, t;
    memset(zp_row, (int)(int8_t)p->input_zp, sizeof(zp_row));
#if defined(EDGEC_DSP)
    if (p->dsp != NULL) {
        edgec_dwb_layout(p, w, input, output, zp_row);
        return;
    }
#endif
    for (b = 0; b < p->batches; b++) {
        const int8_t *in_b = input + b * in_h * in_w * in_c;
        int8_t *out = output + b * p->out_h * p->out_w * p->out_c;
        for (oy = 0; oy < p->out_h; oy++) {
            const int32_t iy0 = oy * p->stride_h - p->pad_top;
            for (ox = 0; ox < p->out_w; ox++, out += p->out_c) {
                const int32_t ix0 = ox * p->stride_w - p->pad_left;
                for (t = 0; t < taps; t++) {
                    const int32_t iy = iy0 + (t / kernel_w) * p->dilation_h;
                    const int32_t ix = ix0 + (t % kernel_w) * p->dilation_w;
                    tap[t] = iy >= 0 && iy < in_h && ix >= 0 && ix < in_w ? in_b + (iy * in_w + ix) * in_c
                             : in_c <= EDGEC_DWB_ZP_MAX_C                 ? zp_row
                                                                          : NULL;
                }
                edgec_dwb_pixel(p, w, tap, out);
            }
        }
    }
}
