"""Clustered depthwise column layers of 3 and 5 taps on the column kernel of the dense engine (dwcols.py,
kernels/edgec_dwcol.h), a chunk of channels at a time (kernels/edgec_packed_dwc.h).

The layer keeps its clustered weights as stored (storage.py) and, in flash, 4 int32 words a channel in
the order of dwcols.layout (by shift e, then channel): the channel's byte offset c, its doubled bias, its
rescale m and k (dwlayout.py). edgec_dwconv2d_dwc_s8 decodes a chunk of channels in that order into
scratch as the column kernel's 7-word records (the weights from the indices, doubled), then calls the
layer's function of each shift the chunk holds (EDGEC_DWCOL3 / EDGEC_DWCOL5, as the dense layer's):
every output at the dense kernel's cost, plus a channel's decoding (Thumb-2: 15 instructions a
channel of 3 taps, 22 of 5) and a call a shift a chunk (cost). str_ww clustered on the M7: op 0 (3 taps,
40 channels, 28 outputs) 10,560 instructions, 1.09x the dense layer's; op 2 (5 taps, 128 channels in 3
chunks, 24 outputs) 38,080, 1.09x. Builds without those functions (no DSP) run the same records in C.
"""
from __future__ import annotations

import dataclasses

import numpy as np

from . import dwcols, dwlayout
from .ops import DepthwiseConv2D

WORDS = 4  # a channel's words in flash: c, doubled bias, m, k
SPLITS = (1, 2, 3, 4, 6, 8, 12, 16)  # chunks: the channels, then about a k-th of them
# instructions on the M7 (counted from the assembly, fitted to str_ww's ops 0 and 2 within 0.5 %): a
# channel's decoding by taps, the layer's set-up (the doubled codebook), a chunk's (its decoding's
# call, the loop) and a function call's in the loop over shifts
DECODE = {3: 15, 5: 22}
SETUP, CHUNK, DRIVER_CALL = 100, 60, 20


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
    """Instructions the layer costs by this route in chunks of `columns` channels: the dense layer's
    (dwcols.cost), each channel's decoding, and the calls of the functions of each shift a chunk
    holds (a shift split between chunks: one call more); 4-bit indices into one codebook (the others
    decode in C, slower)."""
    dense, channels = _dense(op), op.out_hwc[2]
    layer = shifts(op)
    calls = sum((s.first + s.count - 1) // columns - s.first // columns + 1 for s in layer)
    return (dwcols.cost(dense) + DECODE[op.kernel_hw[0]] * channels + SETUP + CHUNK * -(-channels // columns)
            + DRIVER_CALL * calls + dwcols.CALL * (calls - len(layer)))


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
