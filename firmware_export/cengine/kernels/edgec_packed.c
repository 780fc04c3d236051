/* edgec C engine: what the packed kernels share (see edgec_packed.h).
 *
 * The arithmetic of every packed kernel is the dense kernels': acc = bias' + sum(w * x), padding
 * taps count as input_zp, the same output stage. Only the order of the integer sums differs (zero
 * weights are skipped), which is exact.
 */
#include "edgec_packed.h"

void edgec_unpack_dense(const edgec_packed *w, int32_t row, uint32_t *cursor, int8_t *dst)
{
    const int32_t taps = w->taps, bits = w->index_bits;
    const int8_t *cb = edgec_codebook(w, row);
    edgec_bitreader r = {NULL, 0, 0};
    int32_t k;
    if (w->format == EDGEC_CLUSTERED) {
        if (bits == 4 && (taps & 1) == 0) { /* two indices a byte, the row byte-aligned */
            const uint8_t *s = w->values + (uint32_t)row * (uint32_t)taps / 2u;
            for (k = 0; k < taps; k += 2, s++) {
                dst[k] = cb[*s & 15u];
                dst[k + 1] = cb[*s >> 4];
            }
            return;
        }
        edgec_br_init(&r, w->values, (uint32_t)row * (uint32_t)taps * (uint32_t)bits);
        for (k = 0; k < taps; k++) {
            dst[k] = cb[edgec_br_get(&r, bits)];
        }
        return;
    }
    {
        const uint8_t *mask = w->mask + row * ((taps + 7) >> 3);
        const int clustered = w->format == EDGEC_SPARSE_CLUSTERED;
        uint32_t at = *cursor;
        if (clustered) {
            edgec_br_init(&r, w->values, at);
        }
        for (k = 0; k < taps; k++) {
            if (mask[k >> 3] & (1u << (k & 7))) {
                dst[k] = clustered ? cb[edgec_br_get(&r, bits)] : (int8_t)w->values[at];
                at += clustered ? (uint32_t)bits : 1u;
            } else {
                dst[k] = 0;
            }
        }
        *cursor = at;
    }
}

/* One entry pair at s (see SPARSE_DELTA): x advances to each entry in turn. */
#define EDGEC_PK_DELTA_PAIR(s)                                                                     \
    do {                                                                                           \
        const uint32_t d_ = (s)[0];                                                                \
        x += d_ & 15u;                                                                             \
        acc += (int32_t)(int8_t)(s)[1] * (int32_t)x[0];                                            \
        x += d_ >> 4;                                                                              \
        acc += (int32_t)(int8_t)(s)[2] * (int32_t)x[0];                                            \
    } while (0)

int32_t edgec_pk_fc_delta(const uint8_t **stream, int32_t count_bytes, const int8_t *x, int32_t acc)
{
    const uint8_t *s = *stream;
    const uint32_t pairs = count_bytes == 1 ? s[0] : (uint32_t)s[0] | ((uint32_t)s[1] << 8);
    const uint8_t *const end = s + count_bytes + 3u * pairs;
    s += count_bytes;
    if (pairs & 1u) {
        EDGEC_PK_DELTA_PAIR(s);
        s += 3;
    }
#if defined(__GNUC__) && defined(__thumb2__)
    /* the loop below as the compiler does not write it: 22 instructions for 4 entries */
    if (s < end) {
        uint32_t d, v, t;
        __asm__("1:\n\t"
                "ldrb %[d], [%[s]], #6\n\t"
                "ldrsb %[v], [%[s], #-5]\n\t"
                "and %[t], %[d], #15\n\t"
                "add %[x], %[x], %[t]\n\t"
                "ldrsb %[t], [%[x]]\n\t"
                "mla %[acc], %[v], %[t], %[acc]\n\t"
                "ldrsb %[v], [%[s], #-4]\n\t"
                "add %[x], %[x], %[d], lsr #4\n\t"
                "ldrsb %[t], [%[x]]\n\t"
                "mla %[acc], %[v], %[t], %[acc]\n\t"
                "ldrb %[d], [%[s], #-3]\n\t"
                "ldrsb %[v], [%[s], #-2]\n\t"
                "and %[t], %[d], #15\n\t"
                "add %[x], %[x], %[t]\n\t"
                "ldrsb %[t], [%[x]]\n\t"
                "mla %[acc], %[v], %[t], %[acc]\n\t"
                "ldrsb %[v], [%[s], #-1]\n\t"
                "add %[x], %[x], %[d], lsr #4\n\t"
                "ldrsb %[t], [%[x]]\n\t"
                "mla %[acc], %[v], %[t], %[acc]\n\t"
                "cmp %[s], %[end]\n\t"
                "blo 1b"
                : [s] "+r"(s), [x] "+r"(x), [acc] "+r"(acc), [d] "=&r"(d), [v] "=&r"(v), [t] "=&r"(t)
                : [end] "r"(end)
                : "cc", "memory");
    }
#else
    for (; s < end; s += 6) { /* two pairs a turn */
        EDGEC_PK_DELTA_PAIR(s);
        EDGEC_PK_DELTA_PAIR(s + 3);
    }
#endif
    *stream = end;
    return acc;
}

