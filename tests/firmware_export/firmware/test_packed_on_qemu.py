"""A model whose layers are stored clustered, sparse and both, on the emulated Cortex-M7 over
serial: the outputs equal the tflite-micro interpreter's byte for byte (DSP path, real gcc; the
sparse and clustered fully-connected layers and the sparse convolutions run the kernels' Thumb-2
assembly loops)."""
from __future__ import annotations

import numpy as np
import pytest

from firmware_export.cengine import generate_engine, packing
from firmware_export.cengine.storage import NEAR_TIE, NEAR_TIE_BYTES, encode
from tests.firmware_export.weight_variants import compress_weights, map_weights
from tests.conftest import require_tool
from tests.firmware_export.single_op_models import Case, convert
from tests.firmware_export.test_cengine_dwg import _clustered
from tests.firmware_export.firmware.emulated import exact_on_m7
from toolchain.base.tflite_reader import read_tflite


def _build(keras, x):
    L = keras.layers
    y = L.Conv2D(24, 3, padding="same", activation="relu")(x)
    y = L.DepthwiseConv2D(3, strides=2, padding="same", activation="relu")(y)
    y = L.Conv2D(48, 1, activation="relu")(y)
    y = L.Conv2D(28, 1, activation="relu")(y)
    y = L.Conv2D(21, 3, padding="same", activation="relu")(y)
    y = L.Conv2D(12, 3, padding="same", activation="relu")(y)
    y = L.Flatten()(y)
    y = L.Dense(31, activation="relu")(y)
    y = L.Dense(24, activation="relu")(y)
    return L.Dense(10)(y)


# weight tensor order in the model -> (sparsity, clusters): a clustered convolution; a sparse
# depthwise layer (fixed layout: 4 entries a channel, read as stored); a sparse pointwise convolution (blocks of
# 8 pixels, 36 pixels: a last block of 4); a clustered pointwise one; a sparse-clustered and a sparse
# 3x3 one; a clustered FC of 756 taps and 31 rows (4-bit rows two at a time, 4 taps and a row left
# over); a sparse FC; a clustered FC of 8 values (3-bit indices)
PLAN = [(0.0, 16), (0.5, 0), (0.75, 0), (0.0, 16), (0.75, 16), (0.75, 0), (0.0, 16), (0.75, 0), (0.0, 8)]


@pytest.mark.slow
def test_clustered_and_sparse_layers_on_the_emulated_m7_equal_tflm(tmp_path):
    require_tool("arm-none-eabi-gcc")
    require_tool("qemu-system-arm")
    base = convert(Case("packed_model", (12, 12, 8), _build))
    seen = []

    def transform(op, _name, q, scales):
        sparsity, clusters = PLAN[len(seen)]
        seen.append(op)
        return compress_weights(op, q, scales, sparsity, clusters)

    data = map_weights(base, transform)
    assert seen == ["CONV_2D", "DEPTHWISE_CONV_2D"] + ["CONV_2D"] * 4 + ["FULLY_CONNECTED"] * 3
    engine = generate_engine(read_tflite(data, "packed_model"), "packed_model")
    formats = [layer.format for layer in engine.layers]
    assert formats == ["clustered", "sparse", "sparse", "clustered", "sparse_clustered", "sparse", "clustered",
                       "sparse", "clustered"], formats
    tiles = [layer.tile for layer in engine.layers]
    assert tiles[1] == 0 and tiles[2] == 8 and tiles[5] == 8, tiles
    assert sum(layer.stored_bytes for layer in engine.layers) < 0.6 * sum(layer.dense_bytes for layer in engine.layers)

    result = exact_on_m7(data, "packed_model", tmp_path)
    assert np.isfinite(result.per_inference.median)


# weight tensor order -> (block-pruned, clustered to 16 shared codes over the kept blocks' taps); the
# depthwise layer weight by weight, 75 % of the tensor: its channels uneven, the fixed layout takes as many
# entries a channel as the fullest has (5), within the near tie on flash of the kept taps of its groups of 4
# channels (dw_block, whose loop over the DSP layout runs faster)
BLOCK_PLAN = [(True, False), (False, False), (True, False), (True, True), (True, False), (True, True),
              (True, False), (True, True), (True, False)]


@pytest.mark.slow
def test_block_pruned_layers_on_the_emulated_m7_equal_tflm(tmp_path):
    """The block kernels' Thumb-2 loops (tiles of 4 pixels, FC rows) and the block-clustered decoding."""
    from toolchain.compress.tflite_weights import nonzero_blocks, prune_channel_blocks

    require_tool("arm-none-eabi-gcc")
    require_tool("qemu-system-arm")
    base = convert(Case("packed_model", (12, 12, 8), _build))
    seen = []
    codes = np.array([-127, -90, -61, -40, -25, -14, -6, -2, 0, 3, 9, 18, 31, 50, 77, 120])

    def transform(op, _name, q, scales):
        blocks, clustered = BLOCK_PLAN[len(seen)]
        seen.append(op)
        if not blocks:
            return compress_weights(op, q, scales, 0.75, 0)
        pruned = prune_channel_blocks(q, 0, 0.75, 4)
        if not clustered:
            return pruned
        flat = pruned.reshape(len(pruned), -1)
        stored = np.repeat(nonzero_blocks(flat, 4), 4, axis=1)[:, :flat.shape[1]]
        picks = codes[np.random.default_rng(len(seen)).integers(0, 16, flat.shape)]
        return np.where(stored, picks, 0).astype(np.int8).reshape(q.shape)

    data = map_weights(base, transform)
    engine = generate_engine(read_tflite(data, "packed_model"), "packed_model")
    formats = [layer.format for layer in engine.layers]
    assert formats == ["block", "dw_block", "block", "block_clustered", "block", "block_clustered", "block",
                       "block_clustered", "block"], formats
    w = next(t for t in read_tflite(data, "m").main.tensors if t.is_constant and t.shape[0] == 1).data
    rows = np.asarray(w, np.int8).reshape(9, -1).T
    fixed = encode(rows, "sparse", "fixed").nbytes
    assert engine.layers[1].stored_bytes == encode(rows, "dw_block").nbytes <= fixed + max(fixed * NEAR_TIE,
                                                                                          NEAR_TIE_BYTES)
    assert [layer.tile for layer in engine.layers][2:6] == [4, 4, 4, 4]
    exact_on_m7(data, "block_model", tmp_path)


def _build_dw(keras, x):
    L = keras.layers
    y = L.Conv2D(64, 1)(x)
    y = L.DepthwiseConv2D(3, padding="same")(y)  # the inside run of 3x3 windows, the border pixel by pixel
    y = L.Conv2D(64, 1)(y)  # pointwise, tiles copied to scratch, in place
    y = L.DepthwiseConv2D(3, strides=2, padding="same")(y)
    y = L.DepthwiseConv2D((3, 1), padding="same")(y)  # taps listed (not 3x3)
    y = L.Conv2D(20, 1)(y)
    y = L.Conv2D(47, 3, padding="same")(y)  # chunks of rows on edgec_conv2d_rows16_s8, the border gathered
    y = L.Flatten()(y)
    return L.Dense(10)(y)


def _build_column(keras, x):
    L = keras.layers
    y = L.DepthwiseConv2D((5, 1), padding="same")(x)  # a column: the rows inside in one call
    y = L.DepthwiseConv2D((3, 1), strides=(2, 1))(y)
    y = L.Flatten()(y)
    return L.Dense(10)(y)


@pytest.mark.slow
@pytest.mark.parametrize("name, shape, build, dwg", [("clustered_dw_model", (10, 10, 8), _build_dw, 3),
                                                     ("clustered_column_model", (21, 1, 48), _build_column, 2)])
def test_clustered_depthwise_and_pointwise_on_the_emulated_m7_equal_tflm(tmp_path, monkeypatch, name, shape, build,
                                                                        dwg):
    """edgec_dwconv2d_dwg_s8 (chunks of channel groups in the DSP layout, its Thumb-2 loops: 3x3
    windows inside a row, a column, taps listed), edgec_conv2d_pwt_s8 (tiles of pixels copied to
    scratch, 4-bit rows decoded by Thumb-2 code) and edgec_conv2d_rows16_s8 (chunks of rows as int16
    pairs, windows read in place; here not edgec_conv2d_pairs_s8, which would take that layer:
    test_cvp_on_qemu.py)."""
    monkeypatch.setattr(packing, "_take_pairs", lambda packed, plan, _limit: (packed, plan))
    require_tool("arm-none-eabi-gcc")
    require_tool("qemu-system-arm")
    base = convert(Case(name, shape, build))
    data = map_weights(base, _clustered(16))  # one codebook of 16 values a layer
    engine = generate_engine(read_tflite(data, name), name)
    text = engine.files[f"{name}.c"]
    assert text.count("edgec_dwconv2d_dwg_s8(&op") == dwg, text[-3000:]
    assert text.count("edgec_conv2d_pwt_s8(&op") >= (dwg == 3), text[-3000:]
    assert text.count("edgec_conv2d_rows16_s8(&op") == (dwg == 3), text[-3000:]
    exact_on_m7(data, name, tmp_path)
