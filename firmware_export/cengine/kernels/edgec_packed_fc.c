/* edgec C engine: fully connected over packed weights (see edgec_packed_fc.h). */
#include "edgec_packed_fc.h"

/* acc + one CLUSTERED row's dot product with x over taps k .. taps - 1, through the bit reader. */
static int32_t edgec_pk_fc_clustered_tail(const edgec_packed *w, int32_t row, int32_t k, const int8_t *x, int32_t acc)
{
    const int32_t taps = w->taps, bits = w->index_bits;
    const int8_t *const cb = edgec_codebook(w, row);
    edgec_bitreader r;
    if (k < taps) {
        edgec_br_init(&r, w->values, ((uint32_t)row * (uint32_t)taps + (uint32_t)k) * (uint32_t)bits);
        for (; k < taps; k++) {
            acc += cb[edgec_br_get(&r, bits)] * (int32_t)x[k];
        }
    }
    return acc;
}

#if defined(__GNUC__) && defined(__thumb2__)
/* Tap j of 8 (x already advanced by 8): its input, then per row the index (nibble j of i0, i1), the
 * codebook value and the product: 7 instructions for 2 MACs. */
#define EDGEC_PK_CL_TAP(off, ext0, ext1)                                                           \
    "ldrsb %[v], [%[x], #" off "]\n\t" ext0 "ldrsb %[t], [%[c0], %[t]]\n\t"                        \
    "mla %[a0], %[t], %[v], %[a0]\n\t" ext1 "ldrsb %[t], [%[c1], %[t]]\n\t"                        \
    "mla %[a1], %[t], %[v], %[a1]\n\t"
#define EDGEC_PK_CL_UBFX(reg, pos) "ubfx %[t], %[" reg "], #" pos ", #4\n\t"
#endif

/* acc[0], acc[1] + the dot products of two CLUSTERED rows with 4-bit indices (byte-aligned, at s0
 * and s1; codebooks cb0, cb1) with x over n taps, n a multiple of 8: one word of indices per row
 * and 8 taps, each input read once for both rows. */
static void edgec_pk_fc_cl4x2(const uint8_t *s0, const uint8_t *s1, const int8_t *cb0, const int8_t *cb1,
                              const int8_t *x, int32_t n, int32_t *acc)
{
    int32_t a0 = acc[0], a1 = acc[1];
    const int8_t *const end = x + n;
#if defined(__GNUC__) && defined(__thumb2__)
    if (x < end) {
        uint32_t i0, i1, v, t;
        __asm__("1:\n\t"
                "ldr %[i0], [%[s0]], #4\n\t"
                "ldr %[i1], [%[s1]], #4\n\t"
                "ldrsb %[v], [%[x]], #8\n\t"
                "and %[t], %[i0], #15\n\t"
                "ldrsb %[t], [%[c0], %[t]]\n\t"
                "mla %[a0], %[t], %[v], %[a0]\n\t"
                "and %[t], %[i1], #15\n\t"
                "ldrsb %[t], [%[c1], %[t]]\n\t"
                "mla %[a1], %[t], %[v], %[a1]\n\t"
                EDGEC_PK_CL_TAP("-7", EDGEC_PK_CL_UBFX("i0", "4"), EDGEC_PK_CL_UBFX("i1", "4"))
                EDGEC_PK_CL_TAP("-6", EDGEC_PK_CL_UBFX("i0", "8"), EDGEC_PK_CL_UBFX("i1", "8"))
                EDGEC_PK_CL_TAP("-5", EDGEC_PK_CL_UBFX("i0", "12"), EDGEC_PK_CL_UBFX("i1", "12"))
                EDGEC_PK_CL_TAP("-4", EDGEC_PK_CL_UBFX("i0", "16"), EDGEC_PK_CL_UBFX("i1", "16"))
                EDGEC_PK_CL_TAP("-3", EDGEC_PK_CL_UBFX("i0", "20"), EDGEC_PK_CL_UBFX("i1", "20"))
                EDGEC_PK_CL_TAP("-2", EDGEC_PK_CL_UBFX("i0", "24"), EDGEC_PK_CL_UBFX("i1", "24"))
                EDGEC_PK_CL_TAP("-1", "lsr %[t], %[i0], #28\n\t", "lsr %[t], %[i1], #28\n\t")
                "cmp %[x], %[end]\n\t"
                "blo 1b"
                : [s0] "+r"(s0), [s1] "+r"(s1), [x] "+r"(x), [a0] "+r"(a0), [a1] "+r"(a1), [i0] "=&r"(i0),
                  [i1] "=&r"(i1), [v] "=&r"(v), [t] "=&r"(t)
                : [c0] "r"(cb0), [c1] "r"(cb1), [end] "r"(end)
                : "cc", "memory");
    }
#else
    for (; x < end; x += 8, s0 += 4, s1 += 4) {
        uint32_t i0, i1, j;
        memcpy(&i0, s0, 4);
        memcpy(&i1, s1, 4);
        for (j = 0; j < 8; j++, i0 >>= 4, i1 >>= 4) {
            a0 += cb0[i0 & 15u] * (int32_t)x[j];
            a1 += cb1[i1 & 15u] * (int32_t)x[j];
        }
    }
#endif
    acc[0] = a0;
    acc[1] = a1;
}

/* Rows o, o + 1 (when pair) of a CLUSTERED matrix with 4-bit indices and an even number of taps
 * (every row byte-aligned) over x: whole words of indices, then the last taps two a byte. */
static void edgec_pk_fc_cl4_rows(const edgec_packed *w, int32_t o, int pair, const int8_t *x, int32_t *acc)
{
    const int32_t taps = w->taps, n8 = taps & ~7;
    const uint8_t *const s0 = w->values + (uint32_t)o * (uint32_t)taps / 2u;
    const uint8_t *const s1 = pair ? s0 + taps / 2 : s0;
    const int8_t *const cb0 = edgec_codebook(w, o), *const cb1 = pair ? edgec_codebook(w, o + 1) : cb0;
    int32_t k;
    edgec_pk_fc_cl4x2(s0, s1, cb0, cb1, x, n8, acc);
    for (k = n8; k < taps; k += 2) {
        const uint32_t b0 = s0[k / 2], b1 = s1[k / 2];
        acc[0] += cb0[b0 & 15u] * (int32_t)x[k] + cb0[b0 >> 4] * (int32_t)x[k + 1];
        acc[1] += cb1[b1 & 15u] * (int32_t)x[k] + cb1[b1 >> 4] * (int32_t)x[k + 1];
    }
}

/* acc + one SPARSE_CLUSTERED row's dot product with x, over the set bits of its mask; *cursor (bits
 * of the index stream) advances past the row. */
static int32_t edgec_pk_fc_sparse_clustered(const edgec_packed *w, int32_t row, uint32_t *cursor, const int8_t *x,
                                            int32_t acc)
{
    const int32_t taps = w->taps, bits = w->index_bits;
    const uint8_t *const mask = w->mask + row * ((taps + 7) >> 3);
    const int8_t *const cb = edgec_codebook(w, row);
    edgec_bitreader r;
    int32_t k0, n = 0;
    edgec_br_init(&r, w->values, *cursor);
    for (k0 = 0; k0 < taps; k0 += 8) {
        uint32_t m = mask[k0 >> 3];
        while (m) {
            const int32_t k = k0 + edgec_ctz(m);
            m &= m - 1u;
            acc += cb[edgec_br_get(&r, bits)] * (int32_t)x[k];
            n++;
        }
    }
    *cursor += (uint32_t)(n * bits);
    return acc;
}

void edgec_fully_connected_packed_s8(const edgec_fc_params *p, const edgec_packed *w, const int8_t *input,
                                     int8_t *output)
{
    const int32_t zp = p->output_zp, lo = p->act_min, hi = p->act_max, count_bytes = w->index_bits / 8;
    const int narrow = p->narrow;
    const int words = w->format == EDGEC_CLUSTERED && w->index_bits == 4 && (w->taps & 1) == 0;
    int32_t b, o;
    for (b = 0; b < p->batches; b++) {
        const int8_t *x = input + b * p->in_features;
        int8_t *y = output + b * p->out_features;
        uint32_t cursor = 0;
        if (w->format == EDGEC_SPARSE_DELTA) {
            const uint8_t *stream = w->values;
            for (o = 0; o < p->out_features; o++) {
                const int32_t q = p->per_channel ? o : 0;
                y[o] = edgec_requantize(narrow, edgec_pk_fc_delta(&stream, count_bytes, x, p->bias[o]),
                                        p->multiplier[q], p->shift[q], zp, lo, hi);
            }
            continue;
        }
        if (words) { /* two rows at a time, the sums of a chunk of rows rescaled together */
            int32_t s[EDGEC_FC_CHUNK + 1]; /* + 1: the unused second sum of an odd last row */
            int32_t o0, k;
            for (o0 = 0; o0 < p->out_features; o0 += EDGEC_FC_CHUNK) {
                const int32_t rows = edgec_min(EDGEC_FC_CHUNK, p->out_features - o0);
                for (k = 0; k < rows; k += 2) {
                    s[k] = p->bias[o0 + k];
                    s[k + 1] = k + 1 < rows ? p->bias[o0 + k + 1] : 0;
                    edgec_pk_fc_cl4_rows(w, o0 + k, k + 1 < rows, x, s + k);
                }
                if (narrow && hi >= 127) {
                    edgec_fc_rescale_body(p, s, rows, o0, y + o0, 1, 2);
                } else if (narrow) {
                    edgec_fc_rescale_body(p, s, rows, o0, y + o0, 1, 0);
                } else {
                    edgec_fc_rescale_body(p, s, rows, o0, y + o0, 0, 0);
                }
            }
            continue;
        }
        for (o = 0; o < p->out_features; o++) {
            const int32_t q = p->per_channel ? o : 0;
            int32_t acc;
            if (w->format == EDGEC_CLUSTERED) {
                acc = edgec_pk_fc_clustered_tail(w, o, 0, x, p->bias[o]);
            } else {
                acc = edgec_pk_fc_sparse_clustered(w, o, &cursor, x, p->bias[o]);
            }
            y[o] = edgec_requantize(narrow, acc, p->multiplier[q], p->shift[q], zp, lo, hi);
        }
    }
}
