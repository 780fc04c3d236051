/* edgec C engine: depthwise column layers by pairs of taps (the layout of dwpairs.py).
 *
 * Output o of channel c is bias + sum over taps t of w[t] x[o + t d] (d the dilation). Taps 2i and
 * 2i + 1 read rows r = o + 2 i d and r + d: with the int16 pair P[r] = (x[r], x[r + d]) of the
 * channel, one SMLAD of P[r] with (w[2i], w[2i + 1]) adds both. The outputs of a channel run by
 * phase ph = o mod 2d: output ph + 2 d q reads P at rows ph + 2 d (q + i), so the kernel builds, per
 * channel and phase, the strip of pairs P[ph + 2 d j] one after the other, and an output reads its
 * pairs as consecutive words (two at a time, LDRD). Rows past the input only meet zero weights (the
 * pairs past the last tap): they read the last row. Per output 4 instructions a block of two pairs
 * plus 10 (rescale as in edgec_dwconv.c's layout, store, loop).
 */
#include "edgec_dwpair.h"

#if defined(EDGEC_DSP)

/* Words of pairs built per call of the run kernel (on the stack). */
#define EDGEC_DWP_STRIP 128

#if defined(__ARM_FEATURE_DSP) && defined(__GNUC__) && !defined(EDGEC_NO_DSP) && defined(__thumb2__) && \
    !defined(EDGEC_NO_ASM)
#define EDGEC_DWP_ASM 1
/* `args[0]` (>= 1) outputs of one channel, args[1] bytes apart from `out`: output q reads the pairs
 * strip[q..q + 2B - 1] and the channel's words chan = {2 bias, m, k, e, 2B weight pairs}, B blocks
 * of two pairs (the function's digit). r0 the strip, r1 the weights, r2 the output, r3 its step,
 * r4-r7 bias, m, k, e, r8-r11 two weight pairs and two input pairs, r12 the sum; the end on the stack. */
void edgec_dwp_run1(const int32_t *strip, const int32_t *chan, int8_t *out, const int32_t *args);
void edgec_dwp_run2(const int32_t *strip, const int32_t *chan, int8_t *out, const int32_t *args);
void edgec_dwp_run3(const int32_t *strip, const int32_t *chan, int8_t *out, const int32_t *args);
void edgec_dwp_run4(const int32_t *strip, const int32_t *chan, int8_t *out, const int32_t *args);

#define EDGEC_DWP_BLOCK(OFF)                                                                             \
    "ldrd r8, r9, [r1, #" OFF "]\n\t"                                                                    \
    "ldrd r10, r11, [r0, #" OFF "]\n\t"                                                                  \
    "smlad r12, r10, r8, r12\n\t"                                                                        \
    "smlad r12, r11, r9, r12\n\t"
#define EDGEC_DWP_RUN(NAME, BLOCKS)                                                                      \
    __asm__(".text\n\t"                                                                                  \
            ".syntax unified\n\t"                                                                        \
            ".thumb\n\t"                                                                                 \
            ".p2align 2\n\t"                                                                             \
            ".global " NAME "\n\t"                                                                       \
            ".hidden " NAME "\n\t"                                                                       \
            ".thumb_func\n\t"                                                                            \
            ".type " NAME ", %function\n" NAME ":\n\t"                                                   \
            "push {r4-r11, lr}\n\t"                                                                      \
            "sub sp, sp, #8\n\t"                                                                         \
            "ldm r3, {r12, lr}\n\t"                                                                      \
            "mov r3, lr\n\t"                                                                             \
            "mla lr, r12, r3, r2\n\t"                                                                    \
            "str lr, [sp]\n\t"                                                                           \
            "ldm r1!, {r4-r7}\n"                                                                         \
            "1:\n\t"                                                                                     \
            "ldrd r8, r9, [r1]\n\t"                                                                      \
            "ldrd r10, r11, [r0]\n\t"                                                                    \
            "smlad r12, r10, r8, r4\n\t"                                                                 \
            "smlad r12, r11, r9, r12\n\t"                                                                \
            BLOCKS                                                                                       \
            "add lr, r6, r12, asr #31\n\t"                                                               \
            "smmlar r12, r12, r5, lr\n\t"                                                                \
            "asr r12, r12, r7\n\t"                                                                       \
            "ssat r12, #8, r12\n\t"                                                                      \
            "strb r12, [r2]\n\t"                                                                         \
            "add r2, r2, r3\n\t"                                                                         \
            "add r0, r0, #4\n\t"                                                                         \
            "ldr lr, [sp]\n\t"                                                                           \
            "cmp r2, lr\n\t"                                                                             \
            "bne 1b\n\t"                                                                                 \
            "add sp, sp, #8\n\t"                                                                         \
            "pop {r4-r11, pc}\n\t"                                                                       \
            ".size " NAME ", .-" NAME "\n\t")
EDGEC_DWP_RUN("edgec_dwp_run1", "");
EDGEC_DWP_RUN("edgec_dwp_run2", EDGEC_DWP_BLOCK("8"));
EDGEC_DWP_RUN("edgec_dwp_run3", EDGEC_DWP_BLOCK("8") EDGEC_DWP_BLOCK("16"));
EDGEC_DWP_RUN("edgec_dwp_run4", EDGEC_DWP_BLOCK("8") EDGEC_DWP_BLOCK("16") EDGEC_DWP_BLOCK("24"));
#endif

/* The run kernel: count outputs of one channel from its strip of pairs (n_pairs a channel). */
static void edgec_dwp_run(const int32_t *strip, const int32_t *chan, int8_t *out, int32_t count, int32_t step,
                          int32_t n_pairs)
{
#if defined(EDGEC_DWP_ASM)
    const int32_t args[2] = {count, step};
    switch (n_pairs) {
    case 2:
        edgec_dwp_run1(strip, chan, out, args);
        break;
    case 4:
        edgec_dwp_run2(strip, chan, out, args);
        break;
    case 6:
        edgec_dwp_run3(strip, chan, out, args);
        break;
    default:
        edgec_dwp_run4(strip, chan, out, args);
        break;
    }
#else
    int32_t q, i;
    for (q = 0; q < count; q++, out += step) {
        int32_t s = chan[0], y;
        for (i = 0; i < n_pairs; i++) {
            s = edgec_smlad(strip[q + i], chan[4 + i], s);
        }
        y = (int32_t)(((int64_t)s * chan[1] + ((int64_t)1 << 31)) >> 32); /* SMMULR */
        *out = (int8_t)edgec_ssat8((chan[2] - (s < 0 ? 1 : 0) + y) >> (chan[3] & 255));
    }
#endif
}

/* strip[j] = the pair (x[r], x[r + d]) of rows r = r0 + j * 2d, j < n, from x (the channel's byte
 * of row 0, rows `row` bytes apart), a row past last read as row last. */
static void edgec_dwp_strip(int32_t *strip, const int8_t *x, int32_t row, int32_t r0, int32_t d, int32_t n,
                            int32_t last)
{
    const int32_t step = 2 * d * row, dr = d * row;
    /* j < fast: rows r and r + d inside */
    const int32_t fast = r0 + d <= last ? edgec_min((last - d - r0) / (2 * d) + 1, n) : 0;
    const int8_t *src = x + r0 * row;
    int32_t j;
    for (j = 0; j < fast; j++, src += step) {
        strip[j] = (int32_t)(((uint32_t)(int32_t)src[0] & 0xFFFFu) | ((uint32_t)(int32_t)src[dr] << 16));
    }
    for (; j < n; j++) {
        const int32_t r = r0 + j * 2 * d;
        const int32_t lo = (int32_t)x[edgec_min(r, last) * row], hi = (int32_t)x[edgec_min(r + d, last) * row];
        strip[j] = (int32_t)(((uint32_t)lo & 0xFFFFu) | ((uint32_t)hi << 16));
    }
}

void edgec_dwpair_s8(const edgec_dwconv_params *p, const int8_t *input, int8_t *output)
{
    const int32_t channels = p->in_c, in_h = p->in_h, out_h = p->out_h, d = p->dilation_h;
    const int32_t n_pairs = 2 * ((p->kernel_h + 3) / 4), per = 4 + n_pairs, span = 2 * d;
    const int32_t chunk = EDGEC_DWP_STRIP - n_pairs + 1;
    int32_t strip[EDGEC_DWP_STRIP];
    int32_t b, c, ph, q0;
    for (b = 0; b < p->batches; b++) {
        const int8_t *in_b = input + b * in_h * channels;
        int8_t *out_b = output + b * out_h * channels;
        for (c = 0; c < channels; c++) {
            const int32_t *chan = p->dsp + c * per;
            for (ph = 0; ph < span && ph < out_h; ph++) {
                const int32_t outs = (out_h - ph + span - 1) / span;
                for (q0 = 0; q0 < outs; q0 += chunk) {
                    const int32_t n = edgec_min(chunk, outs - q0), r0 = ph + q0 * span;
                    edgec_dwp_strip(strip, in_b + c, channels, r0, d, n + n_pairs - 1, in_h - 1);
                    edgec_dwp_run(strip, chan, out_b + r0 * channels + c, n, span * channels, n_pairs);
                }
            }
        }
    }
}
#endif
