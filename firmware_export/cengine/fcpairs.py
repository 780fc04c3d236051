"""The pair table of a clustered fully-connected layer (kernels/edgec_packed_fcp.c).

A FULLY_CONNECTED layer stored "clustered" with 4-bit indices and one codebook for the tensor runs,
on the DSP path, through a table of 256 words: word b holds the int16 pair (codebook[b & 15],
codebook[b >> 4]), the weights of the two taps whose indices share byte b of a row, so that each
byte of indices costs one load from the table and one SMLAD against the input pair (x[k], x[k + 1])
(the input widened to int16 once per layer, in scratch). The table is in flash (1 KiB, DSP builds
only) where that adds at most 1/8 to the layer's indices (MIN_TAPS); a smaller layer (SCRATCH_MIN_TAPS)
gets it built in scratch by the kernel at each inference where the SRAM limit leaves room
(packing._scratch_tables); the others keep edgec_packed_fc's kernel. The storage format is unchanged: every other path reads the
same indices with edgec_fully_connected_packed_s8. A clustered pointwise convolution on
edgec_conv2d_pwt_s8 takes the same table in flash under the same condition, to decode a byte of indices
with one load (packing._pwt_tables).
"""
from __future__ import annotations

import numpy as np

from .storage import PackedWeights

TABLE_WORDS = 256
MIN_TAPS = 8 * 2 * 4 * TABLE_WORDS  # rows * taps: the table (4 bytes a word) at most 1/8 of the indices


SCRATCH_MIN_TAPS = 1024  # rows * taps: the table built in scratch (a few hundred instructions) repaid


def runs(rows: int, taps: int, packed: PackedWeights | None) -> bool:
    """Whether the pair kernel may run an FC layer of rows x taps stored as `packed`, its table built
    in scratch at each inference."""
    return (packed is not None and packed.format == "clustered" and packed.layout == "mask" and packed.shared
            and packed.index_bits == 4 and taps % 2 == 0 and rows * taps >= SCRATCH_MIN_TAPS)


def eligible(rows: int, taps: int, packed: PackedWeights | None) -> bool:
    """Whether an FC layer of rows x taps, stored as `packed`, takes the pair table in flash."""
    return runs(rows, taps, packed) and rows * taps >= MIN_TAPS


def table(codebook: np.ndarray) -> np.ndarray:
    """int32[256]: word b = (codebook[b >> 4] << 16) | (codebook[b & 15] & 0xFFFF), codebook entries
    past its length 0 (no index reaches them)."""
    book = np.zeros(16, np.int64)
    book[:len(codebook)] = np.asarray(codebook, np.int64)
    b = np.arange(TABLE_WORDS)
    words = ((book[b >> 4] & 0xFFFF) << 16) | (book[b & 15] & 0xFFFF)
    return words.astype(np.uint32).view(np.int32)
