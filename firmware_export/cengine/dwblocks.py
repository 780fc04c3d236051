"""The DSP layout of a depthwise layer stored as "dw_block" (storage.py), prepared at generation time.

The kept taps only of the dense layout of dwlayout.py. Per group of four channels c..c+3, int32
words in order:
- the bias of each channel, doubled (4 words);
- per kept tap of the group (the `mask` of the packed weights lists them: a count, then the tap
  indices), its doubled weights as int16 pairs (c, c + 2) then (c + 1, c + 3) (2 words);
- per channel the rescale (m, k, e) of dwlayout.py.

DSP builds keep these words and the `mask` (edgec_packed_dwb.c); the int8 `values`, biases,
multipliers and shifts are what the other builds keep. A kept tap costs one load of its index, one
of its input offset (a per-pixel table: padded taps point at a row of input_zp bytes), one of input,
one LDRD, two SXTB16 and four SMLAxy; a group's rescale is that of the dense layout.
"""
from __future__ import annotations

import dataclasses

import numpy as np

from . import dwlayout
from .ops import DepthwiseConv2D
from .storage import DW_GROUP, decode

MAX_TAPS = dwlayout.MAX_TAPS  # EDGEC_DWB_DSP_MAX_TAPS: the per-pixel table of input offsets


def eligible(op: DepthwiseConv2D) -> bool:
    """Whether DSP builds run op through the layout: its weights stored as dw_block, and what the
    dense layout asks (dwlayout.eligible: channels a multiple of 4, the narrow rescale over the whole
    int8 range, at most MAX_TAPS taps)."""
    if op.packed is None or op.packed.layout != "dw_block":
        return False
    return dwlayout.eligible(dataclasses.replace(op, packed=None))


def layout(op: DepthwiseConv2D) -> np.ndarray:
    """The int32 words of the layout (eligible(op) must hold)."""
    channels = op.out_hwc[2]
    mask = op.packed.mask
    w = 2 * decode(op.packed).astype(np.int64)  # [channel][tap], doubled
    bias, rescale = dwlayout.bias_and_rescale(op)
    words, at = [], 0
    for c in range(0, channels, DW_GROUP):
        count = int(mask[at])
        kept = [int(t) for t in mask[at + 1:at + 1 + count]]
        at += 1 + count
        words.extend(bias[c:c + 4])
        for t in kept:
            for lo, hi in ((c, c + 2), (c + 1, c + 3)):
                words.append((w[lo, t] & 0xFFFF) | ((w[hi, t] & 0xFFFF) << 16))
        words.extend(rescale[c:c + 4].reshape(-1))
    return np.array(words, dtype=np.int64).astype(np.uint32).view(np.int32)
