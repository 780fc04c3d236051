"""Clustered pointwise convolutions on edgec_conv2d_pwt_s8: tiles of pixels copied to scratch.

A tile's input pixels are copied into scratch, then each pair of output channels is decoded once
(int16 pairs) and run over the tile's pixels, so the output may overlap the input (the planner's
lag: none when out_c <= in_c). Models from the real TFLite converter, their filters clustered in
the .tflite; the engine must give tflite-micro's bytes on the generic, DSP (portable emulation) and
Armv6-M (EDGEC_SCALAR) paths. The cases: pointwise layers run in place in the arena, one with more
output channels than input ones (a lag) and an odd count; input channels not a multiple of 4 (each
pixel padded to whole words in scratch, rows not 4-bit aligned: 3-bit indices); a channel whose
weights are all equal; pixel counts that the tile does not divide. Pointwise layers with 4-bit
indices into one codebook would take edgec_conv2d_pairs_s8 instead (packing._take_pairs,
test_cengine_cvp.py): here they keep the tiles.
"""
from __future__ import annotations

import re

import numpy as np
import pytest

from firmware_export.cengine import compile_host, generate_engine, packing
from firmware_export.cengine.inplace import inplace_lag
from firmware_export.cengine.lower import lower_model
from firmware_export.cengine.ops import Conv2D, is_pointwise, is_pwt
from firmware_export.cengine.packing import EXTRA_SCRATCH, pack_and_plan
from tests.firmware_export.single_op_models import Case, convert
from tests.firmware_export.weight_variants import map_weights
from tests.firmware_export.test_cengine_rows import _clustered
from toolchain.base.tflite_reader import read_tflite
from toolchain.oracle import run_tflm


def _chain(keras, x):
    x = keras.layers.Conv2D(filters=64, kernel_size=3, padding="same", activation="relu")(x)
    x = keras.layers.Conv2D(filters=64, kernel_size=1, activation="relu")(x)
    return keras.layers.Conv2D(filters=75, kernel_size=1)(x)


CASES = {
    # 7x9 pixels of 64 channels in the arena: a 64 -> 64 pointwise layer, then 64 -> 75 (odd, a lag)
    "pwt_chain": (Case("pwt_chain", (7, 9, 8), _chain), 16),
    # 90 input channels (not whole words), 41 output channels, 8 values a row (3-bit indices), 25 pixels
    "pwt_odd_cin": (Case("pwt_odd_cin", (5, 5, 90), lambda k, x: k.layers.Conv2D(filters=41, kernel_size=1)(x)), 8),
}


@pytest.fixture(scope="module")
def models() -> dict:
    return {name: map_weights(convert(case), _clustered(k)) for name, (case, k) in CASES.items()}


@pytest.fixture(autouse=True)
def _no_pair_kernel(monkeypatch):
    """edgec_conv2d_pwt_s8 under test, not the pair kernel that would take these pointwise layers
    (packing._take_pairs, test_cengine_cvp.py)."""
    monkeypatch.setattr(packing, "_take_pairs", lambda packed, plan, _limit: (packed, plan))


def _tiles(engine) -> dict[int, int]:
    text = engine.files[f"{engine.name}.c"]
    return {int(op): int(t) for op, t in re.findall(r"edgec_conv2d_pwt_s8\(&op(\d+)_params, &op\d+_packed, \w+, (\d+),",
                                                   text)}


@pytest.mark.parametrize("name", sorted(CASES))
def test_tiled_clustered_pointwise_exact_on_three_paths(name, models, tmp_path):
    data = models[name]
    model = read_tflite(data, name)
    engine = generate_engine(model, name, f"{name}.tflite")
    tiles = _tiles(engine)
    pointwise = [op for op in lower_model(model).ops if isinstance(op, Conv2D) and is_pointwise(op)]
    assert sorted(tiles) == [op.index for op in pointwise], tiles
    # the tiles do not divide the pixels: a shorter last tile
    assert all(0 < t < 64 and (op.out_hwc[0] * op.out_hwc[1]) % t for op, t in zip(pointwise, tiles.values())), tiles
    dense = generate_engine(model, name, weights="dense")
    assert engine.sram_bytes <= dense.sram_bytes + EXTRA_SCRATCH
    x = np.random.default_rng(5).integers(-128, 128, (5,) + tuple(engine.input_shape[1:])).astype(np.int8)
    reference = run_tflm(data, x).tobytes()
    for defines in ((), ("EDGEC_EMULATE_DSP",), ("EDGEC_SCALAR",)):
        host = compile_host(engine, tmp_path / ("-".join(defines) or "generic"), defines=defines)
        assert host.run(x).tobytes() == reference, defines


def test_pointwise_runs_in_place_with_the_lag_of_its_tiles(models):
    """A tile's outputs end no later than the input later tiles read: no lag where out_c <= in_c,
    pixels * (out_c - in_c) where more; the plan overlaps both pointwise layers with their input."""
    graph = lower_model(read_tflite(models["pwt_chain"], "pwt_chain"))
    packed, plan = pack_and_plan(graph, "auto")
    ops = [op for op in packed.ops if isinstance(op, Conv2D) and is_pwt(op, op.packed) and not op.rows]
    assert len(ops) == 2 and all(op.tile for op in ops)
    for op in ops:
        pixels = op.out_hwc[0] * op.out_hwc[1]
        assert inplace_lag(op, op.input, packed) == max(0, pixels * (op.out_hwc[2] - op.in_hwc[2]))
    overlapped = {packed.ops[k].index for k, _, _ in plan.inplace}
    assert {op.index for op in ops} <= overlapped, plan.inplace
