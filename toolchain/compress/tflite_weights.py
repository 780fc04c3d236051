"""Magnitude pruning and clustering of the int8 weights of a .tflite model, without training.

For a model whose training data is not at hand (the MLPerf Tiny reference models), the two
techniques can still be applied to its int8 weights, to measure what they do to size, speed and
exactness on the device (not to accuracy, which fine-tuning would recover):

- pruning: in each output channel, the given fraction of the weights with the smallest |w|
  become 0 (ties broken by position, so the count per channel is exact);
- block pruning (`block` > 1): in each output channel of a CONV_2D or FULLY_CONNECTED, the given
  fraction of its aligned blocks of `block` taps (in the stored order: OHWI, or out x in) with the
  smallest mean |w| become 0 (toolchain.compress.blocks); in a DEPTHWISE_CONV_2D, whole (tap, group
  of 4 consecutive channels) units of smallest mean |w| (what the engine's dw_block storage skips);
- clustering (`codebook="tensor"`, the default; after block pruning every tap of a kept block takes
  one of the codes, zeros included, so that the engine stores one 4-bit index per kept tap): the whole tensor's int8 weights take at most
  `clusters` int8 codes shared by every output channel, each channel with its own scale
  (toolchain.compress.codebook.shared_codebook: least squares in each channel's units), so that
  the engine stores one codebook per tensor; per-channel scales change with it, and the biases are
  requantized to them (per-tensor quantized weights keep their scale: codes only);
  `codebook="channel"`: in each output channel, the int8 values grouped by 1-D k-means (Lloyd's
  iterations from quantile starts, on the channel's histogram) into at most `clusters` values;
  with pruning, only the nonzero weights are clustered, zeros stay zero and nonzeros stay nonzero.

The weights of CONV_2D, DEPTHWISE_CONV_2D and FULLY_CONNECTED (int8, zero point 0), their scales and
biases are edited in place in the flatbuffer: every other byte of the model is unchanged.
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from toolchain.base.tflite_reader import read_tflite
from toolchain.compress.blocks import block_mask, dw_block_mask
from toolchain.compress.codebook import buffer_span, kmeans_1d, rewrite_layer, shared_codebook

WEIGHT_INPUTS = {"CONV_2D": 1, "DEPTHWISE_CONV_2D": 1, "FULLY_CONNECTED": 1}
CODEBOOKS = ("tensor", "channel")


def _channels_last(weights: np.ndarray, axis: int) -> tuple[np.ndarray, Callable[[np.ndarray], np.ndarray]]:
    """(channels x values, and the inverse that puts an array of that shape back)."""
    moved = np.moveaxis(weights, axis, 0)
    flat = moved.reshape(moved.shape[0], -1)

    def restore(channels: np.ndarray) -> np.ndarray:
        return np.moveaxis(channels.reshape(moved.shape), 0, axis)

    return flat, restore


def prune_channels(weights: np.ndarray, axis: int, sparsity: float) -> np.ndarray:
    """Zero the round(sparsity x n) smallest-magnitude weights of each of the n-weight channels along `axis`."""
    if not 0.0 <= sparsity <= 1.0:
        raise ValueError(f"sparsity {sparsity} outside [0, 1]")
    flat, restore = _channels_last(np.asarray(weights, np.int8), axis)
    out = flat.copy()
    count = int(round(sparsity * flat.shape[1]))
    order = np.argsort(np.abs(flat.astype(np.int16)), axis=1, kind="stable")[:, :count]
    np.put_along_axis(out, order, 0, axis=1)
    return restore(out)


def prune_channel_blocks(weights: np.ndarray, axis: int, sparsity: float, block: int) -> np.ndarray:
    """Zero, in each channel along `axis`, the round(sparsity x blocks) aligned blocks of `block`
    consecutive weights (in the channel's stored order) of smallest mean magnitude."""
    flat, restore = _channels_last(np.asarray(weights, np.int8), axis)
    return restore(flat * block_mask(flat, sparsity, block, per_row=True))


def prune_depthwise_blocks(weights: np.ndarray, axis: int, sparsity: float) -> np.ndarray:
    """Zero whole (tap, group of 4 consecutive channels along `axis`) units of a depthwise filter,
    those of smallest mean |w| (int8 units: each channel's scale left aside, as prune_channels does),
    their weights nearest to round(sparsity x size) (toolchain.compress.blocks.dw_block_mask)."""
    flat, restore = _channels_last(np.asarray(weights, np.int8), axis)
    return restore(flat * dw_block_mask(flat, sparsity))


def nonzero_blocks(flat: np.ndarray, block: int) -> np.ndarray:
    """[rows, blocks]: the aligned blocks of `block` taps of each row of `flat` that hold a nonzero."""
    rows, taps = flat.shape
    padded = np.zeros((rows, -(-taps // block) * block), bool)
    padded[:, :taps] = flat != 0
    return padded.reshape(rows, -1, block).any(axis=2)


def _cluster_values(values: np.ndarray, clusters: int, keep_sign: bool) -> np.ndarray:
    """Each of `values` (int8, one channel) replaced by the nearest of at most `clusters` int8 centroids."""
    distinct, counts = np.unique(values.astype(np.int16), return_counts=True)
    if len(distinct) <= clusters:
        return values.copy()
    exact = kmeans_1d(distinct, counts, clusters)
    centroids = np.rint(exact)
    if keep_sign:  # a centroid of nonzero values never rounds to the pruned zero
        centroids = np.where(centroids == 0, np.where(exact < 0, -1, 1), centroids)
    centroids = np.unique(np.clip(centroids, -128, 127))
    # nearest centroid; a value halfway between two goes to the one of smaller magnitude
    distance = np.abs(values.astype(np.int16)[:, None] - centroids[None, :])
    tie_order = np.argsort(np.abs(centroids), kind="stable")
    pick = tie_order[np.argmin(distance[:, tie_order], axis=1)]
    return centroids[pick].astype(np.int8)


def cluster_channels(weights: np.ndarray, axis: int, clusters: int, preserve_zeros: bool = False) -> np.ndarray:
    """At most `clusters` int8 values per channel along `axis` (the nonzero ones only with `preserve_zeros`)."""
    if clusters < 1:
        raise ValueError(f"clusters {clusters} < 1")
    flat, restore = _channels_last(np.asarray(weights, np.int8), axis)
    out = flat.copy()
    for row in range(flat.shape[0]):
        keep = flat[row] != 0 if preserve_zeros else np.ones(flat.shape[1], bool)
        if keep.any():
            out[row, keep] = _cluster_values(flat[row, keep], clusters, preserve_zeros)
    return restore(out)


@dataclass(frozen=True)
class EditedTensor:
    tensor: str
    op: str
    shape: tuple[int, ...]
    channel_axis: int
    zeros: int  # weights equal to 0 after the edit
    size: int
    max_values_per_channel: int  # distinct int8 values in the channel that has most (0 included)
    values: int  # distinct int8 values in the whole tensor (0 included)


@dataclass(frozen=True)
class EditedModel:
    model: bytes
    sparsity: float | None
    clusters: int | None
    tensors: tuple[EditedTensor, ...]
    skipped: tuple[tuple[str, str], ...]  # (tensor, why it was left alone)


def channel_axis(op: str, quant_axis: int | None, ndim: int) -> int:
    """The output-channel axis of a weight tensor: the quantization's, else the op's convention."""
    if quant_axis is not None:
        return quant_axis
    return ndim - 1 if op == "DEPTHWISE_CONV_2D" else 0


def compress_weights(model_bytes: bytes, sparsity: float | None = None, clusters: int | None = None,
                     codebook: str = "tensor", block: int = 1) -> EditedModel:
    """Prune (`sparsity`) and/or cluster (`clusters`) every int8 weight tensor of the model; both:
    sparsity-preserving clustering of the nonzeros. `codebook`: one set of codes per tensor
    ("tensor", scales and biases rewritten) or per channel ("channel", the weights only); `block`:
    prune whole blocks of that many taps (depthwise weights: whole (tap, group of 4 channels) units)."""
    if codebook not in CODEBOOKS:
        raise ValueError(f"codebook {codebook!r}: one of {', '.join(CODEBOOKS)}")
    model = read_tflite(model_bytes)
    graph = model.main
    out = bytearray(model_bytes)
    edited, skipped, seen = [], [], set()
    users = Counter(graph.tensors[i].buffer for op in graph.operators for i in op.inputs if i >= 0)
    for op in graph.operators:
        position = WEIGHT_INPUTS.get(op.op)
        if position is None or len(op.inputs) <= position or op.inputs[position] < 0:
            continue
        t = graph.tensors[op.inputs[position]]
        if t.buffer in seen or t.data is None:
            continue
        seen.add(t.buffer)
        if t.dtype != "int8":
            skipped.append((t.name, f"{t.dtype} weights"))
            continue
        if t.quant is not None and any(t.quant.zero_points):
            skipped.append((t.name, "nonzero weight zero point"))
            continue
        per_channel = t.quant is not None and t.quant.per_channel
        axis = channel_axis(op.op, t.quant.axis if per_channel else None, len(t.shape))
        w = np.asarray(t.data, np.int8).reshape(t.shape)
        if w.size != buffer_span(model_bytes, t.buffer)[1]:
            skipped.append((t.name, f"buffer of {buffer_span(model_bytes, t.buffer)[1]} bytes for {w.size} weights"))
            continue
        if sparsity is not None and block > 1 and op.op != "DEPTHWISE_CONV_2D" and axis == 0:
            w = prune_channel_blocks(w, axis, sparsity, block)
        elif sparsity is not None and block > 1 and op.op == "DEPTHWISE_CONV_2D":
            w = prune_depthwise_blocks(w, axis, sparsity)
        elif sparsity is not None:
            w = prune_channels(w, axis, sparsity)
        flat = np.moveaxis(w, axis, 0).reshape(w.shape[axis], -1)
        scale = np.ones(flat.shape[0])
        bias = graph.tensors[op.inputs[2]] if len(op.inputs) > 2 and op.inputs[2] >= 0 else None
        if clusters is not None and codebook == "channel":
            flat = np.moveaxis(cluster_channels(w, axis, clusters, preserve_zeros=sparsity is not None), axis, 0) \
                .reshape(flat.shape)
        elif clusters is not None:
            # scales per channel move only where this op alone uses the weights and its int32 bias
            free = (per_channel and users[t.buffer] == 1 and len(t.quant.scales) == flat.shape[0]
                    and (bias is None or (bias.dtype == "int32" and bias.data is not None
                                          and users[bias.buffer] == 1)))
            stored = None
            if sparsity is not None and block > 1 and op.op != "DEPTHWISE_CONV_2D" and axis == 0:  # kept blocks' taps
                stored = np.repeat(nonzero_blocks(flat, block), block, axis=1)[:, :flat.shape[1]]
            flat, scale = shared_codebook(flat, clusters, keep_zeros=sparsity is not None, scales_free=free,
                                          stored=stored)
        rewrite_layer(out, model_bytes, t, bias, axis, flat, scale)
        edited.append(EditedTensor(t.name, op.op, t.shape, axis, int(np.count_nonzero(flat == 0)), int(flat.size),
                                   max(len(np.unique(row)) for row in flat), len(np.unique(flat))))
    return EditedModel(bytes(out), sparsity, clusters, tuple(edited), tuple(skipped))
