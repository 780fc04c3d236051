"""The depthwise kernel's DSP layout, prepared at generation time (edgec_dwconv.c, `dsp` field).

Per group of four channels c..c+3, int32 words in order:
- the bias of each channel, doubled (4 words);
- per tap, the doubled weights as int16 pairs: (c, c + 2) then (c + 1, c + 3) (2 words a tap), what
  SXTB16 makes of a word of input, so that a tap costs one load of input, two SXTB16, one LDRD of
  weights and four SMLAxy;
- per channel, the rescale (m, k, e): m the multiplier, e = -shift, k = (2 zp + 1) * 2^(e - 1); the
  last channel's e has LAST_GROUP added (bit 8: the shifts read e's low byte), which ends a pixel's
  loop over the groups.

The kernel accumulates s = 2 * acc (|acc| < 2^30: the narrow rescale) and writes
SSAT8((k - [s < 0] + SMMULR(s, m)) >> e), which equals edgec_mbqm_narrow(acc, m, shift) + zp,
saturated to int8 (see edgec_dwconv.c). Only for layers whose activation range is all of int8.
"""
from __future__ import annotations

import dataclasses

import numpy as np

from .ops import DepthwiseConv2D

MAX_TAPS = 25  # EDGEC_DW_DSP_MAX_TAPS
MAX_CHANNELS = 256  # EDGEC_DW_DSP_MAX_C (the row of input_zp bytes on the stack)
LAST_GROUP = 256  # EDGEC_DWL_LAST


def eligible(op: DepthwiseConv2D) -> bool:
    """Whether the layout applies: dense weights, depth multiplier 1, channels a multiple of 4, the
    narrow rescale over the whole int8 range, and k + 2^30 within int32."""
    channels = op.out_hwc[2]
    if op.packed is not None or op.depth_multiplier != 1 or channels % 4 or channels > MAX_CHANNELS:
        return False
    return op.kernel_hw[0] * op.kernel_hw[1] <= MAX_TAPS and rescale_fits(op)


def rescale_fits(op: DepthwiseConv2D) -> bool:
    """Whether the rescale (m, k, e) below computes the op's: the narrow rescale over the whole int8
    range, right shifts only (e >= 1), and k + 2^30 within int32."""
    rq, channels = op.requant, op.out_hwc[2]
    if not rq.narrow or rq.act_min > -128 or rq.act_max < 127:
        return False
    e = -np.broadcast_to(np.asarray(rq.shift, dtype=np.int64), (channels,))
    return bool((e >= 1).all() and (256 << (e.max() - 1)) <= (1 << 30))


def bias_and_rescale(op: DepthwiseConv2D) -> tuple[np.ndarray, np.ndarray]:
    """The doubled biases [channel] and each channel's rescale words (m, k, e) [channel][3], as every
    layout of the DSP path stores them (this one, dwblocks.py, dwpairs.py)."""
    channels, rq = op.out_hwc[2], op.requant
    bias = 2 * np.asarray(op.bias, dtype=np.int64)
    m = np.broadcast_to(np.asarray(rq.multiplier, dtype=np.int64), (channels,))
    e = -np.broadcast_to(np.asarray(rq.shift, dtype=np.int64), (channels,))
    k = (2 * rq.output_zp + 1) * (np.int64(1) << (e - 1))
    return bias, np.stack([m, k, e], axis=1)


def layout(op: DepthwiseConv2D) -> np.ndarray:
    """The int32 words of the layout (eligible(op) must hold)."""
    channels, taps = op.out_hwc[2], op.kernel_hw[0] * op.kernel_hw[1]
    w = 2 * op.weights.reshape(taps, channels).astype(np.int64)  # [tap][channel], doubled
    bias, rescale = bias_and_rescale(op)
    words = []
    for c in range(0, channels, 4):
        words.extend(bias[c:c + 4])
        for t in range(taps):
            for lo, hi in ((c, c + 2), (c + 1, c + 3)):
                words.append((w[t, lo] & 0xFFFF) | ((w[t, hi] & 0xFFFF) << 16))
        words.extend(rescale[c:c + 4].reshape(-1))
    words[-1] += LAST_GROUP
    return np.array(words, dtype=np.int64).astype(np.uint32).view(np.int32)


def chunk_eligible(op: DepthwiseConv2D, packed) -> bool:
    """Whether edgec_dwconv2d_dwg_s8 applies: clustered weights (decoded a chunk of groups at a time
    into this layout) and the layout's conditions."""
    return (packed is not None and packed.format == "clustered" and packed.layout == "mask"
            and eligible(dataclasses.replace(op, packed=None, chunk=0)))
