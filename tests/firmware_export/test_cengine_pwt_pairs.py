"""Clustered pointwise layers on edgec_conv2d_pwt_s8 large enough for a pair table (fcpairs.eligible)
decode through it in flash (DSP builds; packing._pwt_tables), byte-exact with tflite-micro.

A chain over 5x7 pixels: 40 to 128 channels (ReLU; 5,120 rows x taps: too small for a table), 128 to
129 (the table, tiles fewer than the pixels: odd rows, the last decoded alone; input zero point -128 after the ReLU), 129 to 24
(taps not a multiple of 8: no table); one codebook of 16 values a tensor, the first output channel
all zeros and the second all one code. The generic, DSP (portable emulation: the table's C loop) and
Armv6-M paths on the host, the Thumb-2 loop on the emulated M7. These layers would take
edgec_conv2d_pairs_s8 instead (packing._take_pairs, test_cengine_cvp.py): here they keep the tiles.
"""
from __future__ import annotations

import numpy as np
import pytest

from firmware_export.cengine import compile_host, generate_engine, packing
from firmware_export.cengine import fcpairs
from firmware_export.cengine.lower import lower_model
from firmware_export.cengine.ops import Conv2D
from firmware_export.cengine.packing import EXTRA_SCRATCH, pack_and_plan
from firmware_export.cengine.storage import encode
from tests.conftest import require_tool
from tests.firmware_export.firmware.emulated import exact_on_m7
from tests.firmware_export.single_op_models import Case, convert
from tests.firmware_export.test_cengine_fcpairs import PATHS, _shared_codes
from tests.firmware_export.weight_variants import map_weights
from toolchain.base.tflite_reader import read_tflite
from toolchain.oracle import run_tflm


def _chain(keras, x):
    y = keras.layers.Conv2D(128, 1, activation="relu")(x)
    y = keras.layers.Conv2D(129, 1)(y)
    return keras.layers.Conv2D(24, 1)(y)


@pytest.fixture(scope="module")
def model() -> bytes:
    return map_weights(convert(Case("pwt_pairs", (5, 7, 40), _chain)), _shared_codes)


@pytest.fixture(autouse=True)
def _no_pair_kernel(monkeypatch):
    """edgec_conv2d_pwt_s8 under test, not the pair kernel that would take these pointwise layers
    (packing._take_pairs, test_cengine_cvp.py)."""
    monkeypatch.setattr(packing, "_take_pairs", lambda packed, plan, _limit: (packed, plan))


def test_only_the_layer_large_enough_takes_the_table(model):
    graph, _ = pack_and_plan(lower_model(read_tflite(model, "pwt_pairs")), "auto")
    convs = [op for op in graph.ops if isinstance(op, Conv2D)]
    assert convs[1].tile < 35 and [len(op.pwt_pairs) for op in convs] == [0, 256, 0]  # 35 pixels: 2+ tiles
    assert (convs[1].pwt_pairs == fcpairs.table(convs[1].packed.codebook)).all()
    engine = generate_engine(read_tflite(model, "pwt_pairs"), "pwt_pairs")
    assert engine.layers[1].stored_bytes == convs[1].packed.nbytes + 4 * fcpairs.TABLE_WORDS
    assert engine.dsp_weight_bytes - engine.weight_bytes == 4 * fcpairs.TABLE_WORDS
    w = next(t for t in read_tflite(model, "m").main.tensors if t.name == engine.layers[1].tensor)
    assert encode(np.asarray(w.data).reshape(129, -1), "clustered").shared
    dense = generate_engine(read_tflite(model, "pwt_pairs"), "pwt_pairs", weights="dense")
    assert engine.sram_bytes <= dense.sram_bytes + EXTRA_SCRATCH


def test_pair_table_decoding_exact_on_three_paths(model, tmp_path):
    engine = generate_engine(read_tflite(model, "pwt_pairs"), "pwt_pairs")
    assert "edgec_conv2d_pwt_s8(&op1_params, &op1_packed, OP1_PAIRS," in engine.files["pwt_pairs.c"]
    x = np.random.default_rng(9).integers(-128, 128, (4, 5, 7, 40)).astype(np.int8)
    reference = run_tflm(model, x).tobytes()
    assert len(set(reference)) > 40  # outputs spread, not clamped
    for defines in PATHS:
        host = compile_host(engine, tmp_path / ("_".join(defines) or "generic"), defines=defines)
        assert host.run(x).tobytes() == reference, defines


@pytest.mark.slow
def test_pair_table_decoding_on_the_emulated_m7_equals_tflm(model, tmp_path):
    require_tool("arm-none-eabi-gcc")
    require_tool("qemu-system-arm")
    exact_on_m7(model, "pwt_pairs", tmp_path)
