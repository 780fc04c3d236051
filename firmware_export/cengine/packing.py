"""The storage pass: each conv / depthwise / fully-connected op's weights, dense or packed.

Runs between lowering and memory planning. In "auto" mode every MAC layer takes the format with
the fewest bytes (storage.choose: flash first); a packed conv or depthwise op also gets its tile
(output pixels per decoding of its weights), the largest whose scratch keeps the engine's SRAM
within the dense engine's + 1 KiB.
"""
from __future__ import annotations

import dataclasses

from .ops import Conv2D, DepthwiseConv2D, EngineGraph, FullyConnected, packed_conv_scratch
from .storage import choose

MAC_OPS = (Conv2D, DepthwiseConv2D, FullyConnected)
EXTRA_SCRATCH = 1024  # bytes of scratch packed kernels may add to the dense engine's
TILES = (64, 32, 16, 8, 4)


def _dense_bytes(op) -> int:
    return int(op.weights_in_flash.nbytes) if isinstance(op, Conv2D) else int(op.weights.nbytes)


def _window_extent(op: Conv2D) -> int:
    """One past the largest input offset a window reads, from its first tap (uint16 in the kernel)."""
    (kh, kw), (dh, dw) = op.kernel_hw, op.dilation_hw
    iw, ic = op.in_hwc[1], op.in_hwc[2]
    return ((kh - 1) * dh * iw + (kw - 1) * dw) * ic + ic // op.groups


def _pack_op(op, budget: int):
    formats = ("clustered", "sparse", "sparse_clustered")
    if isinstance(op, Conv2D) and op.kernel_hw[0] * op.kernel_hw[1] > 64:
        return op  # the kernel keeps a 64-bit mask of a window's taps inside the input
    if isinstance(op, Conv2D) and _window_extent(op) > 0xFFFF:
        formats = ("clustered",)
    packed = choose(op.weight_rows, _dense_bytes(op), formats)
    if packed is None:
        return op
    if isinstance(op, FullyConnected):
        return dataclasses.replace(op, packed=packed)
    pixels = op.out_hwc[0] * op.out_hwc[1]
    for tile in TILES:
        tile = min(tile, -(-pixels // 4) * 4)
        candidate = dataclasses.replace(op, packed=packed, tile=tile)
        if isinstance(op, DepthwiseConv2D) or packed_conv_scratch(op, packed, tile) <= budget:
            return candidate if candidate.scratch_bytes <= budget else op
    return op


def pack_graph(graph: EngineGraph, mode: str) -> EngineGraph:
    """The graph with each MAC op's weights stored as `mode` ("auto" or "dense") decides."""
    if mode == "dense":
        return graph
    budget = max((getattr(op, "scratch_bytes", 0) for op in graph.ops), default=0) + EXTRA_SCRATCH
    ops = tuple(_pack_op(op, budget) if isinstance(op, MAC_OPS) else op for op in graph.ops)
    return dataclasses.replace(graph, ops=ops)
