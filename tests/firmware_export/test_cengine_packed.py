"""Packed (clustered / sparse / both) weights: the engine runs them as stored and stays byte-exact.

Each MAC case is converted by the real TFLite converter, then its int8 filter is rewritten in the
.tflite (same scales and biases) so that its weights are clustered to K values per channel, pruned,
or both; the engine generated from that file must pick the expected storage and give the bytes
tflite-micro gives, on the generic path and on the DSP path (portable emulation).
"""
from __future__ import annotations

import numpy as np
import pytest

from firmware_export.cengine import compile_host, generate_engine
from firmware_export.cengine.storage import NEAR_TIE, NEAR_TIE_BYTES, decode, encode
from tests.firmware_export.weight_variants import compress_tflite_weights, map_weights
from tests.firmware_export.single_op_models import Case, convert
from toolchain.oracle import run_tflm
from toolchain.base.tflite_reader import read_tflite
from toolchain.compress.tflite_weights import compress_weights, prune_channel_blocks


def _conv(**kw):
    return lambda keras, x: keras.layers.Conv2D(**kw)(x)


def _dw(**kw):
    return lambda keras, x: keras.layers.DepthwiseConv2D(**kw)(x)


# Layers big enough that a codebook pays off; odd channel counts; 81 pixels = two tiles of 64.
CASES = {
    "conv_same": Case("conv_same", (9, 9, 12), _conv(filters=9, kernel_size=3, padding="same", activation="relu")),
    "conv_stride2": Case("conv_stride2", (10, 9, 12), _conv(filters=7, kernel_size=3, strides=2, padding="same")),
    "conv_dilated": Case("conv_dilated", (11, 11, 8), _conv(filters=6, kernel_size=3, dilation_rate=2,
                                                            padding="same")),
    "conv_grouped": Case("conv_grouped", (7, 7, 16), _conv(filters=10, kernel_size=3, padding="same", groups=2)),
    "conv_5x5_padded": Case("conv_5x5_padded", (13, 12, 4), _conv(filters=5, kernel_size=5, strides=3,
                                                                  padding="same")),
    "conv_valid": Case("conv_valid", (9, 8, 12), _conv(filters=5, kernel_size=(3, 2), strides=(2, 1))),
    # 35 pixels: the pointwise kernel's tiles of 4 and 3 pixels one at a time
    "conv_1x1": Case("conv_1x1", (5, 7, 40), _conv(filters=17, kernel_size=1)),
    # 264 taps: 8 interleaved windows (2,112 B) exceed the scratch budget (the dense kernel's 1,056 B
    # + 1 KiB), so the 4-pixel delta kernel runs in place: tiles of 4, then the last pixel alone
    "conv_1x1_wide": Case("conv_1x1_wide", (3, 3, 264), _conv(filters=5, kernel_size=1)),
    # clustered pointwise: 10 taps (not a multiple of 4: int8 rows, not int16 pairs), odd channels
    "conv_1x1_odd": Case("conv_1x1_odd", (5, 7, 10), _conv(filters=9, kernel_size=1)),
    "dw_same": Case("dw_same", (9, 9, 20), _dw(kernel_size=3, padding="same", activation="relu6")),
    "dw_multiplier": Case("dw_multiplier", (8, 8, 3), _dw(kernel_size=(3, 2), depth_multiplier=2)),
    "dw_dilated_stride": Case("dw_dilated_stride", (12, 12, 17), _dw(kernel_size=3, dilation_rate=2,
                                                                     padding="same")),
    # 260 channels: padded taps checked one by one (no row of input_zp on the stack: edgec_packed_dws.h)
    "dw_wide": Case("dw_wide", (3, 3, 260), _dw(kernel_size=3, padding="same")),
    "fc": Case("fc", (64,), lambda k, x: k.layers.Dense(13, activation="relu")(x)),
    "fc_rows": Case("fc_rows", (3, 40), lambda k, x: k.layers.Dense(7)(x)),
    # 60 taps (4-bit rows read a word of 8 indices at a time: 4 taps left), 45 taps (rows not
    # byte-aligned: the bit reader), odd row counts (the last row without a partner)
    "fc_tail": Case("fc_tail", (60,), lambda k, x: k.layers.Dense(11)(x)),
    "fc_odd_taps": Case("fc_odd_taps", (45,), lambda k, x: k.layers.Dense(9)(x)),
    # 550 nonzeros a row at 50 %: the delta layout's two-byte row counts
    "fc_long": Case("fc_long", (1100,), lambda k, x: k.layers.Dense(5)(x)),
}


def _channel_axis(op: str) -> int:
    return -1 if op == "DEPTHWISE_CONV_2D" else 0


def _rows(op: str, q: np.ndarray) -> np.ndarray:
    """q as [channel, taps] (a view to write through)."""
    return np.moveaxis(q, _channel_axis(op), 0).reshape(q.shape[_channel_axis(op)], -1)


def _clustered(k: int, shared: bool = False):
    """Every channel takes exactly k distinct nonzero int8 values (one set for all when shared)."""
    def fn(op, _name, q, _scales):
        rng = np.random.default_rng(k)
        rows = np.moveaxis(q, _channel_axis(op), 0).copy()
        flat = rows.reshape(len(rows), -1)
        pool = np.concatenate([np.arange(-127, 0), np.arange(1, 128)])
        n = min(k, flat.shape[1])  # a channel of 6 taps holds at most 6 values
        common = rng.choice(pool, n, replace=False)
        for r in flat:
            values = common if shared else rng.choice(pool, n, replace=False)
            picks = rng.integers(0, n, r.size)
            picks[:n] = np.arange(n)  # each value at least once
            r[:] = values[rng.permutation(picks)]
        return np.moveaxis(flat.reshape(rows.shape), 0, _channel_axis(op))
    return fn


def _sparse(density: float, zero_channels: bool = False, k: int = 0):
    """Exactly round(density * taps) nonzeros per channel, at random places; values random int8
    (or from k values per channel); with zero_channels, the first and last channels all zero."""
    def fn(op, _name, q, _scales):
        rng = np.random.default_rng(int(density * 100) + k)
        rows = np.moveaxis(q, _channel_axis(op), 0).copy()
        flat = rows.reshape(len(rows), -1)
        pool = np.concatenate([np.arange(-128, 0), np.arange(1, 128)])
        for i, r in enumerate(flat):
            keep = rng.permutation(r.size) < round(density * r.size)
            values = rng.choice(pool, k, replace=False) if k else pool
            r[:] = np.where(keep, rng.choice(values, r.size), 0)
            if zero_channels and i in (0, len(flat) - 1):
                r[:] = 0
        return np.moveaxis(flat.reshape(rows.shape), 0, _channel_axis(op))
    return fn


VARIANTS = {
    "clustered2": _clustered(2), "clustered3": _clustered(3), "clustered5": _clustered(5),
    "clustered9": _clustered(9), "clustered16": _clustered(16), "clustered4_shared": _clustered(4, shared=True),
    "sparse50": _sparse(0.5), "sparse75": _sparse(0.25), "sparse90": _sparse(0.1),
    "sparse_zero_channels": _sparse(0.25, zero_channels=True),
    "sparse_clustered": _sparse(0.25, k=4), "sparse_clustered_zero_channels": _sparse(0.25, zero_channels=True, k=3),
}

# The storage each variant must get. Depthwise rows have only kernel_h * kernel_w taps: a
# per-channel codebook of 9 or 16 values costs more than the int8 taps themselves, and one of 3 or
# 4 values more than the int8 nonzeros (2 of 9) it would index.
EXPECTED = {v: "clustered" for v in VARIANTS if v.startswith("clustered")}
EXPECTED.update({v: "sparse" for v in VARIANTS if v.startswith("sparse") and "clustered" not in v})
EXPECTED.update({v: "sparse_clustered" for v in VARIANTS if v.startswith("sparse_clustered")})
DW_DENSE = {"clustered9", "clustered16"}


def _expected(case: str, variant: str) -> str:
    if case.startswith("dw") and variant in DW_DENSE:
        return "dense"
    if case == "dw_multiplier" and variant == "clustered5":  # 6 taps: 3-bit indices + 5 values > 6 B
        return "dense"
    # near ties on flash (storage.NEAR_TIE_BYTES): a few bytes more for the faster kernel's format
    if case == "fc_rows" and variant == "sparse_clustered_zero_channels":
        return "sparse"
    if case == "conv_valid" and variant == "sparse_clustered_zero_channels":
        return "sparse"
    if case.startswith("dw") and variant.startswith("sparse_clustered"):
        return "sparse"
    return EXPECTED[variant]


@pytest.fixture(scope="module")
def converted() -> dict:
    return {}


def _model(converted: dict, case: str, variant: str) -> bytes:
    if case not in converted:
        converted[case] = convert(CASES[case])
    return map_weights(converted[case], VARIANTS[variant])


def _inputs(engine, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(-128, 128, (12,) + tuple(engine.input_shape[1:])).astype(np.int8)


# Every variant on one case of each kernel (conv, depthwise, FC, FC over rows); every other geometry
# with one variant of each format (clustered, sparse with all-zero channels, sparse+clustered).
FULL_CASES = ("conv_same", "dw_same", "fc", "fc_rows")
GEOMETRY_VARIANTS = ("clustered5", "sparse_zero_channels", "sparse_clustered_zero_channels")
PAIRS = sorted([(c, v) for c in FULL_CASES for v in VARIANTS]
               + [(c, v) for c in CASES
                  if c not in FULL_CASES + ("dw_wide", "fc_long", "fc_tail", "fc_odd_taps", "conv_1x1_odd",
                                            "conv_1x1_wide")
                  for v in GEOMETRY_VARIANTS]
               + [("fc_long", "sparse50"), ("fc_long", "clustered16"), ("conv_1x1", "sparse90"),
                  ("conv_1x1", "clustered16"), ("fc_tail", "clustered16"), ("fc_odd_taps", "clustered16"),
                  ("conv_1x1_odd", "clustered5"), ("conv_1x1_wide", "sparse50")])


@pytest.mark.parametrize("case,variant", PAIRS)
def test_packed_storage_matches_tflm_exactly_on_both_paths(case, variant, converted, tmp_path):
    data = _model(converted, case, variant)
    engine = generate_engine(read_tflite(data, case), case, f"{case}.tflite")
    (layer,) = engine.layers
    assert layer.format == _expected(case, variant)
    if case == "fc_long" and variant == "sparse50":
        assert layer.index_bits == 16  # rows of more than 255 entry pairs
    if layer.format == "sparse" and case != "conv_grouped" and not case.startswith("dw"):
        assert layer.index_bits in (8, 16)  # the delta layout (count bytes of 1 or 2)
        if case.startswith("conv"):  # 8 windows interleaved in scratch, unless they exceed its budget
            assert layer.tile == (4 if case == "conv_1x1_wide" else 8)
    assert layer.stored_bytes < layer.dense_bytes or layer.format == "dense"
    x = _inputs(engine, 5)
    reference = run_tflm(data, x).tobytes()
    for defines in ((), ("EDGEC_EMULATE_DSP",)):
        host = compile_host(engine, tmp_path / ("dsp" if defines else "generic"), defines=defines)
        assert host.run(x).tobytes() == reference, defines


@pytest.mark.parametrize("case", ["conv_same", "dw_same", "fc"])
def test_dense_mode_stores_int8_and_computes_the_same_bytes(case, converted, tmp_path):
    data = _model(converted, case, "sparse_clustered")
    dense = generate_engine(read_tflite(data, case), case, weights="dense")
    packed = generate_engine(read_tflite(data, case), case)
    assert [layer.format for layer in dense.layers] == ["dense"]
    assert [layer.format for layer in packed.layers] == [_expected(case, "sparse_clustered")]
    assert packed.weight_bytes < dense.weight_bytes
    assert dense.layers[0].stored_bytes == dense.layers[0].dense_bytes
    # every const array but the weights is the same: the difference is the weights' storage
    assert dense.weight_bytes - packed.weight_bytes == dense.layers[0].stored_bytes - packed.layers[0].stored_bytes
    x = _inputs(dense, 9)
    a = compile_host(dense, tmp_path / "dense").run(x)
    b = compile_host(packed, tmp_path / "packed").run(x)
    assert a.tobytes() == b.tobytes() == run_tflm(data, x).tobytes()


@pytest.mark.parametrize("fmt,layout", [("clustered", "mask"), ("sparse", "mask"), ("sparse_clustered", "mask"),
                                        ("sparse", "delta")])
def test_encoding_round_trips(fmt, layout):
    rng = np.random.default_rng(3)
    books = rng.integers(-128, 128, (7, 5))
    matrix = np.take_along_axis(books, rng.integers(0, 5, (7, 33)), 1).astype(np.int8)
    matrix[rng.random(matrix.shape) < 0.6] = 0
    matrix[2] = 0  # a channel with every weight zero
    matrix[3, :] = 0
    matrix[3, [0, 16, 32]] = (-128, 127, 1)  # gaps of 16: bridged by entries of value 0
    packed = encode(matrix, fmt, layout)
    assert packed is not None and packed.format == fmt and packed.layout == layout
    assert np.array_equal(decode(packed), matrix)
    if fmt != "sparse":
        assert packed.index_bits == 3  # 5 values (6 with zero: still 3 bits)
    if layout == "delta":
        assert packed.index_bits == 8  # one byte per row's count
        wide = np.zeros((2, 2000), np.int8)
        wide[0, ::3] = 7
        assert encode(wide, "sparse", "delta").index_bits == 16
        assert np.array_equal(decode(encode(wide, "sparse", "delta")), wide)
    if fmt != "clustered":
        assert packed.max_nonzeros == max(np.count_nonzero(r) for r in matrix)


def test_more_than_16_values_stay_unclustered():
    matrix = np.arange(-17, 17, dtype=np.int8).reshape(1, -1)
    assert encode(matrix, "clustered") is None
    assert encode(matrix[:, :16], "clustered").index_bits == 4


def test_compress_tflite_weights_prunes_and_clusters(converted):
    data = convert(CASES["conv_same"])
    model = read_tflite(compress_tflite_weights(data, sparsity=0.75, clusters=16), "m")
    w = next(t.data for t in model.main.tensors if t.is_constant and t.dtype == "int8")
    assert abs(np.count_nonzero(w) / w.size - 0.25) < 0.02
    assert max(len(np.unique(r)) for r in w.reshape(len(w), -1)) <= 16
    engine = generate_engine(model, "m")
    # 27 nonzeros of 108 per channel, at most 16 values: a mask and 4-bit indices into a codebook
    # cost a little less than int8 values with their 4-bit distances (the delta layout of sparse
    # convolutions), within the near tie on flash: the delta layout's faster kernel wins
    rows = w.reshape(len(w), -1)
    clustered, delta = encode(rows, "sparse_clustered").nbytes, encode(rows, "sparse", "delta").nbytes
    assert clustered < delta <= clustered + max(clustered * NEAR_TIE, NEAR_TIE_BYTES)
    assert engine.layers[0].format == "sparse"
    assert engine.layers[0].stored_bytes == delta


# Depthwise sparse rows in the fixed layout (edgec_dwconv2d_sparse_s8): K entries a channel, odd K,
# channels with fewer nonzeros than K (all-zero channels padded), a depth multiplier of 2 (the
# checked path), dilation and stride across the padding, 17 and 20 channels; on the generic, DSP and
# Armv6-M (EDGEC_SCALAR) paths; more than 256 input channels across the border.
# (case, variant, K: round(density x taps))
FIXED_PAIRS = [("dw_same", "sparse90", 1), ("dw_same", "sparse_zero_channels", 2), ("dw_multiplier", "sparse50", 3),
               ("dw_dilated_stride", "sparse75", 2), ("dw_wide", "sparse75", 2)]


@pytest.mark.parametrize("case,variant,entries", FIXED_PAIRS)
def test_sparse_depthwise_fixed_layout_exact_on_three_paths(case, variant, entries, converted, tmp_path):
    data = _model(converted, case, variant)
    engine = generate_engine(read_tflite(data, case), case, f"{case}.tflite")
    (layer,) = engine.layers
    assert layer.format == "sparse" and "edgec_dwconv2d_sparse_s8(" in engine.files[f"{case}.c"]
    assert engine.scratch_bytes == 0
    w = next(t for t in read_tflite(data, case).main.tensors if t.is_constant and t.dtype == "int8").data
    rows = _rows("DEPTHWISE_CONV_2D", np.asarray(w))
    assert max(np.count_nonzero(r) for r in rows) == entries
    assert layer.stored_bytes == len(rows) * (entries + (entries + 1) // 2)
    x = _inputs(engine, 7)
    reference = run_tflm(data, x).tobytes()
    for defines in ((), ("EDGEC_EMULATE_DSP",), ("EDGEC_SCALAR",)):
        host = compile_host(engine, tmp_path / ("-".join(defines) or "generic"), defines=defines)
        assert host.run(x).tobytes() == reference, defines


def test_fixed_layout_round_trips():
    rng = np.random.default_rng(4)
    matrix = rng.integers(-128, 128, (9, 16)).astype(np.int8)
    matrix[rng.random(matrix.shape) < 0.7] = 0
    matrix[0] = 0  # padded with entries of value 0
    matrix[1, :] = 0
    matrix[1, [0, 15]] = (-128, 127)  # the first and the last position a nibble holds
    packed = encode(matrix, "sparse", "fixed")
    k = max(np.count_nonzero(r) for r in matrix)
    assert (packed.layout, packed.code, packed.max_nonzeros) == ("fixed", 5, k)
    assert packed.nbytes == 9 * (k + (k + 1) // 2)
    assert np.array_equal(decode(packed), matrix)
    assert encode(np.ones((2, 17), np.int8), "sparse", "fixed") is None  # a position needs 5 bits


# --- block-sparse weights (aligned blocks of 4 taps, what block pruning leaves): stored as "block" (int8
# blocks) or "block_clustered" (4-bit codebook indices), run by edgec_packed_blk. Each case's filter
# rewritten: per output channel a quarter of its aligned 4-tap blocks kept (the first channel with none,
# the second with all of them), a zero inside a kept block; clustered: the kept taps take 8 values shared
# by the tensor, 0 among them.

def _blocks(clustered: bool):
    def fn(op, _name, q, _scales):
        rng = np.random.default_rng(11)
        rows = np.moveaxis(q, 0, 0).copy()
        flat = rows.reshape(len(rows), -1)
        taps = flat.shape[1]
        nblk = -(-taps // 4)
        codes = np.array([-128, -77, -9, 0, 3, 50, 101, 127])
        for i, r in enumerate(flat):
            keep = rng.permutation(nblk) < max(1, nblk // 4)
            keep[:] = (False if i == 0 else True) if i < 2 else keep
            values = rng.choice(codes, taps) if clustered else rng.integers(-128, 128, taps)
            values = np.where(values == 0, 1, values) if not clustered else values
            if i == 2:
                values[np.flatnonzero(np.repeat(keep, 4)[:taps])[0]] = 0  # a zero inside a kept block
            r[:] = np.where(np.repeat(keep, 4)[:taps], values, 0)
        return flat.reshape(rows.shape)
    return fn


def _block_model(converted: dict, case: str, clustered: bool) -> bytes:
    if case not in converted:
        converted[case] = convert(CASES[case])
    return map_weights(converted[case], _blocks(clustered))


# (case, clustered, tile): 3x3 stride 2 with padding, 7 channels; pointwise over 10 channels (taps not a
# multiple of 4), 9 out; 264 channels (4 int16 windows exceed the scratch budget: tiles of 2); FC over 45
# inputs (the input padded to words in scratch), 3 rows, 1,100 inputs (two-byte block indices)
BLOCK_PAIRS = [("conv_stride2", False, 4), ("conv_1x1_odd", False, 4), ("conv_1x1_wide", False, 2),
               ("fc_odd_taps", False, 0), ("fc_rows", False, 0), ("fc_long", False, 0), ("conv_stride2", True, 4),
               ("fc_odd_taps", True, 0)]


@pytest.mark.parametrize("case,clustered,tile", BLOCK_PAIRS)
def test_block_storage_matches_tflm_exactly(case, clustered, tile, converted, tmp_path):
    data = _block_model(converted, case, clustered)
    engine = generate_engine(read_tflite(data, case), case, f"{case}.tflite")
    (layer,) = engine.layers
    assert (layer.format, layer.tile) == ("block_clustered" if clustered else "block", tile)
    assert layer.index_bits == (16 if case == "fc_long" else 8)  # bytes of a block index
    kernel = "edgec_conv2d_block_s8(" if case.startswith("conv") else "edgec_fully_connected_block_s8("
    assert kernel in engine.files[f"{case}.c"]
    w = next(t for t in read_tflite(data, case).main.tensors if t.is_constant and t.dtype == "int8").data
    rows = _rows("CONV_2D", np.asarray(w))
    stored = int(np.sum([np.count_nonzero(np.add.reduceat(np.abs(r.astype(int)), np.arange(0, r.size, 4)))
                         for r in rows]))
    entry = 2 if case == "fc_long" else 1
    assert layer.stored_bytes == entry * (len(rows) + stored) + stored * (2 if clustered else 4) + (
        8 if clustered else 0)  # counts and block indices, the blocks, the shared codebook
    x = np.random.default_rng(5).integers(-128, 128, (6,) + tuple(engine.input_shape[1:])).astype(np.int8)
    reference = run_tflm(data, x).tobytes()
    paths = ((), ("EDGEC_EMULATE_DSP",)) + ((("EDGEC_SCALAR",),) if case in ("conv_stride2", "fc_odd_taps") else ())
    for defines in paths:
        host = compile_host(engine, tmp_path / ("-".join(defines) or "generic"), defines=defines)
        assert host.run(x).tobytes() == reference, defines


def test_block_encoding_round_trips():
    rng = np.random.default_rng(6)
    for taps, wide in ((33, False), (1030, True)):
        matrix = rng.integers(-128, 128, (5, taps)).astype(np.int8)
        keep = rng.random((5, -(-taps // 4))) < 0.25
        keep[0], keep[1] = False, True  # a row of zero blocks, a row of nonzero blocks
        matrix = np.where(np.repeat(keep, 4, axis=1)[:, :taps], matrix, 0).astype(np.int8)
        packed = encode(matrix, "block")
        assert (packed.code, packed.layout, packed.index_bits) == (6, "block", 16 if wide else 8)
        assert packed.max_nonzeros == -(-taps // 4)  # the blocks of the full row
        assert np.array_equal(decode(packed), matrix)
        books = np.where(matrix != 0, rng.choice([-5, 7, 100], matrix.shape), 0).astype(np.int8)
        clustered = encode(books, "block_clustered")
        assert (clustered.code, clustered.clusters, clustered.shared) == (7, 4, True)  # -5, 0, 7, 100
        assert np.array_equal(decode(clustered), books)
    assert encode(np.arange(-10, 10, dtype=np.int8).reshape(1, -1), "block_clustered") is None  # 20 values


def test_block_format_chosen_for_block_pruning_only(converted):
    """At 25 % density weight by weight, two thirds of the blocks hold a nonzero: the block formats cost more
    than the delta layout, and the choice keeps it; pruned in blocks (toolchain.compress.tflite_weights),
    the block formats; pruned in blocks and clustered, the kept taps' 4-bit indices."""
    if "fc" not in converted:
        converted["fc"] = convert(CASES["fc"])
    data = compress_weights(converted["fc"], 0.75).model
    (layer,) = generate_engine(read_tflite(data, "fc"), "fc").layers
    assert layer.format == "sparse"
    blocked = compress_weights(converted["fc"], 0.75, block=4).model
    (layer,) = generate_engine(read_tflite(blocked, "fc"), "fc").layers
    # 13 rows of 16 blocks, 4 kept: a count and 4 indices a row, 16 int8 a row
    assert (layer.format, layer.stored_bytes) == ("block", 13 * 5 + 13 * 16)
    both = compress_weights(converted["fc"], 0.75, 16, block=4).model
    (layer,) = generate_engine(read_tflite(both, "fc"), "fc").layers
    # the same positions, 8 bytes of indices a row, one codebook of 16 for the tensor: 0.222x of 832 B
    assert (layer.format, layer.stored_bytes) == ("block_clustered", 13 * 5 + 13 * 8 + 16)


def test_prune_blocks_zeroes_the_weakest_whole_blocks():
    w = np.array([[1, 1, 1, 1, 9, 0, 0, 0, 2, 2, 2, -2, 5],
                  [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]], np.int8)
    out = prune_channel_blocks(w, 0, 0.5, 4)  # 4 blocks a row (the last one of 1 tap): 2 zeroed
    # by mean |w|: 1, 2.25, 2 and 5 (the short block's mean counts its one tap)
    assert out.tolist() == [[0, 0, 0, 0, 9, 0, 0, 0, 0, 0, 0, 0, 5], [0] * 13]
