"""Test models for the engine's packed storage: the int8 weights of a .tflite's conv / depthwise /
fully-connected ops rewritten to exact patterns (clustered, sparse, all-zero channels).

Each variant is applied to a converted model (same quantization scales, biases untouched, so the model stays a
valid int8 model that tflite-micro and the engine both run).

    data = compress_tflite_weights(Path("m.tflite").read_bytes(), sparsity=0.75, clusters=16)
"""
from __future__ import annotations

from collections.abc import Callable

import numpy as np

MAC_OPS = ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED")


def _schema():
    from tflite_micro.tensorflow.lite.micro.python import schema_py_generated

    return schema_py_generated


def map_weights(data: bytes, fn: Callable[[str, str, np.ndarray, np.ndarray], np.ndarray]) -> bytes:
    """A copy of `data` where each MAC op's int8 filter q becomes fn(op, tensor name, q, scales),
    an int8 array of q's shape; scales are the per-channel (or one) float scales along the
    tensor's quantized axis (q's axis 0, or the last axis for depthwise filters)."""
    schema = _schema()
    model = schema.Model.GetRootAsModel(data, 0)
    names = {v: k for k, v in vars(schema.BuiltinOperator).items() if not k.startswith("_")}
    out = bytearray(data)
    done = set()
    sg = model.Subgraphs(0)
    for i in range(sg.OperatorsLength()):
        op = sg.Operators(i)
        code = model.OperatorCodes(op.OpcodeIndex())
        name = names.get(max(code.BuiltinCode(), code.DeprecatedBuiltinCode()), "")
        if name not in MAC_OPS or op.InputsLength() < 2:
            continue
        t = sg.Tensors(op.Inputs(1))
        if t.Type() != schema.TensorType.INT8 or t.Buffer() in done:
            continue
        buf = model.Buffers(t.Buffer())
        o = buf._tab.Offset(4)
        if not o:
            continue
        start, length = buf._tab.Vector(o), buf._tab.VectorLen(o)
        shape = tuple(t.ShapeAsNumpy())
        q = np.frombuffer(data, np.int8, length, start).reshape(shape)
        scales = np.asarray(t.Quantization().ScaleAsNumpy(), dtype=np.float64).reshape(-1)
        new = np.asarray(fn(name, (t.Name() or b"").decode(), q.copy(), scales), dtype=np.int8)
        assert new.shape == q.shape
        out[start:start + length] = new.tobytes()
        done.add(t.Buffer())
    return bytes(out)


def _channel_scales(name: str, q: np.ndarray, scales: np.ndarray) -> np.ndarray:
    """The scale of every weight of q (broadcast along the quantized axis)."""
    axis = q.ndim - 1 if name == "DEPTHWISE_CONV_2D" else 0
    shape = [1] * q.ndim
    shape[axis] = -1
    return np.broadcast_to(scales.reshape(shape) if len(scales) > 1 else scales.reshape([1] * q.ndim), q.shape)


def kmeans_1d(values: np.ndarray, k: int, iterations: int = 30) -> np.ndarray:
    """Deterministic 1-D k-means (quantile start, Lloyd steps): the sorted centroids."""
    values = np.asarray(values, np.float64).reshape(-1)
    centroids = np.unique(np.quantile(values, (np.arange(k) + 0.5) / k)) if len(values) else np.zeros(0)
    for _ in range(iterations):
        edges = (centroids[1:] + centroids[:-1]) / 2
        label = np.searchsorted(edges, values)
        new = np.array([values[label == c].mean() if np.any(label == c) else centroids[c]
                        for c in range(len(centroids))])
        if np.allclose(new, centroids):
            break
        centroids = new
    return np.sort(centroids)


def compress_weights(name: str, q: np.ndarray, scales: np.ndarray, sparsity: float = 0.0,
                     clusters: int = 0) -> np.ndarray:
    """Magnitude pruning (the `sparsity` fraction of smallest |w| per tensor set to 0), then
    clustering to `clusters` float values per tensor, requantized with the tensor's own per-channel
    scales. After pruning, zero is one of the values: the nonzeros take `clusters - 1` (sparsity
    preserved)."""
    s = _channel_scales(name, q, scales)
    w = q.astype(np.float64) * s
    if sparsity > 0:
        threshold = np.quantile(np.abs(w), sparsity)
        keep = np.abs(w) > threshold
        w = np.where(keep, w, 0.0)
        q = np.where(keep, q, 0).astype(np.int8)
    if clusters > 0:
        nonzero = q != 0 if sparsity > 0 else np.ones(q.shape, bool)
        centroids = kmeans_1d(w[nonzero], clusters - 1 if sparsity > 0 else clusters)
        if len(centroids):
            edges = (centroids[1:] + centroids[:-1]) / 2
            value = centroids[np.searchsorted(edges, w)]
            q = np.where(nonzero, np.clip(np.round(value / s), -127, 127), q).astype(np.int8)
    return q


def compress_tflite_weights(data: bytes, sparsity: float = 0.0, clusters: int = 0) -> bytes:
    """Every conv / depthwise / FC filter of a .tflite pruned to `sparsity` and/or clustered to
    `clusters` values (see compress_weights); other bytes unchanged."""
    return map_weights(data, lambda name, _t, q, scales: compress_weights(name, q, scales, sparsity, clusters))
