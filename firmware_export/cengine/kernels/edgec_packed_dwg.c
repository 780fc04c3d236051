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
            edgec_unpack_dense(w, c + j, &cursor, rows[j]);
            *dst++ = 2 * p->bias[c + j];
        }
        for (t = 0; t < taps; t++) {
            *dst++ = (int32_t)(((uint32_t)(2 * rows[0][t]) & 0xffffu) | ((uint32_t)(2 * rows[2][t]) << 16));
            *dst++ = (int32_t)(((uint32_t)(2 * rows[1][t]) & 0xffffu) | ((uint32_t)(2 * rows[3][t]) << 16));
        }
        for (j = 0; j < 4; j++) {
            const int32_t e = -(int32_t)p->shift[c + j];
            *dst++ = p->multiplier[c + j];
            *dst++ = (int32_t)((uint32_t)(2 * p->output_zp + 1) << (e - 1));
            *dst++ = e;
        }
    }
}

void edgec_dwconv2d_dwg_s8(const edgec_dwconv_params *p, const edgec_packed *w, int32_t chunk, const int8_t *input,
                           int8_t *output, int32_t *scratch)
{
    const int32_t in_h = p->in_h, in_w = p->in_w, in_c = p->in_c, out_c = p->out_c;
    const int32_t kernel_h = p->kernel_h, kernel_w = p->kernel_w, taps_n = kernel_h * kernel_w;
    int8_t zp_row[4 * 64]; /* input_zp bytes for a tap outside the input: a chunk's channels at most */
    const int8_t *taps[EDGEC_DWG_MAX_TAPS];
    int32_t c0, b, oy, ox, ky, kx;
    if (chunk > 64) {
        chunk = 64;
    }
    memset(zp_row, (int)(int8_t)p->input_zp, sizeof(zp_row));
    for (c0 = 0; c0 < out_c; c0 += 4 * chunk) {
        const int32_t groups = edgec_min(chunk, (out_c - c0) / 4);
#if defined(EDGEC_DWG_ASM)
        const int32_t args[2] = {taps_n, groups};
#endif
        edgec_dwg_layout(p, w, c0, groups, taps_n, scratch);
        for (b = 0; b < p->batches; b++) {
            const int8_t *in_b = input + b * in_h * in_w * in_c + c0;
            int8_t *out_b = output + b * p->out_h * p->out_w * out_c + c0;
            for (oy = 0; oy < p->out_h; oy++) {
                const int32_t iy0 = oy * p->stride_h - p->pad_top;
                for (ox = 0; ox < p->out_w; ox++) {
                    const int32_t ix0 = ox * p->stride_w - p->pad_left;
                    int32_t t = 0;
                    for (ky = 0; ky < kernel_h; ky++) {
                        const int32_t iy = iy0 + ky * p->dilation_h;
                        for (kx = 0; kx < kernel_w; kx++, t++) {
                            const int32_t ix = ix0 + kx * p->dilation_w;
                            taps[t] = iy >= 0 && iy < in_h && ix >= 0 && ix < in_w ? in_b + (iy * in_w + ix) * in_c
                                                                                   : zp_row;
                        }
                    }
#if defined(EDGEC_DWG_ASM)
                    if (taps_n == 9) {
                        edgec_dwg_taps9(taps, scratch, out_b, groups);
                    } else {
                        edgec_dwg_taps(taps, scratch, out_b, args);
                    }
#else
                    edgec_dwg_groups(taps, taps_n, scratch, out_b, groups);
#endif
                    out_b += out_c;
                }
            }
        }
    }
}
