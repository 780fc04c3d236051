"""Clustered fully-connected layers with one codebook for the tensor run, on the DSP path, through the
table of weight pairs (fcpairs.py, kernels/edgec_packed_fcp.c), byte-exact with tflite-micro; the other
paths read the same indices with edgec_packed_fc.

A chain of four FCs, per-channel weights, 16 codes shared by each tensor (0 among them): 138 taps
(rows not whole blocks of 16 taps: the loop of 16, then 10 taps left; input zero point -11) to 144
rows; 144 taps (whole blocks: every pair of a chunk in one loop) to 131 rows (odd: a chunk of 35 rows,
the last row alone; input zero point -128 after the ReLU), both with their table in flash; 131 taps
(odd: no table, edgec_packed_fc) to 10 rows; 10 taps to 120 rows (too small for a table in flash:
built in scratch). In each layer the first row is all zeros and the second all one nonzero code. The
per-tensor case: MLPerf Tiny's anomaly detection model clustered to 16 values a tensor.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from firmware_export.cengine import compile_host, generate_engine
from firmware_export.cengine import fcpairs
from firmware_export.cengine.storage import encode
from tests.firmware_export.single_op_models import Case, convert
from tests.firmware_export.weight_variants import map_weights
from toolchain.base.tflite_reader import read_tflite
from toolchain.compress.tflite_weights import compress_weights
from toolchain.oracle import run_tflm

MLPERF = Path(__file__).resolve().parents[1] / "data" / "mlperf-tiny"
PATHS = ((), ("EDGEC_EMULATE_DSP",), ("EDGEC_SCALAR",))


def _chain(keras, x):
    y = keras.layers.Dense(144, activation="relu")(x)
    y = keras.layers.Dense(131)(y)
    y = keras.layers.Dense(10, activation="relu")(y)
    return keras.layers.Dense(120)(y)


def _shared_codes(op, _name, q, _scales):
    """Each weight moved to the nearest of 16 codes for the tensor (spread over its range, the one
    nearest 0 made 0: the activations keep their scale); row 0 all zeros, row 1 all one nonzero code."""
    codes = np.round(np.linspace(int(q.min()), int(q.max()), 16)).astype(np.int8)
    codes[np.abs(codes.astype(np.int32)).argmin()] = 0
    assert len(np.unique(codes)) == 16
    rows = codes[np.abs(q.astype(np.int32)[..., None] - codes.astype(np.int32)).argmin(axis=-1)]
    rows.reshape(-1)[2 * rows.shape[1]:][:16] = codes  # every code at least once
    rows[0] = 0
    rows[1] = codes[5]
    return rows


def _pair_calls(engine) -> tuple[int, int]:
    """(layers run by the pair kernel, those of them with their table in flash)."""
    text = engine.files[f"{engine.name}.c"]
    return text.count("edgec_fully_connected_pairs_s8(&"), text.count("_pairs[256]")


@pytest.fixture(scope="module")
def chain() -> bytes:
    return map_weights(convert(Case("fc_pairs", (138,), _chain)), _shared_codes)


def test_pair_table_words():
    book = np.array([-128, -1, 0, 7, 127], np.int8)
    words = fcpairs.table(book).view(np.uint32)
    assert words.shape == (256,)
    for b in (0x00, 0x01, 0x10, 0x34, 0x43, 0x42, 0x24):
        lo, hi = int(book[b & 15]), int(book[b >> 4])
        assert int(words[b]) & 0xFFFF == lo & 0xFFFF and int(words[b]) >> 16 == hi & 0xFFFF
    assert not words[0x0F] & 0xFFFF and not words[0xF0] >> 16  # past the codebook: 0


def test_table_only_where_it_pays():
    rng = np.random.default_rng(0)
    book = rng.integers(-128, 128, 16).astype(np.int8)
    big, odd = book[rng.integers(0, 16, (64, 256))], book[rng.integers(0, 16, (129, 127))]
    assert fcpairs.eligible(64, 256, encode(big, "clustered"))
    assert not fcpairs.eligible(63, 256, encode(big[:63], "clustered"))  # the table over 1/8 of the indices
    assert not fcpairs.eligible(129, 127, encode(odd, "clustered"))  # odd taps: rows not byte-aligned
    eight = np.unique(book)[:8][rng.integers(0, 8, (64, 256))]
    assert not fcpairs.eligible(64, 256, encode(eight, "clustered"))  # 3-bit indices
    own = np.stack([np.roll(book, r)[rng.integers(0, 16, 256)] + (r % 2) for r in range(64)]).astype(np.int8)
    assert not fcpairs.eligible(64, 256, encode(own, "clustered"))  # a codebook per row


def test_chain_runs_the_pair_table_exactly_on_every_path(chain, tmp_path):
    tflite = read_tflite(chain, "fc_pairs")
    engine = generate_engine(tflite, "fc_pairs")
    assert [layer.format for layer in engine.layers] == ["clustered"] * 4
    assert _pair_calls(engine) == (3, 2)  # not the 131-tap layer; the 10-tap one's table in scratch
    for layer in engine.layers[:2]:
        w = next(t for t in tflite.main.tensors if t.name == layer.tensor)
        packed = encode(np.asarray(w.data), "clustered")
        assert packed.shared and packed.index_bits == 4
        assert layer.stored_bytes == packed.nbytes + 4 * fcpairs.TABLE_WORDS
    # the SRAM of the dense engine + at most 1 KiB (the int16 input in scratch)
    dense = generate_engine(tflite, "fc_pairs", weights="dense")
    assert engine.activation_bytes + engine.scratch_bytes <= dense.activation_bytes + dense.scratch_bytes + 1024
    x = np.random.default_rng(3).integers(-128, 128, (12, 138)).astype(np.int8)
    x[0] = -128  # the input at its zero point's side: every product of row 1 the same code
    reference = run_tflm(chain, x).tobytes()
    assert len(set(reference)) > 40  # outputs spread, not clamped
    for defines in PATHS:
        host = compile_host(engine, tmp_path / ("_".join(defines) or "generic"), defines=defines)
        assert host.run(x).tobytes() == reference, defines


def test_per_tensor_anomaly_detection_model_runs_the_pair_table_exactly(tmp_path):
    data = compress_weights((MLPERF / "ad01_int8.tflite").read_bytes(), None, 16).model
    engine = generate_engine(read_tflite(data, "ad01"), "ad01")
    assert [layer.format for layer in engine.layers] == ["clustered"] * 10
    assert _pair_calls(engine) == (10, 8)  # tables in flash but for 128x8 and 8x128 (built in scratch)
    x = np.random.default_rng(4).integers(-128, 128, (4, 640)).astype(np.int8)
    reference = run_tflm(data, x).tobytes()
    for defines in PATHS[:2]:
        host = compile_host(engine, tmp_path / ("_".join(defines) or "generic"), defines=defines)
        assert host.run(x).tobytes() == reference, defines


def test_table_dropped_where_the_int16_input_exceeds_the_sram_limit():
    """1,200 inputs to 16 rows: the int16 input (2,400 B) over the dense engine's SRAM + 1 KiB."""
    data = map_weights(convert(Case("fc_wide", (1200,), lambda k, x: k.layers.Dense(16)(x))), _shared_codes)
    tflite = read_tflite(data, "fc_wide")
    engine = generate_engine(tflite, "fc_wide")
    (layer,) = engine.layers
    assert layer.format == "clustered" and _pair_calls(engine) == (0, 0)
    w = next(t for t in tflite.main.tensors if t.name == layer.tensor)
    assert fcpairs.eligible(16, 1200, encode(np.asarray(w.data), "clustered"))


def test_only_dsp_builds_count_the_table(chain):
    engine = generate_engine(read_tflite(chain, "fc_pairs"), "fc_pairs")
    assert engine.dsp_weight_bytes - engine.weight_bytes == 2 * 4 * fcpairs.TABLE_WORDS  # two in flash
