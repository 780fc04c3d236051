"""Clustered depthwise column layers of 3 and 5 taps on the column kernel of the dense engine (dwcols.py,
kernels/edgec_dwcol.h), a chunk of channels at a time (kernels/edgec_packed_dwc.h).

The layer keeps its clustered weights as stored (storage.py) and, in flash, 4 int32 words a channel in
the order of dwcols.layout (by shift e, then channel): the channel's byte offset c, its doubled bias, its
rescale m and k (dwlayout.py). edgec_dwconv2d_dwc_s8 decodes a chunk of channels in that order into
scratch as the column kernel's 7-word records (the weights from the indices, doubled), then calls the
layer's function of each shift the chunk holds (EDGEC_DWCOL3 / EDGEC_DWCOL5, as the dense layer's):
every output at the dense kernel's cost, plus a decoding a channel (about 30 instructions on the M7)
and a call a shift a chunk. Builds without those functions (no DSP) run the same records in C.
"""
from __future__ import annotations

import dataclasses

import numpy as np

from . import dwcols, dwlayout
from .ops import DepthwiseConv2D

WORDS = 4  # a channel's words in flash: c, doubled bias, m, k
SPLITS = (1, 2, 3, 4, 6, 8, 12, 16)  # chunks: the channels, then about a k-th of them
DECODE = 30  # instructions a channel's decoding costs on the M7 (about)
CHUNK_CALL = 25  # instructions a chunk costs besides its channels (its decoding's call, the loop)


def _dense(op: DepthwiseConv2D) -> DepthwiseConv2D:
    return dataclasses.replace(op, packed=None, tile=0, chunk=0, columns=0)


def eligible(op: DepthwiseConv2D, packed) -> bool:
    """Whether the layer runs by this route: clustered weights (one index per tap), and the dense
    layer would run on the column kernel (dwcols.eligible: the shape, the rescale, cheaper than the
    other layouts)."""
    return (packed is not None and packed.format == "clustered" and packed.layout == "mask"
            and dwcols.eligible(_dense(op)))


def chunks(op: DepthwiseConv2D) -> list[int]:
    """Channels per chunk, largest first: all, then about a k-th of them (k in SPLITS)."""
    channels = op.out_hwc[2]
    return sorted({-(-channels // k) for k in SPLITS}, reverse=True)


def cost(op: DepthwiseConv2D, columns: int) -> int:
    """Instructions the layer costs by this route, chunks of `columns` channels (about)."""
    dense = _dense(op)
    chunk_count = -(-op.out_hwc[2] // columns)
    calls = chunk_count + len(dwcols.shifts(dense)) - 1  # at most: each chunk boundary splits a shift
    return dwcols.cost(dense) + DECODE * op.out_hwc[2] + CHUNK_CALL * chunk_count + dwcols.CALL * (calls - 1)


def shifts(op: DepthwiseConv2D) -> list[dwcols.Shift]:
    """The layer's functions, by increasing e (dwcols.shifts)."""
    return dwcols.shifts(_dense(op))


def records(op: DepthwiseConv2D) -> np.ndarray:
    """The int32 words in flash, WORDS a channel, in the order of (e, channel)."""
    channels = op.out_hwc[2]
    bias, rescale = dwlayout.bias_and_rescale(op)
    order = np.lexsort((np.arange(channels), rescale[:, 2]))
    words = np.stack([order, bias[order], rescale[order, 0], rescale[order, 1]], axis=1)
    return words.reshape(-1).astype(np.uint32).view(np.int32)


def const_bytes(op: DepthwiseConv2D) -> int:
    """The layer's const bytes on every build: its packed weights, the words in flash, the shifts' ends
    and values (no int8 biases, multipliers or shifts)."""
    return op.packed.nbytes + 4 * WORDS * op.out_hwc[2] + 2 * len(shifts(op))
