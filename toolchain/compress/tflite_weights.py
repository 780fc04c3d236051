"""Magnitude pruning and clustering of the int8 weights of a .tflite model, without training.

For a model whose training data is not at hand (the MLPerf Tiny reference models), the two
techniques can still be applied to its int8 weights, to measure what they do to size, speed and
exactness on the device (not to accuracy, which fine-tuning would recover):

- pruning: in each output channel, the given fraction of the weights with the smallest |w|
  become 0 (ties broken by position, so the count per channel is exact);
- clustering: in each output channel, the int8 values are grouped by 1-D k-means (Lloyd's
  iterations from quantile starts, on the channel's histogram) into at most `clusters` values,
  rounded to int8; with pruning, only the nonzero weights are clustered, zeros stay zero and
  nonzeros stay nonzero.

The weights of CONV_2D, DEPTHWISE_CONV_2D and FULLY_CONNECTED (int8, zero point 0) are edited in
place in the flatbuffer: every other byte of the model is unchanged.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from toolchain.base.errors import ModelLoadError
from toolchain.base.tflite_reader import read_tflite

WEIGHT_INPUTS = {"CONV_2D": 1, "DEPTHWISE_CONV_2D": 1, "FULLY_CONNECTED": 1}
LLOYD_ITERATIONS = 100


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


def _kmeans_1d(values: np.ndarray, counts: np.ndarray, clusters: int) -> np.ndarray:
    """Centroids (sorted, float) of the weighted 1-D points `values` (distinct, sorted) in `clusters` groups."""
    cumulative = np.cumsum(counts)
    targets = (np.arange(clusters) + 0.5) / clusters * cumulative[-1]
    centroids = np.unique(values[np.searchsorted(cumulative, targets, side="right").clip(0, len(values) - 1)]
                          .astype(np.float64))
    for _ in range(LLOYD_ITERATIONS):
        bounds = (centroids[1:] + centroids[:-1]) / 2
        group = np.searchsorted(bounds, values, side="left")
        weight = np.bincount(group, counts, len(centroids))
        total = np.bincount(group, counts * values, len(centroids))
        updated = np.sort(total[weight > 0] / weight[weight > 0])
        if updated.shape == centroids.shape and np.array_equal(updated, centroids):
            break
        centroids = updated
    return centroids


def _cluster_values(values: np.ndarray, clusters: int, keep_sign: bool) -> np.ndarray:
    """Each of `values` (int8, one channel) replaced by the nearest of at most `clusters` int8 centroids."""
    distinct, counts = np.unique(values.astype(np.int16), return_counts=True)
    if len(distinct) <= clusters:
        return values.copy()
    exact = _kmeans_1d(distinct, counts, clusters)
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


@dataclass(frozen=True)
class EditedModel:
    model: bytes
    sparsity: float | None
    clusters: int | None
    tensors: tuple[EditedTensor, ...]
    skipped: tuple[tuple[str, str], ...]  # (tensor, why it was left alone)


def _buffer_span(model_bytes: bytes, buffer: int) -> tuple[int, int]:
    """(offset, length) of buffer `buffer`'s data inside the flatbuffer."""
    from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as schema

    b = schema.Model.GetRootAsModel(model_bytes, 0).Buffers(buffer)
    if b.DataLength():
        return b._tab.Vector(b._tab.Offset(4)), b.DataLength()
    if b.Offset() > 1:  # data stored after the flatbuffer (models over 2 GB)
        return b.Offset(), b.Size()
    raise ModelLoadError("<bytes>", f"buffer {buffer} holds no data")


def channel_axis(op: str, quant_axis: int | None, ndim: int) -> int:
    """The output-channel axis of a weight tensor: the quantization's, else the op's convention."""
    if quant_axis is not None:
        return quant_axis
    return ndim - 1 if op == "DEPTHWISE_CONV_2D" else 0


def compress_weights(model_bytes: bytes, sparsity: float | None = None, clusters: int | None = None) -> EditedModel:
    """Prune (`sparsity`) and/or cluster (`clusters`) every int8 weight tensor of the model; both:
    sparsity-preserving clustering of the nonzeros."""
    model = read_tflite(model_bytes)
    out = bytearray(model_bytes)
    edited, skipped, seen = [], [], set()
    for op in model.main.operators:
        position = WEIGHT_INPUTS.get(op.op)
        if position is None or len(op.inputs) <= position or op.inputs[position] < 0:
            continue
        t = model.main.tensors[op.inputs[position]]
        if t.buffer in seen or t.data is None:
            continue
        seen.add(t.buffer)
        if t.dtype != "int8":
            skipped.append((t.name, f"{t.dtype} weights"))
            continue
        if t.quant is not None and any(t.quant.zero_points):
            skipped.append((t.name, "nonzero weight zero point"))
            continue
        axis = channel_axis(op.op, t.quant.axis if t.quant is not None and t.quant.per_channel else None,
                            len(t.shape))
        w = np.asarray(t.data, np.int8).reshape(t.shape)
        if sparsity is not None:
            w = prune_channels(w, axis, sparsity)
        if clusters is not None:
            w = cluster_channels(w, axis, clusters, preserve_zeros=sparsity is not None)
        start, length = _buffer_span(model_bytes, t.buffer)
        if length != w.size:
            skipped.append((t.name, f"buffer of {length} bytes for {w.size} weights"))
            continue
        out[start:start + length] = np.ascontiguousarray(w).tobytes()
        flat = np.moveaxis(w, axis, 0).reshape(w.shape[axis], -1)
        edited.append(EditedTensor(t.name, op.op, t.shape, axis, int(np.count_nonzero(w == 0)), int(w.size),
                                   max(len(np.unique(row)) for row in flat)))
    return EditedModel(bytes(out), sparsity, clusters, tuple(edited), tuple(skipped))
