"""The depthwise pair layout of column layers, prepared at generation time (edgec_dwpair.c, `dsp` field).

A column layer: a kernel 1 wide over an input 1 wide (taps and pixels along the rows), stride 1,
valid padding, depth multiplier 1. Its taps run in pairs (2i, 2i + 1) of one channel: per group of
4 channels the kernel builds, once, the int16 pairs (x[r], x[r + d]) of every input row r (d the
dilation; the last d rows, for an odd last tap, pair with themselves), and one SMLAD of a pair with
the weights (w[2i], w[2i + 1]) adds two taps of output r - 2 i d. With few outputs (a pair serves
one), each output builds its pairs in registers instead (edgec_dwpair_t<taps>_s8).

Per group of four channels c..c+3, int32 words in order: the biases doubled (4 words); per pair of
taps i < ceil(taps / 2), the doubled weights (w[2i] low, w[2i + 1] high, 0 past the last tap) of
each channel (4 words); per channel the rescale (m, k, e) of dwlayout.py. The kernel accumulates
s = 2 * acc and writes SSAT8((k - [s < 0] + SMMULR(s, m)) >> e), as dwlayout.py's.
"""
from __future__ import annotations

import dataclasses

import numpy as np

from . import dwlayout
from .ops import DepthwiseConv2D

MIN_TAPS, MAX_TAPS = 3, 16  # edgec_dwd_run3..16
MIN_STACK_PAIRS = 3  # edgec_dwq_run3..8: the pairs on the stack from 5 taps
MAX_ROWS = 96  # EDGEC_DWQ_ROWS: the pairs of a group's input rows on the stack


def pairs(taps: int) -> int:
    """The layout's pairs of taps per channel."""
    return (taps + 1) // 2


def costs(taps: int, in_rows: int, out_rows: int) -> tuple[int, int, int]:
    """Instructions a group of 4 channels on the emulated M7 (measured, rounded): the dense layout's
    column kernel (edgec_dwl_col: 9.5 a tap and 35 per output), the pairs built on the stack (8 a pair
    of taps and 33 per output, 13 a row of input and 40 a call) and the pairs built in registers
    (15 a pair of taps, 13 an odd last tap, 31 per output and 15 a group: one call for all)."""
    dense = out_rows * (19 * taps + 70) // 2
    stack = out_rows * (33 + 8 * pairs(taps)) + 13 * in_rows + 40
    if pairs(taps) < MIN_STACK_PAIRS:
        stack = dense + 1
    registers = out_rows * (31 + 15 * (taps // 2) + 13 * (taps % 2)) + 15
    return dense, stack, registers


def in_registers(op: DepthwiseConv2D) -> bool:
    """Whether an eligible op builds its pairs in registers (edgec_dwpair_t<taps>_s8), not on the stack."""
    _, stack, registers = costs(op.kernel_hw[0], op.in_hwc[0], op.out_hwc[0])
    return registers < stack


def entry(op: DepthwiseConv2D) -> str:
    """The kernel an eligible op calls (edgec_dwpair.h)."""
    return f"edgec_dwpair_t{op.kernel_hw[0]}_s8" if in_registers(op) else "edgec_dwpair_s8"


def eligible(op: DepthwiseConv2D) -> bool:
    """Whether the pair layout applies and is the faster: a column layer of 3..16 taps, stride 1 along
    the rows, valid padding, at most MAX_ROWS input rows, that the dense layout takes (dwlayout.eligible:
    depth multiplier 1, channels a multiple of 4, the narrow rescale over the whole int8 range)."""
    if not dwlayout.eligible(op):
        return False
    kh, kw = op.kernel_hw
    column = kw == 1 and op.in_hwc[1] == 1 and op.out_hwc[1] == 1 and op.pad_tl == (0, 0)
    if not (column and op.stride_hw[0] == 1 and MIN_TAPS <= kh <= MAX_TAPS):
        return False
    dense, stack, registers = costs(kh, op.in_hwc[0], op.out_hwc[0])
    return op.in_hwc[0] <= MAX_ROWS and min(stack, registers) < dense


def layout(op: DepthwiseConv2D) -> np.ndarray:
    """The int32 words of the layout (eligible(op) must hold)."""
    channels, taps = op.out_hwc[2], op.kernel_hw[0]
    n = pairs(taps)
    w = np.zeros((2 * n, channels), dtype=np.int64)
    w[:taps] = 2 * op.weights.reshape(taps, channels).astype(np.int64)  # [tap][channel], doubled
    pair = (w[0::2] & 0xFFFF) | ((w[1::2] & 0xFFFF) << 16)  # [pair][channel]
    bias, rescale = dwlayout.bias_and_rescale(op)
    words = []
    for c in range(0, channels, 4):
        words.extend(bias[c:c + 4])
        words.extend(pair[:, c:c + 4].reshape(-1))
        words.extend(rescale[c:c + 4].reshape(-1))
    return np.array(words, dtype=np.int64).astype(np.uint32).view(np.int32)


def chunk_eligible(op: DepthwiseConv2D, packed) -> bool:
    """Whether edgec_dwconv2d_dwp_s8 applies: a column layer the dense engine runs by pairs of taps,
    its weights clustered with 4-bit indices into one codebook (decoded a chunk of groups at a time
    into this layout)."""
    return (dwlayout.chunk_eligible(op, packed) and packed.shared and packed.index_bits == 4
            and eligible(dataclasses.replace(op, packed=None, chunk=0, pair_layout=False)))


def groups_entry(op: DepthwiseConv2D) -> str:
    """The kernel over a chunk of groups that edgec_dwconv2d_dwp_s8 calls (edgec_dwpair.h): the dense
    layer's choice (entry)."""
    return f"edgec_dwpair_groups_t{op.kernel_hw[0]}_s8" if in_registers(op) else "edgec_dwpair_groups_s8"
