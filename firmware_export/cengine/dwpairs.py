"""The depthwise pair layout of column layers, prepared at generation time (edgec_dwpair.c, `dsp` field).

A column layer: a kernel 1 wide over an input 1 wide (taps and pixels along the rows), stride 1,
valid padding, depth multiplier 1. Its taps run in pairs (2i, 2i + 1) of one channel: the kernel
builds, per channel, the int16 pairs (x[r], x[r + d]) of the input rows r, r + d (d the dilation),
and one SMLAD of a pair with the weights (w[2i], w[2i + 1]) adds two taps of output r - 2 i d.

Per channel, int32 words in order: the bias doubled, then the rescale (m, k, e) of dwlayout.py,
then the pairs of doubled weights (w[2i] low, w[2i + 1] high), zero past the last tap, their count
rounded up to an even number (the kernel loads two pairs at a time). The kernel accumulates
s = 2 * acc and writes SSAT8((k - [s < 0] + SMMULR(s, m)) >> e), as dwlayout.py's.
"""
from __future__ import annotations

import numpy as np

from . import dwlayout
from .ops import DepthwiseConv2D

MAX_TAPS = 16  # four blocks of two pairs: edgec_dwp_run1..4
MIN_TAPS = 5  # fewer: the dense layout's column kernel is as fast (measured on the emulated M7)


def pairs(taps: int) -> int:
    """The layout's pairs per channel: ceil(taps / 2) rounded up to an even number."""
    return 2 * ((taps + 3) // 4)


def eligible(op: DepthwiseConv2D) -> bool:
    """Whether the pair layout applies (and is the faster): a column layer of MIN_TAPS..MAX_TAPS
    taps, stride 1 along the rows, valid padding, that the dense layout takes (dwlayout.eligible:
    depth multiplier 1, channels a multiple of 4, the narrow rescale over the whole int8 range)."""
    if not dwlayout.eligible(op):
        return False
    kh, kw = op.kernel_hw
    column = kw == 1 and op.in_hwc[1] == 1 and op.out_hwc[1] == 1 and op.pad_tl == (0, 0)
    return column and op.stride_hw[0] == 1 and MIN_TAPS <= kh <= MAX_TAPS and op.out_hwc[0] >= 1


def layout(op: DepthwiseConv2D) -> np.ndarray:
    """The int32 words of the layout (eligible(op) must hold)."""
    channels, taps = op.out_hwc[2], op.kernel_hw[0]
    rq = op.requant
    n = pairs(taps)
    w = np.zeros((2 * n, channels), dtype=np.int64)
    w[:taps] = 2 * op.weights.reshape(taps, channels).astype(np.int64)  # [tap][channel], doubled
    bias = 2 * np.asarray(op.bias, dtype=np.int64)
    m = np.broadcast_to(np.asarray(rq.multiplier, dtype=np.int64), (channels,))
    e = -np.broadcast_to(np.asarray(rq.shift, dtype=np.int64), (channels,))
    k = (2 * rq.output_zp + 1) * (np.int64(1) << (e - 1))
    words = np.zeros((channels, 4 + n), dtype=np.int64)
    words[:, 0], words[:, 1], words[:, 2], words[:, 3] = bias, m, k, e
    words[:, 4:] = (w[0::2].T & 0xFFFF) | ((w[1::2].T & 0xFFFF) << 16)
    return words.reshape(-1).astype(np.uint32).view(np.int32)
