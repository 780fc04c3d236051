"""How each MAC layer's weights are stored in flash: the formats, their encoding, the choice.

A layer's weights are seen as a matrix of rows (output channels) of taps, in the order the
kernel reads them (kernels/edgec_packed.h describes the formats bit for bit):
  dense             int8, as the dense kernels read them
  clustered         per row a codebook of its distinct int8 values (<= 16) and packed indices
  sparse            per row a bitmask of the nonzero taps and the nonzero int8 values
  sparse_clustered  the bitmask and packed codebook indices of the nonzeros only
The sparse rows of fully-connected layers and one-group convolutions take the "delta" layout
instead of the bitmask: per row the count of entry pairs, then each nonzero as the 4-bit distance
from the previous one and its int8 value (a gap over 15 taps is bridged by entries of value 0),
which their kernels walk as stored, without a branch per tap. The sparse rows of depthwise layers
of at most 16 taps take the "fixed" layout: every row holds the same number K of entries (the most
nonzeros of a row; shorter rows padded with entries of value 0), K int8 values and K 4-bit tap
positions, no count and no mask (2 nonzeros of 9 taps: 3 bytes a channel).
  block             (fully connected and one-group convolutions) a row's taps cut into aligned blocks of
                    4 (the last one padded with zeros); per row the count of its nonzero blocks and
                    their block indices (`mask`: one byte each, two little-endian when a row has over
                    255 blocks; index_bits 8 or 16), the nonzero blocks' 4 int8 values (`values`, zeros
                    inside a block stored too): what block pruning leaves, run with SMLAD a block
  block_clustered   the same positions; each stored block's 4 values as 4-bit indices into the row's
                    (or the tensor's) codebook, 2 bytes a block
  dw_block          (depthwise, depth multiplier 1, at most 32 taps) the channels in groups of 4 (the
                    last group the 1-3 channels left over, its missing channels stored as 0); per group
                    the count of its kept taps (a tap where one of the group's 4 weights is nonzero)
                    and their tap indices (`mask`, one byte each), then each kept tap's 4 int8 weights
                    (`values`, one word a kept tap, group after group): what depthwise block pruning
                    leaves (toolchain.compress.blocks), run by edgec_packed_dwb (dwblocks.py: the DSP
                    layout of the kept taps only)
Clustering is detected from the weights themselves (a row with at most 16 distinct values), so any
.tflite whose weights were clustered (then quantized per channel) benefits. `choose` takes, per
layer, the format with the fewest bytes (flash first), the faster kernel's format where two are within
8 % of each other (then instructions); "dense" mode keeps int8 everywhere.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from toolchain.base.errors import OptionError

WEIGHT_MODES = ("auto", "dense")
FORMATS = ("dense", "clustered", "sparse", "sparse_clustered", "block", "block_clustered", "dw_block")
FORMAT_CODES = {"clustered": 1, "sparse": 2, "sparse_clustered": 3,  # EDGEC_CLUSTERED...
                "block": 6, "block_clustered": 7,  # EDGEC_BLOCK, EDGEC_BLOCK_CLUSTERED
                "dw_block": 8}  # EDGEC_DW_BLOCK
BLOCK_FORMATS = ("block", "block_clustered")
BLOCK = 4  # taps per block
DELTA_CODE = 4  # EDGEC_SPARSE_DELTA: "sparse" in the delta layout
FIXED_CODE = 5  # EDGEC_SPARSE_FIXED: "sparse" in the fixed layout
LAYOUTS = ("mask", "delta", "fixed", "block", "dw_block")
DW_GROUP = 4  # channels per group of dw_block
MAX_DW_BLOCK_TAPS = 32  # EDGEC_DWB_MAX_TAPS
MAX_CLUSTERS = 16
MAX_DELTA = 15
MAX_FIXED_TAPS = 16  # a tap position in 4 bits


@dataclass(frozen=True)
class LayerStorage:
    op_index: int
    op: str
    tensor: str  # the weight tensor's name in the .tflite
    format: str  # one of FORMATS
    dense_bytes: int  # the int8 weights as the dense engine stores them
    stored_bytes: int  # every array holding the weights as stored (indices, codebooks, masks, values; the pair
    # table of a clustered FC, fcpairs.py, which DSP builds only hold)
    index_bits: int  # bits per packed codebook index (0 unless clustered; 8 or 16 for sparse "delta": bits of
    # each row's count)
    clusters: int  # codebook entries per channel (0 unless clustered)
    density: float  # nonzero fraction of the weights
    tile: int = 0  # packed conv / depthwise: output pixels per decoding of the weights (0: dense, or FC; all
    # the pixels for a convolution decoded in chunks of rows)


@dataclass(frozen=True)
class PackedWeights:
    """A weight matrix in a compressed format: the arrays edgec_packed points to."""

    format: str
    rows: int
    taps: int
    mask: np.ndarray = field(repr=False)  # uint8 [rows * ceil(taps / 8)], empty unless sparse
    values: np.ndarray = field(repr=False)  # uint8: int8 nonzeros, or the index bit stream (+1 byte)
    codebook: np.ndarray = field(repr=False)  # int8 [rows * clusters] or [clusters] when shared
    index_bits: int
    clusters: int
    shared: bool
    max_nonzeros: int
    layout: str = "mask"  # "delta": sparse rows as (4-bit distance, int8 value) entries, no mask;
    # "fixed": max_nonzeros entries a row, 4-bit tap positions in `mask`, int8 values in `values`

    @property
    def code(self) -> int:
        """The format's code in edgec_packed (EDGEC_CLUSTERED ... EDGEC_SPARSE_FIXED)."""
        return {"delta": DELTA_CODE, "fixed": FIXED_CODE}.get(self.layout, FORMAT_CODES[self.format])

    @property
    def arrays(self) -> list[np.ndarray]:
        return [self.mask, self.values, self.codebook]

    @property
    def nbytes(self) -> int:
        return sum(int(a.nbytes) for a in self.arrays)


def check_mode(weights: str) -> str:
    if weights not in WEIGHT_MODES:
        raise OptionError("--weights", weights, " or ".join(WEIGHT_MODES))
    return weights


def density(weights: np.ndarray) -> float:
    return float(np.count_nonzero(weights)) / weights.size if weights.size else 0.0


def _pack_bits(indices: np.ndarray, bits: int) -> np.ndarray:
    """Unsigned values of `bits` bits each as one LSB-first bit stream, plus one byte of padding."""
    indices = np.asarray(indices, dtype=np.uint32).reshape(-1)
    planes = ((indices[:, None] >> np.arange(bits, dtype=np.uint32)) & 1).astype(np.uint8).reshape(-1)
    packed = np.packbits(planes, bitorder="little")
    return np.concatenate([packed, np.zeros(1, np.uint8)])


def _codebooks(rows: list[np.ndarray]) -> tuple[np.ndarray, int, int, bool, list[np.ndarray]] | None:
    """Codebook(s) and index_bits for rows of values, or None when a row has more than 16 values.
    Returns (codebook, clusters, bits, shared, per-row index arrays)."""
    distinct = [np.unique(r) for r in rows]
    most = max((len(d) for d in distinct), default=0)
    if most > MAX_CLUSTERS or most == 0:
        return None
    bits = max(1, int(np.ceil(np.log2(most))))
    union = np.unique(np.concatenate(distinct))
    shared_bits = max(1, int(np.ceil(np.log2(len(union)))))
    taps = sum(len(r) for r in rows)
    # one codebook for every row, if it fits 16 entries and costs no more than a codebook per row
    # with fewer bits per index (indices + codebooks, in bytes)
    if len(union) <= MAX_CLUSTERS and (len(union) <= (1 << bits) or -(-taps * shared_bits // 8) + len(union)
                                       <= -(-taps * bits // 8) + len(rows) * most):
        indices = [np.searchsorted(union, r) for r in rows]
        return union.astype(np.int8), len(union), shared_bits, True, indices
    books = np.zeros((len(rows), most), np.int8)
    indices = []
    for i, (r, d) in enumerate(zip(rows, distinct)):
        books[i, :len(d)] = d
        indices.append(np.searchsorted(d, r))
    return books.reshape(-1), most, bits, False, indices


def _mask(matrix: np.ndarray) -> np.ndarray:
    return np.packbits(matrix != 0, axis=1, bitorder="little").reshape(-1)


def _delta_row(row: np.ndarray) -> tuple[int, bytes]:
    """One row in the delta layout: (count of entry pairs, per pair a byte of the two distances
    (low nibble first) and the two int8 values)."""
    entries, at = [], 0
    for k in np.flatnonzero(row):
        while k - at > MAX_DELTA:
            entries.append((MAX_DELTA, 0))
            at += MAX_DELTA
        entries.append((int(k - at), int(row[k])))
        at = int(k)
    if len(entries) % 2:
        entries.append((0, 0))
    body = bytes(b for (d0, v0), (d1, v1) in zip(entries[::2], entries[1::2])
                 for b in (d0 | d1 << 4, v0 & 0xFF, v1 & 0xFF))
    return len(entries) // 2, body


def _fixed(matrix: np.ndarray) -> PackedWeights | None:
    """Sparse rows in the fixed layout: K entries a row (K: the most nonzeros of a row), values int8
    [rows][K], tap positions [rows][ceil(K / 2)] bytes of two 4-bit positions (low nibble first);
    a row with fewer nonzeros is padded with entries (position 0, value 0)."""
    rows, taps = matrix.shape
    if taps > MAX_FIXED_TAPS:
        return None
    k = max((int(np.count_nonzero(r)) for r in matrix), default=0)
    values = np.zeros((rows, k), np.int8)
    positions = np.zeros((rows, k + (k & 1)), np.uint8)
    for i, r in enumerate(matrix):
        at = np.flatnonzero(r)
        values[i, :len(at)] = r[at]
        positions[i, :len(at)] = at
    nibbles = (positions[:, 0::2] | positions[:, 1::2] << 4).astype(np.uint8)
    return PackedWeights("sparse", rows, taps, nibbles.reshape(-1), values.view(np.uint8).reshape(-1),
                         np.zeros(0, np.int8), 0, 0, False, k, "fixed")


def _block_matrix(matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """([rows, blocks, 4] the taps in aligned blocks, the last padded with 0; [rows, blocks] nonzero)."""
    rows, taps = matrix.shape
    nblk = -(-taps // BLOCK)
    padded = np.zeros((rows, nblk * BLOCK), np.int8)
    padded[:, :taps] = matrix
    blocks = padded.reshape(rows, nblk, BLOCK)
    return blocks, blocks.any(axis=2)


def _block(matrix: np.ndarray, clustered: bool) -> PackedWeights | None:
    """Rows as their nonzero blocks (the "block" formats, see the module docstring)."""
    rows, taps = matrix.shape
    blocks, nonzero = _block_matrix(matrix)
    counts = nonzero.sum(axis=1)
    width = 1 if nonzero.shape[1] <= 0xFF else 2
    entries = [np.concatenate([[c], np.flatnonzero(r)]) for c, r in zip(counts, nonzero)]
    positions = np.concatenate(entries).astype(np.uint8 if width == 1 else "<u2").view(np.uint8) if rows else \
        np.zeros(0, np.uint8)
    most = int(counts.max(initial=0))
    kept = blocks[nonzero]  # [stored blocks, 4], rows one after the other
    if not clustered:
        return PackedWeights("block", rows, taps, positions, kept.reshape(-1).view(np.uint8), np.zeros(0, np.int8),
                             8 * width, 0, False, most, "block")
    row_values = [blocks[r][nonzero[r]].reshape(-1) for r in range(rows)]
    if most == 0:
        return None
    cb = _codebooks([v for v in row_values if len(v)])
    if cb is None:
        return None
    book, clusters, _bits, shared, indices = cb
    if not shared:  # empty rows get an (unused) codebook of zeros, to keep rows aligned
        it = iter(book.reshape(-1, clusters))
        book = np.concatenate([next(it) if len(v) else np.zeros(clusters, np.int8) for v in row_values])
    idx = np.concatenate(indices).astype(np.uint8)
    return PackedWeights("block_clustered", rows, taps, positions, (idx[0::2] | idx[1::2] << 4).astype(np.uint8),
                         book, 8 * width, clusters, shared, most, "block")


def _block_decode(packed: PackedWeights) -> np.ndarray:
    rows, taps = packed.rows, packed.taps
    nblk = -(-taps // BLOCK)
    out = np.zeros((rows, nblk, BLOCK), np.int8)
    stream = packed.mask.view("<u2") if packed.index_bits == 16 else packed.mask
    book = packed.codebook.reshape(1 if packed.shared else rows, -1) if packed.clusters else None
    if packed.format == "block_clustered":
        nibbles = np.stack([packed.values & 15, packed.values >> 4], axis=1).reshape(-1, BLOCK)
    at, stored = 0, 0
    for r in range(rows):
        count = int(stream[at])
        where = stream[at + 1:at + 1 + count].astype(np.int64)
        if packed.format == "block":
            out[r, where] = packed.values[4 * stored:4 * (stored + count)].view(np.int8).reshape(-1, BLOCK)
        else:
            out[r, where] = book[0 if packed.shared else r][nibbles[stored:stored + count]]
        at, stored = at + 1 + count, stored + count
    return out.reshape(rows, -1)[:, :taps]


def dw_units(matrix: np.ndarray) -> np.ndarray:
    """[groups, taps]: whether tap t of the group of DW_GROUP channels g holds a nonzero (`matrix`
    [channels, taps]; the last group the channels left over)."""
    rows, taps = matrix.shape
    groups = -(-rows // DW_GROUP)
    padded = np.zeros((groups * DW_GROUP, taps), bool)
    padded[:rows] = matrix != 0
    return padded.reshape(groups, DW_GROUP, taps).any(axis=1)


def _dw_block(matrix: np.ndarray) -> PackedWeights | None:
    """Depthwise rows as the kept taps of groups of 4 channels (the "dw_block" format)."""
    rows, taps = matrix.shape
    if taps > MAX_DW_BLOCK_TAPS or rows == 0:
        return None
    kept = dw_units(matrix)
    groups = len(kept)
    padded = np.zeros((groups * DW_GROUP, taps), np.int8)
    padded[:rows] = matrix
    per_group = padded.reshape(groups, DW_GROUP, taps)
    mask, values = [], []
    for g in range(groups):
        at = np.flatnonzero(kept[g])
        mask += [len(at), *at]
        values += [per_group[g][:, t] for t in at]
    words = np.concatenate(values).astype(np.int8).view(np.uint8) if values else np.zeros(0, np.uint8)
    return PackedWeights("dw_block", rows, taps, np.array(mask, np.uint8), words, np.zeros(0, np.int8), 8, 0,
                         False, int(kept.sum(axis=1).max(initial=0)), "dw_block")


def _dw_block_decode(packed: PackedWeights) -> np.ndarray:
    groups = -(-packed.rows // DW_GROUP)
    out = np.zeros((groups * DW_GROUP, packed.taps), np.int8)
    values = packed.values.view(np.int8).reshape(-1, DW_GROUP)
    at, stored = 0, 0
    for g in range(groups):
        count = int(packed.mask[at])
        for t in packed.mask[at + 1:at + 1 + count]:
            out[DW_GROUP * g:DW_GROUP * (g + 1), int(t)] = values[stored]
            stored += 1
        at += 1 + count
    return out[:packed.rows]


def encode(matrix: np.ndarray, fmt: str, layout: str = "mask") -> PackedWeights | None:
    """`matrix` [rows, taps] int8 in format `fmt` (not dense), or None when it does not apply.
    layouts "delta" (fully-connected and one-group convolution kernels) and "fixed" (depthwise, at
    most 16 taps) apply to "sparse" only."""
    rows, taps = matrix.shape
    if fmt in BLOCK_FORMATS:
        return _block(matrix, fmt == "block_clustered")
    if fmt == "dw_block":
        return _dw_block(matrix)
    if fmt == "sparse" and layout == "fixed":
        return _fixed(matrix)
    if fmt == "sparse" and layout == "delta":
        coded = [_delta_row(r) for r in matrix]
        most = max((pairs for pairs, _ in coded), default=0)
        if most > 0xFFFF:
            return None
        count = 1 if most <= 0xFF else 2  # bytes of each row's count: index_bits = 8 * count
        stream = np.frombuffer(b"".join(pairs.to_bytes(count, "little") + body for pairs, body in coded), np.uint8)
        max_nz = max((int(np.count_nonzero(r)) for r in matrix), default=0)
        return PackedWeights(fmt, rows, taps, np.zeros(0, np.uint8), stream, np.zeros(0, np.int8), 8 * count, 0,
                             False, max_nz, "delta")
    nonzeros = [r[r != 0] for r in matrix]
    max_nz = max((len(n) for n in nonzeros), default=0)
    empty8 = np.zeros(0, np.uint8)
    if fmt == "clustered":
        cb = _codebooks(list(matrix))
        if cb is None:
            return None
        book, clusters, bits, shared, indices = cb
        values = _pack_bits(np.concatenate(indices), bits)
        return PackedWeights(fmt, rows, taps, empty8, values, book, bits, clusters, shared, 0)
    mask = _mask(matrix)
    if fmt == "sparse":
        values = np.concatenate(nonzeros).astype(np.int8).view(np.uint8) if max_nz else empty8
        return PackedWeights(fmt, rows, taps, mask, values, np.zeros(0, np.int8), 0, 0, False, max_nz)
    assert fmt == "sparse_clustered", fmt
    if max_nz == 0:
        return None
    cb = _codebooks([n for n in nonzeros if len(n)])
    if cb is None:
        return None
    book, clusters, bits, shared, indices = cb
    if not shared:  # give empty rows an (unused) codebook of zeros to keep rows aligned
        per_row, it = [], iter(book.reshape(-1, clusters))
        for n in nonzeros:
            per_row.append(next(it) if len(n) else np.zeros(clusters, np.int8))
        book = np.concatenate(per_row)
    values = _pack_bits(np.concatenate(indices), bits)
    return PackedWeights(fmt, rows, taps, mask, values, book, bits, clusters, shared, max_nz)


def decode(packed: PackedWeights) -> np.ndarray:
    """The int8 matrix a PackedWeights holds (the reference the C decoder must agree with)."""
    rows, taps, bits = packed.rows, packed.taps, packed.index_bits
    if packed.layout == "block":
        return _block_decode(packed)
    if packed.layout == "dw_block":
        return _dw_block_decode(packed)
    out = np.zeros((rows, taps), np.int8)
    if packed.layout == "fixed":
        k = packed.max_nonzeros
        nibbles = packed.mask.reshape(rows, -1)
        positions = np.stack([nibbles & 15, nibbles >> 4], axis=2).reshape(rows, -1)[:, :k]
        values = packed.values.view(np.int8).reshape(rows, k)
        for r in range(rows):
            np.add.at(out[r], positions[r].astype(np.int64), values[r])
        return out
    if packed.layout == "delta":
        stream, at, count = packed.values, 0, bits // 8
        for r in range(rows):
            pairs, k = int.from_bytes(stream[at:at + count].tobytes(), "little"), 0
            body = stream[at + count:at + count + 3 * pairs].reshape(pairs, 3)
            for d, v0, v1 in body:
                k += int(d) & 15
                out[r, k] += np.uint8(v0).view(np.int8)
                k += int(d) >> 4
                out[r, k] += np.uint8(v1).view(np.int8)
            at += count + 3 * pairs
        return out
    if packed.format != "sparse":
        stream = np.unpackbits(packed.values, bitorder="little")
        nidx = (len(stream) - 8) // bits
        idx = (stream[:nidx * bits].reshape(-1, bits).astype(np.uint32) << np.arange(bits, dtype=np.uint32)).sum(1)
    book = packed.codebook.reshape(1 if packed.shared else rows, -1) if packed.clusters else None
    if packed.format == "clustered":
        idx = idx[:rows * taps].reshape(rows, taps)
        return book[0][idx] if packed.shared else np.take_along_axis(book, idx.astype(np.int64), 1)
    mask = np.unpackbits(packed.mask.reshape(rows, -1), axis=1, bitorder="little")[:, :taps].astype(bool)
    at = 0
    for r in range(rows):
        n = int(mask[r].sum())
        if packed.format == "sparse":
            out[r, mask[r]] = packed.values[at:at + n].view(np.int8)
        else:
            out[r, mask[r]] = book[0 if packed.shared else r][idx[at:at + n]]
        at += n
    return out


# Formats by how fast their kernels run (fewer instructions first), to break near-ties in bytes.
SPEED_ORDER = ("dw_block", "block", "sparse_fixed", "sparse_delta", "clustered", "block_clustered", "sparse", "sparse_clustered")
NEAR_TIE = 0.08  # a format at most 8 % (or 16 bytes) larger than the smallest counts as a tie on flash
NEAR_TIE_BYTES = 16


def _speed_rank(packed: PackedWeights) -> int:
    if packed.layout in ("mask", "block", "dw_block"):
        return SPEED_ORDER.index(packed.format)
    return SPEED_ORDER.index(f"sparse_{packed.layout}")


def choose(matrix: np.ndarray, dense_bytes: int, formats=("clustered", "sparse", "sparse_clustered"),
           sparse_layout: str = "mask") -> PackedWeights | None:
    """The packed format with the fewest bytes, if it beats dense_bytes (None: stay dense); flash first,
    then instructions: a format whose kernel runs faster (SPEED_ORDER) wins if it is at most NEAR_TIE
    (or NEAR_TIE_BYTES) larger than the smallest: on the M7 a fully-connected sparse-clustered row
    (its mask walked bit by bit) costs about 15 instructions a nonzero, a clustered one about 4 a
    tap, so a sparse-clustered layer 5 % smaller than clustered runs nearly 3x slower."""
    candidates = [p for p in (encode(matrix, fmt, sparse_layout if fmt == "sparse" else "mask") for fmt in formats)
                  if p is not None and p.nbytes < dense_bytes]
    if not candidates:
        return None
    smallest = min(p.nbytes for p in candidates)
    near = [p for p in candidates if p.nbytes <= smallest + max(smallest * NEAR_TIE, NEAR_TIE_BYTES)]
    return min(near, key=lambda p: (_speed_rank(p), p.nbytes))


def _table_bytes(op) -> int:
    """The bytes of an op's pair tables in flash (fcpairs.table: the FC, conv and pointwise pair kernels)."""
    return sum(int(getattr(op, key, np.zeros(0)).nbytes) for key in ("pairs", "pwt_pairs"))


def layer_storage(op) -> LayerStorage:
    """The storage record of a MAC op (dense, or as its `packed` weights)."""
    dense = int(op.weights_in_flash.nbytes) if hasattr(op, "weights_in_flash") else int(op.weights.nbytes)
    pk = op.packed
    return LayerStorage(op_index=op.index, op=op.op, tensor=op.weights_name,
                        format=pk.format if pk else "dense", dense_bytes=dense,
                        stored_bytes=pk.nbytes + _table_bytes(op) if pk else dense,
                        index_bits=pk.index_bits if pk else 0,
                        clusters=pk.clusters if pk else 0, density=density(op.weights),
                        tile=_tile(op) if pk else 0)


def _tile(op) -> int:
    """Output pixels per decoding of op's packed weights: a convolution decoded in chunks of rows
    (edgec_conv2d_rows_s8) decodes them once for all its pixels."""
    if getattr(op, "rows", 0):
        return op.batches * op.out_hwc[0] * op.out_hwc[1]
    return getattr(op, "tile", 0)
