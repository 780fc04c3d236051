"""The depthwise column layout run one channel at a time (kernels/edgec_dwcol.h, `dsp` array), prepared
at generation time.

A column layer (kernel and input 1 wide, stride 1, dilation 1, valid padding, depth multiplier 1) of 3
or 5 taps. Each channel's outputs run down its column with the window of the last input rows in
registers: an output costs one load, one multiply per tap and 4 instructions of rescale, the shift an
immediate of the assembly. The engine instantiates one function per layer and per value of the shift e
among its channels (EDGEC_DWCOL3 / EDGEC_DWCOL5 with the layer's channels, e and outputs), each over
the records of its channels.

The records, in order of (e, channel), 7 int32 words each: the channel's byte offset c; its doubled
weights (3 taps: one a word; 5 taps: the int16 pairs (w0, w1), (w2, w3), (w4, 0)); its doubled bias;
its rescale m and k (dwlayout.py: e is the function's). The kernel accumulates s = 2 * acc and writes
SSAT8((k - [s < 0] + SMMULR(s, m)) >> e).
"""
from __future__ import annotations

import dataclasses

import numpy as np

from . import dwlayout, dwpairs
from .ops import DepthwiseConv2D

TAPS = (3, 5)  # EDGEC_DWCOL3, EDGEC_DWCOL5
WORDS = 7  # a channel's record
MAX_CHANNELS = 255  # the row step, an 8-bit immediate of LDRSB and STRB with writeback
MAX_COLUMN_BYTES = 4095  # outputs * channels, a 12-bit immediate of ADDW
CALL = 14  # instructions a function's call costs (its entry, exit and the C call)


@dataclasses.dataclass(frozen=True)
class Shift:
    """The channels of one shift e: records [first, first + count) of the layout."""

    e: int
    first: int
    count: int


def _per_channel(taps: int, outputs: int) -> int:
    """Instructions a channel costs on the emulated M7 (counted from the assembly): 3 taps, 8 an
    output, 2 a pass of 12 outputs and 11 a channel; 5 taps, 10 an output, 3 a pass of 5 and 17."""
    if taps == 3:
        return 8 * outputs + 2 * -(-outputs // 12) + 11
    return 10 * outputs + 3 * -(-outputs // 5) + 17


def _column(op: DepthwiseConv2D) -> bool:
    kh, kw = op.kernel_hw
    channels = op.out_hwc[2]
    return (kw == 1 and op.in_hwc[1] == 1 and op.out_hwc[1] == 1 and op.pad_tl == (0, 0) and op.batches == 1
            and op.stride_hw[0] == 1 and op.dilation_hw[0] == 1 and kh in TAPS and op.packed is None
            and op.depth_multiplier == 1 and op.in_hwc[2] == channels and channels <= MAX_CHANNELS
            and op.out_hwc[0] * channels <= MAX_COLUMN_BYTES)


def shifts(op: DepthwiseConv2D) -> list[Shift]:
    """The layout's functions, by increasing e."""
    e = -np.broadcast_to(np.asarray(op.requant.shift, dtype=np.int64), (op.out_hwc[2],))
    values, counts = np.unique(e, return_counts=True)
    firsts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    return [Shift(int(v), int(f), int(n)) for v, f, n in zip(values, firsts, counts)]


def cost(op: DepthwiseConv2D) -> int:
    """Instructions the layer costs through this layout (eligible shape)."""
    return op.out_hwc[2] * _per_channel(op.kernel_hw[0], op.out_hwc[0]) + CALL * len(shifts(op))


def eligible(op: DepthwiseConv2D) -> bool:
    """Whether a DSP build runs the op by this layout: a column layer of 3 or 5 taps whose rescale the
    layout computes (dwlayout.rescale_fits), at most MAX_CHANNELS channels and MAX_COLUMN_BYTES bytes of
    output, cheaper than the kernels of the other layouts (dwpairs.py, dwlayout.py)."""
    if not (_column(op) and dwlayout.rescale_fits(op)):
        return False
    if not dwlayout.eligible(op):  # the generic kernel: ~20 instructions a tap
        return True
    groups = op.out_hwc[2] // 4
    others = dwpairs.costs(op.kernel_hw[0], op.in_hwc[0], op.out_hwc[0])
    return cost(op) < groups * min(others)


def layout(op: DepthwiseConv2D) -> np.ndarray:
    """The int32 words of the records (eligible(op) must hold)."""
    channels, taps = op.out_hwc[2], op.kernel_hw[0]
    w = 2 * op.weights.reshape(taps, channels).astype(np.int64)  # [tap][channel], doubled
    if taps == 5:
        w = np.concatenate([w, np.zeros((1, channels), dtype=np.int64)])
        w = (w[0::2] & 0xFFFF) | ((w[1::2] & 0xFFFF) << 16)  # [pair][channel]
    bias, rescale = dwlayout.bias_and_rescale(op)
    order = np.lexsort((np.arange(channels), rescale[:, 2]))  # by e, then channel
    words = np.concatenate([order[:, None], w.T[order], bias[order, None], rescale[order, :2]], axis=1)
    return words.reshape(-1).astype(np.uint32).view(np.int32)
