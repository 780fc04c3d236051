/* edgec C engine: depthwise convolution over clustered weights, a chunk of channel groups at a time
 * in the DSP layout (see edgec_packed_dwg.h). The arithmetic is edgec_dwconv2d_s8's over the layout
 * (dwlayout.py): s = 2 acc, out = SSAT8((k - [s < 0] + SMMULR(s, m)) >> e), which equals its
 * narrow rescale plus zero point, saturated. */
#include "edgec_packed_dwg.h"

#define EDGEC_DWG_MAX_TAPS 25 /* dwlayout.MAX_TAPS */

#if defined(EDGEC_DSP) && defined(__ARM_FEATURE_DSP) && defined(__GNUC__) && !defined(EDGEC_NO_DSP) && \
    defined(__thumb2__) && !defined(EDGEC_NO_ASM)
#define EDGEC_DWG_ASM 1
/* Every group of a chunk for one output pixel: taps[t] the input of tap t at the chunk's first
 * channel (a row of input_zp bytes for a tap outside), the chunk's layout, its output; args = {taps,
 * groups}. */
void edgec_dwg_taps(const int8_t *const *taps, const int32_t *layout, int8_t *out, const int32_t *args);
/* The same for 9 taps, unrolled. */
void edgec_dwg_taps9(const int8_t *const *taps, const int32_t *layout, int8_t *out, int32_t groups);
/* Every group of a chunk for `pixels` consecutive output pixels of a row whose 3 x 3 windows
 * (dilation 1 across) lie inside the input: x the first window's top-left pixel at the chunk's first
 * channel, out its output; args = {column step (in_c), row step, pixels, step from the end of a
 * window's chunk to the next window, the chunk's bytes (4 groups), out_c less the chunk's bytes}.
 * 103 instructions a group (36 MACs), 11 more a pixel. */
void edgec_dwg_3x3(const int8_t *x, const int32_t *layout, int8_t *out, const int32_t *args);
/* Every group of a chunk for `pixels` output pixels of a 1-wide kernel over a 1-wide input (a
 * column: taps and pixels along the rows) whose windows lie inside the input: x the first window's
 * top at the chunk's first channel; args = {tap step, taps, pixels, step from the end of a window's
 * chunk to the next window, the chunk's bytes, out_c less the chunk's bytes}. Two taps a loop: 19
 * instructions, 8 MACs. */
void edgec_dwg_col(const int8_t *x, const int32_t *layout, int8_t *out, const int32_t *args);

/* One tap of a group: the input word (loaded into r8 by LOAD), its weights from the layout. */
#define EDGEC_DWG_TAP(LOAD)                                                                              \
    LOAD "\n\t"                                                                                          \
    "ldrd r10, r11, [r6], #8\n\t"                                                                        \
    "sxtb16 r9, r8\n\t"                                                                                  \
    "sxtb16 r8, r8, ror #8\n\t"                                                                          \
    "smlabb r0, r9, r10, r0\n\t"                                                                         \
    "smlatt r2, r9, r10, r2\n\t"                                                                         \
    "smlabb r1, r8, r11, r1\n\t"                                                                         \
    "smlatt r3, r8, r11, r3\n\t"
/* Channel S's rescale: (m, k, e) from the layout, the int8 to the output. */
#define EDGEC_DWG_RESCALE(S)                                                                             \
    "ldm r6!, {r8-r10}\n\t"                                                                              \
    "add r9, r9, " S ", asr #31\n\t"                                                                     \
    "smmlar " S ", " S ", r8, r9\n\t"                                                                    \
    "asr " S ", " S ", r10\n\t"                                                                          \
    "ssat " S ", #8, " S "\n\t"                                                                          \
    "strb " S ", [r7], #1\n\t"
#define EDGEC_DWG_RESCALE4 EDGEC_DWG_RESCALE("r0") EDGEC_DWG_RESCALE("r1") EDGEC_DWG_RESCALE("r2") \
    EDGEC_DWG_RESCALE("r3")
#define EDGEC_DWG_PTAP(T) EDGEC_DWG_TAP("ldr r8, [r12, #" T "]\n\tldr r8, [r8, r4]")
#define EDGEC_DWG_FUNC(NAME)                                                                             \
    ".text\n\t"                                                                                          \
    ".syntax unified\n\t"                                                                                \
    ".thumb\n\t"                                                                                         \
    ".p2align 2\n\t"                                                                                     \
    ".global " NAME "\n\t"                                                                               \
    ".hidden " NAME "\n\t"                                                                               \
    ".thumb_func\n\t"                                                                                    \
    ".type " NAME ", %function\n" NAME ":\n\t"

#define EDGEC_DWG_ROW3 EDGEC_DWG_TAP("ldr r8, [r4]") EDGEC_DWG_TAP("ldr r8, [r4, r5]") \
    EDGEC_DWG_TAP("ldr r8, [r4, r5, lsl #1]")

/* r0-r3 the sums, r4 the window (row by row), r5 the column step, r6 the layout, r7 the output,
 * r12 the row step, lr the end of the pixel's chunk of output; on the stack: pixels left, the step
 * to the next window, the layout, the chunk's bytes, the step to the next pixel's output. */
__asm__(EDGEC_DWG_FUNC("edgec_dwg_3x3")
        "push {r4-r11, lr}\n\t"
        "sub sp, sp, #24\n\t"
        "mov r4, r0\n\t"
        "mov r7, r2\n\t"
        "str r1, [sp, #8]\n\t"
        "ldr r5, [r3]\n\t"
        "ldr r12, [r3, #4]\n\t"
        "ldr r8, [r3, #8]\n\t"
        "ldr r9, [r3, #12]\n\t"
        "str r8, [sp]\n\t"
        "str r9, [sp, #4]\n\t"
        "ldr r8, [r3, #16]\n\t"
        "ldr r9, [r3, #20]\n\t"
        "str r8, [sp, #12]\n\t"
        "str r9, [sp, #16]\n"
        "0:\n\t"
        "ldr r6, [sp, #8]\n\t"
        "ldr r8, [sp, #12]\n\t"
        "add lr, r7, r8\n"
        "1:\n\t"
        "ldm r6!, {r0-r3}\n\t"
        EDGEC_DWG_ROW3
        "add r4, r4, r12\n\t"
        EDGEC_DWG_ROW3
        "add r4, r4, r12\n\t"
        EDGEC_DWG_ROW3
        "sub r4, r4, r12, lsl #1\n\t"
        "add r4, r4, #4\n\t"
        EDGEC_DWG_RESCALE4
        "cmp r7, lr\n\t"
        "bne 1b\n\t"
        "ldr r8, [sp, #16]\n\t"
        "add r7, r7, r8\n\t"
        "ldr r8, [sp, #4]\n\t"
        "add r4, r4, r8\n\t"
        "ldr r8, [sp]\n\t"
        "subs r8, r8, #1\n\t"
        "str r8, [sp]\n\t"
        "bne 0b\n\t"
        "add sp, sp, #24\n\t"
        "pop {r4-r11, pc}\n\t"
        ".size edgec_dwg_3x3, .-edgec_dwg_3x3\n\t");

/* r0-r3 the sums, r4 the tap, r5 the tap step, r6 the layout, r7 the output, r12 the taps left,
 * lr the end of the pixel's chunk of output; on the stack: pixels left, the step to the next window,
 * the taps' span less 4, the layout, the taps, the chunk's bytes, the step to the next pixel's output. */
__asm__(EDGEC_DWG_FUNC("edgec_dwg_col")
        "push {r4-r11, lr}\n\t"
        "sub sp, sp, #32\n\t"
        "mov r4, r0\n\t"
        "mov r7, r2\n\t"
        "str r1, [sp, #12]\n\t"
        "ldm r3, {r5, r8-r11}\n\t"
        "str r9, [sp]\n\t"
        "str r10, [sp, #4]\n\t"
        "str r8, [sp, #16]\n\t"
        "str r11, [sp, #20]\n\t"
        "ldr r9, [r3, #20]\n\t"
        "str r9, [sp, #24]\n\t"
        "mul r8, r8, r5\n\t"
        "sub r8, r8, #4\n\t"
        "str r8, [sp, #8]\n"
        "0:\n\t"
        "ldr r6, [sp, #12]\n\t"
        "ldr r8, [sp, #20]\n\t"
        "add lr, r7, r8\n"
        "1:\n\t"
        "ldm r6!, {r0-r3}\n\t"
        "ldr r12, [sp, #16]\n\t"
        "tst r12, #1\n\t"
        "beq 2f\n\t"
        EDGEC_DWG_TAP("ldr r8, [r4]")
        "add r4, r4, r5\n\t"
        "subs r12, r12, #1\n\t"
        "beq 3f\n"
        "2:\n\t"
        EDGEC_DWG_TAP("ldr r8, [r4]")
        EDGEC_DWG_TAP("ldr r8, [r4, r5]")
        "add r4, r4, r5, lsl #1\n\t"
        "subs r12, r12, #2\n\t"
        "bne 2b\n"
        "3:\n\t"
        "ldr r8, [sp, #8]\n\t"
        "sub r4, r4, r8\n\t"
        EDGEC_DWG_RESCALE4
        "cmp r7, lr\n\t"
        "bne 1b\n\t"
        "ldr r8, [sp, #24]\n\t"
        "add r7, r7, r8\n\t"
        "ldr r8, [sp, #4]\n\t"
        "add r4, r4, r8\n\t"
        "ldr r8, [sp]\n\t"
        "subs r8, r8, #1\n\t"
        "str r8, [sp]\n\t"
        "bne 0b\n\t"
        "add sp, sp, #32\n\t"
        "pop {r4-r11, pc}\n\t"
        ".size edgec_dwg_col, .-edgec_dwg_col\n\t");

/* r0-r3 the sums, r4 the group's offset from the chunk's first channel, r6 the layout, r7 the
 * output, r12 the taps, lr the end of the output. */
__asm__(EDGEC_DWG_FUNC("edgec_dwg_taps9")
        "push {r4-r11, lr}\n\t"
        "mov r12, r0\n\t"
        "mov r6, r1\n\t"
        "mov r7, r2\n\t"
        "add lr, r2, r3, lsl #2\n\t"
        "movs r4, #0\n"
        "1:\n\t"
        "ldm r6!, {r0-r3}\n\t"
        EDGEC_DWG_PTAP("0") EDGEC_DWG_PTAP("4") EDGEC_DWG_PTAP("8")
        EDGEC_DWG_PTAP("12") EDGEC_DWG_PTAP("16") EDGEC_DWG_PTAP("20")
        EDGEC_DWG_PTAP("24") EDGEC_DWG_PTAP("28") EDGEC_DWG_PTAP("32")
        "add r4, r4, #4\n\t"
        EDGEC_DWG_RESCALE4
        "cmp r7, lr\n\t"
        "bne 1b\n\t"
        "pop {r4-r11, pc}\n\t"
        ".size edgec_dwg_taps9, .-edgec_dwg_taps9\n\t");

/* r0-r3 the sums, r4 the group's offset, r5 the next tap, r6 the layout, r7 the output, r12 the
 * taps, lr their end; the end of the output on the stack. */
__asm__(EDGEC_DWG_FUNC("edgec_dwg_taps")
        "push {r4-r11, lr}\n\t"
        "sub sp, sp, #8\n\t"
        "mov r12, r0\n\t"
        "mov r6, r1\n\t"
        "mov r7, r2\n\t"
        "ldr r8, [r3]\n\t"
        "ldr r9, [r3, #4]\n\t"
        "add lr, r12, r8, lsl #2\n\t"
        "add r9, r7, r9, lsl #2\n\t"
        "str r9, [sp]\n\t"
        "movs r4, #0\n"
        "1:\n\t"
        "ldm r6!, {r0-r3}\n\t"
        "mov r5, r12\n"
        "2:\n\t"
        "ldr r8, [r5], #4\n\t"
        EDGEC_DWG_TAP("ldr r8, [r8, r4]")
        "cmp r5, lr\n\t"
        "bne 2b\n\t"
        "add r4, r4, #4\n\t"
        EDGEC_DWG_RESCALE4
        "ldr r8, [sp]\n\t"
        "cmp r7, r8\n\t"
        "bne 1b\n\t"
        "add sp, sp, #8\n\t"
        "pop {r4-r11, pc}\n\t"
        ".size edgec_dwg_taps, .-edgec_dwg_taps\n\t");
#else
/* A channel's rescale from its (m, k, e), as the assembly computes it. */
static int8_t edgec_dwg_rescale(int32_t s, const int32_t *r)
{
    const int32_t y = (int32_t)(((int64_t)s * r[0] + ((int64_t)1 << 31)) >> 32); /* SMMULR */
    const int32_t v = (r[1] - (s < 0 ? 1 : 0) + y) >> r[2];
    return (int8_t)(v < -128 ? -128 : (v > 127 ? 127 : v));
}

/* The assembly in C: tap t of the group at offset off from the chunk's first channel reads
 * taps[t] + off; the layout's int16 pairs hold channels (0, 2) and (1, 3) of the group. */
static void edgec_dwg_groups(const int8_t *const *taps, int32_t n_taps, const int32_t *g, int8_t *out,
                             int32_t groups)
{
    int32_t k, t, off;
    for (k = 0, off = 0; k < groups; k++, off += 4, out += 4) {
        int32_t s0 = g[0], s1 = g[1], s2 = g[2], s3 = g[3];
        g += 4;
        for (t = 0; t < n_taps; t++, g += 2) {
            const int8_t *x = taps[t] + off;
            s0 += (int32_t)(int16_t)(g[0] & 0xffff) * x[0];
            s2 += (int32_t)(int16_t)((uint32_t)g[0] >> 16) * x[2];
            s1 += (int32_t)(int16_t)(g[1] & 0xffff) * x[1];
            s3 += (int32_t)(int16_t)((uint32_t)g[1] >> 16) * x[3];
        }
        out[0] = edgec_dwg_rescale(s0, g);
        out[1] = edgec_dwg_rescale(s1, g + 3);
        out[2] = edgec_dwg_rescale(s2, g + 6);
        out[3] = edgec_dwg_rescale(s3, g + 9);
        g += 12;
    }
}
#endif

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
}

/* One output pixel of a chunk, its taps listed (input_zp bytes for a tap outside). */
static void edgec_dwg_pixel(const edgec_dwconv_params *p, const int8_t *in_b, int32_t iy0, int32_t ix0,
                            const int8_t *zp_row, const int32_t *layout, int32_t groups, int8_t *out)
{
    const int32_t in_h = p->in_h, in_w = p->in_w, in_c = p->in_c, kernel_h = p->kernel_h, kernel_w = p->kernel_w;
    const int8_t *taps[EDGEC_DWG_MAX_TAPS];
    int32_t ky, kx, t = 0;
    for (ky = 0; ky < kernel_h; ky++) {
        const int32_t iy = iy0 + ky * p->dilation_h;
        for (kx = 0; kx < kernel_w; kx++, t++) {
            const int32_t ix = ix0 + kx * p->dilation_w;
            taps[t] = iy >= 0 && iy < in_h && ix >= 0 && ix < in_w ? in_b + (iy * in_w + ix) * in_c : zp_row;
        }
    }
#if defined(EDGEC_DWG_ASM)
    if (t == 9) {
        edgec_dwg_taps9(taps, layout, out, groups);
    } else {
        const int32_t args[2] = {t, groups};
        edgec_dwg_taps(taps, layout, out, args);
    }
#else
    edgec_dwg_groups(taps, t, layout, out, groups);
#endif
}

void edgec_dwconv2d_dwg_s8(const edgec_dwconv_params *p, const edgec_packed *w, int32_t chunk, const int8_t *input,
                           int8_t *output, int32_t *scratch)
{
    const int32_t in_h = p->in_h, in_w = p->in_w, in_c = p->in_c, out_w = p->out_w, out_c = p->out_c;
    const int32_t sw = p->stride_w, pl = p->pad_left, taps_n = p->kernel_h * p->kernel_w;
    const int k3 = p->kernel_h == 3 && p->kernel_w == 3 && p->dilation_w == 1;
    /* the run of pixels whose columns lie inside: ox * sw >= pl and ox * sw - pl + 2 < in_w */
    const int32_t lo = k3 ? edgec_min((pl + sw - 1) / sw, out_w) : out_w;
    const int32_t hi = k3 && in_w - 3 + pl >= 0 ? edgec_max(edgec_min((in_w - 3 + pl) / sw + 1, out_w), lo) : lo;
    /* a 1-wide kernel over a column: the rows whose windows lie inside, one call */
    const int column = p->kernel_w == 1 && in_w == 1 && out_w == 1 && pl == 0;
    const int32_t sh = p->stride_h, pt = p->pad_top, span = (p->kernel_h - 1) * p->dilation_h;
    const int32_t top = column ? edgec_min((pt + sh - 1) / sh, p->out_h) : 0;
    const int32_t bottom = column && in_h - 1 - span + pt >= 0
                               ? edgec_max(edgec_min((in_h - 1 - span + pt) / sh + 1, p->out_h), top) : top;
    int8_t zp_row[4 * 64]; /* input_zp bytes for a tap outside the input: a chunk's channels at most */
    int32_t c0, b, oy, ox;
    if (chunk > 64) {
        chunk = 64;
    }
    memset(zp_row, (int)(int8_t)p->input_zp, sizeof(zp_row));
    for (c0 = 0; c0 < out_c; c0 += 4 * chunk) {
        const int32_t groups = edgec_min(chunk, (out_c - c0) / 4);
        edgec_dwg_layout(p, w, c0, groups, taps_n, scratch);
        for (b = 0; b < p->batches; b++) {
            const int8_t *in_b = input + b * in_h * in_w * in_c + c0;
            int8_t *out_b = output + b * p->out_h * out_w * out_c + c0;
            for (oy = 0; oy < p->out_h; oy++) {
                const int32_t iy0 = oy * p->stride_h - p->pad_top;
                int8_t *out = out_b + oy * out_w * out_c;
                ox = 0;
#if defined(EDGEC_DWG_ASM)
                if (oy == top && bottom > top) {
                    const int32_t args[6] = {p->dilation_h * in_c, p->kernel_h, bottom - top, sh * in_c - 4 * groups,
                                             4 * groups, out_c - 4 * groups};
                    edgec_dwg_col(in_b + (top * sh - pt) * in_c, scratch, out, args);
                    oy = bottom - 1;
                    continue;
                }
                if (k3 && iy0 >= 0 && iy0 + 2 * p->dilation_h < in_h && hi > lo) {
                    const int32_t args[6] = {in_c, p->dilation_h * in_w * in_c, hi - lo, sw * in_c - 4 * groups,
                                             4 * groups, out_c - 4 * groups};
                    for (; ox < lo; ox++) {
                        edgec_dwg_pixel(p, in_b, iy0, ox * sw - pl, zp_row, scratch, groups, out + ox * out_c);
                    }
                    edgec_dwg_3x3(in_b + (iy0 * in_w + lo * sw - pl) * in_c, scratch, out + lo * out_c, args);
                    ox = hi;
                }
#else
                (void)lo;
                (void)hi;
                (void)top;
                (void)bottom;
                (void)k3; /* the C twin takes every pixel one by one */
#endif
                for (; ox < out_w; ox++) {
                    edgec_dwg_pixel(p, in_b, iy0, ox * sw - pl, zp_row, scratch, groups, out + ox * out_c);
                }
            }
        }
    }
}
