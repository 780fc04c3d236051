/* edgec C engine: fully connected over CLUSTERED weights through a table of weight pairs (see
 * edgec_packed_fcp.h). */
#include "edgec_packed_fcp.h"
#include "edgec_packed_fc.h"

#if defined(EDGEC_DSP)
/* Thumb-2 loop: twelve registers, found when gcc optimises and keeps no frame pointer (else the C
 * loop; EDGEC_NO_ASM selects it for a build with -fno-omit-frame-pointer). */
#if defined(__GNUC__) && defined(__thumb2__) && defined(__ARM_FEATURE_DSP) && defined(__OPTIMIZE__) && \
    !defined(EDGEC_NO_ASM)
#define EDGEC_FCP_ASM 1
/* One byte of both rows' index words (E0, E1 put it in t) against the input pair XV: 6 instructions
 * for 4 MACs. */
#define EDGEC_FCP_BYTE(E0, E1, XV)                                                                 \
    E0 "ldr %[t], [%[tab], %[t], lsl #2]\n\t"                                                      \
       "smlad %[a0], %[t], %[" XV "], %[a0]\n\t" E1 "ldr %[t], [%[tab], %[t], lsl #2]\n\t"         \
       "smlad %[a1], %[t], %[" XV "], %[a1]\n\t"
/* 8 taps of two rows: a word of indices each, 4 input pairs: 28 instructions for 16 MACs. */
#define EDGEC_FCP_8                                                                                \
    "ldr %[i0], [%[s0]], #4\n\t"                                                                   \
    "ldr %[i1], [%[s1]], #4\n\t"                                                                   \
    "ldrd %[xa], %[xb], [%[xp]], #8\n\t"                                                           \
    EDGEC_FCP_BYTE("uxtb %[t], %[i0]\n\t", "uxtb %[t], %[i1]\n\t", "xa")                           \
    EDGEC_FCP_BYTE("uxtb %[t], %[i0], ror #8\n\t", "uxtb %[t], %[i1], ror #8\n\t", "xb")           \
    "ldrd %[xa], %[xb], [%[xp]], #8\n\t"                                                           \
    EDGEC_FCP_BYTE("uxtb %[t], %[i0], ror #16\n\t", "uxtb %[t], %[i1], ror #16\n\t", "xa")         \
    EDGEC_FCP_BYTE("lsr %[t], %[i0], #24\n\t", "lsr %[t], %[i1], #24\n\t", "xb")
#define EDGEC_FCP_ASM_RUN(TEXT)                                                                    \
    __asm__(TEXT                                                                                   \
            : [s0] "+r"(p0), [s1] "+r"(p1), [xp] "+r"(xp), [a0] "+r"(a0), [a1] "+r"(a1), [i0] "=&r"(i0), \
              [i1] "=&r"(i1), [xa] "=&r"(xa), [xb] "=&r"(xb), [t] "=&r"(t)                         \
            : [tab] "r"(tab), [end] "r"(end)                                                       \
            : "cc", "memory")
#endif

/* *a0, *a1 + the dot products of two rows (indices at s0, s1, a byte for two taps) with the int16
 * input x over n taps (n even, below 16 on the asm path: the taps its loop leaves). */
static void edgec_fcp_rest(const uint8_t *s0, const uint8_t *s1, const int32_t *tab, const int16_t *x, int32_t n,
                           int32_t *a0, int32_t *a1)
{
    int32_t k;
    for (k = 0; k < n; k += 2) {
        int32_t xv;
        memcpy(&xv, x + k, 4);
        *a0 = edgec_smlad(tab[s0[k / 2]], xv, *a0);
        *a1 = edgec_smlad(tab[s1[k / 2]], xv, *a1);
    }
}

/* sums[0], sums[1] = bias + the dot products of two rows (indices at s0, s1) with the int16 input x
 * of n taps (n even; end: x + (n & ~15)). */
EDGEC_FORCE_INLINE void edgec_fcp_rows2(const uint8_t *s0, const uint8_t *s1, const int32_t *tab, const int16_t *x,
                                        const int16_t *end, int32_t n, int32_t a0, int32_t a1, int32_t *sums)
{
#if defined(EDGEC_FCP_ASM)
    const uint8_t *p0 = s0, *p1 = s1;
    const int16_t *xp = x;
    uint32_t i0, i1, xa, xb, t;
    if (xp != end) { /* 16 taps a turn: 58 instructions for 32 MACs */
        EDGEC_FCP_ASM_RUN("1:\n\t" EDGEC_FCP_8 EDGEC_FCP_8 "cmp %[xp], %[end]\n\tbne 1b");
    }
    if (n & 15) {
        edgec_fcp_rest(p0, p1, tab, xp, n & 15, &a0, &a1);
    }
#else
    int32_t j;
    (void)end;
    for (j = 0; j + 8 <= n; j += 8) {
        uint32_t i0, i1;
        int32_t b;
        memcpy(&i0, s0 + j / 2, 4);
        memcpy(&i1, s1 + j / 2, 4);
        for (b = 0; b < 4; b++, i0 >>= 8, i1 >>= 8) {
            int32_t xv;
            memcpy(&xv, x + j + 2 * b, 4);
            a0 = edgec_smlad(tab[i0 & 255u], xv, a0);
            a1 = edgec_smlad(tab[i1 & 255u], xv, a1);
        }
    }
    edgec_fcp_rest(s0 + j / 2, s1 + j / 2, tab, x + j, n - j, &a0, &a1);
#endif
    sums[0] = a0;
    sums[1] = a1;
}

#if defined(EDGEC_FCP_ASM)
/* sums[k] (bias on entry) += the dot product of row k with the int16 input x, k < 2 * pairs, rows of
 * n taps (n a multiple of 16, at least 16) from s0 on: the pairs of rows in one loop, the sums'
 * pointer, its end and the input's bytes (2n) on the stack: 14 instructions a pair beside the taps'
 * 58 per 16. */
static void edgec_fcp_pairs(const uint8_t *s0, const int32_t *tab, const int16_t *x, int32_t n, int32_t pairs,
                            int32_t *sums)
{
    const uint8_t *s1 = s0 + n / 2;
    const int16_t *xp = x;
    const int16_t *const end = x + n;
    uint32_t state[3];
    uint32_t a0, a1, i0, i1, xa, xb, t;
    state[0] = (uint32_t)sums;
    state[1] = (uint32_t)(sums + 2 * pairs);
    state[2] = (uint32_t)(2 * n);
    __asm__("2:\n\t"
            "ldr %[i0], %[ps]\n\t"
            "ldrd %[a0], %[a1], [%[i0]]\n\t"
            "ldr %[i1], %[len]\n\t"
            "sub %[xp], %[end], %[i1]\n\t"
            "1:\n\t" EDGEC_FCP_8 EDGEC_FCP_8 "cmp %[xp], %[end]\n\t"
            "bne 1b\n\t"
            "ldr %[i0], %[ps]\n\t"
            "strd %[a0], %[a1], [%[i0]], #8\n\t"
            "str %[i0], %[ps]\n\t"
            "sub %[t], %[s1], %[s0]\n\t" /* s0: at row 1, s1 at row 2: the next pair, half a row apart */
            "mov %[s0], %[s1]\n\t"
            "add %[s1], %[s1], %[t]\n\t"
            "ldr %[i1], %[pe]\n\t"
            "cmp %[i0], %[i1]\n\t"
            "bne 2b"
            : [s0] "+r"(s0), [s1] "+r"(s1), [xp] "+r"(xp), [a0] "=&r"(a0), [a1] "=&r"(a1), [i0] "=&r"(i0),
              [i1] "=&r"(i1), [xa] "=&r"(xa), [xb] "=&r"(xb), [t] "=&r"(t), [ps] "+m"(state[0])
            : [tab] "r"(tab), [end] "r"(end), [pe] "m"(state[1]), [len] "m"(state[2])
            : "cc", "memory");
}
#endif

/* tab[16 h + l] = (codebook[h] << 16) | (uint16_t)codebook[l], h, l < clusters (the words no index
 * reaches are left as they are): per high nibble, 4 words of low halves at a time plus its high half
 * (about 3 instructions a word). */
static void edgec_fcp_table(const int8_t *codebook, int32_t clusters, int32_t *tab)
{
    uint32_t low[16];
    int32_t g, h;
    for (g = 0; g < 16; g++) {
        low[g] = g < clusters ? (uint32_t)(uint16_t)codebook[g] : 0u;
    }
    for (g = 0; g < 16; g += 4) {
        const uint32_t b0 = low[g], b1 = low[g + 1], b2 = low[g + 2], b3 = low[g + 3];
        uint32_t *row = (uint32_t *)(void *)tab + g;
        for (h = 0; h < clusters; h++, row += 16) {
            const uint32_t hi = (uint32_t)(int32_t)codebook[h] << 16;
            row[0] = b0 + hi;
            row[1] = b1 + hi;
            row[2] = b2 + hi;
            row[3] = b3 + hi;
        }
    }
}

/* x16[k] = x[k], k < n: a word of 4 inputs at a time as (x0, x1), (x2, x3). */
static void edgec_fcp_widen(const int8_t *x, int16_t *x16, int32_t n)
{
    int32_t k;
    for (k = 0; k + 4 <= n; k += 4) {
        int32_t v;
        uint32_t even, odd, lo, hi;
        memcpy(&v, x + k, 4);
        even = (uint32_t)edgec_sxtb16(v);     /* (x0, x2) */
        odd = (uint32_t)edgec_sxtb16_ror8(v); /* (x1, x3) */
        lo = (even & 0xFFFFu) | (odd << 16);
        hi = (even >> 16) | (odd & 0xFFFF0000u);
        memcpy(x16 + k, &lo, 4);
        memcpy(x16 + k + 2, &hi, 4);
    }
    for (; k < n; k++) {
        x16[k] = x[k];
    }
}
#endif

void edgec_fully_connected_pairs_s8(const edgec_fc_params *p, const edgec_packed *w, const int32_t *pairs,
                                    const int8_t *input, int8_t *output, int32_t *scratch)
{
#if defined(EDGEC_DSP)
    if (w->format == EDGEC_CLUSTERED && w->index_bits == 4 && w->shared && (w->taps & 1) == 0) {
        int16_t *const x16 = (int16_t *)(void *)(pairs != NULL ? scratch : scratch + 256);
        const int32_t n = p->in_features, out_n = p->out_features, half = n / 2; /* bytes of indices a row */
        const int16_t *const end = x16 + (n & ~15);
        int32_t s[EDGEC_FC_CHUNK + 1]; /* + 1: the unused second sum of an odd last row */
        int32_t b, o, k;
        if (pairs == NULL) { /* the table in scratch, the input after it */
            edgec_fcp_table(w->codebook, w->clusters, scratch);
            pairs = scratch;
        }
        for (b = 0; b < p->batches; b++) {
            int8_t *y = output + b * out_n;
            edgec_fcp_widen(input + b * n, x16, n);
            for (o = 0; o < out_n; o += EDGEC_FC_CHUNK) {
                const int32_t rows = edgec_min(EDGEC_FC_CHUNK, out_n - o);
                const uint8_t *s0 = w->values + o * half;
                k = 0;
#if defined(EDGEC_FCP_ASM)
                if ((n & 15) == 0 && n > 0 && rows >= 2) { /* every pair of the chunk in one loop */
                    for (k = 0; k < (rows & ~1); k++) {
                        s[k] = p->bias[o + k];
                    }
                    edgec_fcp_pairs(s0, pairs, x16, n, rows / 2, s);
                    s0 += k * half;
                }
#endif
                for (; k + 2 <= rows; k += 2, s0 += n) { /* rows o + k, o + k + 1 */
                    edgec_fcp_rows2(s0, s0 + half, pairs, x16, end, n, p->bias[o + k], p->bias[o + k + 1], s + k);
                }
                if (k < rows) { /* the last row, alone */
                    edgec_fcp_rows2(s0, s0, pairs, x16, end, n, p->bias[o + k], 0, s + k);
                }
                if (p->narrow && p->act_max >= 127) {
                    edgec_fc_rescale_body(p, s, rows, o, y + o, 1, 2);
                } else if (p->narrow) {
                    edgec_fc_rescale_body(p, s, rows, o, y + o, 1, 0);
                } else {
                    edgec_fc_rescale_body(p, s, rows, o, y + o, 0, 0);
                }
            }
        }
        return;
    }
#endif
    (void)pairs;
    (void)scratch;
    edgec_fully_connected_packed_s8(p, w, input, output);
}
