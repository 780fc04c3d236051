/* edgec C engine: clustered depthwise column layers through the records of edgec_dwcol.h (see
 * edgec_packed_dwc.h). */
#include "edgec_packed_dwc.h"

#include <string.h>

#define EDGEC_DWC_WORDS 7 /* dwcols.WORDS */

static int32_t edgec_dwc_pair(int32_t lo, int32_t hi)
{
    return (int32_t)(((uint32_t)lo & 0xffffu) | ((uint32_t)hi << 16));
}

/* The common decoding: 4-bit indices into one codebook, doubled once into book[16]; a channel's T
 * indices are nibbles c T .. c T + T - 1 of the stream, read in one 16-bit (T = 3) or 24-bit load
 * (Thumb-2: 32-bit, unaligned, within the stream and its padding byte).
 * The records [src, end) (4 words a channel from flash) into dst (7 words a channel). */
#if defined(EDGEC_DWCOL_ASM)
/* Thumb-2: 15 instructions a channel of 3 taps, 22 of 5 (one LDM of the channel's words in flash,
 * one STM of its record). r8 src, r9 end, r10 dst, r11 the stream, r12 book; r0 c, r1-r3 the weights,
 * r4-r6 the doubled bias, m and k (lr a temporary of 5 taps). */
void edgec_dwc_decode3(const int32_t *src, const int32_t *end, int32_t *dst, const uint8_t *values,
                       const int32_t *book);
void edgec_dwc_decode5(const int32_t *src, const int32_t *end, int32_t *dst, const uint8_t *values,
                       const int32_t *book);
#define EDGEC_DWC_DECODE_ENTRY                                                                           \
    "push {r4-r11, lr}\n\t"                                                                              \
    "ldr r12, [sp, #36]\n\t"                                                                             \
    "mov r8, r0\n\t"                                                                                     \
    "mov r9, r1\n\t"                                                                                     \
    "mov r10, r2\n\t"                                                                                    \
    "mov r11, r3\n\t"                                                                                    \
    "cmp r8, r9\n\t"                                                                                     \
    "beq 2f\n"                                                                                           \
    "1:\n\t"                                                                                             \
    "ldm r8!, {r0, r4-r6}\n\t"
#define EDGEC_DWC_DECODE_EXIT(NAME)                                                                      \
    "stm r10!, {r0-r6}\n\t"                                                                              \
    "cmp r8, r9\n\t"                                                                                     \
    "bne 1b\n"                                                                                           \
    "2:\n\t"                                                                                             \
    "pop {r4-r11, pc}\n\t"                                                                               \
    ".size " NAME ", .-" NAME "\n\t"                                                                     \
    ".popsection\n\t"
__asm__(EDGEC_DWCOL_FUNC("edgec_dwc_decode3") EDGEC_DWC_DECODE_ENTRY
        "add r1, r0, r0, lsl #1\n\t" /* i = 3 c */
        "lsrs r3, r1, #1\n\t"        /* its byte; carry: i odd */
        "ldrh r2, [r11, r3]\n\t"
        "it cs\n\t"
        "lsrcs r2, r2, #4\n\t"
        "and r1, r2, #15\n\t"
        "ubfx r3, r2, #8, #4\n\t"
        "ubfx r2, r2, #4, #4\n\t"
        "ldr r1, [r12, r1, lsl #2]\n\t"
        "ldr r2, [r12, r2, lsl #2]\n\t"
        "ldr r3, [r12, r3, lsl #2]\n\t" EDGEC_DWC_DECODE_EXIT("edgec_dwc_decode3"));
__asm__(EDGEC_DWCOL_FUNC("edgec_dwc_decode5") EDGEC_DWC_DECODE_ENTRY
        "add r1, r0, r0, lsl #2\n\t" /* i = 5 c */
        "lsrs r3, r1, #1\n\t"        /* its byte; carry: i odd */
        "ldr r2, [r11, r3]\n\t"      /* unaligned: the last channel's reaches the stream's padding byte */
        "it cs\n\t"
        "lsrcs r2, r2, #4\n\t"
        "and r1, r2, #15\n\t"
        "ubfx lr, r2, #4, #4\n\t"
        "ldr r1, [r12, r1, lsl #2]\n\t"
        "ldr lr, [r12, lr, lsl #2]\n\t"
        "pkhbt r1, r1, lr, lsl #16\n\t" /* (w0, w1) */
        "ubfx r3, r2, #16, #4\n\t"
        "ubfx lr, r2, #12, #4\n\t"
        "ubfx r2, r2, #8, #4\n\t"
        "ldr r3, [r12, r3, lsl #2]\n\t"
        "ldr lr, [r12, lr, lsl #2]\n\t"
        "ldr r2, [r12, r2, lsl #2]\n\t"
        "uxth r3, r3\n\t"               /* (w4, 0) */
        "pkhbt r2, r2, lr, lsl #16\n\t" /* (w2, w3) */
        EDGEC_DWC_DECODE_EXIT("edgec_dwc_decode5"));
#else
EDGEC_FORCE_INLINE void edgec_dwc_decode_book(const int32_t *src, const int32_t *end, int32_t *dst,
                                              const uint8_t *values, const int32_t *book, const int32_t taps)
{
    for (; src < end; src += 4, dst += EDGEC_DWC_WORDS) {
        const uint32_t c = (uint32_t)src[0], i = c * (uint32_t)taps;
        const uint8_t *const s = values + (i >> 1);
        uint16_t lo;
        uint32_t x;
        memcpy(&lo, s, 2);
        x = ((uint32_t)lo | (taps == 5 ? (uint32_t)s[2] << 16 : 0u)) >> ((i & 1u) << 2);
        dst[0] = (int32_t)c;
        if (taps == 5) {
            dst[1] = edgec_dwc_pair(book[x & 15u], book[(x >> 4) & 15u]);
            dst[2] = edgec_dwc_pair(book[(x >> 8) & 15u], book[(x >> 12) & 15u]);
            dst[3] = edgec_dwc_pair(book[(x >> 16) & 15u], 0);
        } else {
            dst[1] = book[x & 15u];
            dst[2] = book[(x >> 4) & 15u];
            dst[3] = book[(x >> 8) & 15u];
        }
        memcpy(dst + 4, src + 1, 12);
    }
}

static void edgec_dwc_decode3(const int32_t *src, const int32_t *end, int32_t *dst, const uint8_t *values,
                              const int32_t *book)
{
    edgec_dwc_decode_book(src, end, dst, values, book, 3);
}

static void edgec_dwc_decode5(const int32_t *src, const int32_t *end, int32_t *dst, const uint8_t *values,
                              const int32_t *book)
{
    edgec_dwc_decode_book(src, end, dst, values, book, 5);
}
#endif

/* Any other clustered storage (other index widths, a codebook per channel): edgec_unpack_dense. */
static void edgec_dwc_decode_any(const edgec_packed *w, int32_t taps, const int32_t *src, const int32_t *end,
                                 int32_t *dst)
{
    for (; src < end; src += 4, dst += EDGEC_DWC_WORDS) {
        int8_t row[5];
        int32_t v[5], t;
        uint32_t cursor = 0;
        edgec_unpack_dense(w, src[0], &cursor, row);
        for (t = 0; t < taps; t++) {
            v[t] = 2 * row[t];
        }
        dst[0] = src[0];
        if (taps == 5) {
            dst[1] = edgec_dwc_pair(v[0], v[1]);
            dst[2] = edgec_dwc_pair(v[2], v[3]);
            dst[3] = edgec_dwc_pair(v[4], 0);
        } else {
            memcpy(dst + 1, v, 12);
        }
        memcpy(dst + 4, src + 1, 12);
    }
}

#if !defined(EDGEC_DSP)
/* The records [rec, end) of shift e in plain C (builds without the DSP functions): s = 2 acc,
 * (k - [s < 0] + round(s m / 2^32)) >> e, saturated to int8. */
static void edgec_dwc_run(const edgec_dwc_params *p, const int8_t *input, int8_t *output, const int32_t *rec,
                          const int32_t *end, int32_t e)
{
    const int32_t stride = p->channels, taps = p->taps;
    for (; rec < end; rec += EDGEC_DWC_WORDS) {
        const int8_t *const x = input + rec[0];
        int8_t *const out = output + rec[0];
        int32_t w[5], r, t;
        for (t = 0; t < taps; t++) {
            const uint32_t word = (uint32_t)rec[1 + (taps == 5 ? t / 2 : t)];
            w[t] = taps == 5 ? (int32_t)(int16_t)(uint16_t)(word >> (16 * (t % 2))) : (int32_t)word;
        }
        for (r = 0; r < p->outputs; r++) {
            int32_t s = rec[4], y;
            for (t = 0; t < taps; t++) {
                s += w[t] * x[(r + t) * stride];
            }
            y = (int32_t)(((int64_t)s * rec[5] + ((int64_t)1 << 31)) >> 32);
            y = (rec[6] - (s < 0 ? 1 : 0) + y) >> e;
            out[r * stride] = edgec_clamp_s8(y, -128, 127);
        }
    }
}
#endif

void edgec_dwconv2d_dwc_s8(const edgec_dwc_params *p, const edgec_packed *w, int32_t chunk, const int8_t *input,
                           int8_t *output, int32_t *scratch)
{
    const int32_t book_ready = w->index_bits == 4 && w->shared;
    int32_t book[16], first, s = 0, t;
    for (t = 0; book_ready && t < w->clusters; t++) {
        book[t] = 2 * w->codebook[t];
    }
    for (first = 0; first < p->channels; first += chunk) {
        const int32_t last = edgec_min(first + chunk, p->channels);
        const int32_t *const src = p->records + 4 * first, *const src_end = p->records + 4 * last;
        int32_t at = first;
        if (!book_ready) {
            edgec_dwc_decode_any(w, p->taps, src, src_end, scratch);
        } else if (p->taps == 5) {
            edgec_dwc_decode5(src, src_end, scratch, w->values, book);
        } else {
            edgec_dwc_decode3(src, src_end, scratch, w->values, book);
        }
        while (at < last) { /* the chunk's records of each shift in turn */
            const int32_t stop = edgec_min((int32_t)p->ends[s], last);
            const int32_t *const rec = scratch + EDGEC_DWC_WORDS * (at - first);
            const int32_t *const end = scratch + EDGEC_DWC_WORDS * (stop - first);
#if defined(EDGEC_DSP)
            p->fns[s](input, output, rec, end);
#else
            edgec_dwc_run(p, input, output, rec, end, p->shifts[s]);
#endif
            if (stop == (int32_t)p->ends[s]) {
                s++;
            }
            at = stop;
        }
    }
}
