"""Clustered depthwise column layers of 3 and 5 taps on the column kernel (dwcolpack.py,
edgec_packed_dwc.h): chunks of channels decoded into edgec_dwcol.h's records, one call per shift.

Models from the real TFLite converter, their filters clustered in the .tflite; the engine must give
tflite-micro's bytes through the DSP functions' C twin (EDGEC_EMULATE_DSP), the generic path and the
Armv6-M one (EDGEC_SCALAR: the records run in C). The Thumb-2 functions run on the emulated M7
(tests/firmware_export/firmware/test_dwc_on_qemu.py). The cases: odd channel counts, channels of
several shifts, an all-zero channel, one codebook of 4-bit indices (the fast decoding) and 3-bit
indices (edgec_unpack_dense), a layer in several chunks (a shift split between
two), and layers chained in the arena over their dying input.
"""
from __future__ import annotations

import dataclasses
import re

import numpy as np
import pytest

from firmware_export.cengine import compile_host, dwcolpack, generate_engine
from firmware_export.cengine.lower import lower_model
from firmware_export.cengine.ops import DepthwiseConv2D
from firmware_export.cengine.packing import EXTRA_SCRATCH, _fewer_columns, _smaller_tile, pack_and_plan
from tests.firmware_export.single_op_models import Case, convert
from tests.firmware_export.test_cengine_dwcol import assert_whole_row_overlaps
from tests.firmware_export.weight_variants import map_weights
from toolchain.base.tflite_reader import read_tflite
from toolchain.oracle import run_tflm


def _column(taps: int, **kw):
    return lambda keras, x: keras.layers.DepthwiseConv2D(kernel_size=(taps, 1), padding="valid", **kw)(x)


def _chain(keras, x):
    """A 1x1 convolution to 22 channels (a row off the arena's alignment), then 3, 5 and 3 taps, each on
    the arena's dying input."""
    x = keras.layers.Conv2D(filters=22, kernel_size=1)(x)
    for taps in (3, 5, 3):
        x = keras.layers.DepthwiseConv2D(kernel_size=(taps, 1), padding="valid")(x)
    return x


def _clustered(k: int, shared: bool = True):
    """Each channel's taps take values of one set of k, 0 among them (shared: one set for the layer,
    else a set per channel: a codebook per channel where that is smaller); channel 2 all zero."""
    def fn(op, _name, q, _scales):
        rng = np.random.default_rng(k)
        pool = np.concatenate([np.arange(-127, 0), np.arange(1, 128)])
        values = np.append(rng.choice(pool, k - 1, replace=False), 0)
        rows = q.reshape(-1, q.shape[-1]).T.copy() if op == "DEPTHWISE_CONV_2D" else q.reshape(len(q), -1).copy()
        for r in rows:
            own = values if shared else np.append(rng.choice(pool, k - 1, replace=False), 0)
            r[:] = own[rng.integers(0, k, r.size)]
        if op == "DEPTHWISE_CONV_2D":
            rows[2] = 0
            return rows.T.reshape(q.shape).astype(np.int8)
        return rows.reshape(q.shape).astype(np.int8)
    return fn


CASES = {  # name -> (case, codes, one codebook)
    "dwc3_13ch": (Case("dwc3_13ch", (30, 1, 13), _column(3)), 16, True),
    "dwc5_7ch": (Case("dwc5_7ch", (26, 1, 7), _column(5)), 16, True),
    "dwc5_3bit_9ch": (Case("dwc5_3bit_9ch", (17, 1, 9), _column(5)), 8, True),
    "dwc3_3bit_relu_11ch": (Case("dwc3_3bit_relu_11ch", (20, 1, 11), _column(3, activation="relu")), 8, True),
    "dwc3_chunks_151ch": (Case("dwc3_chunks_151ch", (14, 1, 151), _column(3)), 16, True),
    "dwc_chain": (Case("dwc_chain", (33, 1, 6), _chain), 16, True),
}


@pytest.fixture(scope="module")
def models() -> dict:
    return {name: map_weights(convert(case), _clustered(k, shared)) for name, (case, k, shared) in CASES.items()}


def _calls(engine) -> dict[int, int]:
    """op index -> channels a chunk, of each edgec_dwconv2d_dwc_s8 call."""
    text = engine.files[f"{engine.name}.c"]
    return {int(op): int(c) for op, c in re.findall(r"edgec_dwconv2d_dwc_s8\(&op(\d+)_cols, &op\d+_packed, (\d+),",
                                                   text)}


@pytest.mark.parametrize("name", sorted(CASES))
def test_clustered_columns_exact_on_three_paths(name, models, tmp_path):
    data = models[name]
    model = read_tflite(data, name)
    engine = generate_engine(model, name, f"{name}.tflite")
    calls = _calls(engine)
    columns = [op for op in lower_model(model).ops if isinstance(op, DepthwiseConv2D)]
    assert sorted(calls) == [op.index for op in columns], calls
    assert all(calls[op.index] in dwcolpack.chunks(op) for op in columns)
    shared = [op.packed.shared for op in pack_and_plan(lower_model(model), "auto")[0].ops if getattr(op, "columns", 0)]
    assert shared == [CASES[name][2]] * len(columns)
    if name == "dwc3_chunks_151ch":  # several chunks, a shift's channels split between two of them
        op, chunk = columns[0], calls[columns[0].index]
        assert chunk < 151
        ends = {s.first + s.count for s in dwcolpack.shifts(op)}
        assert any(end % chunk for end in ends if end < 151) or len(ends) == 1
        assert any(s.first // chunk != (s.first + s.count - 1) // chunk for s in dwcolpack.shifts(op))
    if name in ("dwc3_13ch", "dwc3_chunks_151ch"):
        assert len(dwcolpack.shifts(columns[0])) > 1
    dense = generate_engine(model, name, weights="dense")
    assert engine.sram_bytes <= dense.sram_bytes + EXTRA_SCRATCH
    x = np.random.default_rng(7).integers(-128, 128, (5,) + tuple(engine.input_shape[1:])).astype(np.int8)
    reference = run_tflm(data, x).tobytes()
    for defines in (("EDGEC_EMULATE_DSP",), (), ("EDGEC_SCALAR",)):
        host = compile_host(engine, tmp_path / ("-".join(defines) or "generic"), defines=defines)
        assert host.run(x).tobytes() == reference, defines


def test_the_words_in_flash_go_by_shift_then_channel(models):
    op = next(op for op in lower_model(read_tflite(models["dwc3_13ch"], "x")).ops if isinstance(op, DepthwiseConv2D))
    words = dwcolpack.records(op).reshape(-1, dwcolpack.WORDS)
    e = -np.asarray(op.requant.shift)
    for s in dwcolpack.shifts(op):
        assert list(words[s.first:s.first + s.count, 0]) == sorted(np.flatnonzero(e == s.e))
    assert sorted(words[:, 0]) == list(range(13))
    assert list(words[:, 1]) == [2 * int(op.bias[c]) for c in words[:, 0]]


def test_chained_columns_overlap_their_input_by_whole_rows(models):
    graph = lower_model(read_tflite(models["dwc_chain"], "dwc_chain"))
    packed, plan = pack_and_plan(graph, "auto")
    columns = [op for op in packed.ops if isinstance(op, DepthwiseConv2D)]
    assert len(columns) == 3 and all(op.columns for op in columns)
    assert_whole_row_overlaps(packed, plan, columns)


def test_the_sram_limit_takes_fewer_channels_a_chunk(models):
    """_shrink_tiles' steps: the next smaller chunk (28 bytes of scratch a channel), none past the fewest."""
    packed, _ = pack_and_plan(lower_model(read_tflite(models["dwc3_chunks_151ch"], "x")), "auto")
    op = packed.ops[0]
    sizes = dwcolpack.chunks(op)
    assert op.columns in sizes and op.scratch_bytes == 28 * op.columns
    smaller = _smaller_tile(op)
    assert smaller.columns == sizes[sizes.index(op.columns) + 1] and smaller.packed is op.packed
    assert _smaller_tile(dataclasses.replace(op, columns=sizes[-1])) is None


def test_the_pair_kernel_may_take_fewer_channels_a_chunk(models):
    """_take_pairs' room: every clustered column layer a step fewer channels a chunk, the other ops as
    they were, down to the fewest; then none."""
    packed, _ = pack_and_plan(lower_model(read_tflite(models["dwc3_chunks_151ch"], "x")), "auto")
    ops = list(packed.ops)
    steps = [ops]
    while (fewer := _fewer_columns(steps[-1])) is not None:
        steps.append(fewer)
    assert [s[0].columns for s in steps] == [c for c in dwcolpack.chunks(ops[0]) if c <= ops[0].columns]
    assert all(s[1:] == ops[1:] for s in steps)
