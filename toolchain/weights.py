"""The weights as shipped: what a build finds in the converted model's weights and how it stores them.

    detect     clustered weight tensors (at most 16 distinct int8 values per channel or tensor)
    store      TFLM: LUT-compress them where the model gets smaller (toolchain.compress.lut);
               the C engine chooses its own storage per layer (firmware_export.cengine.storage)
    cost       TFLM's DECODE writes the decoded weights into the arena: the arena is measured
               with and without them, and the C engine's figures for the same model stand beside

`--weights dense` (or `[storage] weights = "dense"` in a recipe) ships plain int8 everywhere.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from toolchain.base.tflite_reader import TfliteModel

MAX_CLUSTERS = 16  # the most values a 4-bit index addresses
WEIGHT_OPS = {"CONV_2D": 1, "DEPTHWISE_CONV_2D": 1, "FULLY_CONNECTED": 1}  # op -> input holding the weights


@dataclass(frozen=True)
class ClusteredTensor:
    name: str
    values: int  # distinct int8 values per channel (per="channel") or in the whole tensor
    per: str  # "channel" or "tensor"


@dataclass(frozen=True)
class LutStorage:
    """TFLM's LUT compression as shipped, and what it costs in the arena."""
    lut: object = field(repr=False)  # toolchain.compress.lut.LutResult
    dense_model_bytes: int  # the .tflite without LUT compression
    model_bytes: int  # as shipped
    dense_arena_bytes: int  # the TFLM arena without LUT compression (32-bit MCU figure)
    arena_bytes: int  # with the decoded weights (32-bit MCU figure)

    @property
    def decoded_bytes(self) -> int:
        """Arena bytes the decoded weights take."""
        return self.arena_bytes - self.dense_arena_bytes


@dataclass(frozen=True)
class WeightStorage:
    """What the build found in the weights, and what it did for TFLM."""
    mode: str  # "auto" or "dense"
    clustered: tuple[ClusteredTensor, ...]
    lut: LutStorage | None = None  # TFLM builds that ship LUT-compressed weights
    lut_refused: tuple[tuple[str, str], ...] = ()  # (tensor, why) clustered but not LUT-compressed
    engine: object = None  # toolchain.build.EngineBuild of the same model, for comparison (TFLM builds)


def _distinct_per_slice(array: np.ndarray, axis: int) -> int:
    slices = np.moveaxis(array, axis, 0).reshape(array.shape[axis], -1)
    return max(np.unique(s).size for s in slices)


def clustered_tensors(model: TfliteModel) -> tuple[ClusteredTensor, ...]:
    """The int8 weight tensors of conv / depthwise / fully-connected ops holding at most 16 distinct
    values per tensor or per output channel, where a channel has more than 16 weights (a 3x3x1
    filter has at most 9 values whatever it holds: that says nothing)."""
    graph = model.main
    found, seen = [], set()
    for op in graph.operators:
        position = WEIGHT_OPS.get(op.op)
        if position is None or len(op.inputs) <= position or op.inputs[position] < 0:
            continue
        t = graph.tensors[op.inputs[position]]
        if t.index in seen or t.dtype != "int8" or t.data is None or t.data.ndim == 0:
            continue
        seen.add(t.index)
        a = np.asarray(t.data)
        whole = np.unique(a).size
        if whole <= MAX_CLUSTERS < a.size:
            found.append(ClusteredTensor(t.name, whole, "tensor"))
            continue
        axis = a.ndim - 1 if op.op == "DEPTHWISE_CONV_2D" else 0  # the output channels
        per_channel = _distinct_per_slice(a, axis)
        if per_channel <= MAX_CLUSTERS < a.size // a.shape[axis]:
            found.append(ClusteredTensor(t.name, per_channel, "channel"))
    return tuple(found)


def model_inputs(model: TfliteModel, samples: np.ndarray) -> np.ndarray:
    """Float samples as the model's input tensor takes them: quantized with its scale and zero point
    (int8, or int16 with --mode 16x8), or as they are for a float32 input (--io float32)."""
    t = model.main.tensors[model.main.inputs[0]]
    if t.dtype == "float32" or t.quant is None:
        return np.asarray(samples, dtype=np.float32)
    info = np.iinfo(t.dtype)
    q = np.round(np.asarray(samples, dtype=np.float64) / t.quant.scales[0]) + t.quant.zero_points[0]
    return np.clip(q, info.min, info.max).astype(t.dtype)


def lut_for_tflm(data: bytes, clustered: tuple[ClusteredTensor, ...], check_inputs: np.ndarray | None,
                 lut=None) -> tuple[object, tuple[tuple[str, str], ...]]:
    """LUT-compress the clustered weights of `data` where the model gets smaller.

    Returns (the LutResult to ship, or None; the clustered tensors left dense and why).
    `lut` is a LutResult already computed on `data` (the compression pass measures one)."""
    from toolchain.compress.lut import lut_compress

    if lut is None:
        bits = max(1, int(np.ceil(np.log2(max(c.values for c in clustered)))))
        lut = lut_compress(data, bits, check_inputs=check_inputs)
    names = {c.name for c in clustered}
    refused = tuple((name, why) for name, why in lut.skipped if name in names)
    if not lut.tensors or not lut.identical_outputs:
        if lut.tensors:
            refused += tuple((t.tensor, "TFLM outputs differ from the uncompressed model") for t in lut.tensors)
        return None, refused
    return lut, refused
