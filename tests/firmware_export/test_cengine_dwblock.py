"""Depthwise weights block-pruned in (tap, group of 4 channels) units, stored as "dw_block" (the kept
taps of each group, edgec_packed_dwb): the engine picks the format from the weights of the .tflite
and gives tflite-micro's bytes on the generic, DSP (portable emulation of the layout's loop) and
Armv6-M paths. The Thumb-2 loop itself runs on the emulated M7 (firmware/test_packed_on_qemu.py).
"""
from __future__ import annotations

import numpy as np
import pytest

from firmware_export.cengine import compile_host, dwblocks, generate_engine
from firmware_export.cengine.storage import decode, dw_units, encode
from tests.firmware_export.single_op_models import Case, convert
from tests.firmware_export.weight_variants import map_weights
from toolchain.base.tflite_reader import read_tflite
from toolchain.compress.tflite_weights import compress_weights, prune_depthwise_blocks
from toolchain.oracle import run_tflm


def _dw(**kw):
    return lambda keras, x: keras.layers.DepthwiseConv2D(**kw)(x)


# (case, whether DSP builds run the layout: channels a multiple of 4 and the whole int8 range)
CASES = {
    "same": (Case("dwb_same", (9, 9, 8), _dw(kernel_size=3, padding="same")), True),
    "stride2_same": (Case("dwb_stride2_same", (10, 9, 12), _dw(kernel_size=3, strides=2, padding="same")), True),
    "stride2_valid": (Case("dwb_stride2_valid", (9, 8, 8), _dw(kernel_size=3, strides=2)), True),
    "dilated": (Case("dwb_dilated", (11, 11, 8), _dw(kernel_size=3, dilation_rate=2, padding="same")), True),
    # a column: 3 x 1 valid (one run down the rows), 5 x 1 at stride 2 with padding (border rows)
    "column3": (Case("dwb_column3", (12, 1, 8), _dw(kernel_size=(3, 1))), True),
    "column5_stride2": (Case("dwb_column5_stride2", (13, 1, 12), _dw(kernel_size=(5, 1), strides=(2, 1),
                                                                     padding="same")), True),
    # 10 channels: a last group of 2 (C on every path, DSP builds included)
    "odd": (Case("dwb_odd", (7, 7, 10), _dw(kernel_size=3, padding="same")), False),
    "relu6": (Case("dwb_relu6", (8, 8, 8), _dw(kernel_size=3, padding="same", activation="relu6")), True),
}


def _prune(op, _name, q, _scales):
    """75 % of the (tap, group) units zeroed; group 0 none kept, group 1 every tap kept (no zero)."""
    if op != "DEPTHWISE_CONV_2D":
        return q
    pruned = prune_depthwise_blocks(q, 3, 0.75).copy()
    pruned[..., 0:4] = 0
    pruned[..., 4:8] = np.where(q[..., 4:8] == 0, 1, q[..., 4:8])
    return pruned


@pytest.fixture(scope="module")
def converted() -> dict:
    return {}


def _model(converted: dict, key: str) -> bytes:
    if key not in converted:
        converted[key] = convert(CASES[key][0])
    return map_weights(converted[key], _prune)


@pytest.mark.parametrize("key", sorted(CASES))
def test_dw_block_storage_matches_tflm_exactly_on_three_paths(key, converted, tmp_path):
    data = _model(converted, key)
    model = read_tflite(data, key)
    engine = generate_engine(model, key, f"{key}.tflite")
    (layer,) = engine.layers
    assert layer.format == "dw_block" and "edgec_dwconv2d_dwblock_s8(" in engine.files[f"{key}.c"]
    assert engine.scratch_bytes == 0 and layer.stored_bytes < layer.dense_bytes
    source = engine.files[f"{key}.c"]
    assert ("_dsp[" in source) == CASES[key][1]  # the layout of the kept taps, for DSP builds
    (w,) = [t for t in model.main.tensors if t.is_constant and t.dtype == "int8"]
    rows = np.asarray(w.data, np.int8).reshape(-1, w.shape[-1]).T
    units = dw_units(rows)
    assert not units[0].any() and units[1].all()
    x = np.random.default_rng(3).integers(-128, 128, (8,) + tuple(engine.input_shape[1:])).astype(np.int8)
    reference = run_tflm(data, x).tobytes()
    for defines in ((), ("EDGEC_EMULATE_DSP",), ("EDGEC_SCALAR",)):
        host = compile_host(engine, tmp_path / ("-".join(defines) or "generic"), defines=defines)
        assert host.run(x).tobytes() == reference, defines


def test_dw_block_encoding_round_trips_and_layout_lists_kept_taps():
    rng = np.random.default_rng(5)
    matrix = rng.integers(-128, 128, (10, 9)).astype(np.int8)  # 10 channels: groups of 4, 4, 2
    units = rng.random((3, 9)) < 0.3
    units[0] = False  # a group with no kept tap
    matrix = np.where(np.repeat(units, 4, axis=0)[:10], matrix, 0).astype(np.int8)
    matrix[4, np.flatnonzero(units[1])[0]] = 0  # a zero inside a kept unit
    packed = encode(matrix, "dw_block")
    assert (packed.format, packed.layout, packed.code) == ("dw_block", "dw_block", 8)
    assert np.array_equal(decode(packed), matrix)
    kept = int(units.sum())
    assert packed.nbytes == 3 + kept + 4 * kept and packed.max_nonzeros == units.sum(axis=1).max()
    assert packed.mask[0] == 0 and list(packed.mask[1:2 + units[1].sum()]) == [units[1].sum(),
                                                                                 *np.flatnonzero(units[1])]
    assert encode(np.ones((4, 33), np.int8), "dw_block") is None  # more than 32 taps


def test_dw_block_layout_words(converted):
    """The DSP words of a group: doubled biases, per kept tap the doubled pairs (c, c+2), (c+1, c+3),
    then (m, k, e) per channel."""
    from firmware_export.cengine.lower import lower_model
    from firmware_export.cengine.packing import pack_graph

    graph = pack_graph(lower_model(read_tflite(_model(converted, "same"), "m")), "auto")
    (op,) = [o for o in graph.ops if getattr(o, "packed", None) is not None]
    assert dwblocks.eligible(op)
    words = dwblocks.layout(op).view(np.uint32)
    per_group = [int(n) for n in _counts(op.packed.mask)]
    assert len(words) == sum(16 + 2 * n for n in per_group)
    w = decode(op.packed).astype(np.int64)
    at = 16 + 2 * per_group[0]  # group 1 (channels 4-7), every tap kept
    assert list(words[at:at + 4].view(np.int32)) == list(2 * np.asarray(op.bias[4:8]))
    first = words[at + 4]
    assert (np.int16(first & 0xFFFF), np.int16(first >> 16)) == (2 * w[4, 0], 2 * w[6, 0])


def _counts(mask: np.ndarray) -> list[int]:
    counts, at = [], 0
    while at < len(mask):
        counts.append(int(mask[at]))
        at += 1 + int(mask[at])
    return counts


def test_depth_multiplier_and_unstructured_zeros_keep_the_other_formats(converted, tmp_path):
    """dw_block needs a depth multiplier of 1, and pays off only where zeros fill whole units."""
    case = Case("dwb_multiplier", (8, 8, 4), _dw(kernel_size=3, depth_multiplier=2, padding="same"))
    data = map_weights(convert(case), _prune)
    engine = generate_engine(read_tflite(data, "m"), "m")
    assert engine.layers[0].format != "dw_block"
    x = np.random.default_rng(4).integers(-128, 128, (4,) + tuple(engine.input_shape[1:])).astype(np.int8)
    assert compile_host(engine, tmp_path / "m").run(x).tobytes() == run_tflm(data, x).tobytes()
    unstructured = compress_weights(convert(CASES["same"][0]), 0.75).model
    assert generate_engine(read_tflite(unstructured, "u"), "u").layers[0].format == "sparse"


def test_block_pruned_and_clustered_depthwise_runs_exactly(converted, tmp_path):
    """compress_weights(block=4): depthwise units zeroed; clustered as well, any format it picks is exact."""
    base = convert(CASES["same"][0])
    for clusters in (None, 16):
        data = compress_weights(base, 0.75, clusters, block=4).model
        model = read_tflite(data, "m")
        (w,) = [t for t in model.main.tensors if t.is_constant and t.dtype == "int8"]
        rows = np.asarray(w.data, np.int8).reshape(-1, w.shape[-1]).T
        # 54 of 72 weights: 13 or 14 units of 4 (52 or 56, as near: the fewer)
        assert np.count_nonzero(rows == 0) == 52 and dw_units(rows).sum() == 18 - 13
        engine = generate_engine(model, "m")
        if clusters is None:
            assert engine.layers[0].format == "dw_block"
        x = np.random.default_rng(6).integers(-128, 128, (4,) + tuple(engine.input_shape[1:])).astype(np.int8)
        reference = run_tflm(data, x).tobytes()
        for defines in ((), ("EDGEC_EMULATE_DSP",)):
            host = compile_host(engine, tmp_path / f"{clusters}-{'-'.join(defines)}", defines=defines)
            assert host.run(x).tobytes() == reference, (clusters, defines)


def test_build_summary_names_the_dw_block_layers():
    from types import SimpleNamespace

    from toolchain.report.build_text import storage_lines

    layer = SimpleNamespace(layer="dw1", format="dw_block", dense_bytes=576, stored_bytes=196, index_bits=8,
                            clusters=0, density=0.25)
    conv = SimpleNamespace(layer="pw1", format="block", dense_bytes=4096, stored_bytes=1344, index_bits=8,
                           clusters=0, density=0.25)
    engine = SimpleNamespace(layers=(layer, conv), weights_mode="auto", weights_dense_bytes=4672,
                             weights_stored_bytes=1540, packed_refused=None)
    lines = storage_lines(engine)
    assert "  dw_block (kept taps of groups of 4 channels, 25% nonzero): 1 layer, 576 -> 196 B: dw1" in lines


def test_block_pruned_kws_runs_its_dw_block_layers_in_place_exactly(tmp_path):
    """KWS as bench/compress_device.py prunes it (blocks of 4; depthwise in units): its four depthwise
    layers stored as dw_block, each over its input in place (the dense kernel's overlap), byte for byte
    as TFLM on the generic and DSP paths."""
    from tests.firmware_export.conftest import mlperf_path

    data = compress_weights(mlperf_path("kws_ref_model").read_bytes(), 0.75, block=4).model
    engine = generate_engine(read_tflite(data, "kws"), "kws")
    layers = {layer.op_index: layer for layer in engine.layers}
    assert [layers[i].format for i in (1, 3, 5, 7)] == ["dw_block"] * 4
    assert {1, 3, 5, 7} <= {op for op, _, _ in engine.plan.inplace}
    x = np.random.default_rng(8).integers(-128, 128, (6,) + tuple(engine.input_shape[1:])).astype(np.int8)
    reference = run_tflm(data, x).tobytes()
    for defines in ((), ("EDGEC_EMULATE_DSP",)):
        host = compile_host(engine, tmp_path / ("-".join(defines) or "generic"), defines=defines)
        assert host.run(x).tobytes() == reference, defines
