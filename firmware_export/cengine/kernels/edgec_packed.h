/* edgec C engine: what the kernels over compressed weights share: the formats, the struct, helpers.
 *
 * A layer's weights are a matrix of `channels` rows (output channels) of `taps` int8 values, the
 * taps of a row in the dense kernel's order (conv: ky, kx, c; depthwise: ky, kx; FC: input
 * feature). They are stored in one of four formats, and decoded a row at a time as they run:
 *   CLUSTERED         every tap's index into the row's codebook (`index_bits` bits, LSB first,
 *                     one bit stream: row r starts at bit r * taps * index_bits);
 *   SPARSE            a bitmask of the nonzero taps ((taps + 7) / 8 bytes per row, bit k % 8 of
 *                     byte k / 8 for tap k) and the nonzero values, int8, rows one after the other;
 *   SPARSE_CLUSTERED  the bitmask, and a codebook index for each nonzero only (one bit stream);
 *   SPARSE_DELTA      (fully connected and pointwise convolution) per row the count of its entry
 *                     pairs (index_bits = 8: one byte; 16: two, little-endian), then per pair 3
 *                     bytes: the distances of the two entries from the previous one (low nibble,
 *                     high nibble; the first from tap 0) and their int8 values.
 *                     A gap over 15 taps is bridged by entries of value 0; an odd count ends with
 *                     an entry (0, 0).
 *   SPARSE_FIXED      (depthwise, at most 16 taps) every row max_nonzeros = K entries: `values`
 *                     [channels][K] int8, `mask` [channels][(K + 1) / 2] bytes of two 4-bit tap
 *                     positions (low nibble first); a row of fewer nonzeros is padded with entries of
 *                     value 0 (position 0). No count, no bitmask.
 *   BLOCK             (fully connected and one-group convolutions) the taps of a row in aligned
 *                     blocks of 4 (the last padded with 0): `mask` per row the count of its nonzero
 *                     blocks, then their block indices (one byte each; index_bits = 16: two,
 *                     little-endian); `values` the stored blocks' 4 int8 each, rows one after the
 *                     other; max_nonzeros: the most blocks of a row.
 *   BLOCK_CLUSTERED   the same `mask`; `values` 2 bytes a stored block: its 4 codebook indices,
 *                     4 bits each, low nibble first.
 *   DW_BLOCK          (depthwise, depth multiplier 1, at most 32 taps) the channels in groups of 4
 *                     (the last one the channels left over): `mask` per group the count of its kept
 *                     taps, then their tap indices (one byte each); `values` per kept tap the 4 int8
 *                     weights of the group's channels (0 past the last channel), groups one after
 *                     the other; max_nonzeros: the most kept taps of a group.
 * The codebook is [channels][clusters] int8, or [clusters] when `shared` (one serves every row).
 *
 * This header and edgec_packed.c hold what the packed kernels share; each kernel has its own file,
 * so that an engine compiles only the ones its layers use: edgec_packed_conv (convolution, decoded
 * per tile), edgec_packed_pw (convolution over SPARSE_DELTA rows, tiles of 4 pixels), edgec_packed_dw
 * (depthwise), edgec_packed_dws (depthwise over SPARSE_FIXED rows), edgec_packed_fc (fully connected),
 * edgec_packed_fcp (fully connected over CLUSTERED rows through a table of weight pairs, DSP path),
 * edgec_packed_blk (convolution and fully connected over BLOCK rows), edgec_packed_dwb (depthwise over
 * DW_BLOCK groups), edgec_packed_convr (clustered convolution, chunks of rows decoded once),
 * edgec_packed_pwt (clustered pointwise convolution, tiles of pixels copied to scratch), edgec_packed_dwg
 * (clustered depthwise, chunks of channel groups decoded into the DSP layout),
 * edgec_packed_cvp (clustered convolution through a table of weight pairs, groups of 4 pixels),
 * edgec_packed_dwc (clustered depthwise columns of 3 and 5 taps, chunks of channels decoded into
 * edgec_dwcol.h's records).
 */
#ifndef EDGEC_PACKED_H
#define EDGEC_PACKED_H

#include "edgec_common.h"

#define EDGEC_CLUSTERED 1
#define EDGEC_SPARSE 2
#define EDGEC_SPARSE_CLUSTERED 3
#define EDGEC_SPARSE_DELTA 4
#define EDGEC_SPARSE_FIXED 5
#define EDGEC_BLOCK 6
#define EDGEC_BLOCK_CLUSTERED 7
#define EDGEC_DW_BLOCK 8

typedef struct {
    int32_t format, channels, taps;
    const uint8_t *mask;    /* sparse formats: [channels][(taps + 7) / 8]; SPARSE_FIXED: the tap positions */
    const uint8_t *values;  /* SPARSE: int8 nonzeros; clustered formats: the index bit stream */
    const int8_t *codebook; /* clustered formats */
    int32_t index_bits, clusters, shared;
    int32_t max_nonzeros; /* sparse formats: the most nonzeros of a row (sizes the decoded list) */
} edgec_packed;

/* Little-endian bit stream, LSB first. The generator pads every stream with 4 bytes so that the
 * reader may load one byte past the last value. */
typedef struct {
    const uint8_t *p;
    uint32_t buf;
    int32_t n;
} edgec_bitreader;

static inline void edgec_br_init(edgec_bitreader *r, const uint8_t *s, uint32_t bitpos)
{
    r->p = s + (bitpos >> 3);
    r->n = 8 - (int32_t)(bitpos & 7);
    r->buf = (uint32_t)(*r->p++) >> (bitpos & 7);
}

static inline uint32_t edgec_br_get(edgec_bitreader *r, int32_t bits)
{
    uint32_t v;
    if (r->n < bits) {
        r->buf |= (uint32_t)(*r->p++) << r->n;
        r->n += 8;
    }
    v = r->buf & ((1u << bits) - 1u);
    r->buf >>= bits;
    r->n -= bits;
    return v;
}

/* Index of the lowest set bit of m != 0. */
static inline int32_t edgec_ctz(uint32_t m)
{
#if defined(__GNUC__)
    return (int32_t)__builtin_ctz(m);
#else
    int32_t i = 0;
    while (!(m & 1u)) {
        m >>= 1;
        i++;
    }
    return i;
#endif
}

static inline const int8_t *edgec_codebook(const edgec_packed *w, int32_t row)
{
    return w->codebook + (w->shared ? 0 : row * w->clusters);
}

/* Row `row` as dense int8 taps into dst[taps] (formats CLUSTERED, SPARSE, SPARSE_CLUSTERED);
 * *cursor advances past the row (sparse formats). */
void edgec_unpack_dense(const edgec_packed *w, int32_t row, uint32_t *cursor, int8_t *dst);

typedef struct {
    const int32_t *bias, *multiplier;
    const int8_t *shift;
    int32_t output_zp, act_min, act_max, narrow;
} edgec_pk_out;

static inline int8_t edgec_pk_requant(const edgec_pk_out *q, int32_t oc, int32_t acc)
{
    return edgec_requantize(q->narrow, acc + q->bias[oc], q->multiplier[oc], q->shift[oc], q->output_zp, q->act_min,
                            q->act_max);
}

static inline int32_t edgec_align4(int32_t n) { return (n + 3) & ~3; }

/* One entry pair at s (see SPARSE_DELTA): x advances to each entry in turn. */
#define EDGEC_PK_DELTA_PAIR(s)                                                                     \
    do {                                                                                           \
        const uint32_t d_ = (s)[0];                                                                \
        x += d_ & 15u;                                                                             \
        acc += (int32_t)(int8_t)(s)[1] * (int32_t)x[0];                                            \
        x += d_ >> 4;                                                                              \
        acc += (int32_t)(int8_t)(s)[2] * (int32_t)x[0];                                            \
    } while (0)

/* acc + one SPARSE_DELTA row's dot product with x; *stream advances past the row (count_bytes:
 * index_bits / 8). */
static inline int32_t edgec_pk_fc_delta(const uint8_t **stream, int32_t count_bytes, const int8_t *x, int32_t acc)
{
    const uint8_t *s = *stream;
    const uint32_t pairs = count_bytes == 1 ? s[0] : (uint32_t)s[0] | ((uint32_t)s[1] << 8);
    const uint8_t *const end = s + count_bytes + 3u * pairs;
    s += count_bytes;
#if defined(__GNUC__) && defined(__thumb2__)
    {
        uint32_t d, v, t;
/* one entry pair: 10 instructions for 2 MACs */
#define EDGEC_PK_FC_PAIR                                                                           \
    "ldrb %[d], [%[s]], #3\n\t"                                                                    \
    "ldrsb %[v], [%[s], #-2]\n\t"                                                                  \
    "and %[t], %[d], #15\n\t"                                                                      \
    "add %[x], %[x], %[t]\n\t"                                                                     \
    "ldrsb %[t], [%[x]]\n\t"                                                                       \
    "mla %[acc], %[v], %[t], %[acc]\n\t"                                                           \
    "ldrsb %[v], [%[s], #-1]\n\t"                                                                  \
    "add %[x], %[x], %[d], lsr #4\n\t"                                                             \
    "ldrsb %[t], [%[x]]\n\t"                                                                       \
    "mla %[acc], %[v], %[t], %[acc]\n\t"
#define EDGEC_PK_FC_OPERANDS                                                                       \
    : [s] "+r"(s), [x] "+r"(x), [acc] "+r"(acc), [d] "=&r"(d), [v] "=&r"(v), [t] "=&r"(t)           \
    : [end] "r"(end)                                                                               \
    : "cc", "memory"
        if (pairs & 1u) {
            __asm__(EDGEC_PK_FC_PAIR EDGEC_PK_FC_OPERANDS);
        }
        if (pairs & 2u) {
            __asm__(EDGEC_PK_FC_PAIR EDGEC_PK_FC_PAIR EDGEC_PK_FC_OPERANDS);
        }
        if (s < end) { /* four pairs a turn */
            __asm__("1:\n\t" EDGEC_PK_FC_PAIR EDGEC_PK_FC_PAIR EDGEC_PK_FC_PAIR EDGEC_PK_FC_PAIR
                    "cmp %[s], %[end]\n\t"
                    "blo 1b" EDGEC_PK_FC_OPERANDS);
        }
#undef EDGEC_PK_FC_PAIR
#undef EDGEC_PK_FC_OPERANDS
    }
#else
    if (pairs & 1u) {
        EDGEC_PK_DELTA_PAIR(s);
        s += 3;
    }
    for (; s < end; s += 6) { /* two pairs a turn */
        EDGEC_PK_DELTA_PAIR(s);
        EDGEC_PK_DELTA_PAIR(s + 3);
    }
#endif
    *stream = end;
    return acc;
}

#endif /* EDGEC_PACKED_H */
