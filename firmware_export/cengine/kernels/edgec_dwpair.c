/* edgec C engine: depthwise column layers by pairs of taps (the layout of dwpairs.py).
 *
 * Output o of channel c is bias + sum over taps t of w[t] x[o + t d] (d the dilation). Taps 2i and
 * 2i + 1 read rows r = o + 2 i d and r + d: with the int16 pair P[r] = (x[r], x[r + d]) of the
 * channel, one SMLAD of P[r] with (w[2i], w[2i + 1]) adds both. Per group of four channels, the
 * pairs of every input row are built once onto the stack (edgec_dwq_build: per row 2 loads, PKHBT,
 * PKHTB, 4 SXTB16 and one STM), then each output of the group runs its ceil(T / 2) pairs of taps
 * (edgec_dwq_run: per pair one LDM of the 4 channels' input pairs, 2 LDRD of weights, 4 SMLAD and
 * one ADD, 8 instructions for 8 MACs) and the rescale of edgec_dwconv.c's layout. An odd last tap
 * pairs its row with a zero weight; the last d rows, whose partner lies past the input, pair with
 * themselves. A group's input is read whole before its outputs are written (the op may run in place).
 * With few outputs (a pair would serve one), each output builds its pairs in registers instead
 * (edgec_dwd_run<T>, entry edgec_dwpair_t<T>_s8: 15 instructions a pair of taps, every group in one
 * call); dwpairs.py chooses. The C twin (no assembly) builds the pairs on the stack for both.
 */
#include "edgec_dwpair.h"

#if defined(EDGEC_DSP)

/* Input rows whose pairs a group keeps on the stack (dwpairs.MAX_ROWS). */
#define EDGEC_DWQ_ROWS 96

#if defined(__ARM_FEATURE_DSP) && defined(__GNUC__) && !defined(EDGEC_NO_DSP) && defined(__thumb2__) && \
    !defined(EDGEC_NO_ASM)
#define EDGEC_DWQ_ASM 1
/* The pairs of a group's rows: x its first input word, args = {row bytes, d rows' bytes, rows with a
 * partner (>= 1), rows paired with themselves}; 4 words a row in buf (channels c..c+3). */
void edgec_dwq_build(const int8_t *x, int32_t *buf, const int32_t *args);
/* Every output of a group (the digit: its pairs of taps): buf the pairs, chan the group's layout,
 * out its first output byte, args = {2d rows of pairs' bytes, the pairs' span less a row, out_c - 4,
 * the end of the output}. r0-r3 the sums, r4 the pairs, r5 their step, r6 the layout, r7 the output,
 * r8-r11 4 channels' pairs, r12 and lr two weight pairs; on the stack the layout, the span, the
 * output's step and its end. */
void edgec_dwq_run3(const int32_t *buf, const int32_t *chan, int8_t *out, const int32_t *args);
void edgec_dwq_run4(const int32_t *buf, const int32_t *chan, int8_t *out, const int32_t *args);
void edgec_dwq_run5(const int32_t *buf, const int32_t *chan, int8_t *out, const int32_t *args);
void edgec_dwq_run6(const int32_t *buf, const int32_t *chan, int8_t *out, const int32_t *args);
void edgec_dwq_run7(const int32_t *buf, const int32_t *chan, int8_t *out, const int32_t *args);
void edgec_dwq_run8(const int32_t *buf, const int32_t *chan, int8_t *out, const int32_t *args);

/* A row's four pairs from r5 (row r) and r4 (row r + d) into buf (r1). */
#define EDGEC_DWQ_PAIRS(PARTNER)                                                                         \
    "pkhbt r8, r5, " PARTNER ", lsl #16\n\t"                                                             \
    "pkhtb r10, " PARTNER ", r5, asr #16\n\t"                                                            \
    "sxtb16 r9, r8, ror #8\n\t"                                                                          \
    "sxtb16 r8, r8\n\t"                                                                                  \
    "sxtb16 r11, r10, ror #8\n\t"                                                                        \
    "sxtb16 r10, r10\n\t"                                                                                \
    "stm r1!, {r8-r11}\n\t"
__asm__(EDGEC_DWL_FUNC("edgec_dwq_build")
        "push {r4-r11, lr}\n\t"
        "ldm r2, {r2, r3, r12, lr}\n"
        "1:\n\t"
        "ldr r5, [r0]\n\t"
        "ldr r4, [r0, r3]\n\t"
        "add r0, r0, r2\n\t"
        EDGEC_DWQ_PAIRS("r4")
        "subs r12, r12, #1\n\t"
        "bne 1b\n\t"
        "cmp lr, #0\n\t"
        "beq 3f\n"
        "2:\n\t"
        "ldr r5, [r0]\n\t"
        "add r0, r0, r2\n\t"
        EDGEC_DWQ_PAIRS("r5")
        "subs lr, lr, #1\n\t"
        "bne 2b\n"
        "3:\n\t"
        "pop {r4-r11, pc}\n\t"
        ".size edgec_dwq_build, .-edgec_dwq_build\n\t");

/* One pair of taps of the group's four channels. */
#define EDGEC_DWQ_PAIR                                                                                   \
    "ldm r4, {r8-r11}\n\t"                                                                               \
    "add r4, r4, r5\n\t"                                                                                 \
    "ldrd r12, lr, [r6], #8\n\t"                                                                         \
    "smlad r0, r8, r12, r0\n\t"                                                                          \
    "smlad r1, r9, lr, r1\n\t"                                                                           \
    "ldrd r12, lr, [r6], #8\n\t"                                                                         \
    "smlad r2, r10, r12, r2\n\t"                                                                         \
    "smlad r3, r11, lr, r3\n\t"
#define EDGEC_DWQ_RUN(NAME, PAIRS)                                                                       \
    __asm__(EDGEC_DWL_FUNC(NAME)                                                                         \
            "push {r4-r11, lr}\n\t"                                                                      \
            "sub sp, sp, #16\n\t"                                                                        \
            "mov r4, r0\n\t"                                                                             \
            "mov r6, r1\n\t"                                                                             \
            "mov r7, r2\n\t"                                                                             \
            "ldm r3, {r5, r8-r10}\n\t"                                                                   \
            "stm sp, {r1, r8-r10}\n"                                                                     \
            "1:\n\t"                                                                                     \
            "ldm r6!, {r0-r3}\n\t"                                                                       \
            PAIRS                                                                                        \
            EDGEC_DWL_RESCALE("r0") EDGEC_DWL_RESCALE("r1") EDGEC_DWL_RESCALE("r2") EDGEC_DWL_RESCALE("r3") \
            "ldm sp, {r6, r8-r10}\n\t"                                                                   \
            "sub r4, r4, r8\n\t"                                                                         \
            "add r7, r7, r9\n\t"                                                                         \
            "cmp r7, r10\n\t"                                                                            \
            "bne 1b\n\t"                                                                                 \
            "add sp, sp, #16\n\t"                                                                        \
            "pop {r4-r11, pc}\n\t"                                                                       \
            ".size " NAME ", .-" NAME "\n\t")
#define EDGEC_DWQ_P3 EDGEC_DWQ_PAIR EDGEC_DWQ_PAIR EDGEC_DWQ_PAIR
EDGEC_DWQ_RUN("edgec_dwq_run3", EDGEC_DWQ_P3);
EDGEC_DWQ_RUN("edgec_dwq_run4", EDGEC_DWQ_P3 EDGEC_DWQ_PAIR);
EDGEC_DWQ_RUN("edgec_dwq_run5", EDGEC_DWQ_P3 EDGEC_DWQ_PAIR EDGEC_DWQ_PAIR);
EDGEC_DWQ_RUN("edgec_dwq_run6", EDGEC_DWQ_P3 EDGEC_DWQ_P3);
EDGEC_DWQ_RUN("edgec_dwq_run7", EDGEC_DWQ_P3 EDGEC_DWQ_P3 EDGEC_DWQ_PAIR);
EDGEC_DWQ_RUN("edgec_dwq_run8", EDGEC_DWQ_P3 EDGEC_DWQ_P3 EDGEC_DWQ_PAIR EDGEC_DWQ_PAIR);

/* Every group's outputs with the pairs built in registers (few outputs: the pairs would be built for
 * one use): as edgec_dwq_run, r4 the output's first input row, r5 d rows' bytes, args = {d rows'
 * bytes, the rows' span less a row, out_c - 4, the end of the first group's output, out_h * out_c,
 * the groups, the layout's bytes a group}. A pair of taps costs 15
 * instructions for 8 MACs, an odd last tap (its row paired with itself, a zero weight above) 13. */
void edgec_dwd_run3(const int32_t *x, const int32_t *chan, int8_t *out, const int32_t *args);
void edgec_dwd_run4(const int32_t *x, const int32_t *chan, int8_t *out, const int32_t *args);
void edgec_dwd_run5(const int32_t *x, const int32_t *chan, int8_t *out, const int32_t *args);
void edgec_dwd_run6(const int32_t *x, const int32_t *chan, int8_t *out, const int32_t *args);
void edgec_dwd_run7(const int32_t *x, const int32_t *chan, int8_t *out, const int32_t *args);
void edgec_dwd_run8(const int32_t *x, const int32_t *chan, int8_t *out, const int32_t *args);
void edgec_dwd_run9(const int32_t *x, const int32_t *chan, int8_t *out, const int32_t *args);
void edgec_dwd_run10(const int32_t *x, const int32_t *chan, int8_t *out, const int32_t *args);
void edgec_dwd_run11(const int32_t *x, const int32_t *chan, int8_t *out, const int32_t *args);
void edgec_dwd_run12(const int32_t *x, const int32_t *chan, int8_t *out, const int32_t *args);
void edgec_dwd_run13(const int32_t *x, const int32_t *chan, int8_t *out, const int32_t *args);
void edgec_dwd_run14(const int32_t *x, const int32_t *chan, int8_t *out, const int32_t *args);
void edgec_dwd_run15(const int32_t *x, const int32_t *chan, int8_t *out, const int32_t *args);
void edgec_dwd_run16(const int32_t *x, const int32_t *chan, int8_t *out, const int32_t *args);
/* The weights of a pair of taps times the four channels' pairs in r8-r11. */
#define EDGEC_DWD_MACS                                                                                   \
    "ldrd r12, lr, [r6], #8\n\t"                                                                         \
    "smlad r0, r8, r12, r0\n\t"                                                                          \
    "smlad r1, r9, lr, r1\n\t"                                                                           \
    "ldrd r12, lr, [r6], #8\n\t"                                                                         \
    "smlad r2, r10, r12, r2\n\t"                                                                         \
    "smlad r3, r11, lr, r3\n\t"
/* Rows r (r8) and r + d (r10) into the four channels' pairs. */
#define EDGEC_DWD_SPLIT(PARTNER)                                                                         \
    "pkhbt r9, r8, " PARTNER ", lsl #16\n\t"                                                             \
    "pkhtb r11, " PARTNER ", r8, asr #16\n\t"                                                            \
    "sxtb16 r8, r9\n\t"                                                                                  \
    "sxtb16 r9, r9, ror #8\n\t"                                                                          \
    "sxtb16 r10, r11\n\t"                                                                                \
    "sxtb16 r11, r11, ror #8\n\t"
#define EDGEC_DWD_PAIR                                                                                   \
    "ldr r10, [r4, r5]\n\t"                                                                              \
    "ldr r8, [r4]\n\t"                                                                                   \
    "add r4, r4, r5, lsl #1\n\t" EDGEC_DWD_SPLIT("r10") EDGEC_DWD_MACS
#define EDGEC_DWD_ODD "ldr r8, [r4]\n\t" EDGEC_DWD_SPLIT("r8") EDGEC_DWD_MACS
/* Every group in one call: the stack holds the group's layout, the rows' span less a row, out_c - 4,
 * the end of the group's output, out_h * out_c, the groups left, the group's first input word, the
 * layout's bytes a group. */
#define EDGEC_DWD_RUN(NAME, PAIRS)                                                                       \
    __asm__(EDGEC_DWL_FUNC(NAME)                                                                         \
            "push {r4-r11, lr}\n\t"                                                                      \
            "sub sp, sp, #32\n\t"                                                                        \
            "mov r4, r0\n\t"                                                                             \
            "mov r6, r1\n\t"                                                                             \
            "mov r7, r2\n\t"                                                                             \
            "ldm r3, {r5, r8-r12}\n\t"                                                                   \
            "stm sp, {r1, r8-r12}\n\t"                                                                   \
            "ldr r8, [r3, #24]\n\t"                                                                      \
            "str r0, [sp, #24]\n\t"                                                                      \
            "str r8, [sp, #28]\n"                                                                         \
            "1:\n\t"                                                                                     \
            "ldm r6!, {r0-r3}\n\t"                                                                       \
            PAIRS                                                                                        \
            EDGEC_DWL_RESCALE("r0") EDGEC_DWL_RESCALE("r1") EDGEC_DWL_RESCALE("r2") EDGEC_DWL_RESCALE("r3") \
            "ldm sp, {r6, r8-r10}\n\t"                                                                   \
            "sub r4, r4, r8\n\t"                                                                         \
            "add r7, r7, r9\n\t"                                                                         \
            "cmp r7, r10\n\t"                                                                            \
            "bne 1b\n\t"                                                                                 \
            "ldr r12, [sp, #20]\n\t"                                                                     \
            "subs r12, r12, #1\n\t"                                                                      \
            "beq 2f\n\t"                                                                                 \
            "str r12, [sp, #20]\n\t"                                                                     \
            "ldr r8, [sp, #28]\n\t"                                                                      \
            "add r6, r6, r8\n\t"                                                                         \
            "str r6, [sp]\n\t"                                                                           \
            "ldr r4, [sp, #24]\n\t"                                                                      \
            "add r4, r4, #4\n\t"                                                                         \
            "str r4, [sp, #24]\n\t"                                                                      \
            "add r10, r10, #4\n\t"                                                                       \
            "str r10, [sp, #12]\n\t"                                                                     \
            "ldr r11, [sp, #16]\n\t"                                                                     \
            "sub r7, r10, r11\n\t"                                                                       \
            "b 1b\n"                                                                                      \
            "2:\n\t"                                                                                     \
            "add sp, sp, #32\n\t"                                                                        \
            "pop {r4-r11, pc}\n\t"                                                                       \
            ".size " NAME ", .-" NAME "\n\t")
#define EDGEC_DWD_P2 EDGEC_DWD_PAIR EDGEC_DWD_PAIR
#define EDGEC_DWD_P4 EDGEC_DWD_P2 EDGEC_DWD_P2
EDGEC_DWD_RUN("edgec_dwd_run3", EDGEC_DWD_PAIR EDGEC_DWD_ODD);
EDGEC_DWD_RUN("edgec_dwd_run4", EDGEC_DWD_P2);
EDGEC_DWD_RUN("edgec_dwd_run5", EDGEC_DWD_P2 EDGEC_DWD_ODD);
EDGEC_DWD_RUN("edgec_dwd_run6", EDGEC_DWD_P2 EDGEC_DWD_PAIR);
EDGEC_DWD_RUN("edgec_dwd_run7", EDGEC_DWD_P2 EDGEC_DWD_PAIR EDGEC_DWD_ODD);
EDGEC_DWD_RUN("edgec_dwd_run8", EDGEC_DWD_P4);
EDGEC_DWD_RUN("edgec_dwd_run9", EDGEC_DWD_P4 EDGEC_DWD_ODD);
EDGEC_DWD_RUN("edgec_dwd_run10", EDGEC_DWD_P4 EDGEC_DWD_PAIR);
EDGEC_DWD_RUN("edgec_dwd_run11", EDGEC_DWD_P4 EDGEC_DWD_PAIR EDGEC_DWD_ODD);
EDGEC_DWD_RUN("edgec_dwd_run12", EDGEC_DWD_P4 EDGEC_DWD_P2);
EDGEC_DWD_RUN("edgec_dwd_run13", EDGEC_DWD_P4 EDGEC_DWD_P2 EDGEC_DWD_ODD);
EDGEC_DWD_RUN("edgec_dwd_run14", EDGEC_DWD_P4 EDGEC_DWD_P2 EDGEC_DWD_PAIR);
EDGEC_DWD_RUN("edgec_dwd_run15", EDGEC_DWD_P4 EDGEC_DWD_P2 EDGEC_DWD_PAIR EDGEC_DWD_ODD);
EDGEC_DWD_RUN("edgec_dwd_run16", EDGEC_DWD_P4 EDGEC_DWD_P4);
#else
/* The assembly in C. */
static void edgec_dwq_build(const int8_t *x, int32_t *buf, const int32_t *args)
{
    const int32_t row = args[0], dr = args[1], full = args[2], tail = args[3];
    int32_t r, j;
    for (r = 0; r < full + tail; r++, x += row, buf += 4) {
        for (j = 0; j < 4; j++) {
            const int32_t lo = x[j], hi = x[(r < full ? dr : 0) + j];
            buf[j] = (int32_t)(((uint32_t)lo & 0xFFFFu) | ((uint32_t)hi << 16));
        }
    }
}

/* outputs outputs out_step bytes apart, pairs of taps step words apart in buf. */
static void edgec_dwq_run(const int32_t *buf, const int32_t *chan, int8_t *out, int32_t outputs, int32_t out_step,
                          int32_t step, int32_t n_pairs)
{
    int32_t i, j, o;
    for (o = 0; o < outputs; o++, out += out_step, buf += 4) {
        for (j = 0; j < 4; j++) {
            const int32_t *r = chan + 4 + 4 * n_pairs + 3 * j;
            int32_t s = chan[j], y;
            for (i = 0; i < n_pairs; i++) {
                s = edgec_smlad(buf[i * step + j], chan[4 + 4 * i + j], s);
            }
            y = (int32_t)(((int64_t)s * r[0] + ((int64_t)1 << 31)) >> 32); /* SMMULR */
            out[j] = (int8_t)edgec_ssat8((r[1] - (s < 0 ? 1 : 0) + y) >> (r[2] & 255));
        }
    }
}
#endif

/* A group's outputs from its pairs of taps built in registers (asm builds), or NULL: from the stack. */
typedef void (*edgec_dwd_fn)(const int32_t *, const int32_t *, int8_t *, const int32_t *);

/* Groups g0 .. g0 + groups - 1 of the layer, dsp their layout (from group g0 on). */
static void edgec_dwpair_run(const edgec_dwconv_params *p, const int32_t *dsp, int32_t g0, int32_t groups,
                             const int8_t *input, int8_t *output, edgec_dwd_fn direct)
{
    const int32_t channels = p->in_c, in_h = p->in_h, out_h = p->out_h, d = p->dilation_h;
    const int32_t n_pairs = (p->kernel_h + 1) / 2, per = 16 + 4 * n_pairs;
    const int32_t build[4] = {channels, d * channels, in_h - d, p->kernel_h % 2 ? d : 0};
    int32_t buf[EDGEC_DWQ_ROWS * 4];
    int32_t b, g;
    for (b = 0; b < p->batches; b++) {
        const int8_t *in_b = input + b * in_h * channels + 4 * g0;
        int8_t *out_b = output + b * out_h * channels + 4 * g0;
        for (g = 0; g < groups; g++) {
            int8_t *out = out_b + 4 * g;
            const int32_t *chan = dsp + g * per;
#if defined(EDGEC_DWQ_ASM)
            const int32_t args[4] = {32 * d, 32 * d * n_pairs - 16, channels - 4,
                                     (int32_t)(uintptr_t)(out + out_h * channels)};
            if (direct != NULL) { /* every group in one call */
                const int32_t at[7] = {d * channels, 2 * d * channels * (p->kernel_h / 2) - channels, channels - 4,
                                       args[3], out_h * channels, groups, 4 * per};
                direct((const int32_t *)(const void *)in_b, chan, out, at);
                break;
            }
#else
            (void)direct; /* the same sums, from the pairs built */
#endif
            edgec_dwq_build(in_b + 4 * g, buf, build);
#if defined(EDGEC_DWQ_ASM)
            switch (n_pairs) {
            case 3:
                edgec_dwq_run3(buf, chan, out, args);
                break;
            case 4:
                edgec_dwq_run4(buf, chan, out, args);
                break;
            case 5:
                edgec_dwq_run5(buf, chan, out, args);
                break;
            case 6:
                edgec_dwq_run6(buf, chan, out, args);
                break;
            case 7:
                edgec_dwq_run7(buf, chan, out, args);
                break;
            default:
                edgec_dwq_run8(buf, chan, out, args);
                break;
            }
#else
            edgec_dwq_run(buf, chan, out, out_h, channels, 8 * d, n_pairs);
#endif
        }
    }
}

void edgec_dwpair_s8(const edgec_dwconv_params *p, const int8_t *input, int8_t *output)
{
    edgec_dwpair_run(p, p->dsp, 0, p->in_c / 4, input, output, NULL);
}

void edgec_dwpair_groups_s8(const edgec_dwconv_params *p, const int32_t *dsp, int32_t g0, int32_t groups,
                            const int8_t *input, int8_t *output)
{
    edgec_dwpair_run(p, dsp, g0, groups, input, output, NULL);
}

/* The entries of the pairs built in registers, one per kernel height (each links its own assembly). */
#if defined(EDGEC_DWQ_ASM)
#define EDGEC_DWD_FN(T) edgec_dwd_run##T
#else
#define EDGEC_DWD_FN(T) NULL
#endif
#define EDGEC_DWD_ENTRY(T)                                                                               \
    void edgec_dwpair_t##T##_s8(const edgec_dwconv_params *p, const int8_t *input, int8_t *output)       \
    {                                                                                                    \
        edgec_dwpair_run(p, p->dsp, 0, p->in_c / 4, input, output, EDGEC_DWD_FN(T));                     \
    }                                                                                                    \
    void edgec_dwpair_groups_t##T##_s8(const edgec_dwconv_params *p, const int32_t *dsp, int32_t g0,     \
                                       int32_t groups, const int8_t *input, int8_t *output)              \
    {                                                                                                    \
        edgec_dwpair_run(p, dsp, g0, groups, input, output, EDGEC_DWD_FN(T));                            \
    }
EDGEC_DWD_ENTRY(3)
EDGEC_DWD_ENTRY(4)
EDGEC_DWD_ENTRY(5)
EDGEC_DWD_ENTRY(6)
EDGEC_DWD_ENTRY(7)
EDGEC_DWD_ENTRY(8)
EDGEC_DWD_ENTRY(9)
EDGEC_DWD_ENTRY(10)
EDGEC_DWD_ENTRY(11)
EDGEC_DWD_ENTRY(12)
EDGEC_DWD_ENTRY(13)
EDGEC_DWD_ENTRY(14)
EDGEC_DWD_ENTRY(15)
EDGEC_DWD_ENTRY(16)
#endif
