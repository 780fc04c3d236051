"""The storage pass gives each packed conv layer its own tile: as large as the SRAM limit allows.

On MLPerf Tiny models clustered or pruned as the bench does: the engine's arena and scratch stay
within the dense engine's + 1 KiB, layers may end with different tiles, and no layer could take
its next larger tile without exceeding the limit (or its scratch budget).
"""
from __future__ import annotations

import dataclasses

import pytest

from firmware_export.cengine.lower import lower_model
from firmware_export.cengine.ops import Conv2D, DepthwiseConv2D
from firmware_export.cengine.packing import EXTRA_SCRATCH, TILES, pack_and_plan, scratch_bytes
from firmware_export.cengine.planner import plan_memory
from tests.firmware_export.weight_variants import compress_tflite_weights
from tests.conftest import MLPERF_TINY
from toolchain.base.tflite_reader import read_tflite


def _larger(op):
    """op with its next larger tile: the delta kernel's 8 pixels after 4; a depthwise layer on the
    tiled kernel's largest tile, decoded once (tile 0)."""
    if op.packed is not None and op.packed.layout == "delta":
        return dataclasses.replace(op, tile=8) if op.tile == 4 else None
    if isinstance(op, DepthwiseConv2D) and op.tile == 0:
        return None
    pixels = op.out_hwc[0] * op.out_hwc[1]
    for tile in sorted(TILES):
        tile = min(tile, -(-pixels // 4) * 4)
        if tile > op.tile:
            return dataclasses.replace(op, tile=tile)
    return dataclasses.replace(op, tile=0) if isinstance(op, DepthwiseConv2D) else None


@pytest.mark.parametrize("stem, sparsity, clusters", [("pretrainedResnet_quant", 0.0, 16),
                                                      ("vww_96_int8", 0.75, 0)])
def test_each_layer_takes_the_largest_tile_the_limit_allows(stem, sparsity, clusters):
    data = compress_tflite_weights((MLPERF_TINY / f"{stem}.tflite").read_bytes(), sparsity, clusters)
    graph = lower_model(read_tflite(data, stem))
    dense = plan_memory(graph)
    limit = dense.sram_bytes + EXTRA_SCRATCH  # arena + the scratch beside it (none when planned inside)
    packed, plan = pack_and_plan(graph, "auto")
    assert plan.sram_bytes <= limit
    tiles = {op.index: op.tile for op in packed.ops if getattr(op, "tile", 0)}
    # clustered convolutions decoded in chunks of rows (edgec_conv2d_rows_s8, edgec_conv2d_rows16_s8:
    # test_cengine_rows.py) where the limit allows (at most 4 chunks, more on rows16), tiled where not
    chunked = {op.index for op in packed.ops if getattr(op, "rows", 0)}
    # per layer, not one tile for all (ResNet keeps a single tiled layer: the others take chunks), unless
    # every tiled layer is on its kernel's largest tile (VWW pruned: its depthwise layers take dw_block, no
    # scratch; its pointwise layers the delta kernel's 8 pixels)
    at_largest = all(_larger(op) is None for op in packed.ops if getattr(op, "tile", 0))
    assert len(tiles) + len(chunked) >= 6 and (len(set(tiles.values())) > 1 or len(tiles) == 1 or at_largest)
    ops = list(packed.ops)
    for i, op in enumerate(ops):
        larger = _larger(op) if getattr(op, "tile", 0) else None
        if larger is None or larger.scratch_bytes > scratch_bytes(graph) + EXTRA_SCRATCH:
            continue
        trial = dataclasses.replace(packed, ops=tuple(ops[:i] + [larger] + ops[i + 1:]))
        assert plan_memory(trial).sram_bytes > limit, (stem, op.index, op.tile)
