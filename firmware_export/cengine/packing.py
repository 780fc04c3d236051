"""The storage pass: each conv / depthwise / fully-connected op's weights, dense or packed.

Runs with memory planning, after lowering. In "auto" mode every MAC layer takes the format with
the fewest bytes (storage.choose: flash first); a packed conv or depthwise op also gets its tile
(output pixels per decoding of its weights: larger tiles decode less often but need more scratch
and overlap their input less in place), the largest that keeps the engine's SRAM (arena + scratch)
within the dense engine's + 1 KiB. Sparse rows of fully-connected layers and of one-group
convolutions take the delta layout (storage.py), read as stored: the FC kernel walks them, the
convolution runs tiles of 8 pixels (their windows gathered into scratch, interleaved) where the
scratch budget allows, else of 4 (windows copied to scratch unless pointwise). Sparse rows of
depthwise layers of at most 16 taps take the fixed layout, run as stored without scratch
(edgec_dwconv2d_sparse_s8: pixel by pixel, the dense kernel's in-place overlap); depthwise layers whose
zeros come in whole (tap, group of 4 channels) units (depthwise block pruning) the dw_block format,
also run as stored without scratch (edgec_dwconv2d_dwblock_s8, pixel by pixel). Rows in the block
formats (fully-connected layers and one-group convolutions whose zeros come in aligned blocks of 4
taps: block pruning) run on edgec_packed_blk: the FC kernel reads them as stored (scratch only to pad
an input that is not whole words, or a decoded block_clustered row), the convolution gathers the
windows of a tile of 4, 2 or 1 pixels (the largest the scratch budget allows) as int16 in scratch.
A clustered fully-connected layer with 4-bit indices into one codebook takes the pair table in flash where
it pays (fcpairs.py: its input as int16 in scratch; _shrink_tiles drops it, as it takes a smaller tile, where
the SRAM limit needs); a smaller one, its table built in scratch where the limit leaves room (_scratch_tables).
A clustered convolution with 4-bit indices into one codebook that the SRAM limit keeps from decoding all its
rows at once takes edgec_conv2d_pairs_s8 where it fits (_take_pairs: groups of 4 pixels gathered as int16, the
pair table built in scratch, else in flash).
A pointwise one takes it too where it costs fewer instructions than the tiled kernel (_pairs_pays).
A clustered pointwise layer left tiled on edgec_conv2d_pwt_s8 takes the pair table in flash where
fcpairs.eligible holds (_pwt_tables). Clustered depthwise column layers that
the dense engine runs by pairs of taps (dwpairs.py) decode their chunks into that layout and run its
kernels (edgec_dwconv2d_dwp_s8). A 1x1 convolution of one pixel to one pixel is that fully-connected
layer (_one_pixel_fc) where the pair kernel may run it (str_ww's last pointwise layer, 128 to 32 channels, on the M7: 10,000 instructions,
0.94x the dense layer's, against 34,520 on edgec_conv2d_rows_s8).
A clustered depthwise column layer of 3 or 5 taps that the dense engine runs one channel at a time
(dwcols.py) decodes chunks of channels into that kernel's records (dwcolpack.py, edgec_dwconv2d_dwc_s8),
the largest chunk the scratch budget allows (_smaller_tile: smaller ones).
"""
from __future__ import annotations

import dataclasses

import numpy as np

from .ops import (Conv2D, DepthwiseConv2D, EngineGraph, FullyConnected, is_pointwise, is_pwt,
                  PAIR_PIXELS, packed_conv_scratch, pairs_shape, rows16_shape, runs_pairs)
from . import dwcolpack, dwlayout, dwpairs, fcpairs
from .planner import MemoryPlan, plan_memory
from .storage import BLOCK_FORMATS, choose

MAC_OPS = (Conv2D, DepthwiseConv2D, FullyConnected)
UNTILED = ("fixed", "dw_block")  # depthwise layouts run as stored, no tile, no scratch
EXTRA_SCRATCH = 1024  # bytes of scratch packed kernels may add to the dense engine's
TILES = (64, 32, 16, 8, 4)
# pixels per tile of edgec_conv2d_pwt_s8 (clustered pointwise): the weights are decoded once a tile, and
# the tile's input pixels take scratch, so finer steps let each layer take the largest the SRAM allows
PWT_TILES = (64, 56, 48, 40, 32, 28, 24, 20, 16, 14, 12, 10, 8, 6, 4, 2, 1)


def _dense_bytes(op) -> int:
    return int(op.weights_in_flash.nbytes) if isinstance(op, Conv2D) else int(op.weights.nbytes)


# pixels per walk of the rows: edgec_conv2d_delta8_s8 (8 windows gathered, interleaved, in scratch),
# else edgec_conv2d_delta_s8 (4, in place when pointwise)
DELTA_TILES = (8, 4)


def _window_extent(op: Conv2D) -> int:
    """One past the largest input offset a window reads, from its first tap (uint16 in the kernel)."""
    (kh, kw), (dh, dw) = op.kernel_hw, op.dilation_hw
    iw, ic = op.in_hwc[1], op.in_hwc[2]
    return ((kh - 1) * dh * iw + (kw - 1) * dw) * ic + ic // op.groups


PACKED_FORMATS = ("clustered", "sparse", "sparse_clustered", "block", "block_clustered", "dw_block")
# pixels per walk of the rows: edgec_conv2d_block_s8 (the tile's windows as int16 in scratch)
BLOCK_TILES = (4, 2, 1)


def _unblocked(formats: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(f for f in formats if f not in BLOCK_FORMATS)


# chunks of output channels (edgec_conv2d_rows_s8): each chunk recomputes every pixel's im2col
# column, so beyond 4 chunks a 3x3 layer costs more than on the tiled kernel (ResNet's on the M7: 16
# chunks of 2 rows 2.14x the dense layer, its tiles of 64 pixels 1.48x; 4 chunks 1.49x, tiles of 32
# 1.61x); a 1x1 kernel's column is one pixel's channels, cheap to recompute, so it may take more
# (str_ww's pointwise layers: 16 and 22 chunks 1.56x and 1.74x, the whole model 1.92x against 2.24x
# with at most 4 chunks and tiles elsewhere; pointwise layers now take edgec_conv2d_pwt_s8 instead, 1.12x
# and 1.19x: row_chunks)
ROW_SPLITS = (1, 2, 3, 4)
ROW_SPLITS_1X1 = (1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64)


def row_chunks(op: Conv2D) -> list[int]:
    """Output channels per chunk of edgec_conv2d_rows_s8 for op, largest first: all, then out_c / k
    (k in ROW_SPLITS, or ROW_SPLITS_1X1 for a 1x1 kernel) rounded up to an even count (the dense
    kernel runs channels two at a time). A pointwise convolution (is_pointwise) takes all its rows or
    none: past that, edgec_conv2d_pwt_s8 (tiles of pixels copied to scratch) keeps the in-place
    overlap that chunks of rows lose (kws's pointwise layers: 1.10x the dense layer's instructions
    in tiles of 16 pixels, against 2.33x in tiles of 4 on edgec_conv2d_packed_s8)."""
    out_c = op.out_hwc[2]
    if is_pointwise(op):
        return [out_c]
    result = []
    # edgec_conv2d_rows16_s8 reads the windows in place: more chunks cost little more than one
    many = op.kernel_hw == (1, 1) or rows16_shape(op)
    for k in ROW_SPLITS_1X1 if many else ROW_SPLITS:
        rows = min(out_c, -(-out_c // k) + (-(-out_c // k) & 1))
        if rows >= min(2, out_c) and rows not in result:
            result.append(rows)
    return result


def _rows_op(op, packed):
    """A clustered one-group convolution run by edgec_conv2d_rows_s8, all rows decoded at once (the
    SRAM limit shrinks the chunk: _smaller_tile), or None where that kernel does not apply."""
    if not isinstance(op, Conv2D) or op.groups != 1 or packed.format != "clustered":
        return None
    return dataclasses.replace(op, packed=packed, tile=0, rows=op.out_hwc[2])


def _pairs_op(op, packed):
    """A clustered convolution run by edgec_conv2d_pairs_s8 (groups of 4 pixels gathered as int16, each
    byte of indices one word of the pair table, here in flash: _take_pairs may build it in scratch
    instead), or None where that kernel does not apply (pairs_shape, 4-bit indices into one codebook)."""
    if not isinstance(op, Conv2D) or packed.format != "clustered" or packed.layout != "mask" \
            or not packed.shared or packed.index_bits != 4 or not pairs_shape(op):
        return None
    return dataclasses.replace(op, packed=packed, tile=0, rows=0, pairs=fcpairs.table(packed.codebook))


def _pairs_pays(op: Conv2D) -> bool:
    """Whether edgec_conv2d_pairs_s8 pays against the tiled kernel: for every kernel but a pointwise one
    (edgec_conv2d_packed_s8 decodes a tile's rows and gathers its windows); for a pointwise one
    (edgec_conv2d_pwt_s8: no windows, but rows decoded a tile at a time) where its groups of 4 pixels
    compute at most 4/3 of the pixels (a shorter last group costs a whole one). Measured on the M7 (the
    layer's instructions, pair kernel / tiled), single layers to 160 channels: 32 input channels over
    6 pixels 0.87x, over 7 0.75x; 8 to 32 over 20 pixels 0.84-0.88x; 64 over 9 0.93x; 128 over 6 1.00x
    (the break-even); kws's 64 to 64 over 125 pixels 0.91-0.97x; str_ww's 40 to 128 over 28 0.90x, 128
    to 128 over 24 and 15 0.82x and 0.92x."""
    if not is_pointwise(op):
        return True
    pixels = op.out_hwc[0] * op.out_hwc[1]
    return 3 * PAIR_PIXELS * -(-pixels // PAIR_PIXELS) <= 4 * pixels


def _one_pixel_fc(op) -> FullyConnected | None:
    """A 1x1 convolution (one group) of one input pixel to one output pixel as the fully-connected
    layer it computes (the same weights, folded bias and rescale), or None for any other op."""
    if not (isinstance(op, Conv2D) and op.groups == 1 and op.kernel_hw == (1, 1) and op.pad_tl == (0, 0)
            and op.in_hwc[:2] == (1, 1) and op.out_hwc[:2] == (1, 1)):
        return None
    return FullyConnected(index=op.index, op=op.op, input=op.input, output=op.output,
                          weights=op.weights.reshape(len(op.weights), -1), bias=op.bias, requant=op.requant,
                          batches=op.batches, in_features=op.in_hwc[2], out_features=op.out_hwc[2],
                          weights_name=op.weights_name)


def _pack_op(op, budget: int, max_tile: int, formats: tuple[str, ...] = PACKED_FORMATS):
    fc = _one_pixel_fc(op)
    if fc is not None:  # clustered: the pair kernel (fcpairs.py) rather than the pointwise kernels
        packed_fc = _pack_op(fc, budget, max_tile, formats)
        if packed_fc.packed is not None and fcpairs.runs(fc.out_features, fc.in_features, packed_fc.packed):
            return packed_fc
    if not isinstance(op, DepthwiseConv2D) or op.depth_multiplier != 1:
        formats = tuple(f for f in formats if f != "dw_block")
    if isinstance(op, FullyConnected):  # sparse rows in the delta layout (no tile, no scratch)
        packed = choose(op.weight_rows, _dense_bytes(op), formats, sparse_layout="delta")
        if packed is not None and packed.layout == "block":
            candidate = dataclasses.replace(op, packed=packed)
            if candidate.scratch_bytes <= budget:
                return candidate
            packed = choose(op.weight_rows, _dense_bytes(op), _unblocked(formats), sparse_layout="delta")
        if packed is None:
            return op
        # the pair table where it pays (_smaller_tile drops it if SRAM is short)
        pairs = fcpairs.table(packed.codebook) if fcpairs.eligible(op.out_features, op.in_features, packed) else \
            np.zeros(0, np.int32)
        return dataclasses.replace(op, packed=packed, pairs=pairs)
    packed = None
    if isinstance(op, Conv2D) and op.groups == 1:
        # the block formats: tiles of 4, 2 or 1 pixels as the scratch budget allows
        packed = choose(op.weight_rows, _dense_bytes(op), formats, sparse_layout="delta")
        if packed is not None and packed.layout == "block":
            for tile in (t for t in BLOCK_TILES if t <= max_tile):
                candidate = dataclasses.replace(op, packed=packed, tile=tile)
                if candidate.scratch_bytes <= budget:
                    return candidate
        formats = _unblocked(formats)
    else:
        formats = _unblocked(formats)
    if isinstance(op, Conv2D) and op.groups == 1:
        # sparse rows in the delta layout: tiles of 4 pixels, 4 windows of scratch (none if pointwise);
        # the mask layout only where those windows would exceed the scratch budget
        packed = choose(op.weight_rows, _dense_bytes(op), formats, sparse_layout="delta")
        if packed is None:
            return op
        if packed.layout == "delta":
            pixels = op.out_hwc[0] * op.out_hwc[1]
            # a layer of fewer than 8 output pixels would compute 8 (the block repeats its first pixel)
            for tile in (t for t in DELTA_TILES if t <= max_tile and (t < 8 or pixels >= 8)):
                candidate = dataclasses.replace(op, packed=packed, tile=tile)
                if candidate.scratch_bytes <= budget:
                    return candidate
            packed = None
    if isinstance(op, Conv2D) and op.kernel_hw[0] * op.kernel_hw[1] > 64:
        return op  # the kernel keeps a 64-bit mask of a window's taps inside the input
    if isinstance(op, Conv2D) and _window_extent(op) > 0xFFFF:
        formats = tuple(f for f in formats if f == "clustered")
        packed = None
    if isinstance(op, DepthwiseConv2D):
        # sparse rows in the fixed layout (no scratch, the dense kernel's in-place overlap)
        # or the kept taps of groups of 4 channels (dw_block: no scratch, the dense kernel's order)
        packed = choose(op.weight_rows, _dense_bytes(op), formats, sparse_layout="fixed")
        if packed is not None and packed.layout in ("fixed", "dw_block"):
            return dataclasses.replace(op, packed=packed, tile=0)
        packed = None
        formats = tuple(f for f in formats if f != "dw_block")
    packed = packed or choose(op.weight_rows, _dense_bytes(op), formats)
    if packed is None:
        return op
    rows_op = _rows_op(op, packed) if max_tile == TILES[0] else None
    if rows_op is not None:
        return rows_op
    if isinstance(op, DepthwiseConv2D) and dwcolpack.eligible(op, packed):
        # a column layer of 3 or 5 taps: chunks of channels decoded into the column kernel's records
        # (edgec_dwconv2d_dwc_s8), the largest the budget allows
        for columns in dwcolpack.chunks(op):
            candidate = dataclasses.replace(op, packed=packed, tile=0, columns=columns)
            if candidate.scratch_bytes <= budget:
                return candidate
    if isinstance(op, DepthwiseConv2D) and dwlayout.chunk_eligible(op, packed):
        # chunks of channel groups in the DSP layout (edgec_dwconv2d_dwg_s8), the largest the budget allows;
        # a column layer's in the pair layout (edgec_dwconv2d_dwp_s8), run as the dense layer's
        in_pairs = dwpairs.chunk_eligible(op, packed)
        for chunk in dw_chunks(op):
            candidate = dataclasses.replace(op, packed=packed, tile=0, chunk=chunk, pair_layout=in_pairs)
            if candidate.scratch_bytes <= budget:
                return candidate
    if isinstance(op, DepthwiseConv2D):
        # decoded once, run by the dense kernel, where the scratch allows (_smaller_tile: tiles); in
        # the last resort of pack_and_plan (max_tile: the smallest tile) not on the tiled kernel,
        # whose small tiles cost 2-3x the dense kernel's instructions for a few hundred bytes
        candidate = dataclasses.replace(op, packed=packed, tile=0)
        if candidate.scratch_bytes <= budget:
            return candidate
        if max_tile < TILES[0]:
            return op
    pixels = op.out_hwc[0] * op.out_hwc[1]
    for tile in (t for t in TILES if t <= max_tile):
        tile = min(tile, -(-pixels // 4) * 4)
        candidate = dataclasses.replace(op, packed=packed, tile=tile)
        if isinstance(op, DepthwiseConv2D) or packed_conv_scratch(op, packed, tile) <= budget:
            return candidate if candidate.scratch_bytes <= budget else op
    return op


def dw_chunks(op: DepthwiseConv2D) -> list[int]:
    """Groups of 4 channels per chunk of edgec_dwconv2d_dwg_s8, largest first: all, then halves."""
    groups = op.out_hwc[2] // 4
    return [groups] + [c for c in (32, 16, 8, 4, 2, 1) if c < groups]


def _chunks_aligned(op, plan: MemoryPlan) -> bool:
    """edgec_dwconv2d_dwg_s8 runs chunk after chunk over every pixel: where its output overlaps its
    input, offset(input) - offset(output) must be a multiple of in_c (a chunk's writes then land on
    its own channels); the planner's lag (the dense kernel's) gives the rest."""
    if op.input not in plan.tensor_offsets:
        return True  # the caller's buffer
    i, o = plan.tensor_offsets[op.input], plan.tensor_offsets[op.output]
    size = op.batches * op.in_hwc[0] * op.in_hwc[1] * op.in_hwc[2]
    out_size = op.batches * op.out_hwc[0] * op.out_hwc[1] * op.out_hwc[2]
    return i >= o + out_size or o >= i + size or (i >= o and (i - o) % op.in_hwc[2] == 0)


def _align_chunks(graph: EngineGraph, packed: EngineGraph, plan: MemoryPlan) -> tuple[EngineGraph, MemoryPlan]:
    """Each chunked depthwise layer whose planned overlap _chunks_aligned rejects goes back to dense
    (then the plan again), until none is left."""
    while True:
        bad = [i for i, op in enumerate(packed.ops) if getattr(op, "chunk", 0) and not _chunks_aligned(op, plan)]
        if not bad:
            return packed, plan
        ops = list(packed.ops)
        ops[bad[0]] = graph.ops[bad[0]]
        packed = dataclasses.replace(packed, ops=tuple(ops))
        plan = plan_memory(packed)


def scratch_bytes(graph: EngineGraph) -> int:
    return max((getattr(op, "scratch_bytes", 0) for op in graph.ops), default=0)


def pack_graph(graph: EngineGraph, mode: str, max_tile: int = TILES[0],
               formats: tuple[str, ...] = PACKED_FORMATS) -> EngineGraph:
    """The graph with each MAC op's weights stored as `mode` ("auto" or "dense") decides."""
    if mode == "dense":
        return graph
    budget = scratch_bytes(graph) + EXTRA_SCRATCH
    ops = tuple(_pack_op(op, budget, max_tile, formats) if isinstance(op, MAC_OPS) else op for op in graph.ops)
    return dataclasses.replace(graph, ops=ops)


def _smaller_tile(op):
    """op with the next smaller tile of TILES, or None when its tile is already the smallest (or it
    has none: FC). A depthwise layer decoded once (tile 0) goes to the tiled kernel's largest tile."""
    if isinstance(op, FullyConnected) and len(op.pairs):  # the pair table's kernel -> edgec_packed_fc's
        return dataclasses.replace(op, pairs=np.zeros(0, np.int32))
    if op.packed is None or isinstance(op, FullyConnected) or op.packed.layout in UNTILED:
        return None
    if getattr(op, "columns", 0):  # fewer channels a chunk (dwcolpack.py); past the fewest, none
        smaller = [c for c in dwcolpack.chunks(op) if c < op.columns]
        return dataclasses.replace(op, columns=smaller[0]) if smaller else None
    if getattr(op, "chunk", 0):  # fewer channel groups a chunk; past one, none
        smaller = [c for c in dw_chunks(op) if c < op.chunk]
        return dataclasses.replace(op, chunk=smaller[0]) if smaller else None
    if getattr(op, "rows", 0):  # a smaller chunk of rows; past the smallest, the tiled kernel
        smaller = [r for r in row_chunks(op) if r < op.rows]
        return dataclasses.replace(op, rows=smaller[0]) if smaller else _tiled(op)
    if isinstance(op, DepthwiseConv2D) and op.tile == 0:
        return dataclasses.replace(op, tile=min(TILES[0], -(-(op.out_hwc[0] * op.out_hwc[1]) // 4) * 4))
    if is_pwt(op, op.packed):
        smaller = [t for t in PWT_TILES if t < op.tile]
        return dataclasses.replace(op, tile=smaller[0]) if smaller else None
    if op.packed.layout == "block":
        smaller = [t for t in BLOCK_TILES if t < op.tile]  # 4 -> 2 -> 1 (less scratch)
        return dataclasses.replace(op, tile=smaller[0]) if smaller else None
    if op.packed.layout == "delta":
        smaller = [t for t in DELTA_TILES if t < op.tile]  # 8 -> 4 (less scratch)
        return dataclasses.replace(op, tile=smaller[0]) if smaller else None
    smaller = [t for t in TILES if t < op.tile]
    return dataclasses.replace(op, tile=smaller[0]) if smaller else None


def _tiled(op):
    """A rows-chunked convolution (edgec_conv2d_rows_s8) on the tiled kernel, its largest tile (a
    pointwise one's at most its pixels: edgec_conv2d_pwt_s8 copies a tile's input)."""
    pixels = op.out_hwc[0] * op.out_hwc[1]
    if is_pwt(op, op.packed):
        return dataclasses.replace(op, rows=0, tile=min(TILES[0], pixels))
    return dataclasses.replace(op, rows=0, tile=min(TILES[0], -(-pixels // 4) * 4))


def _smaller_options(op) -> list:
    """The steps _shrink_tiles may take for op: its next smaller tile (_smaller_tile) and, for a
    rows-chunked convolution, also the tiled kernel (pixels outer: it keeps the input overlap in
    place that chunks of rows lose)."""
    smaller = _smaller_tile(op)
    options = [] if smaller is None else [smaller]
    if getattr(op, "rows", 0) and smaller is not None and smaller.rows:
        options.append(_tiled(op))
    return options


def _shrink_tiles(packed: EngineGraph, limit: int) -> tuple[EngineGraph, MemoryPlan] | None:
    """Each tiled layer starts at its largest tile; while the arena and scratch exceed `limit`, the
    layer whose next smaller tile lowers their sum the most (the earliest on ties) takes it. None
    when every tile is the smallest and the limit is still exceeded."""
    ops = list(packed.ops)
    plan = plan_memory(packed)
    total = plan.sram_bytes
    while total > limit:
        best = None
        for i, op in enumerate(ops):
            for smaller in (_smaller_options(op) if getattr(op, "packed", None) is not None else []):
                trial = dataclasses.replace(packed, ops=tuple(ops[:i] + [smaller] + ops[i + 1:]))
                trial_plan = plan_memory(trial)
                trial_total = trial_plan.sram_bytes
                if best is None or trial_total < best[0]:
                    best = (trial_total, i, smaller, trial_plan)
        if best is None:
            return None
        total, i, ops[i], plan = best
        packed = dataclasses.replace(packed, ops=tuple(ops))
    return packed, plan


def _scratch_tables(packed: EngineGraph, plan: MemoryPlan, limit: int) -> tuple[EngineGraph, MemoryPlan]:
    """Last: each clustered FC that may run the pair kernel (fcpairs.runs) but has no table in flash (too
    small for one), in order, takes it in scratch where the arena and scratch stay within `limit`.
    A layer's table stays in flash where it has one: built in scratch it costs about 1,000
    instructions an inference (ad01 clustered, every table in scratch where SRAM allows: 1.149x the
    dense engine's instructions, weights 0.512x, SRAM +784 B; in flash: 1.139x, 0.532x, +640 B)."""
    ops = list(packed.ops)
    for i, op in enumerate(ops):
        if not isinstance(op, FullyConnected) or len(op.pairs) or \
                not fcpairs.runs(op.out_features, op.in_features, op.packed):
            continue
        trial = dataclasses.replace(packed, ops=tuple(ops[:i] + [dataclasses.replace(
            op, table_in_scratch=True, pairs=np.zeros(0, np.int32))] + ops[i + 1:]))
        trial_plan = plan_memory(trial)
        if trial_plan.sram_bytes <= limit:
            ops[i] = trial.ops[i]
            packed, plan = trial, trial_plan
    return packed, plan


def _regrow_rows(packed: EngineGraph, plan: MemoryPlan, limit: int) -> tuple[EngineGraph, MemoryPlan]:
    """After _shrink_tiles: each clustered one-group convolution, in order, takes the largest chunk
    of rows (edgec_conv2d_rows_s8, one decoding per inference) that keeps the arena and scratch
    within `limit`; any chunk of rows beats the tiled kernel (one decoding per tile of pixels). The
    greedy shrink alone may leave a layer tiled whose chunk of rows fits the bytes others freed."""
    ops = list(packed.ops)
    for i, op in enumerate(ops):
        probe = _rows_op(op, op.packed) if isinstance(op, Conv2D) and op.packed is not None \
            and op.packed.layout == "mask" and not runs_pairs(op) else None
        if probe is None:
            continue
        for rows in row_chunks(op):
            if rows <= op.rows:
                break
            trial = dataclasses.replace(packed, ops=tuple(ops[:i] + [dataclasses.replace(probe, rows=rows)]
                                                            + ops[i + 1:]))
            trial_plan = plan_memory(trial)
            if trial_plan.sram_bytes <= limit:
                ops[i] = trial.ops[i]
                packed, plan = trial, trial_plan
                break
    return packed, plan


def _take_pairs(packed: EngineGraph, plan: MemoryPlan, limit: int) -> tuple[EngineGraph, MemoryPlan]:
    """Last for convolutions: each clustered one that the SRAM limit keeps from decoding all its rows at
    once (chunks of rows or tiles) and that edgec_conv2d_pairs_s8 may run (_pairs_op; no strided or padded
    1x1 kernel, whose short windows leave the table's kernel little to gain; a pointwise one where
    _pairs_pays), in order, takes that kernel where the
    arena and scratch stay within `limit`: its table built in scratch (about 1,000 instructions an
    inference) where the limit leaves room, else in flash (1 KiB, DSP builds). ResNet-8 clustered on the
    M7: its five 3x3 layers that the limit keeps from decoding all rows at once 1.04-1.05x the dense
    layers' instructions on this kernel, against 1.11-1.81x in the chunks of rows or tiles that fit
    (two tables in flash, three in scratch). str_ww's three pointwise layers that the limit keeps from
    decoding all rows at once (40 to 128 channels over 28 pixels, 128 to 128 over 24 and 15): 1.02-1.04x
    against 1.13-1.27x on edgec_conv2d_pwt_s8 (two tables in flash in place of the two it decoded
    through, one in scratch)."""
    ops = list(packed.ops)
    for i, op in enumerate(ops):
        if not isinstance(op, Conv2D) or op.packed is None or \
                (op.kernel_hw == (1, 1) and not is_pointwise(op)) or \
                op.rows == op.out_hwc[2] or op.batches * op.out_hwc[0] * op.out_hwc[1] < PAIR_PIXELS:
            continue  # (fewer pixels than a group: the kernel would compute the group's 4 all the same)
        flash = _pairs_op(op, op.packed)
        if flash is None or not _pairs_pays(op):
            continue
        for candidate in (dataclasses.replace(flash, pairs=np.zeros(0, np.int32), table_in_scratch=True), flash):
            trial_ops = ops[:i] + [candidate] + ops[i + 1:]
            while trial_ops is not None:
                trial = dataclasses.replace(packed, ops=tuple(trial_ops))
                trial_plan = plan_memory(trial)
                if trial_plan.sram_bytes <= limit:
                    break
                trial_ops = _fewer_columns(trial_ops)
            if trial_ops is not None:
                ops = trial_ops
                packed, plan = trial, trial_plan
                break
    return packed, plan


def _fewer_columns(ops: list) -> list | None:
    """The ops with every clustered column layer (dwcolpack.py) a step fewer channels a chunk, or None
    when none has fewer to take: a smaller chunk costs a call or two (dwcolpack.cost), the pair kernel's
    scratch saves a decoding of every weight a tile."""
    smaller = [_smaller_tile(op) if getattr(op, "columns", 0) else None for op in ops]
    if all(s is None for s in smaller):
        return None
    return [s if s is not None else op for s, op in zip(smaller, ops)]


def _pwt_tables(packed: EngineGraph) -> EngineGraph:
    """Last: each clustered pointwise layer on edgec_conv2d_pwt_s8 large enough for fcpairs.eligible
    (the table at most 1/8 of its indices, as a fully-connected layer's; in_c a multiple of 8) decodes
    through the pair table in flash (DSP builds): one load a byte of indices. str_ww's two 128x128
    layers on the M7: 664,120 -> 608,440 instructions (24 pixels in 3 tiles) and 381,440 -> 362,560
    (15 pixels, one tile) for 2 KiB (weights 0.503x -> 0.548x the dense engine's); they now take
    edgec_conv2d_pairs_s8 (_take_pairs, _pairs_pays). No SRAM: the plan stands."""
    ops = list(packed.ops)
    for i, op in enumerate(ops):
        if (isinstance(op, Conv2D) and op.packed is not None and not op.rows and op.tile
                and is_pwt(op, op.packed) and op.in_hwc[2] % 8 == 0
                and fcpairs.eligible(op.out_hwc[2], op.in_hwc[2], op.packed)):
            ops[i] = dataclasses.replace(op, pwt_pairs=fcpairs.table(op.packed.codebook))
    return dataclasses.replace(packed, ops=tuple(ops))


def pack_and_plan(graph: EngineGraph, mode: str,
                  formats: tuple[str, ...] = PACKED_FORMATS) -> tuple[EngineGraph, MemoryPlan]:
    """pack_graph and plan_memory, with each layer's tile as large as the SRAM limit allows; if even
    the smallest tiles exceed it, the tiled layers (and depthwise layers decoded once) that save the
    fewest bytes go back to dense."""
    dense_plan = plan_memory(graph)
    if mode == "dense":
        return graph, dense_plan
    limit = dense_plan.sram_bytes + EXTRA_SCRATCH
    packed = pack_graph(graph, mode, formats=formats)
    shrunk = _shrink_tiles(packed, limit)
    if shrunk is not None:
        packed, plan = _scratch_tables(*_align_chunks(graph, *_take_pairs(*_regrow_rows(*shrunk, limit), limit)), limit)
        return _pwt_tables(packed), plan
    ops = list(pack_graph(graph, mode, TILES[-1], formats).ops)
    tiled = sorted((i for i, op in enumerate(ops) if getattr(op, "tile", 0) or isinstance(op, DepthwiseConv2D)
                    and op.packed is not None and op.packed.layout not in UNTILED),
                   key=lambda i: (_dense_bytes(ops[i]) - ops[i].packed.nbytes, i))
    for i in tiled:
        ops[i] = graph.ops[i]
        packed = dataclasses.replace(graph, ops=tuple(ops))
        plan = plan_memory(packed)
        if plan.sram_bytes <= limit:
            return _align_chunks(graph, *_take_pairs(*_regrow_rows(packed, plan, limit), limit))
    return graph, dense_plan
