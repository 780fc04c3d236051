"""Depthwise column layers of 3 and 5 taps one channel at a time (dwcols.py, edgec_dwcol.h).

Models from the real TFLite converter; the engine must give tflite-micro's bytes through the layout's
C twin (EDGEC_EMULATE_DSP: the records, grouped by shift, one function per shift) and the generic
path (the dense arrays). The Thumb-2 assembly runs on the emulated M7
(tests/firmware_export/firmware/test_depthwise_on_qemu.py, "col-steps"). The cases: odd channel
counts, channels of several shifts, weights at the extremes and an all-zero channel, ReLU (output
zero point -128), and layers chained in the arena, overlapping their input only as the kernel's
order allows (inplace.inplace_period).
"""
from __future__ import annotations

import numpy as np
import pytest

from firmware_export.cengine import compile_host, dwcols, dwpairs, generate_engine
from firmware_export.cengine.lower import lower_model
from firmware_export.cengine.ops import DepthwiseConv2D
from firmware_export.cengine.packing import pack_and_plan
from firmware_export.cengine.planner import _below, _lag_ok
from tests.firmware_export.single_op_models import Case, convert
from tests.firmware_export.weight_variants import map_weights
from toolchain.base.tflite_reader import read_tflite
from toolchain.oracle import run_tflm


def _column(taps: int, **kw):
    return lambda keras, x: keras.layers.DepthwiseConv2D(kernel_size=(taps, 1), padding="valid", **kw)(x)


def _chain(keras, x):
    """A 1x1 convolution to 6 channels (a row not a multiple of the arena's alignment), then 3, 5 and 3
    taps, each on the arena's dying input."""
    x = keras.layers.Conv2D(filters=6, kernel_size=1)(x)
    for taps in (3, 5, 3):
        x = keras.layers.DepthwiseConv2D(kernel_size=(taps, 1), padding="valid")(x)
    return x


def _pairs_chain(keras, x):
    """A 1x1 convolution to 12 channels, then 10 taps (by pairs of taps, dwpairs.py) on its dying output."""
    x = keras.layers.Conv2D(filters=12, kernel_size=1)(x)
    return keras.layers.DepthwiseConv2D(kernel_size=(10, 1), padding="valid")(x)


CASES = {
    "col3_13ch": Case("col3_13ch", (30, 1, 13), _column(3)),
    "col5_7ch": Case("col5_7ch", (26, 1, 7), _column(5)),
    "col3_relu_40ch": Case("col3_relu_40ch", (17, 1, 40), _column(3, activation="relu")),
    "col5_extremes_12ch": Case("col5_extremes_12ch", (15, 1, 12), _column(5)),
    "col_chain": Case("col_chain", (33, 1, 6), _chain),
}


def _extremes(op, _name, q, _scales):
    """Channel 0 all +127, channel 1 all -127, channel 2 all zero (its bias alone)."""
    if op == "DEPTHWISE_CONV_2D":
        q[..., 0], q[..., 1], q[..., 2] = 127, -127, 0
    return q


@pytest.fixture(scope="module")
def models() -> dict:
    data = {name: convert(case) for name, case in CASES.items()}
    data["col5_extremes_12ch"] = map_weights(data["col5_extremes_12ch"], _extremes)
    return data


def _columns(data: bytes, name: str) -> list[DepthwiseConv2D]:
    return [op for op in lower_model(read_tflite(data, name)).ops if isinstance(op, DepthwiseConv2D)]


@pytest.mark.parametrize("name", sorted(CASES))
def test_column_layers_exact_on_the_c_twin_and_generic_paths(name, models, tmp_path):
    data = models[name]
    columns = _columns(data, name)
    assert columns and all(dwcols.eligible(op) for op in columns)
    engine = generate_engine(read_tflite(data, name), name, f"{name}.tflite")
    text = engine.files[f"{name}.c"]
    for op in columns:
        for s in dwcols.shifts(op):
            assert f"EDGEC_DWCOL{op.kernel_hw[0]}({name}_op{op.index}_col{s.e}, {op.out_hwc[2]}, {s.e}, " \
                   f"{op.out_hwc[0]})" in text
    x = np.random.default_rng(5).integers(-128, 128, (6,) + tuple(engine.input_shape[1:])).astype(np.int8)
    reference = run_tflm(data, x).tobytes()
    for defines in (("EDGEC_EMULATE_DSP",), ()):
        host = compile_host(engine, tmp_path / ("-".join(defines) or "generic"), defines=defines)
        assert host.run(x).tobytes() == reference, defines


def test_channels_of_several_shifts_run_by_one_function_each(models):
    """The records go by shift, then channel; each function's records are its shift's channels."""
    op = _columns(models["col3_relu_40ch"], "col3_relu_40ch")[0]
    shifts = dwcols.shifts(op)
    assert len(shifts) > 1
    e = -np.asarray(op.requant.shift)
    words = dwcols.layout(op).reshape(-1, dwcols.WORDS)
    assert sum(s.count for s in shifts) == op.out_hwc[2] == len(words)
    for s in shifts:
        channels = words[s.first:s.first + s.count, 0]
        assert list(channels) == sorted(np.flatnonzero(e == s.e))


def test_extreme_weights_fill_the_records(models):
    op = _columns(models["col5_extremes_12ch"], "col5_extremes_12ch")[0]
    words = dwcols.layout(op).reshape(-1, dwcols.WORDS)
    by_channel = {int(w[0]): w for w in words}
    pair = lambda w: (w & 0xFFFF) | ((w & 0xFFFF) << 16)  # noqa: E731 (the int16 pair (w, w))
    assert [int(v) for v in by_channel[0][1:4]] == [pair(254), pair(254), 254]
    assert [int(v) & 0xFFFFFFFF for v in by_channel[1][1:4]] == [pair(-254) & 0xFFFFFFFF] * 2 + [0xFF02]
    assert list(by_channel[2][1:4]) == [0, 0, 0]


@pytest.mark.parametrize("name", ["col_chain", "pairs_chain"])
def test_chained_columns_overlap_their_input_by_whole_rows(name, models):
    """Channel (or group of 4) after channel down the rows: the output may lie below its input by a
    multiple of the channels (a channel's output rows on its own consumed rows), or past every later
    channel's input."""
    data = models[name] if name in models else convert(Case(name, (40, 1, 5), _pairs_chain))
    graph = lower_model(read_tflite(data, name))
    packed, plan = pack_and_plan(graph, "auto")
    columns = [op for op in packed.ops if isinstance(op, DepthwiseConv2D)]
    assert name == "col_chain" or (dwpairs.eligible(columns[0]) and not dwcols.eligible(columns[0]))
    assert_whole_row_overlaps(packed, plan, columns)


def assert_whole_row_overlaps(packed, plan, columns) -> None:
    """Some column layer runs in place, and each one that does has its output below its input by whole
    rows (a multiple of the channels) or by all the rows but one (the planner's column periods)."""
    overlapped = {packed.ops[k].index for k, _, _ in plan.inplace}
    assert overlapped & {op.index for op in columns}
    for op in columns:
        if op.index in overlapped:
            d = plan.tensor_offsets[op.input] - plan.tensor_offsets[op.output]
            channels, rows = op.out_hwc[2], op.out_hwc[0]
            assert d >= 0 and (d % channels == 0 or d >= (rows - 1) * channels), (op.index, d)


def test_the_planner_tries_whole_rows_or_the_free_lag():
    period = (20, 29 * 20)
    assert _below(20, period) == [20, 580]
    assert _below(24, (40, 27 * 40)) == [40, 1080]
    assert _below(6, (6, 30)) == [12, 32]  # aligned: lcm(6, 4)
    assert _lag_ok(40, 20, period) and _lag_ok(580, 20, period) and _lag_ok(584, 20, period)
    assert not _lag_ok(24, 20, period) and not _lag_ok(0, 20, period)
    assert _lag_ok(24, 20, None)
