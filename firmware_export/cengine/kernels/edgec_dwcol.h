/* edgec C engine: depthwise column layers one channel at a time (DSP builds; dwcols.py).
 *
 * A column layer (kernel and input 1 wide, stride 1, dilation 1, valid padding, dm 1) of T = 3 or 5
 * taps over N outputs and C channels. Its layout (dwcols.py) lists the channels by their rescale's
 * shift e; per channel 7 words: the channel's byte offset c, its doubled weights (T = 3: one a word;
 * T = 5: the int16 pairs (w0, w1), (w2, w3), (w4, 0)), its doubled bias, and the rescale (m, k) of
 * dwlayout.py. The generated engine instantiates, per layer and per value of e among its channels,
 * one function NAME(input, output, first record, end of the records) with EDGEC_DWCOL3 or
 * EDGEC_DWCOL5(NAME, C, E, N): C, e and N are immediates of its assembly (Thumb-2 DSP builds), so
 * that an output costs one LDRSB of the new input row (the window of the last T - 1 rows slides in
 * registers), T multiplies, and the rescale of dwlayout.py in 4 instructions (ADD, SMMLAR, SSAT with
 * the shift, STRB): s = 2 acc, SSAT8((k - [s < 0] + SMMULR(s, m)) >> e). Other builds (no assembly:
 * the host, EDGEC_NO_ASM) run the same records in C (edgec_dwcol_run).
 *
 * A channel's outputs are written after the rows they read and channel after channel, in order of
 * the records (inplace.py gives the overlap this allows).
 */
#ifndef EDGEC_DWCOL_H
#define EDGEC_DWCOL_H

#include "edgec_dwconv.h"

#if defined(EDGEC_DSP)
/* The records [rec, end) of a column layer of `taps` taps, stride c_stride bytes between rows,
 * shift e, n outputs (the C twin of the assembly). */
void edgec_dwcol_run(const int8_t *input, int8_t *output, const int32_t *rec, const int32_t *end, int32_t taps,
                     int32_t c_stride, int32_t e, int32_t n);

#if defined(__ARM_FEATURE_DSP) && defined(__GNUC__) && !defined(EDGEC_NO_DSP) && defined(__thumb2__) &&  \
    !defined(EDGEC_NO_ASM)
#define EDGEC_DWCOL_ASM 1
#endif

#if defined(EDGEC_DWCOL_ASM)
#define EDGEC_DWCOL_STR2(X) #X
#define EDGEC_DWCOL_STR(X) EDGEC_DWCOL_STR2(X)

/* A function in a section of its own (kept only if called), in the middle of the C around it. */
#define EDGEC_DWCOL_FUNC(NAME) ".pushsection .text." NAME ",\"ax\",%progbits\n\t" EDGEC_ASM_HEAD(NAME)

/* 3 taps: r0 the input (pre-indexed up a row per output), r1 the output (post-indexed), r2 the end
 * of the channel's output, r3 the sum, r4-r6 the weights, r7 the bias, r8 m, r9 k, r10-r12 the window
 * (X0 row r, X1 row r + 1, X2 gets row r + 2; X0 then holds k - [s < 0]), lr the records; on the stack
 * the input, the output and the records' end. */
#define EDGEC_DWCOL3_STEP(X0, X1, X2, C, E)                                                              \
    "ldrsb " X2 ", [r0, #" C "]!\n\t"                                                                    \
    "mla r3, r4, " X0 ", r7\n\t"                                                                         \
    "mla r3, r5, " X1 ", r3\n\t"                                                                         \
    "mla r3, r6, " X2 ", r3\n\t"                                                                         \
    "add " X0 ", r9, r3, asr #31\n\t"                                                                    \
    "smmlar r3, r3, r8, " X0 "\n\t"                                                                      \
    "ssat r3, #8, r3, asr #" E "\n\t"                                                                    \
    "strb r3, [r1], #" C "\n\t"
/* Twelve outputs a pass (four turns of the window); the first pass enters at the step that leaves
 * it N - 12 j outputs, the window loaded as that step expects. */
#define EDGEC_DWCOL3_ASM(NAME, C, E, N)                                                                  \
    EDGEC_DWCOL_FUNC(NAME)                                                                               \
    "push {r4-r11, lr}\n\t"                                                                              \
    "push {r0, r1, r3}\n\t"                                                                              \
    "mov lr, r2\n"                                                                                       \
    "1:\n\t"                                                                                             \
    "ldm lr!, {r3-r9}\n\t"                                                                               \
    "ldrd r0, r1, [sp]\n\t"                                                                              \
    "add r0, r0, r3\n\t"                                                                                 \
    "add r1, r1, r3\n\t"                                                                                 \
    "add r2, r1, #(" N ") * (" C ")\n\t"                                                                 \
    ".if ((" N ") % 3) == 0\n\t"                                                                         \
    "ldrsb r10, [r0]\n\t"                                                                                \
    "ldrsb r11, [r0, #" C "]!\n\t"                                                                       \
    ".elseif ((" N ") % 3) == 2\n\t"                                                                     \
    "ldrsb r11, [r0]\n\t"                                                                                \
    "ldrsb r12, [r0, #" C "]!\n\t"                                                                       \
    ".else\n\t"                                                                                          \
    "ldrsb r12, [r0]\n\t"                                                                                \
    "ldrsb r10, [r0, #" C "]!\n\t"                                                                       \
    ".endif\n\t"                                                                                         \
    ".if ((" N ") % 12) == 1\n\t"                                                                        \
    "b 21f\n\t"                                                                                          \
    ".elseif ((" N ") % 12) == 2\n\t"                                                                    \
    "b 20f\n\t"                                                                                          \
    ".elseif ((" N ") % 12) == 3\n\t"                                                                    \
    "b 19f\n\t"                                                                                          \
    ".elseif ((" N ") % 12) == 4\n\t"                                                                    \
    "b 18f\n\t"                                                                                          \
    ".elseif ((" N ") % 12) == 5\n\t"                                                                    \
    "b 17f\n\t"                                                                                          \
    ".elseif ((" N ") % 12) == 6\n\t"                                                                    \
    "b 16f\n\t"                                                                                          \
    ".elseif ((" N ") % 12) == 7\n\t"                                                                    \
    "b 15f\n\t"                                                                                          \
    ".elseif ((" N ") % 12) == 8\n\t"                                                                    \
    "b 14f\n\t"                                                                                          \
    ".elseif ((" N ") % 12) == 9\n\t"                                                                    \
    "b 13f\n\t"                                                                                          \
    ".elseif ((" N ") % 12) == 10\n\t"                                                                   \
    "b 12f\n\t"                                                                                          \
    ".elseif ((" N ") % 12) == 11\n\t"                                                                   \
    "b 11f\n\t"                                                                                          \
    ".endif\n"                                                                                           \
    "10:\n\t" EDGEC_DWCOL3_STEP("r10", "r11", "r12", C, E)                                               \
    "11:\n\t" EDGEC_DWCOL3_STEP("r11", "r12", "r10", C, E)                                               \
    "12:\n\t" EDGEC_DWCOL3_STEP("r12", "r10", "r11", C, E)                                               \
    "13:\n\t" EDGEC_DWCOL3_STEP("r10", "r11", "r12", C, E)                                               \
    "14:\n\t" EDGEC_DWCOL3_STEP("r11", "r12", "r10", C, E)                                               \
    "15:\n\t" EDGEC_DWCOL3_STEP("r12", "r10", "r11", C, E)                                               \
    "16:\n\t" EDGEC_DWCOL3_STEP("r10", "r11", "r12", C, E)                                               \
    "17:\n\t" EDGEC_DWCOL3_STEP("r11", "r12", "r10", C, E)                                               \
    "18:\n\t" EDGEC_DWCOL3_STEP("r12", "r10", "r11", C, E)                                               \
    "19:\n\t" EDGEC_DWCOL3_STEP("r10", "r11", "r12", C, E)                                               \
    "20:\n\t" EDGEC_DWCOL3_STEP("r11", "r12", "r10", C, E)                                               \
    "21:\n\t" EDGEC_DWCOL3_STEP("r12", "r10", "r11", C, E)                                               \
    "cmp r1, r2\n\t"                                                                                     \
    "bne 10b\n\t"                                                                                        \
    "ldr r3, [sp, #8]\n\t"                                                                               \
    "cmp lr, r3\n\t"                                                                                     \
    "bne 1b\n\t"                                                                                         \
    "add sp, sp, #12\n\t"                                                                                \
    "pop {r4-r11, pc}\n\t"                                                                               \
    ".size " NAME ", .-" NAME "\n\t"                                                                     \
    ".popsection\n\t"

/* 5 taps: r0 the input, r1 the output, r3 the sum, r4-r6 the weights' int16 pairs (SMLABB, SMLABT of
 * the window's sign-extended rows), r7 the bias, r8 m, r9 k, r2 and r10-r12, lr the window (X0 row r
 * .. X3 row r + 3, X4 gets row r + 4); on the stack the input, the output, the end of the channel's
 * output, the next record and the records' end. */
#define EDGEC_DWCOL5_STEP(X0, X1, X2, X3, X4, C, E)                                                      \
    "ldrsb " X4 ", [r0, #" C "]!\n\t"                                                                    \
    "smlabb r3, " X0 ", r4, r7\n\t"                                                                      \
    "smlabt r3, " X1 ", r4, r3\n\t"                                                                      \
    "smlabb r3, " X2 ", r5, r3\n\t"                                                                      \
    "smlabt r3, " X3 ", r5, r3\n\t"                                                                      \
    "smlabb r3, " X4 ", r6, r3\n\t"                                                                      \
    "add " X0 ", r9, r3, asr #31\n\t"                                                                    \
    "smmlar r3, r3, r8, " X0 "\n\t"                                                                      \
    "ssat r3, #8, r3, asr #" E "\n\t"                                                                    \
    "strb r3, [r1], #" C "\n\t"
/* The window's first 4 rows into the registers step 5 - N % 5 expects (A its row r). */
#define EDGEC_DWCOL5_LOAD(A, B, D, F, C)                                                                 \
    "ldrsb " A ", [r0]\n\t"                                                                              \
    "ldrsb " B ", [r0, #(" C ")]\n\t"                                                                    \
    "ldrsb " D ", [r0, #2 * (" C ")]\n\t"                                                                \
    "ldrsb " F ", [r0, #3 * (" C ")]\n\t"                                                                \
    "add r0, r0, #3 * (" C ")\n\t"
#define EDGEC_DWCOL5_ASM(NAME, C, E, N)                                                                  \
    EDGEC_DWCOL_FUNC(NAME)                                                                               \
    "push {r4-r11, lr}\n\t"                                                                              \
    "sub sp, sp, #20\n\t"                                                                                \
    "strd r0, r1, [sp]\n\t"                                                                              \
    "strd r2, r3, [sp, #12]\n"                                                                           \
    "1:\n\t"                                                                                             \
    "ldr r3, [sp, #12]\n\t"                                                                              \
    "ldm r3!, {r2, r4-r9}\n\t"                                                                           \
    "str r3, [sp, #12]\n\t"                                                                              \
    "ldrd r0, r1, [sp]\n\t"                                                                              \
    "add r0, r0, r2\n\t"                                                                                 \
    "add r1, r1, r2\n\t"                                                                                 \
    "add r3, r1, #(" N ") * (" C ")\n\t"                                                                 \
    "str r3, [sp, #8]\n\t"                                                                               \
    ".if ((" N ") % 5) == 0\n\t" EDGEC_DWCOL5_LOAD("r2", "r10", "r11", "r12", C)                         \
    ".elseif ((" N ") % 5) == 1\n\t" EDGEC_DWCOL5_LOAD("lr", "r2", "r10", "r11", C)                      \
    "b 14f\n\t"                                                                                          \
    ".elseif ((" N ") % 5) == 2\n\t" EDGEC_DWCOL5_LOAD("r12", "lr", "r2", "r10", C)                      \
    "b 13f\n\t"                                                                                          \
    ".elseif ((" N ") % 5) == 3\n\t" EDGEC_DWCOL5_LOAD("r11", "r12", "lr", "r2", C)                      \
    "b 12f\n\t"                                                                                          \
    ".else\n\t" EDGEC_DWCOL5_LOAD("r10", "r11", "r12", "lr", C)                                          \
    "b 11f\n\t"                                                                                          \
    ".endif\n"                                                                                           \
    "10:\n\t" EDGEC_DWCOL5_STEP("r2", "r10", "r11", "r12", "lr", C, E)                                   \
    "11:\n\t" EDGEC_DWCOL5_STEP("r10", "r11", "r12", "lr", "r2", C, E)                                   \
    "12:\n\t" EDGEC_DWCOL5_STEP("r11", "r12", "lr", "r2", "r10", C, E)                                   \
    "13:\n\t" EDGEC_DWCOL5_STEP("r12", "lr", "r2", "r10", "r11", C, E)                                   \
    "14:\n\t" EDGEC_DWCOL5_STEP("lr", "r2", "r10", "r11", "r12", C, E)                                   \
    "ldr r3, [sp, #8]\n\t"                                                                               \
    "cmp r1, r3\n\t"                                                                                     \
    "bne 10b\n\t"                                                                                        \
    "ldrd r2, r3, [sp, #12]\n\t"                                                                         \
    "cmp r2, r3\n\t"                                                                                     \
    "bne 1b\n\t"                                                                                         \
    "add sp, sp, #20\n\t"                                                                                \
    "pop {r4-r11, pc}\n\t"                                                                               \
    ".size " NAME ", .-" NAME "\n\t"                                                                     \
    ".popsection\n\t"

#define EDGEC_DWCOL_DEFINE(T, NAME, C, E, N)                                                             \
    void NAME(const int8_t *input, int8_t *output, const int32_t *rec, const int32_t *end);              \
    __asm__(EDGEC_DWCOL##T##_ASM(EDGEC_DWCOL_STR(NAME), EDGEC_DWCOL_STR(C), EDGEC_DWCOL_STR(E),          \
                                 EDGEC_DWCOL_STR(N)));
#else
#define EDGEC_DWCOL_DEFINE(T, NAME, C, E, N)                                                             \
    static void NAME(const int8_t *input, int8_t *output, const int32_t *rec, const int32_t *end)        \
    {                                                                                                    \
        edgec_dwcol_run(input, output, rec, end, T, C, E, N);                                            \
    }
#endif
/* The function NAME of a layer's channels of shift E (T taps, C channels, N outputs). */
#define EDGEC_DWCOL3(NAME, C, E, N) EDGEC_DWCOL_DEFINE(3, NAME, C, E, N)
#define EDGEC_DWCOL5(NAME, C, E, N) EDGEC_DWCOL_DEFINE(5, NAME, C, E, N)
#endif /* EDGEC_DSP */

#endif /* EDGEC_DWCOL_H */
