/* edgec C engine: depthwise 2-D convolution, int8.
 *
 * The input offset is folded into the bias as in edgec_conv.c; padded taps count as input_zp.
 * Channels are processed in blocks of EDGEC_DW_BLOCK accumulators kept on the stack.
 *
 * On Armv6-M (EDGEC_V6M: no SIMD; a sum on the stack is a load and a store per MAC), a pixel whose
 * window lies inside the input, with depth multiplier 1, is computed four channels at a time with
 * the sums in registers, the parameters read into locals once (the output stores may alias them).
 *
 * With the DSP extension (EDGEC_DSP), every pixel with depth multiplier 1 is computed four channels
 * at a time with the sums in registers: per tap, one word of input and one of weights, each split by
 * SXTB16 into the int16 pairs (c, c + 2) and (c + 1, c + 3), then SMLABB / SMLATT per channel. The
 * window is clipped to the input; a clipped tap adds weight * input_zp, from a word of input_zp bytes.
 * Kernels three taps wide run their rows unrolled. Channels past the last multiple of four, depth
 * multipliers above 1 and the other cores take the generic code.
 */
#include "edgec_dwconv.h"

#define EDGEC_DW_BLOCK 16
/* The DSP path keeps one pixel's sums on the stack: up to this many channels (more take the generic code). */
#define EDGEC_DW_DSP_MAX_C 256
/* The layout's path keeps this many input_zp bytes on the stack (a line of the 3 x 3 kernels outside). */
#define EDGEC_DW_ZP_BYTES 2048
/* ... and windows of up to this many taps. */
#define EDGEC_DW_DSP_MAX_TAPS 25

#if defined(EDGEC_V6M)
/* S_k += sum over t < N of W[t * WS + C + k] * X[t * XS + C + k], k < 4, N >= 1: four channels over
 * N taps that lie WS bytes apart in the weights and XS in the input. */
/* The assembly needs every low register: gcc finds them at -O1 to -O3, not at -O0 or -Os (a frame
 * pointer or its size heuristics take one), where the C loop below computes the same sums; define
 * EDGEC_NO_ASM for it too when building with -fno-omit-frame-pointer. */
#if defined(__ARM_ARCH_6M__) && defined(__GNUC__) && defined(__OPTIMIZE__) && !defined(__OPTIMIZE_SIZE__) && \
    !defined(EDGEC_NO_ASM)
/* LDRSB takes a register offset only: the channel index steps over the four channels and back;
 * the sums and the input step sit in high registers (ADD reaches them). 24 instructions per tap,
 * 4 MACs. gcc emits Thumb-1 inline assembly in the divided syntax: MUL, ADD #imm, SUB #imm set flags. */
#define EDGEC_DW4_S8(S0, S1, S2, S3, W, WS, X, XS, C, N)                                                     \
    do {                                                                                                 \
        const int8_t *w_ = (W), *x_ = (X);                                                               \
        int32_t c_ = (C), t_ = (N), wv_, xv_;                                                            \
        __asm__ volatile("1:\n\t"                                                                         \
                         "ldrsb %[wv], [%[w], %[c]]\n\t"                                                  \
                         "ldrsb %[xv], [%[x], %[c]]\n\t"                                                  \
                         "mul %[xv], %[wv]\n\t"                                                           \
                         "add %[s0], %[xv]\n\t"                                                           \
                         "add %[c], #1\n\t"                                                               \
                         "ldrsb %[wv], [%[w], %[c]]\n\t"                                                  \
                         "ldrsb %[xv], [%[x], %[c]]\n\t"                                                  \
                         "mul %[xv], %[wv]\n\t"                                                           \
                         "add %[s1], %[xv]\n\t"                                                           \
                         "add %[c], #1\n\t"                                                               \
                         "ldrsb %[wv], [%[w], %[c]]\n\t"                                                  \
                         "ldrsb %[xv], [%[x], %[c]]\n\t"                                                  \
                         "mul %[xv], %[wv]\n\t"                                                           \
                         "add %[s2], %[xv]\n\t"                                                           \
                         "add %[c], #1\n\t"                                                               \
                         "ldrsb %[wv], [%[w], %[c]]\n\t"                                                  \
                         "ldrsb %[xv], [%[x], %[c]]\n\t"                                                  \
                         "mul %[xv], %[wv]\n\t"                                                           \
                         "add %[s3], %[xv]\n\t"                                                           \
                         "sub %[c], #3\n\t"                                                               \
                         "add %[w], %[ws]\n\t"                                                            \
                         "add %[x], %[xs]\n\t"                                                            \
                         "sub %[t], #1\n\t"                                                               \
                         "bne 1b"                                                                        \
                         : [s0] "+h"(S0), [s1] "+h"(S1), [s2] "+h"(S2), [s3] "+h"(S3), [w] "+l"(w_),        \
                           [x] "+l"(x_), [c] "+l"(c_), [t] "+l"(t_), [wv] "=&l"(wv_), [xv] "=&l"(xv_)     \
                         : [ws] "l"((int32_t)(WS)), [xs] "h"((int32_t)(XS))                              \
                         : "cc", "memory");                                                              \
    } while (0)
#else
#define EDGEC_DW4_S8(S0, S1, S2, S3, W, WS, X, XS, C, N)                                                     \
    do {                                                                                                 \
        const int8_t *w_ = (W) + (C), *x_ = (X) + (C);                                                   \
        int32_t t_;                                                                                      \
        for (t_ = 0; t_ < (N); t_++, w_ += (WS), x_ += (XS)) {                                           \
            S0 += (int32_t)w_[0] * (int32_t)x_[0];                                                       \
            S1 += (int32_t)w_[1] * (int32_t)x_[1];                                                       \
            S2 += (int32_t)w_[2] * (int32_t)x_[2];                                                       \
            S3 += (int32_t)w_[3] * (int32_t)x_[3];                                                       \
        }                                                                                                \
    } while (0)
#endif

/* Every channel of one output pixel whose window, from `src`, lies inside the input; dm == 1.
 * The taps run as one loop down a column (kernel_w == 1) or one loop per kernel row. */
static void edgec_dwconv_pixel_inside(const edgec_dwconv_params *p, const int8_t *src, int8_t *out)
{
    const int32_t out_c = p->out_c, kernel_h = p->kernel_h, kernel_w = p->kernel_w;
    const int32_t row_step = p->dilation_h * p->in_w * p->in_c, col_step = p->dilation_w * p->in_c;
    const int column = kernel_w == 1;
    const int32_t loops = column ? 1 : kernel_h, taps = column ? kernel_h : kernel_w;
    const int32_t x_step = column ? row_step : col_step, w_loop = kernel_w * out_c;
    const int8_t *const weights = p->weights;
    const int32_t *const bias = p->bias, *const multiplier = p->multiplier;
    const int8_t *const shift = p->shift;
    const int32_t narrow = p->narrow, zp = p->output_zp, lo = p->act_min, hi = p->act_max;
    int32_t c = 0, ky;
    for (; c + 4 <= out_c; c += 4) {
        int32_t s0 = bias[c], s1 = bias[c + 1], s2 = bias[c + 2], s3 = bias[c + 3];
        for (ky = 0; ky < loops; ky++) {
            EDGEC_DW4_S8(s0, s1, s2, s3, weights + ky * w_loop, out_c, src + ky * row_step, x_step, c, taps);
        }
        out[c] = edgec_requantize(narrow, s0, multiplier[c], shift[c], zp, lo, hi);
        out[c + 1] = edgec_requantize(narrow, s1, multiplier[c + 1], shift[c + 1], zp, lo, hi);
        out[c + 2] = edgec_requantize(narrow, s2, multiplier[c + 2], shift[c + 2], zp, lo, hi);
        out[c + 3] = edgec_requantize(narrow, s3, multiplier[c + 3], shift[c + 3], zp, lo, hi);
    }
    for (; c < out_c; c++) {
        const int8_t *w = weights + c;
        int32_t acc = bias[c], kx;
        for (ky = 0; ky < kernel_h; ky++) {
            for (kx = 0; kx < kernel_w; kx++, w += out_c) {
                acc += (int32_t)*w * (int32_t)src[ky * row_step + kx * col_step + c];
            }
        }
        out[c] = edgec_requantize(narrow, acc, multiplier[c], shift[c], zp, lo, hi);
    }
}
#endif

/* Each loop apart: inlined into one body, gcc spills the sums of the inner loop. */
#if defined(__GNUC__)
#define EDGEC_DW_NOINLINE __attribute__((noinline))
#else
#define EDGEC_DW_NOINLINE
#endif

#if defined(EDGEC_DSP)
/* S0..S3 += the products of four channels of one tap: the words at X (input) and W (weights). */
#define EDGEC_DW4_TAP(S0, S1, S2, S3, X, W)                                                                  \
    do {                                                                                                 \
        int32_t xv_, wv_, x02_, x13_, w02_, w13_;                                                        \
        memcpy(&xv_, (X), 4);                                                                            \
        memcpy(&wv_, (W), 4);                                                                            \
        x02_ = edgec_sxtb16(xv_);                                                                        \
        x13_ = edgec_sxtb16_ror8(xv_);                                                                   \
        w02_ = edgec_sxtb16(wv_);                                                                        \
        w13_ = edgec_sxtb16_ror8(wv_);                                                                   \
        S0 = edgec_smlabb(x02_, w02_, S0);                                                               \
        S2 = edgec_smlatt(x02_, w02_, S2);                                                               \
        S1 = edgec_smlabb(x13_, w13_, S1);                                                               \
        S3 = edgec_smlatt(x13_, w13_, S3);                                                               \
    } while (0)

#if defined(__ARM_FEATURE_DSP) && defined(__GNUC__) && !defined(EDGEC_NO_DSP)
/* Three taps STEP bytes apart in the input (from XR) and in the weights (from WR), in registers:
 * gcc, given the nine loads of a window in C, keeps their offsets on the stack. 30 instructions,
 * 12 MACs. */
#define EDGEC_DW4_ROW3(S0, S1, S2, S3, XR, WR, STEP, STEP2)                                                  \
    do {                                                                                                 \
        int32_t xv_, wv_, a_, b_;                                                                        \
        __asm__("ldr %[xv], [%[x]]\n\t"                                                                   \
                "ldr %[wv], [%[w]]\n\t"                                                                   \
                "sxtb16 %[a], %[xv]\n\t"                                                                  \
                "sxtb16 %[b], %[wv]\n\t"                                                                  \
                "sxtb16 %[xv], %[xv], ror #8\n\t"                                                         \
                "sxtb16 %[wv], %[wv], ror #8\n\t"                                                         \
                "smlabb %[s0], %[a], %[b], %[s0]\n\t"                                                     \
                "smlatt %[s2], %[a], %[b], %[s2]\n\t"                                                     \
                "smlabb %[s1], %[xv], %[wv], %[s1]\n\t"                                                   \
                "smlatt %[s3], %[xv], %[wv], %[s3]\n\t"                                                   \
                "ldr %[xv], [%[x], %[st]]\n\t"                                                            \
                "ldr %[wv], [%[w], %[st]]\n\t"                                                            \
                "sxtb16 %[a], %[xv]\n\t"                                                                  \
                "sxtb16 %[b], %[wv]\n\t"                                                                  \
                "sxtb16 %[xv], %[xv], ror #8\n\t"                                                         \
                "sxtb16 %[wv], %[wv], ror #8\n\t"                                                         \
                "smlabb %[s0], %[a], %[b], %[s0]\n\t"                                                     \
                "smlatt %[s2], %[a], %[b], %[s2]\n\t"                                                     \
                "smlabb %[s1], %[xv], %[wv], %[s1]\n\t"                                                   \
                "smlatt %[s3], %[xv], %[wv], %[s3]\n\t"                                                   \
                "ldr %[xv], [%[x], %[st], lsl #1]\n\t"                                                    \
                "ldr %[wv], [%[w], %[st], lsl #1]\n\t"                                                    \
                "sxtb16 %[a], %[xv]\n\t"                                                                  \
                "sxtb16 %[b], %[wv]\n\t"                                                                  \
                "sxtb16 %[xv], %[xv], ror #8\n\t"                                                         \
                "sxtb16 %[wv], %[wv], ror #8\n\t"                                                         \
                "smlabb %[s0], %[a], %[b], %[s0]\n\t"                                                     \
                "smlatt %[s2], %[a], %[b], %[s2]\n\t"                                                     \
                "smlabb %[s1], %[xv], %[wv], %[s1]\n\t"                                                   \
                "smlatt %[s3], %[xv], %[wv], %[s3]"                                                       \
                : [s0] "+r"(S0), [s1] "+r"(S1), [s2] "+r"(S2), [s3] "+r"(S3), [xv] "=&r"(xv_),            \
                  [wv] "=&r"(wv_), [a] "=&r"(a_), [b] "=&r"(b_)                                            \
                : [x] "r"(XR), [w] "r"(WR), [st] "r"(STEP)                                                \
                : "memory");                                                                             \
        (void)(STEP2);                                                                                   \
    } while (0)
#else
#define EDGEC_DW4_ROW3(S0, S1, S2, S3, XR, WR, STEP, STEP2)                                                  \
    do {                                                                                                 \
        EDGEC_DW4_TAP(S0, S1, S2, S3, (XR), (WR));                                                       \
        EDGEC_DW4_TAP(S0, S1, S2, S3, (XR) + (STEP), (WR) + (STEP));                                     \
        EDGEC_DW4_TAP(S0, S1, S2, S3, (XR) + (STEP2), (WR) + (STEP2));                                   \
    } while (0)
#endif

/* sums[c] = bias[c] + the products of channel c over a 3 x 3 window inside the input whose
 * column step in the input equals the weights' (dilation 1), c < n4 (a multiple of 4). */
EDGEC_DW_NOINLINE static void edgec_dw_sums_3x3(int32_t *sums, const int32_t *bias, int32_t n4, const int8_t *x,
                                                int32_t x_row, const int8_t *w, int32_t step)
{
    const int32_t step2 = 2 * step, w_row = 3 * step;
    int32_t c;
    for (c = 0; c < n4; c += 4) {
        int32_t s0 = bias[c], s1 = bias[c + 1], s2 = bias[c + 2], s3 = bias[c + 3];
        const int8_t *xr = x + c, *wr = w + c;
        EDGEC_DW4_ROW3(s0, s1, s2, s3, xr, wr, step, step2);
        xr += x_row;
        wr += w_row;
        EDGEC_DW4_ROW3(s0, s1, s2, s3, xr, wr, step, step2);
        xr += x_row;
        wr += w_row;
        EDGEC_DW4_ROW3(s0, s1, s2, s3, xr, wr, step, step2);
        sums[c] = s0;
        sums[c + 1] = s1;
        sums[c + 2] = s2;
        sums[c + 3] = s3;
    }
}

/* The same over any window of n_taps taps: tap t reads the input at taps[t] (a row of input_zp
 * bytes for a tap outside the input) and its weights at w + t * step. */
EDGEC_DW_NOINLINE static void edgec_dw_sums_taps(int32_t *sums, const int32_t *bias, int32_t n4,
                                                 const int8_t *const *taps, int32_t n_taps, const int8_t *w,
                                                 int32_t step)
{
    int32_t c, t;
    for (c = 0; c < n4; c += 4) {
        int32_t s0 = bias[c], s1 = bias[c + 1], s2 = bias[c + 2], s3 = bias[c + 3];
        const int8_t *wr = w + c;
        for (t = 0; t < n_taps; t++, wr += step) {
            EDGEC_DW4_TAP(s0, s1, s2, s3, taps[t] + c, wr);
        }
        sums[c] = s0;
        sums[c + 1] = s1;
        sums[c + 2] = s2;
        sums[c + 3] = s3;
    }
}

/* out[c] = the requantized sums[c], c < n; the clamp to int8 alone when the activation range
 * is all of int8. */
EDGEC_DW_NOINLINE static void edgec_dw_requantize(const edgec_dwconv_params *p, const int32_t *sums, int32_t n,
                                                  int8_t *out)
{
    const int32_t *const multiplier = p->multiplier;
    const int8_t *const shift = p->shift;
    const int32_t zp = p->output_zp, lo = p->act_min, hi = p->act_max;
    int32_t c;
    if (p->narrow && lo <= -128 && hi >= 127) {
        for (c = 0; c < n; c++) {
            out[c] = (int8_t)edgec_ssat8(edgec_mbqm_narrow(sums[c], multiplier[c], shift[c]) + zp);
        }
    } else if (p->narrow) {
        for (c = 0; c < n; c++) {
            out[c] = edgec_clamp_s8(edgec_mbqm_narrow(sums[c], multiplier[c], shift[c]) + zp, lo, hi);
        }
    } else {
        for (c = 0; c < n; c++) {
            out[c] = edgec_clamp_s8(edgec_mbqm(sums[c], multiplier[c], shift[c]) + zp, lo, hi);
        }
    }
}

/* Every channel of the output pixel whose window starts at input row iy0, column ix0; dm == 1,
 * kernel_h * kernel_w <= EDGEC_DW_DSP_MAX_TAPS, out_c <= EDGEC_DW_DSP_MAX_C. The sums pass through
 * `sums`; zp_row holds out_c bytes of input_zp. */
EDGEC_DW_NOINLINE static void edgec_dwconv_pixel_dsp(const edgec_dwconv_params *p, const int8_t *in_b, int32_t iy0,
                                                     int32_t ix0, const int8_t *zp_row, int32_t *sums, int8_t *out)
{
    const int32_t out_c = p->out_c, in_c = p->in_c, kernel_h = p->kernel_h, kernel_w = p->kernel_w;
    const int32_t dil_h = p->dilation_h, dil_w = p->dilation_w, in_h = p->in_h, in_w = p->in_w;
    const int32_t n4 = out_c & ~3;
    const int8_t *const weights = p->weights;
    const int32_t input_zp = p->input_zp;
    int32_t c, ky, kx;
    if (n4 > 0) {
        if (kernel_h == 3 && kernel_w == 3 && dil_w == 1 && iy0 >= 0 && iy0 + 2 * dil_h < in_h && ix0 >= 0 &&
            ix0 + 2 < in_w) {
            edgec_dw_sums_3x3(sums, p->bias, n4, in_b + (iy0 * in_w + ix0) * in_c, dil_h * in_w * in_c, weights,
                              out_c);
        } else {
            const int8_t *taps[EDGEC_DW_DSP_MAX_TAPS];
            int32_t t = 0;
            for (ky = 0; ky < kernel_h; ky++) {
                const int32_t iy = iy0 + ky * dil_h;
                for (kx = 0; kx < kernel_w; kx++, t++) {
                    const int32_t ix = ix0 + kx * dil_w;
                    taps[t] = iy >= 0 && iy < in_h && ix >= 0 && ix < in_w ? in_b + (iy * in_w + ix) * in_c : zp_row;
                }
            }
            edgec_dw_sums_taps(sums, p->bias, n4, taps, t, weights, out_c);
        }
    }
    for (c = n4; c < out_c; c++) {
        int32_t acc = p->bias[c];
        for (ky = 0; ky < kernel_h; ky++) {
            for (kx = 0; kx < kernel_w; kx++) {
                const int32_t iy = iy0 + ky * dil_h, ix = ix0 + kx * dil_w;
                const int32_t v = iy >= 0 && iy < in_h && ix >= 0 && ix < in_w
                                      ? (int32_t)in_b[(iy * in_w + ix) * in_c + c]
                                      : input_zp;
                acc += (int32_t)weights[(ky * kernel_w + kx) * out_c + c] * v;
            }
        }
        sums[c] = acc;
    }
    edgec_dw_requantize(p, sums, out_c, out);
}
#endif

/* The generation-time layout (p->dsp, dwlayout.py): per group of four channels, the doubled biases,
 * per tap the doubled weights as int16 pairs (c, c + 2) and (c + 1, c + 3), then per channel the
 * rescale (m, k, e). A tap of a group costs one load of input, two SXTB16, one LDRD and four SMLAxy
 * (2 instructions a MAC), and a channel's rescale six: with s = 2 acc, SMMULR(s, m) is edgec_mbqm_narrow's
 * first step y; its (((y - [y < 0]) >> (e - 1)) + 1) >> 1, plus zp, is (y - [y < 0] + k) >> e with
 * k = (2 zp + 1) 2^(e - 1), as a multiple of 2^(e - 1) added before the shift; and [y < 0] may be
 * [s < 0]: they differ only when y = 0 > s, where both give floor(k / 2^e) = zp (e >= 1). So one
 * ADD (k - [s < 0]), one SMMLAR, one ASR and one SSAT. The last group's last e carries
 * EDGEC_DWL_LAST, which ends a pixel's loop over the groups (no register holds its end).
 * A 3 x 3 kernel runs through the three lines' kernel: a row's pixels whose columns lie inside in
 * one call (lines = the window's rows, a row outside being zp bytes), the other pixels of the rows
 * inside one call each (lines = its columns); the corners list their 9 taps. */
#if defined(__ARM_FEATURE_DSP) && defined(__GNUC__) && !defined(EDGEC_NO_DSP) && defined(__thumb2__) && \
    !defined(EDGEC_NO_ASM)
#define EDGEC_DWL_ASM 1
/* Every channel of a run of output pixels of a 3 x 3 kernel over three lines of input: in
 * edgec_dwl_rows the lines are the window's rows (tap kx of line ky at line + kx * step), in
 * edgec_dwl_cols its columns (tap ky of line kx at line + ky * step). A line outside the input is
 * a row of input_zp bytes whose step back to it is -in_c. args = {line 0, tap step, line 1, line 2,
 * the three lines' steps from the end of a pixel's window to the next, the end of the output}; the
 * outputs of the pixels follow each other. 102 instructions a group of 4 channels (36 MACs), 6 more
 * a pixel. */
void edgec_dwl_rows(const int32_t *args, const int32_t *layout, int8_t *out);
/* The same with args[8] = the step from the end of a pixel's output to the next (a chunk's groups
 * of out_c channels, edgec_dwconv2d_chunk_s8): one more instruction a pixel. */
void edgec_dwl_rows_step(const int32_t *args, const int32_t *layout, int8_t *out);
/* Where line k sits in args: LDM fills r4, r5 (the tap step), r12, lr in this order. */
#define EDGEC_DWL_LINE(k) ((k) == 0 ? 0 : (k) + 1)
void edgec_dwl_cols(const int32_t *args, const int32_t *layout, int8_t *out);
/* Every channel of one output pixel over the 9 taps of a 3 x 3 window (a tap outside the input
 * points at a row of input_zp bytes); 105 instructions a group. The last group ends the pixel. */
void edgec_dwl_taps9(const int8_t *const *taps, const int32_t *layout, int8_t *out);
/* Every channel of `pixels` output pixels of a 1-wide kernel over a 1-wide input (a column: taps
 * and pixels along the rows) whose windows lie inside the input: x the first window's top, args =
 * {tap step, taps, pixels, step from the end of a window's groups to the next window, step from the
 * end of a pixel's output to the next (0 but in a chunk)}. Two taps a loop: 19 instructions, 8 MACs. */
void edgec_dwl_col(const int8_t *x, const int32_t *layout, int8_t *out, const int32_t *args);
/* The same over any number of taps (a loop), args = {taps, groups}. */
void edgec_dwl_taps(const int8_t *const *taps, const int32_t *layout, int8_t *out, const int32_t *args);

/* One tap of a group: the input word (loaded into r8 by LOAD), its weights from the layout. */
#define EDGEC_DWL_TAP(LOAD)                                                                              \
    LOAD "\n\t"                                                                                          \
    "ldrd r10, r11, [r6], #8\n\t"                                                                        \
    "sxtb16 r9, r8\n\t"                                                                                  \
    "sxtb16 r8, r8, ror #8\n\t"                                                                          \
    "smlabb r0, r9, r10, r0\n\t"                                                                         \
    "smlatt r2, r9, r10, r2\n\t"                                                                         \
    "smlabb r1, r8, r11, r1\n\t"                                                                         \
    "smlatt r3, r8, r11, r3\n\t"
#define EDGEC_DWL_RESCALE4 EDGEC_DWL_RESCALE("r0") EDGEC_DWL_RESCALE("r1") EDGEC_DWL_RESCALE("r2") \
    EDGEC_DWL_RESCALE("r3")
/* Two listed taps: their pointers at T in the list (one LDRD), each read at the group's offset. */
#define EDGEC_DWL_PTAPS(T) "ldrd r5, lr, [r12, #" T "]\n\t" EDGEC_DWL_TAP("ldr r8, [r5, r4]") \
    EDGEC_DWL_TAP("ldr r8, [lr, r4]")
/* The bit of the last group's last rescale word e that ends a pixel (ASR reads e's low byte). */
#define EDGEC_DWL_LAST "256"

/* The three lines' kernel, its taps loaded by T0..T8 (tap ky * 3 + kx, the layout's order): r0-r3
 * the sums, r4, r12 and lr the lines, r5 the tap step, r6 the layout, r7 the output; on the stack
 * the layout, the lines' steps to the next pixel, the end of the output. The last group ends a
 * pixel (EDGEC_DWL_LAST). */
#define EDGEC_DWL_LINES(NAME, SAVE, LOAD, STEP, T0, T1, T2, T3, T4, T5, T6, T7, T8)                        \
    __asm__(EDGEC_DWL_FUNC(NAME)                                                                         \
            "push {r4-r11, lr}\n\t"                                                                      \
            "sub sp, sp, #24\n\t"                                                                        \
            "mov r7, r2\n\t"                                                                             \
            "mov r6, r1\n\t"                                                                             \
            "ldm r0!, {r4, r5, r12, lr}\n\t"                                                             \
            "ldm r0, {r8-r11}\n\t"                                                                       \
            SAVE "\n"                                                                                    \
            "1:\n\t"                                                                                     \
            "ldm r6!, {r0-r3}\n\t"                                                                       \
            EDGEC_DWL_TAP(T0) EDGEC_DWL_TAP(T1) EDGEC_DWL_TAP(T2)                                        \
            EDGEC_DWL_TAP(T3) EDGEC_DWL_TAP(T4) EDGEC_DWL_TAP(T5)                                        \
            EDGEC_DWL_TAP(T6) EDGEC_DWL_TAP(T7) EDGEC_DWL_TAP(T8)                                        \
            "add r4, r4, #4\n\t"                                                                         \
            "add r12, r12, #4\n\t"                                                                       \
            "add lr, lr, #4\n\t"                                                                         \
            EDGEC_DWL_RESCALE4                                                                           \
            "tst r10, #" EDGEC_DWL_LAST "\n\t"                                                           \
            "beq 1b\n\t"                                                                                 \
            LOAD "\n\t"                                                                                 \
            "add r4, r4, r8\n\t"                                                                         \
            "add r12, r12, r9\n\t"                                                                       \
            "add lr, lr, r10\n\t"                                                                        \
            STEP                                                                                         \
            "cmp r7, r11\n\t"                                                                            \
            "bne 1b\n\t"                                                                                 \
            "add sp, sp, #24\n\t"                                                                        \
            "pop {r4-r11, pc}\n\t"                                                                       \
            ".size " NAME ", .-" NAME "\n\t")
/* edgec_dwl_rows' taps, as one argument (EDGEC_DWL_LINES9 expands it into nine) */
#define EDGEC_DWL_ROWS_TAPS "ldr r8, [r4]", "ldr r8, [r4, r5]", "ldr r8, [r4, r5, lsl #1]", "ldr r8, [r12]", \
    "ldr r8, [r12, r5]", "ldr r8, [r12, r5, lsl #1]", "ldr r8, [lr]", "ldr r8, [lr, r5]", "ldr r8, [lr, r5, lsl #1]"
#define EDGEC_DWL_LINES9(NAME, SAVE, LOAD, STEP, TAPS) EDGEC_DWL_LINES(NAME, SAVE, LOAD, STEP, TAPS)
EDGEC_DWL_LINES9("edgec_dwl_rows", "stm sp, {r1, r8-r11}", "ldm sp, {r6, r8-r11}", "", EDGEC_DWL_ROWS_TAPS);
/* args[8] the step from the end of a pixel's output to the next's (r0, free between the groups) */
EDGEC_DWL_LINES9("edgec_dwl_rows_step", "ldr r0, [r0, #16]\n\tstm sp, {r0, r1, r8-r11}", "ldm sp, {r0, r6, r8-r11}",
                 "add r7, r7, r0\n\t", EDGEC_DWL_ROWS_TAPS);
EDGEC_DWL_LINES("edgec_dwl_cols", "stm sp, {r1, r8-r11}", "ldm sp, {r6, r8-r11}", "", "ldr r8, [r4]", "ldr r8, [r12]",
                "ldr r8, [lr]", "ldr r8, [r4, r5]", "ldr r8, [r12, r5]", "ldr r8, [lr, r5]", "ldr r8, [r4, r5, lsl #1]", "ldr r8, [r12, r5, lsl #1]",
                "ldr r8, [lr, r5, lsl #1]");

/* r0-r3 the sums, r4 the group's offset in a pixel, r5 and lr two taps (LDRD), r6 the layout, r7
 * the output, r12 the taps. The last group ends the pixel (EDGEC_DWL_LAST). */
__asm__(EDGEC_DWL_FUNC("edgec_dwl_taps9")
        "push {r4-r11, lr}\n\t"
        "mov r12, r0\n\t"
        "mov r6, r1\n\t"
        "mov r7, r2\n\t"
        "movs r4, #0\n"
        "1:\n\t"
        "ldm r6!, {r0-r3}\n\t"
        EDGEC_DWL_PTAPS("0") EDGEC_DWL_PTAPS("8") EDGEC_DWL_PTAPS("16") EDGEC_DWL_PTAPS("24")
        "ldr r5, [r12, #32]\n\t"
        EDGEC_DWL_TAP("ldr r8, [r5, r4]")
        "add r4, r4, #4\n\t"
        EDGEC_DWL_RESCALE4
        "tst r10, #" EDGEC_DWL_LAST "\n\t"
        "beq 1b\n\t"
        "pop {r4-r11, pc}\n\t"
        ".size edgec_dwl_taps9, .-edgec_dwl_taps9\n\t");

/* r0-r3 the sums, r4 the tap, r5 the tap step, r6 the layout, r7 the output, r12 the taps left,
 * lr the step from the end of a pixel's output to the next; on the stack: pixels left, the step to
 * the next window, the taps' span less 4, the layout, the taps. The last group ends a pixel
 * (EDGEC_DWL_LAST). */
__asm__(EDGEC_DWL_FUNC("edgec_dwl_col")
        "push {r4-r11, lr}\n\t"
        "sub sp, sp, #24\n\t"
        "mov r4, r0\n\t"
        "mov r7, r2\n\t"
        "str r1, [sp, #12]\n\t"
        "ldm r3, {r5, r8-r11}\n\t"
        "str r9, [sp]\n\t"
        "str r10, [sp, #4]\n\t"
        "str r8, [sp, #16]\n\t"
        "mov lr, r11\n\t"
        "mul r8, r8, r5\n\t"
        "sub r8, r8, #4\n\t"
        "str r8, [sp, #8]\n"
        "0:\n\t"
        "ldr r6, [sp, #12]\n"
        "1:\n\t"
        "ldm r6!, {r0-r3}\n\t"
        "ldr r12, [sp, #16]\n\t"
        "tst r12, #1\n\t"
        "beq 2f\n\t"
        EDGEC_DWL_TAP("ldr r8, [r4]")
        "add r4, r4, r5\n\t"
        "subs r12, r12, #1\n\t"
        "beq 3f\n"
        "2:\n\t"
        EDGEC_DWL_TAP("ldr r8, [r4]")
        EDGEC_DWL_TAP("ldr r8, [r4, r5]")
        "add r4, r4, r5, lsl #1\n\t"
        "subs r12, r12, #2\n\t"
        "bne 2b\n"
        "3:\n\t"
        "ldr r8, [sp, #8]\n\t"
        "sub r4, r4, r8\n\t"
        EDGEC_DWL_RESCALE4
        "tst r10, #" EDGEC_DWL_LAST "\n\t"
        "beq 1b\n\t"
        "add r7, r7, lr\n\t"
        "ldr r8, [sp, #4]\n\t"
        "add r4, r4, r8\n\t"
        "ldr r8, [sp]\n\t"
        "subs r8, r8, #1\n\t"
        "str r8, [sp]\n\t"
        "bne 0b\n\t"
        "add sp, sp, #24\n\t"
        "pop {r4-r11, pc}\n\t"
        ".size edgec_dwl_col, .-edgec_dwl_col\n\t");

/* r0-r3 the sums, r4 the group's offset in a pixel, r5 the next tap, r6 the layout, r7 the output,
 * r12 the taps, lr their end; the end of the output on the stack. */
__asm__(EDGEC_DWL_FUNC("edgec_dwl_taps")
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
        EDGEC_DWL_TAP("ldr r8, [r8, r4]")
        "cmp r5, lr\n\t"
        "bne 2b\n\t"
        "add r4, r4, #4\n\t"
        EDGEC_DWL_RESCALE4
        "ldr r8, [sp]\n\t"
        "cmp r7, r8\n\t"
        "bne 1b\n\t"
        "add sp, sp, #8\n\t"
        "pop {r4-r11, pc}\n\t"
        ".size edgec_dwl_taps, .-edgec_dwl_taps\n\t");
#else
/* A channel's rescale from its (m, k, e), as the assembly computes it. */
static int8_t edgec_dwl_rescale(int32_t s, const int32_t *r)
{
    const int32_t y = (int32_t)(((int64_t)s * r[0] + ((int64_t)1 << 31)) >> 32); /* SMMULR */
    const int32_t v = (r[1] - (s < 0 ? 1 : 0) + y) >> (r[2] & 255);              /* ASR reads the low byte */
    return (int8_t)(v < -128 ? -128 : (v > 127 ? 127 : v));
}

/* The assembly's groups in plain C (any core: edgec_dwconv2d_chunk_s8 runs everywhere): tap t of the
 * group at channel offset off reads taps[t] + off; the layout's int16 pairs hold channels (0, 2)
 * and (1, 3) of the group. */
static void edgec_dwl_groups(const int8_t *const *taps, int32_t n_taps, const int32_t *g, int8_t *out,
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
        out[0] = edgec_dwl_rescale(s0, g);
        out[1] = edgec_dwl_rescale(s1, g + 3);
        out[2] = edgec_dwl_rescale(s2, g + 6);
        out[3] = edgec_dwl_rescale(s3, g + 9);
        g += 12;
    }
}
#endif

/* The groups a layer's pass runs: the layer's layout (p->dsp, every channel), or a chunk's decoded
 * one (edgec_dwconv2d_chunk_s8). Its last group carries EDGEC_DWL_LAST; the input and the output
 * given to the pass start at its first channel, their pixels in_c and out_c bytes apart. */
typedef struct {
    const int32_t *layout;
    int32_t bytes; /* 4 per group: out_c for the whole layer */
} edgec_dwl_chunk;

/* One output pixel through the layout, its taps listed: rows[ky] the input row of kernel row ky, or
 * NULL outside; a tap outside reads zp_row (input_zp bytes). */
static void edgec_dwl_pixel(const edgec_dwconv_params *p, const edgec_dwl_chunk *ch, const int8_t *const *rows,
                            int32_t ix0, const int8_t *zp_row, int8_t *out)
{
    const int32_t in_w = p->in_w, in_c = p->in_c, kernel_h = p->kernel_h, kernel_w = p->kernel_w;
    const int32_t dil_w = p->dilation_w;
    const int8_t *taps[EDGEC_DW_DSP_MAX_TAPS];
    int32_t ky, kx, t = 0;
    for (ky = 0; ky < kernel_h; ky++) {
        const int8_t *const row = rows[ky];
        int32_t ix = ix0;
        for (kx = 0; kx < kernel_w; kx++, t++, ix += dil_w) {
            taps[t] = row != NULL && (uint32_t)ix < (uint32_t)in_w ? row + ix * in_c : zp_row;
        }
    }
#if defined(EDGEC_DWL_ASM)
    if (t == 9) {
        edgec_dwl_taps9(taps, ch->layout, out);
    } else {
        const int32_t args[2] = {t, ch->bytes / 4};
        edgec_dwl_taps(taps, ch->layout, out, args);
    }
#else
    edgec_dwl_groups(taps, t, ch->layout, out, ch->bytes / 4);
#endif
}

/* bytes (a multiple of 4) bytes of zp at dst (word-aligned), four words a pass. */
static void edgec_dw_fill(int8_t *dst, int32_t zp, int32_t bytes)
{
    const uint32_t word = (uint32_t)(uint8_t)(int8_t)zp * 0x01010101u;
    uint32_t *d = (uint32_t *)(void *)dst;
    int32_t n = bytes / 4;
    for (; n >= 4; n -= 4, d += 4) {
        d[0] = word;
        d[1] = word;
        d[2] = word;
        d[3] = word;
    }
    for (; n > 0; n--) {
        *d++ = word;
    }
}

/* A run of `pixels` (>= 1) output pixels of a 3 x 3 kernel through the three lines' kernel: line[k]
 * the input line k of the first pixel's window (rows, or columns when `cols`), NULL outside (the zp
 * bytes); tap_step between a line's taps, next between a line's windows, out_next between the
 * pixels' outputs. The engine may run an op in place: the pixels go in raster order. */
static void edgec_dwl_run(const edgec_dwconv_params *p, const edgec_dwl_chunk *ch, int cols,
                          const int8_t *const *line, int32_t tap_step, int32_t next, int32_t out_next,
                          const int8_t *zp, int8_t *out, int32_t pixels)
{
    (void)p;
#if defined(EDGEC_DWL_ASM)
    int32_t args[9], k;
    for (k = 0; k < 3; k++) {
        args[EDGEC_DWL_LINE(k)] = (int32_t)(uintptr_t)(line[k] != NULL ? line[k] : zp);
        args[4 + k] = line[k] != NULL ? next - ch->bytes : -ch->bytes;
    }
    args[1] = tap_step;
    args[7] = (int32_t)(uintptr_t)(out + (pixels - 1) * out_next + ch->bytes); /* cols: one pixel */
    args[8] = out_next - ch->bytes;
    if (cols) {
        edgec_dwl_cols(args, ch->layout, out);
    } else if (args[8] == 0) {
        args[7] = (int32_t)(uintptr_t)(out + pixels * out_next);
        edgec_dwl_rows(args, ch->layout, out);
    } else {
        args[7] = (int32_t)(uintptr_t)(out + pixels * out_next);
        edgec_dwl_rows_step(args, ch->layout, out);
    }
#else
    int32_t n, ky, kx;
    for (n = 0; n < pixels; n++) {
        const int8_t *taps[9];
        for (ky = 0; ky < 3; ky++) {
            for (kx = 0; kx < 3; kx++) {
                const int8_t *l = line[cols ? kx : ky];
                taps[ky * 3 + kx] = l != NULL ? l + n * next + (cols ? ky : kx) * tap_step : zp;
            }
        }
        edgec_dwl_groups(taps, 9, ch->layout, out + n * out_next, ch->bytes / 4);
    }
#endif
}

#if defined(EDGEC_DWL_ASM)
/* The geometry of a 3 x 3 layer through the lines' kernel: the columns lo..hi whose windows lie
 * inside the input, the rows rlo..rhi alike, and whether a line down may read the zp bytes. */
typedef struct {
    int32_t lo, hi, rlo, rhi, down;
} edgec_dwl_k3_geometry;

/* At most this many columns of a 3 x 3 layer's output outside lo..hi run through edgec_dwl_rows_inside. */
#define EDGEC_DWL_SIDES 4

/* Output rows rlo..rhi (> rlo) of a 3 x 3 layer, whose windows' rows lie inside the input, at most
 * EDGEC_DWL_SIDES columns outside lo..hi (> lo), in raster order: per row, the columns before lo
 * through edgec_dwl_cols, lo..hi through edgec_dwl_rows, the columns from hi through edgec_dwl_cols.
 * Their arguments are set once and moved down a row at a time. */
EDGEC_DW_NOINLINE static void edgec_dwl_rows_inside(const edgec_dwconv_params *p, const edgec_dwl_chunk *ch,
                                                    const edgec_dwl_k3_geometry *g, const int8_t *in_b,
                                                    const int8_t *zp, int8_t *out_b)
{
    const int32_t in_w = p->in_w, in_c = p->in_c, out_w = p->out_w, out_c = p->out_c, sw = p->stride_w;
    const int32_t pl = p->pad_left, dw = p->dilation_w, dh = p->dilation_h, row = in_w * in_c;
    const int32_t lo = g->lo, hi = g->hi, next = p->stride_h * row, out_row = out_w * out_c;
    const int8_t *const first = in_b + (g->rlo * p->stride_h - p->pad_top) * row; /* row rlo's window */
    int8_t *out = out_b + g->rlo * out_row;
    const int32_t bytes = ch->bytes;
    const int32_t *const layout = ch->layout;
    void (*rows)(const int32_t *, const int32_t *, int8_t *);
    int32_t run[9], side[EDGEC_DWL_SIDES][8], side_ox[EDGEC_DWL_SIDES], n = 0, oy, ox, j, k;
    for (k = 0; k < 3; k++) {
        run[EDGEC_DWL_LINE(k)] = (int32_t)(uintptr_t)(first + k * dh * row + (lo * sw - pl) * in_c);
        run[4 + k] = sw * in_c - bytes;
    }
    run[1] = dw * in_c;
    run[7] = (int32_t)(uintptr_t)(out + hi * out_c);
    run[8] = out_c - bytes; /* a chunk's pixels: edgec_dwl_rows_step */
    rows = run[8] == 0 ? edgec_dwl_rows : edgec_dwl_rows_step;
    for (ox = 0; ox < out_w; ox++) {
        const int32_t ix0 = ox * sw - pl;
        if (ox == lo) {
            ox = hi - 1;
            continue;
        }
        for (k = 0; k < 3; k++) {
            const int32_t ix = ix0 + k * dw;
            side[n][EDGEC_DWL_LINE(k)] = (int32_t)(uintptr_t)((uint32_t)ix < (uint32_t)in_w ? first + ix * in_c
                                                                                            : zp);
        }
        side[n][1] = dh * row;
        side[n][4] = side[n][5] = side[n][6] = 0; /* one pixel: the lines' steps are not used */
        side[n][7] = (int32_t)(uintptr_t)(out + ox * out_c + bytes);
        side_ox[n++] = ox;
    }
    for (oy = g->rlo; oy < g->rhi; oy++, out += out_row) {
        for (j = 0; j < lo; j++) {
            edgec_dwl_cols(side[j], layout, out + side_ox[j] * out_c);
        }
        rows(run, layout, out + lo * out_c);
        for (; j < n; j++) {
            edgec_dwl_cols(side[j], layout, out + side_ox[j] * out_c);
        }
        for (k = 0; k < 3; k++) {
            run[EDGEC_DWL_LINE(k)] += next;
        }
        run[7] += out_row;
        for (j = 0; j < n; j++) {
            for (k = 0; k < 3; k++) {
                side[j][EDGEC_DWL_LINE(k)] += side[j][EDGEC_DWL_LINE(k)] != (int32_t)(uintptr_t)zp ? next : 0;
            }
            side[j][7] += out_row;
        }
    }
}
#endif

/* Every output pixel through the layout, in raster order (the engine may run the op in place);
 * dm == 1, out_c a multiple of 4 (at most EDGEC_DW_DSP_MAX_C), at most EDGEC_DW_DSP_MAX_TAPS taps.
 * A 3 x 3 kernel runs each output row's pixels whose columns lie inside the input in one call (lines
 * = rows, a row outside reads zp bytes), and the other pixels of the rows whose rows lie inside one
 * by one (lines = columns, a column outside reads zp bytes); the corners, and every pixel of the
 * other kernels, list their taps. A 1-wide kernel over
 * a 1-wide input runs its rows whose windows lie inside in one call.
 * The pass covers ch's groups: input and output start at its first channel. */
EDGEC_DW_NOINLINE static void edgec_dwl_layer(const edgec_dwconv_params *p, const edgec_dwl_chunk *ch,
                                              const int8_t *input, int8_t *output)
{
    const int32_t in_h = p->in_h, in_w = p->in_w, in_c = p->in_c, out_h = p->out_h, out_w = p->out_w;
    const int32_t out_c = p->out_c, sw = p->stride_w, sh = p->stride_h, pl = p->pad_left, pt = p->pad_top;
    const int32_t dw = p->dilation_w, dh = p->dilation_h, row = in_w * in_c;
    const int k3 = p->kernel_h == 3 && p->kernel_w == 3;
    /* the lines' kernel reads a line outside at up to 2 tap steps + in_c bytes of zp */
    const int across = k3 && 2 * dw * in_c + in_c <= EDGEC_DW_ZP_BYTES;
    const int down = k3 && 2 * dh * row + in_c <= EDGEC_DW_ZP_BYTES;
    /* the columns whose windows lie inside: ox * sw >= pl and ox * sw - pl + 2 dw < in_w; the rows alike */
    const int32_t lo = edgec_min((pl + sw - 1) / sw, out_w);
    const int32_t hi = in_w - 1 - 2 * dw + pl >= 0 ? edgec_max(edgec_min((in_w - 1 - 2 * dw + pl) / sw + 1, out_w), lo)
                                                   : lo;
    const int32_t rlo = edgec_min((pt + sh - 1) / sh, out_h);
    const int32_t rhi = in_h - 1 - 2 * dh + pt >= 0 ? edgec_max(edgec_min((in_h - 1 - 2 * dh + pt) / sh + 1, out_h), rlo)
                                                    : rlo;
    const int runs_across = across && hi > lo;
    /* a 1-wide kernel over a column: the rows whose windows lie inside, one call */
    const int column = p->kernel_w == 1 && in_w == 1 && out_w == 1 && pl == 0;
    const int32_t span = (p->kernel_h - 1) * dh;
    const int32_t top = column ? rlo : 0;
    const int32_t bottom = column && in_h - 1 - span + pt >= 0
                               ? edgec_max(edgec_min((in_h - 1 - span + pt) / sh + 1, out_h), top) : top;
    int32_t zp_words[EDGEC_DW_ZP_BYTES / 4]; /* read as bytes: only the bytes a kernel reads are set */
    int8_t *const zp = (int8_t *)zp_words;
    int32_t b, oy, ox, k;
#if defined(EDGEC_DWL_ASM)
    const edgec_dwl_k3_geometry geometry = {lo, hi, rlo, rhi, down};
#else
    (void)top;
    (void)bottom; /* the C twin takes those rows pixel by pixel */
#endif
    /* a pixel's taps read in_c bytes from the zp row; a line outside, from each of its three taps */
    edgec_dw_fill(zp, p->input_zp, across ? (2 * dw + 1) * in_c : in_c);
    if (down) {
        edgec_dw_fill(zp + dh * row, p->input_zp, in_c);
        edgec_dw_fill(zp + 2 * dh * row, p->input_zp, in_c);
    }
    for (b = 0; b < p->batches; b++) {
        const int8_t *in_b = input + b * in_h * row;
        for (oy = 0; oy < out_h; oy++) {
            const int32_t iy0 = oy * sh - pt;
            int8_t *out = output + (b * out_h + oy) * out_w * out_c;
            const int down_row = down && oy >= rlo && oy < rhi; /* its border pixels: lines = columns */
            const int8_t *rows[EDGEC_DW_DSP_MAX_TAPS];
#if defined(EDGEC_DWL_ASM)
            if (oy == top && bottom > top) {
                const int32_t args[5] = {dh * in_c, p->kernel_h, bottom - top, sh * in_c - ch->bytes,
                                         out_c - ch->bytes};
                edgec_dwl_col(in_b + (top * sh - pt) * in_c, ch->layout, out, args);
                oy = bottom - 1;
                continue;
            }
#endif
            for (k = 0; k < p->kernel_h; k++) {
                const int32_t iy = iy0 + k * dh;
                rows[k] = iy >= 0 && iy < in_h ? in_b + iy * row : NULL;
            }
#if defined(EDGEC_DWL_ASM)
            if (runs_across && down && oy == rlo && rhi > rlo && lo + out_w - hi <= EDGEC_DWL_SIDES) {
                edgec_dwl_rows_inside(p, ch, &geometry, in_b, zp, output + b * out_h * out_w * out_c);
                oy = rhi - 1;
                continue;
            }
#endif
            for (ox = 0; ox < out_w; ox++) {
                const int32_t ix0 = ox * sw - pl;
                const int8_t *line[3];
                if (runs_across && ox == lo) {
                    for (k = 0; k < 3; k++) {
                        line[k] = rows[k] != NULL ? rows[k] + ix0 * in_c : NULL;
                    }
                    edgec_dwl_run(p, ch, 0, line, dw * in_c, sw * in_c, out_c, zp, out + lo * out_c, hi - lo);
                    ox = hi - 1;
                } else if (down_row) {
                    for (k = 0; k < 3; k++) {
                        const int32_t ix = ix0 + k * dw;
                        line[k] = ix >= 0 && ix < in_w ? rows[0] + ix * in_c : NULL;
                    }
                    edgec_dwl_run(p, ch, 1, line, dh * row, 0, out_c, zp, out + ox * out_c, 1);
                } else {
                    edgec_dwl_pixel(p, ch, rows, ix0, zp, out + ox * out_c);
                }
            }
        }
    }
}

#if defined(EDGEC_DSP)
void edgec_dwconv2d_layout_s8(const edgec_dwconv_params *p, const int8_t *input, int8_t *output)
{
    const edgec_dwl_chunk ch = {p->dsp, p->out_c};
    edgec_dwl_layer(p, &ch, input, output);
}
#endif

void edgec_dwconv2d_chunk_s8(const edgec_dwconv_params *p, const int32_t *layout, int32_t c0, int32_t groups,
                             const int8_t *input, int8_t *output)
{
    const edgec_dwl_chunk ch = {layout, 4 * groups};
    edgec_dwl_layer(p, &ch, input + c0, output + c0);
}

/* Every output pixel without the layout. Apart from the layout's path: their stack frames add up
 * when inlined into one. */
#if defined(__GNUC__)
__attribute__((noinline))
#endif
static void edgec_dwconv2d_any(const edgec_dwconv_params *p, const int8_t *input, int8_t *output)
{
    const int32_t dm = p->depth_multiplier;
    int32_t acc[EDGEC_DW_BLOCK];
#if defined(EDGEC_DSP)
    const int dsp = dm == 1 && p->out_c <= EDGEC_DW_DSP_MAX_C && p->kernel_h * p->kernel_w <= EDGEC_DW_DSP_MAX_TAPS;
    int32_t sums[EDGEC_DW_DSP_MAX_C];
    int8_t zp_row[EDGEC_DW_DSP_MAX_C];
    memset(zp_row, (int)(int8_t)p->input_zp, sizeof(zp_row));
#endif
    int32_t b, oy, ox, c0, ky, kx, j;

    for (b = 0; b < p->batches; b++) {
        const int8_t *in_b = input + b * p->in_h * p->in_w * p->in_c;
        for (oy = 0; oy < p->out_h; oy++) {
            const int32_t iy0 = oy * p->stride_h - p->pad_top;
            for (ox = 0; ox < p->out_w; ox++) {
                const int32_t ix0 = ox * p->stride_w - p->pad_left;
                int8_t *out = output + ((b * p->out_h + oy) * p->out_w + ox) * p->out_c;
#if defined(EDGEC_DSP)
                if (dsp) {
                    edgec_dwconv_pixel_dsp(p, in_b, iy0, ix0, zp_row, sums, out);
                    continue;
                }
#endif
#if defined(EDGEC_V6M)
                if (dm == 1 && iy0 >= 0 && iy0 + (p->kernel_h - 1) * p->dilation_h < p->in_h && ix0 >= 0 &&
                    ix0 + (p->kernel_w - 1) * p->dilation_w < p->in_w) {
                    edgec_dwconv_pixel_inside(p, in_b + (iy0 * p->in_w + ix0) * p->in_c, out);
                    continue;
                }
#endif
                for (c0 = 0; c0 < p->out_c; c0 += EDGEC_DW_BLOCK) {
                    const int32_t n = edgec_min(EDGEC_DW_BLOCK, p->out_c - c0);
                    const int full_block = n == EDGEC_DW_BLOCK && dm == 1;
                    for (j = 0; j < n; j++) {
                        acc[j] = p->bias[c0 + j];
                    }
                    for (ky = 0; ky < p->kernel_h; ky++) {
                        const int32_t iy = iy0 + ky * p->dilation_h;
                        for (kx = 0; kx < p->kernel_w; kx++) {
                            const int32_t ix = ix0 + kx * p->dilation_w;
                            const int8_t *w = p->weights + (ky * p->kernel_w + kx) * p->out_c + c0;
                            if (iy >= 0 && iy < p->in_h && ix >= 0 && ix < p->in_w) {
                                const int8_t *src = in_b + (iy * p->in_w + ix) * p->in_c;
                                if (full_block) {
                                    src += c0;
                                    for (j = 0; j < EDGEC_DW_BLOCK; j++) {
                                        acc[j] += (int32_t)w[j] * (int32_t)src[j];
                                    }
                                } else {
                                    for (j = 0; j < n; j++) {
                                        acc[j] += (int32_t)w[j] * (int32_t)src[(c0 + j) / dm];
                                    }
                                }
                            } else {
                                for (j = 0; j < n; j++) {
                                    acc[j] += (int32_t)w[j] * p->input_zp;
                                }
                            }
                        }
                    }
                    for (j = 0; j < n; j++) {
                        const int32_t c = c0 + j;
                        out[c] = edgec_requantize(p->narrow, acc[j], p->multiplier[c], p->shift[c], p->output_zp,
                                                  p->act_min, p->act_max);
                    }
                }
            }
        }
    }
}

void edgec_dwconv2d_s8(const edgec_dwconv_params *p, const int8_t *input, int8_t *output)
{
#if defined(EDGEC_DSP)
    if (p->dsp != NULL) {
        edgec_dwconv2d_layout_s8(p, input, output);
        return;
    }
#endif
    edgec_dwconv2d_any(p, input, output);
}
