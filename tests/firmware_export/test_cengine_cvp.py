"""Clustered convolutions through the table of weight pairs (edgec_conv2d_pairs_s8, kernels/edgec_packed_cvp.c).

A layer with 4-bit indices into one codebook for the tensor and input channels a multiple of 4, that
the SRAM limit keeps from decoding all its rows at once, runs four output pixels at a time: their
windows gathered as int16 pairs of taps, each byte of a row's indices one word of the pair table. A
chain of four such layers from the real TFLite converter, each filter moved to 16 codes of its
tensor (0 among them; channel 0 all zeros, channel 1 all one nonzero code): 72 taps (an odd count of
index words) to 29 channels, "same", ReLU; the same again (its output over its input: in place);
252 taps (index words, then a halfword left) to 13 channels, stride 2 over "same" padding of an
even width (padding 0 left, 1 right), 5 x 4 outputs (the last group of four pixels shorter); 108
taps, dilation 2, to 19 channels. Two tables in flash, two built in scratch. The engine must give
tflite-micro's bytes on the generic, DSP (portable emulation) and Armv6-M (EDGEC_SCALAR) paths.
"""
from __future__ import annotations

import dataclasses
import re

import numpy as np
import pytest

from firmware_export.cengine import compile_host, generate_engine, packing
from firmware_export.cengine.lower import lower_model
from firmware_export.cengine.ops import Conv2D
from firmware_export.cengine.packing import EXTRA_SCRATCH
from firmware_export.cengine.storage import encode
from tests.firmware_export.single_op_models import Case, convert
from tests.firmware_export.weight_variants import map_weights
from toolchain.base.tflite_reader import read_tflite
from toolchain.oracle import run_tflm

PATHS = ((), ("EDGEC_EMULATE_DSP",), ("EDGEC_SCALAR",))
NAME = "cvp_chain"


def _chain(keras, x):
    L = keras.layers
    y = L.Conv2D(28, 3, padding="same", activation="relu")(x)
    y = L.Conv2D(28, 3, padding="same")(y)
    y = L.Conv2D(12, 3, strides=2, padding="same", activation="relu")(y)
    return L.Conv2D(19, 3, dilation_rate=2, padding="same")(y)


def _codes(op, _name, q, _scales):
    """Each weight moved to the nearest of 16 codes of the tensor (0 among them); channel 0 all zeros,
    channel 1 all one nonzero code."""
    codes = np.round(np.linspace(int(q.min()), int(q.max()), 16)).astype(np.int8)
    codes[np.abs(codes.astype(np.int32)).argmin()] = 0
    rows = codes[np.abs(q.astype(np.int32)[..., None] - codes.astype(np.int32)).argmin(axis=-1)]
    rows[0] = 0
    rows[1] = codes[3]
    return rows


@pytest.fixture(scope="module")
def chain() -> bytes:
    return map_weights(convert(Case(NAME, (9, 8, 8), _chain)), _codes)


def _calls(engine) -> dict[int, tuple[str, str, str]]:
    """op index -> (table, input, output) of each edgec_conv2d_pairs_s8 call."""
    text = engine.files[f"{engine.name}.c"]
    return {int(i): (t, a, b) for i, t, a, b in re.findall(
        r"edgec_conv2d_pairs_s8\(&op(\d+)_params, &op\d+_packed, (\w+), ([^,]+), ([^,]+),", text)}


def _offset(arg: str) -> int:
    return int(arg.split("+")[1])


def test_chain_runs_the_pair_kernel_exactly_on_every_path(chain, tmp_path):
    tflite = read_tflite(chain, NAME)
    engine = generate_engine(tflite, NAME)
    calls = _calls(engine)
    # the scratch is one buffer, as large as the largest layer's (the 252-tap one's columns): the first
    # and last layers' tables fit beside their columns (built in scratch), the others' in flash
    assert {i: table for i, (table, _, _) in calls.items()} == {0: "NULL", 1: "OP1_PAIRS", 2: "OP2_PAIRS", 3: "NULL"}
    # the second layer's output over its input (28 channels in and out: the dense kernel's lag)
    _, src, dst = calls[1]
    assert _offset(dst) < _offset(src) < _offset(dst) + 9 * 8 * 28, (src, dst)
    dense = generate_engine(tflite, NAME, weights="dense")
    assert engine.sram_bytes <= dense.sram_bytes + EXTRA_SCRATCH
    for layer in engine.layers:
        w = next(t for t in tflite.main.tensors if t.name == layer.tensor)
        data = np.asarray(w.data)
        packed = encode(data.reshape(len(data), -1), "clustered")
        assert layer.format == "clustered" and packed.shared and packed.index_bits == 4
        assert layer.stored_bytes == packed.nbytes + 1024 * (layer.op_index in (1, 2))
    assert engine.dsp_weight_bytes - engine.weight_bytes == 2 * 1024  # only DSP builds hold the tables
    x = np.random.default_rng(5).integers(-128, 128, (6, 9, 8, 8)).astype(np.int8)
    x[0] = -128
    reference = run_tflm(chain, x).tobytes()
    assert len(set(reference)) > 40  # outputs spread, not clamped
    for defines in PATHS:
        host = compile_host(engine, tmp_path / ("_".join(defines) or "generic"), defines=defines)
        assert host.run(x).tobytes() == reference, defines


def test_not_taken_where_all_rows_fit_or_the_shape_does_not():
    """A layer whose rows all fit in scratch keeps edgec_conv2d_rows_s8 (one decoding, the dense
    kernel); a layer of fewer output pixels than a group (one here) keeps its chunks of rows; 3-bit
    indices and input channels not a multiple of 4 never take the pair kernel; a pointwise layer may,
    unless a short last group wastes too much (packing._pairs_pays)."""
    one = map_weights(convert(Case("cvp_one_pixel", (3, 3, 16), lambda k, x: k.layers.Conv2D(64, 3)(x))), _codes)
    engine = generate_engine(read_tflite(one, "cvp_one_pixel"), "cvp_one_pixel")
    assert not _calls(engine) and "edgec_conv2d_rows16_s8(&op0" in engine.files["cvp_one_pixel.c"]
    small = map_weights(convert(Case("cvp_small", (6, 6, 8), lambda k, x: k.layers.Conv2D(
        5, 3, padding="same")(x))), _codes)
    engine = generate_engine(read_tflite(small, "cvp_small"), "cvp_small")
    assert not _calls(engine) and "edgec_conv2d_rows_s8(&op0" in engine.files["cvp_small.c"]
    rng = np.random.default_rng(0)
    book = rng.integers(-128, 128, 16).astype(np.int8)
    op = next(o for o in lower_model(read_tflite(small, "cvp_small")).ops if isinstance(o, Conv2D))
    assert packing._pairs_op(op, encode(book[rng.integers(0, 16, (5, 72))], "clustered")) is not None
    assert packing._pairs_op(op, encode(book[:8][rng.integers(0, 8, (5, 72))], "clustered")) is None
    odd = dataclasses.replace(op, in_hwc=(6, 6, 6))
    assert packing._pairs_op(odd, encode(book[rng.integers(0, 16, (5, 54))], "clustered")) is None
    pointwise = dataclasses.replace(op, kernel_hw=(1, 1), pad_tl=(0, 0))
    assert packing._pairs_op(pointwise, encode(book[rng.integers(0, 16, (5, 8))], "clustered")) is not None
    # a pointwise layer where its groups compute at most 4/3 of the pixels (5 pixels: 8 computed)
    assert [packing._pairs_pays(dataclasses.replace(pointwise, in_hwc=(1, n, 8), out_hwc=(1, n, 5)))
            for n in (4, 5, 6, 7, 9)] == [True, False, True, True, True]
    assert packing._pairs_pays(op)  # any other kernel


POINTWISE = "cvp_pointwise"


def _pointwise_chain(keras, x):
    L = keras.layers
    y = L.Conv2D(128, 1, activation="relu")(x)
    y = L.Conv2D(128, 1)(y)
    return L.Conv2D(20, 1)(y)


def test_pointwise_chain_runs_the_pair_kernel_exactly_on_every_path(tmp_path):
    """Pointwise layers whose rows do not all fit in scratch take the pair kernel rather than
    edgec_conv2d_pwt_s8 (no decoding per tile of pixels): 15 pixels (the last group of four shorter),
    36 taps (index words, then a halfword) to 128 channels, ReLU; 128 to 128, its output over its
    input; 128 to 20 (one table built in scratch, two in flash). Channel 0 all zeros, channel 1 all
    one code."""
    data = map_weights(convert(Case(POINTWISE, (5, 3, 36), _pointwise_chain)), _codes)
    tflite = read_tflite(data, POINTWISE)
    engine = generate_engine(tflite, POINTWISE)
    calls = _calls(engine)
    # the first table fits beside its layer's columns in scratch (36 taps), the others in flash
    assert {i: table for i, (table, _, _) in calls.items()} == {0: "NULL", 1: "OP1_PAIRS", 2: "OP2_PAIRS"}
    assert "edgec_conv2d_pwt_s8" not in engine.files[f"{POINTWISE}.c"]
    _, src, dst = calls[1]
    assert _offset(dst) <= _offset(src) < _offset(dst) + 15 * 128, (src, dst)  # in place
    dense = generate_engine(tflite, POINTWISE, weights="dense")
    assert engine.sram_bytes <= dense.sram_bytes + EXTRA_SCRATCH
    x = np.random.default_rng(7).integers(-128, 128, (6, 5, 3, 36)).astype(np.int8)
    reference = run_tflm(data, x).tobytes()
    assert len(set(reference)) > 40  # outputs spread, not clamped
    for defines in PATHS:
        host = compile_host(engine, tmp_path / ("_".join(defines) or "generic"), defines=defines)
        assert host.run(x).tobytes() == reference, defines
