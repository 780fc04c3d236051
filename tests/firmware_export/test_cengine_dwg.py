"""Clustered depthwise layers on edgec_dwconv2d_dwg_s8: a chunk of channel groups at a time.

A chunk's weights are decoded into the DSP layout of dwlayout.py (doubled biases, doubled int16
weight pairs, the rescale (m, k, e)) and run over every output pixel; chunk after chunk, so an
overlap of output and input must keep each channel on itself (offset difference a multiple of
in_c). Models from the real TFLite converter, their filters clustered in the .tflite; the engine
must give tflite-micro's bytes on the generic, DSP (portable emulation) and Armv6-M paths (the
Thumb-2 loops run on the emulated M7: tests/firmware_export/firmware/test_packed_on_qemu.py). The
cases: "same" and "valid" padding, strides, dilation, a column kernel, a chunk shorter than the
others, a channel whose weights are all equal, a layer whose input lives in the arena.
"""
from __future__ import annotations

import re
from types import SimpleNamespace

import numpy as np
import pytest

from firmware_export.cengine import compile_host, generate_engine
from firmware_export.cengine.lower import lower_model
from firmware_export.cengine.ops import DepthwiseConv2D
from firmware_export.cengine.packing import EXTRA_SCRATCH, _chunks_aligned, dw_chunks, pack_and_plan
from tests.firmware_export.single_op_models import Case, convert
from tests.firmware_export.weight_variants import map_weights
from toolchain.base.tflite_reader import read_tflite
from toolchain.oracle import run_tflm


def _chain(keras, x):
    x = keras.layers.Conv2D(filters=24, kernel_size=1)(x)
    x = keras.layers.DepthwiseConv2D(kernel_size=3, padding="same")(x)
    return keras.layers.DepthwiseConv2D(kernel_size=3, strides=2, padding="valid")(x)


CASES = {
    # the arena: a 1x1 convolution, then 3x3 "same" (the layout's inside run) and 3x3 stride 2 "valid"
    "dwg_chain": (Case("dwg_chain", (7, 9, 5), _chain), 16),
    # 36 channels (9 groups: the budget splits them, the last chunk shorter), stride 2, "same"
    "dwg_s2_same": (Case("dwg_s2_same", (9, 8, 36), lambda k, x: k.layers.DepthwiseConv2D(
        kernel_size=3, strides=2, padding="same")(x)), 16),
    # dilation 2 (not the inside run: taps listed), 8 values a channel (3-bit indices)
    "dwg_dilated": (Case("dwg_dilated", (9, 9, 12), lambda k, x: k.layers.DepthwiseConv2D(
        kernel_size=3, dilation_rate=2, padding="same")(x)), 8),
    # a column kernel of 5 taps over a 1-wide input (str_ww's layers), "same"
    "dwg_column": (Case("dwg_column", (20, 1, 16), lambda k, x: k.layers.DepthwiseConv2D(
        kernel_size=(5, 1), padding="same")(x)), 16),
}


def _clustered(k: int):
    """Every output channel (a depthwise filter's last axis) takes values of one shared set of k;
    channel 1 a single value."""
    def fn(op, _name, q, _scales):
        rng = np.random.default_rng(k)
        depthwise = op == "DEPTHWISE_CONV_2D"
        rows = (q.reshape(-1, q.shape[-1]).T if depthwise else q.reshape(len(q), -1)).copy()
        pool = np.concatenate([np.arange(-127, 0), np.arange(1, 128)])
        values = rng.choice(pool, k, replace=False)
        for r in rows:
            picks = rng.integers(0, k, r.size)
            r[:] = values[picks]
        rows[1] = values[0]  # a channel of all-equal weights
        return (rows.T.reshape(q.shape) if depthwise else rows.reshape(q.shape)).astype(np.int8)
    return fn


@pytest.fixture(scope="module")
def models() -> dict:
    return {name: map_weights(convert(case), _clustered(k)) for name, (case, k) in CASES.items()}


def _chunks(engine) -> dict[int, int]:
    text = engine.files[f"{engine.name}.c"]
    return {int(op): int(c) for op, c in re.findall(r"edgec_dwconv2d_dwg_s8\(&op(\d+)_params, &op\d+_packed, (\d+),",
                                                   text)}


@pytest.mark.parametrize("name", sorted(CASES))
def test_chunked_clustered_depthwise_exact_on_three_paths(name, models, tmp_path):
    data = models[name]
    model = read_tflite(data, name)
    engine = generate_engine(model, name, f"{name}.tflite")
    chunks = _chunks(engine)
    dws = [op for op in lower_model(model).ops if isinstance(op, DepthwiseConv2D)]
    assert sorted(chunks) == [op.index for op in dws], chunks
    assert all(chunks[op.index] in dw_chunks(op) for op in dws)
    if name == "dwg_s2_same":  # 9 groups in several chunks, the last one shorter
        assert chunks[dws[0].index] < 9 and 9 % chunks[dws[0].index]
    dense = generate_engine(model, name, weights="dense")
    assert engine.sram_bytes <= dense.sram_bytes + EXTRA_SCRATCH
    x = np.random.default_rng(7).integers(-128, 128, (5,) + tuple(engine.input_shape[1:])).astype(np.int8)
    reference = run_tflm(data, x).tobytes()
    for defines in ((), ("EDGEC_EMULATE_DSP",), ("EDGEC_SCALAR",)):
        host = compile_host(engine, tmp_path / ("-".join(defines) or "generic"), defines=defines)
        assert host.run(x).tobytes() == reference, defines


def test_chained_layers_overlap_their_input_by_whole_pixels(models):
    """The planned overlaps of the chunked layers keep each channel on itself."""
    graph = lower_model(read_tflite(models["dwg_chain"], "dwg_chain"))
    packed, plan = pack_and_plan(graph, "auto")
    ops = [op for op in packed.ops if getattr(op, "chunk", 0)]
    assert len(ops) == 2
    overlapped = {packed.ops[k].index for k, _, _ in plan.inplace}
    assert ops[0].index in overlapped, plan.inplace
    assert all(_chunks_aligned(op, plan) for op in ops)


def test_an_overlap_off_whole_pixels_is_rejected(models):
    graph = lower_model(read_tflite(models["dwg_chain"], "dwg_chain"))
    packed, _ = pack_and_plan(graph, "auto")
    op = next(op for op in packed.ops if getattr(op, "chunk", 0))
    c = op.in_hwc[2]
    assert _chunks_aligned(op, SimpleNamespace(tensor_offsets={op.input: 4 * c, op.output: 0}))
    assert not _chunks_aligned(op, SimpleNamespace(tensor_offsets={op.input: 4 * c + 4, op.output: 0}))
    assert not _chunks_aligned(op, SimpleNamespace(tensor_offsets={op.input: 0, op.output: 4 * c}))
    size = op.out_hwc[0] * op.out_hwc[1] * op.out_hwc[2]
    assert _chunks_aligned(op, SimpleNamespace(tensor_offsets={op.input: size + 4, op.output: 0}))
