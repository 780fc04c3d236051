"""The depthwise pair layout of column layers, prepared at generation time (edgec_dwpair.c, `dsp` field).

A column layer: a kernel 1 wide over an input 1 wide (taps and pixels along the rows), stride 1,
valid padding, depth multiplier 1. Its taps run in pairs (2i, 2i + 1) of one channel: per group of
4 channels the kernel builds, once, the int16 pairs (x[r], x[r + d]) of every input row r (d the
dilation; the last d rows, for an odd last tap, pair with themselves), and one SMLAD of a pair with
the weights (w[2i], w[2i + 1]) adds two taps of output r - 2 i d.

Per group of four channels c..c+3, int32 words in order: the biases doubled (4 words); per pair of
taps i < ceil(taps / 2), the doubled weights (w[2i] low, w[2i + 1] high, 0 past the last tap) of
each channel (4 words); per channel the rescale (m, k, e) of dwlayout.py. The kernel accumulates
s = 2 * acc and writes SSAT8((k - [s < 0] + SMMULR(s, m)) >> e), as dwlayout.py's.
"""
from __future__ import annotations

import numpy as np

from . import dwlayout
from .ops import DepthwiseConv2D

MIN_PAIRS, MAX_PAIRS = 3, 8  # edgec_dwq_run3..8: 5 to 16 taps
MAX_ROWS = 96  # EDGEC_DWQ_ROWS: the pairs of a group's input rows on the stack


def pairs(taps: int) -> int:
    """The layout's pairs of taps per channel."""
    return (taps + 1) // 2


def faster(taps: int, in_rows: int, out_rows: int) -> bool:
    """Whether the pairs beat the dense layout's column kernel (edgec_dwl_col), in instructions a group
    of 4 channels on the emulated M7: per output 8 a pair of taps plus 33 (biases, rescale, loop), 13
    a row of input to build its pairs and 40 a call, against 8 a tap plus 34 per output."""
    return out_rows * (33 + 8 * pairs(taps)) + 13 * in_rows + 40 < out_rows * (34 + 8 * taps)


def eligible(op: DepthwiseConv2D) -> bool:
    """Whether the pair layout applies and is the faster: a column layer of 5..16 taps, stride 1 along
    the rows, valid padding, at most MAX_ROWS input rows, that the dense layout takes (dwlayout.eligible:
    depth multiplier 1, channels a multiple of 4, the narrow rescale over the whole int8 range)."""
    if not dwlayout.eligible(op):
        return False
    kh, kw = op.kernel_hw
    column = kw == 1 and op.in_hwc[1] == 1 and op.out_hwc[1] == 1 and op.pad_tl == (0, 0)
    if not (column and op.stride_hw[0] == 1 and MIN_PAIRS <= pairs(kh) <= MAX_PAIRS):
        return False
    return op.in_hwc[0] <= MAX_ROWS and faster(kh, op.in_hwc[0], op.out_hwc[0])


def layout(op: DepthwiseConv2D) -> np.ndarray:
    """The int32 words of the layout (eligible(op) must hold)."""
    channels, taps = op.out_hwc[2], op.kernel_hw[0]
    rq = op.requant
    n = pairs(taps)
    w = np.zeros((2 * n, channels), dtype=np.int64)
    w[:taps] = 2 * op.weights.reshape(taps, channels).astype(np.int64)  # [tap][channel], doubled
    pair = (w[0::2] & 0xFFFF) | ((w[1::2] & 0xFFFF) << 16)  # [pair][channel]
    bias = 2 * np.asarray(op.bias, dtype=np.int64)
    m = np.broadcast_to(np.asarray(rq.multiplier, dtype=np.int64), (channels,))
    e = -np.broadcast_to(np.asarray(rq.shift, dtype=np.int64), (channels,))
    k = (2 * rq.output_zp + 1) * (np.int64(1) << (e - 1))
    words = []
    for c in range(0, channels, 4):
        words.extend(bias[c:c + 4])
        words.extend(pair[:, c:c + 4].reshape(-1))
        for j in range(c, c + 4):
            words.extend((m[j], k[j], e[j]))
    return np.array(words, dtype=np.int64).astype(np.uint32).view(np.int32)
