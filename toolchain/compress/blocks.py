"""Block magnitude pruning on arrays (numpy only: no Keras, no TensorFlow).

A layer's weights are seen as rows, one per output channel, of taps in the order the int8 TFLite
kernel stores them (what the engine's block-sparse storage reads):

- Conv2D kernel (kh, kw, cin, cout) -> TFLite OHWI: per output channel, (kh, kw, cin) flattened;
- Conv1D kernel (k, cin, cout): the converter makes it a 1 x k Conv2D, the same order;
- Dense kernel (in, out) -> TFLite (out, in): per output, its inputs.

In Keras terms, rows = kernel.reshape(-1, cout).T for all three (`keras_rows`).

A block is an aligned group of `block` consecutive taps of a row (taps 0..B-1, B..2B-1, ...); the
last block of a row is shorter when the row's length is not a multiple of B. A block's score is
its mean magnitude (L1 norm / its length, so that the shorter last block competes on equal terms).
Pruning to sparsity s zeroes the round(s x blocks) blocks of smallest score (ties: the first in
row-major order), so the zeros come in whole aligned blocks and their count is exact in blocks;
in weights, it is s exactly when every row's length is a multiple of B.

Depthwise kernels have one short row per channel (kh x kw taps, 9 for 3 x 3), where blocks of 4
taps would leave 1 tap alone and buy the engine nothing. Their unit is across channels instead: a
(tap, group of DW_GROUP = 4 consecutive output channels), the 4 weights the engine's depthwise DSP
layout reads with one word of input (its "dw_block" storage keeps only the units with a nonzero).
The channels past the last multiple of 4 form a last, shorter group. A unit's score is the mean
magnitude of its weights; pruning to sparsity s zeroes the units of smallest score (ties: the first
in (group, tap) order), as many as bring the zeroed weights nearest to round(s x weights) (the
fewer units on a tie): exactly that count when the channels are a multiple of 4 and it is a
multiple of 4, otherwise within 2 weights of it (a short last group may make it a little further).
In Keras terms, rows = depthwise_kernel.reshape(kh * kw, -1).T (`keras_depthwise_rows`: output
channel c * depth_multiplier + m, TFLite's order).
"""
from __future__ import annotations

import numpy as np


def block_bounds(taps: int, block: int) -> list[tuple[int, int]]:
    """(start, stop) of each aligned block of a row of `taps` taps."""
    return [(start, min(start + block, taps)) for start in range(0, taps, block)]


def block_scores(rows: np.ndarray, block: int) -> np.ndarray:
    """Mean magnitude of each block: (rows, ceil(taps / block))."""
    magnitude = np.abs(np.asarray(rows, np.float64))
    taps = magnitude.shape[1]
    starts = np.arange(0, taps, block)
    sums = np.add.reduceat(magnitude, starts, axis=1) if taps else magnitude
    lengths = np.minimum(starts + block, taps) - starts
    return sums / lengths[None, :]


def block_mask(rows: np.ndarray, sparsity: float, block: int, per_row: bool = False) -> np.ndarray:
    """0/1 mask of `rows` (output channels x taps) zeroing whole blocks of the smallest mean magnitude:
    round(sparsity x blocks) of the tensor's blocks, or of each row's with `per_row` (int8 weights,
    whose scales differ between channels)."""
    if int(block) < 1:
        raise ValueError(f"block size {block} < 1")
    if not 0.0 <= sparsity <= 1.0:
        raise ValueError(f"sparsity {sparsity} outside [0, 1]")
    rows = np.asarray(rows)
    if rows.ndim != 2:
        raise ValueError(f"rows of shape {rows.shape}: expected (channels, taps)")
    block = int(block)
    scores = block_scores(rows, block)
    keep = np.ones(scores.shape, bool)
    if per_row:
        count = int(round(sparsity * scores.shape[1]))
        order = np.argsort(scores, axis=1, kind="stable")[:, :count]
        np.put_along_axis(keep, order, False, axis=1)
    else:
        count = int(round(sparsity * scores.size))
        keep.ravel()[np.argsort(scores.ravel(), kind="stable")[:count]] = False
    return np.repeat(keep, block, axis=1)[:, :rows.shape[1]].astype(rows.dtype if rows.dtype.kind == "f" else np.int8)


def keras_rows(kernel: np.ndarray) -> np.ndarray:
    """A Dense / Conv1D / Conv2D kernel (..., cout) as rows of taps in TFLite's order (a view)."""
    return kernel.reshape(-1, kernel.shape[-1]).T


def from_keras_rows(rows: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    return rows.T.reshape(shape)


DW_GROUP = 4  # channels per depthwise unit (the engine's depthwise DSP layout)


def dw_unit_scores(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """([groups, taps] mean magnitude of each (group of DW_GROUP channels, tap) unit, [groups] the
    channels of each group) of depthwise `rows` (channels x taps)."""
    magnitude = np.abs(np.asarray(rows, np.float64))
    channels, taps = magnitude.shape
    groups = -(-channels // DW_GROUP)
    padded = np.zeros((groups * DW_GROUP, taps))
    padded[:channels] = magnitude
    sizes = np.minimum(DW_GROUP, channels - DW_GROUP * np.arange(groups))
    return padded.reshape(groups, DW_GROUP, taps).sum(axis=1) / sizes[:, None], sizes


def dw_block_mask(rows: np.ndarray, sparsity: float) -> np.ndarray:
    """0/1 mask of depthwise `rows` (channels x taps) zeroing whole (tap, group of 4 channels) units
    of the smallest mean magnitude, their weights nearest to round(sparsity x weights)."""
    if not 0.0 <= sparsity <= 1.0:
        raise ValueError(f"sparsity {sparsity} outside [0, 1]")
    rows = np.asarray(rows)
    if rows.ndim != 2:
        raise ValueError(f"rows of shape {rows.shape}: expected (channels, taps)")
    channels, taps = rows.shape
    scores, sizes = dw_unit_scores(rows)
    order = np.argsort(scores.ravel(), kind="stable")  # units in (group, tap) order, weakest first
    zeroed = np.concatenate([[0], np.cumsum(np.repeat(sizes, taps)[order])])
    target = int(round(sparsity * rows.size))
    count = int(np.argmin(np.abs(zeroed - target)))  # the first (fewest units) of the nearest
    keep = np.ones(scores.size, bool)
    keep[order[:count]] = False
    mask = np.repeat(keep.reshape(scores.shape), DW_GROUP, axis=0)[:channels]
    return mask.astype(rows.dtype if rows.dtype.kind == "f" else np.int8)


def keras_depthwise_rows(kernel: np.ndarray) -> np.ndarray:
    """A DepthwiseConv2D / SeparableConv2D depthwise kernel (kh, kw, cin, multiplier) as rows of taps,
    one per output channel in TFLite's order (c * multiplier + m)."""
    return kernel.reshape(kernel.shape[0] * kernel.shape[1], -1).T


def from_keras_depthwise_rows(rows: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    return rows.T.reshape(shape)
