"""How each MAC layer's weights are stored in flash, and the per-layer report of that choice.

    LayerStorage   one conv / depthwise / fully-connected op: format, bytes dense vs stored
    WEIGHT_MODES   "auto" (cheapest storage per layer) or "dense" (int8 everywhere)
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from toolchain.errors import OptionError

WEIGHT_MODES = ("auto", "dense")
FORMATS = ("dense", "clustered", "sparse", "sparse_clustered")


@dataclass(frozen=True)
class LayerStorage:
    op_index: int
    op: str
    tensor: str  # the weight tensor's name in the .tflite
    format: str  # one of FORMATS
    dense_bytes: int  # the int8 weights as the dense engine stores them
    stored_bytes: int  # every array holding the weights as stored (indices, codebooks, masks, values)
    index_bits: int  # bits per packed codebook index (0 unless clustered)
    clusters: int  # codebook entries per channel (0 unless clustered)
    density: float  # nonzero fraction of the weights


def check_mode(weights: str) -> str:
    if weights not in WEIGHT_MODES:
        raise OptionError("--weights", weights, " or ".join(WEIGHT_MODES))
    return weights


def density(weights: np.ndarray) -> float:
    return float(np.count_nonzero(weights)) / weights.size if weights.size else 0.0


def dense_layer(op) -> LayerStorage:
    """The storage record of a MAC op whose weights are kept as plain int8."""
    dense = int(op.weights_in_flash.nbytes) if hasattr(op, "weights_in_flash") else int(op.weights.nbytes)
    return LayerStorage(op_index=op.index, op=op.op, tensor=op.weights_name, format="dense",
                        dense_bytes=dense, stored_bytes=dense, index_bits=0, clusters=0,
                        density=density(op.weights))
