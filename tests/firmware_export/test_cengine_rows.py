"""Clustered convolutions decoded a chunk of output channels at a time (edgec_conv2d_rows_s8).

Each chunk's rows are decoded once per inference into scratch and run over every output pixel by
the dense kernel (edgec_conv2d_s8_strided). Models from the real TFLite converter, their filters
clustered in the .tflite (same scales and biases); the engine must give tflite-micro's bytes on
the generic, DSP (portable emulation) and Armv6-M (EDGEC_SCALAR) paths. The cases are sized so
that the SRAM limit (the dense engine's + 1 KiB) splits the layer into several chunks, the last
one shorter: odd channel counts, input channels not a multiple of 4, a channel whose weights are
all equal, 3- and 4-bit indices (rows not byte-aligned: the bit reader), strides and paddings, and
a chunked layer whose input lives in the arena (it must not be overlapped in place). Input
channels a multiple of 4 take edgec_conv2d_rows16_s8 (rows decoded as int16 pairs, windows inside
the input read in place, the others gathered): "same" borders, dilation. The layers with 4-bit
indices into one codebook would take edgec_conv2d_pairs_s8 instead (packing._take_pairs,
test_cengine_cvp.py): here they keep the chunks of rows.
"""
from __future__ import annotations

import dataclasses
import re

import numpy as np
import pytest

from firmware_export.cengine import compile_host, generate_engine, packing
from firmware_export.cengine.lower import lower_model
from firmware_export.cengine.ops import Conv2D, rows_conv_scratch
from firmware_export.cengine.packing import EXTRA_SCRATCH, pack_and_plan, row_chunks
from firmware_export.cengine.planner import plan_memory
from tests.firmware_export.single_op_models import Case, convert
from tests.firmware_export.weight_variants import map_weights
from toolchain.base.tflite_reader import read_tflite
from toolchain.oracle import run_tflm


def _two_convs(keras, x):
    x = keras.layers.Conv2D(filters=12, kernel_size=3, padding="same", activation="relu")(x)
    return keras.layers.Conv2D(filters=23, kernel_size=3, strides=2, padding="valid")(x)


CASES = {
    # 90 taps (10 input channels: gathered then unpacked), 25 channels, stride 2 over "same" padding
    "rows_same_s2": (Case("rows_same_s2", (7, 7, 10), lambda k, x: k.layers.Conv2D(
        filters=25, kernel_size=3, strides=2, padding="same", activation="relu")(x)), 16),
    # 81 taps (odd: rows not byte-aligned), 21 channels, 3-bit indices, a (3, 3) kernel over "valid"
    "rows_valid_odd": (Case("rows_valid_odd", (6, 5, 9), lambda k, x: k.layers.Conv2D(
        filters=21, kernel_size=3, padding="valid")(x)), 5),
    # a 1x1 kernel of stride 2 (not pointwise: chunks of rows, more than 4 of them, packing.ROW_SPLITS_1X1;
    # a pointwise one goes to edgec_conv2d_pwt_s8, test_cengine_pwt.py), 128 taps, 49 channels
    "rows_1x1_s2": (Case("rows_1x1_s2", (7, 9, 128), lambda k, x: k.layers.Conv2D(
        filters=49, kernel_size=1, strides=2)(x)), 16),
    # the second convolution's input is in the arena
    "rows_arena_input": (Case("rows_arena_input", (6, 6, 12), _two_convs), 16),
    # edgec_conv2d_rows16_s8 (input channels a multiple of 4): windows inside read in place, the
    # border's gathered; 25 channels (the last chunk's last row alone)
    "rows16_same": (Case("rows16_same", (8, 7, 12), lambda k, x: k.layers.Conv2D(
        filters=25, kernel_size=3, padding="same")(x)), 16),
    # ... dilated (every window gathered), 8 values a row (3-bit indices: the bit reader)
    "rows16_dilated": (Case("rows16_dilated", (9, 8, 16), lambda k, x: k.layers.Conv2D(
        filters=21, kernel_size=3, dilation_rate=2, padding="same")(x)), 8),
}


@pytest.fixture(autouse=True)
def _no_pair_kernel(monkeypatch):
    """The chunks of rows under test, not the pair kernel that would take some of these layers."""
    monkeypatch.setattr(packing, "_take_pairs", lambda packed, plan, _limit: (packed, plan))


def _clustered(k: int):
    """Every output channel takes k values of one shared set; channel 1 takes a single value."""
    def fn(op, _name, q, _scales):
        rng = np.random.default_rng(k)
        rows = q.reshape(len(q), -1).copy()
        pool = np.concatenate([np.arange(-127, 0), np.arange(1, 128)])
        values = rng.choice(pool, k, replace=False)
        for r in rows:
            picks = rng.integers(0, k, r.size)
            picks[:k] = np.arange(k)
            r[:] = values[rng.permutation(picks)]
        rows[1] = values[0]  # a channel of all-equal weights
        return rows.reshape(q.shape)
    return fn


@pytest.fixture(scope="module")
def models() -> dict:
    return {name: map_weights(convert(case), _clustered(k)) for name, (case, k) in CASES.items()}


def _chunks(engine) -> dict[int, int]:
    """op index -> rows per chunk, from the generated calls."""
    text = engine.files[f"{engine.name}.c"]
    return {int(op): int(rows) for op, rows in re.findall(r"edgec_conv2d_rows(?:16)?_s8\(&op(\d+)_params, "
                                                            r"&op\d+_packed, (\d+),", text)}


@pytest.mark.parametrize("name", sorted(CASES))
def test_chunked_clustered_conv_exact_on_three_paths(name, models, tmp_path):
    data = models[name]
    model = read_tflite(data, name)
    engine = generate_engine(model, name, f"{name}.tflite")
    convs = {layer.op_index: layer for layer in engine.layers}
    chunks = _chunks(engine)
    assert chunks and all(convs[i].format == "clustered" for i in chunks)
    convs_of = {op.index: op for op in lower_model(model).ops if isinstance(op, Conv2D)}
    out_c = {i: op.out_hwc[2] for i, op in convs_of.items()}
    last = max(chunks)
    # the SRAM limit splits the (last) layer: several chunks, the last one shorter
    assert chunks[last] < out_c[last] and out_c[last] % chunks[last], (chunks, out_c)
    assert chunks[last] in row_chunks(convs_of[last])
    # input channels a multiple of 4: edgec_conv2d_rows16_s8, else edgec_conv2d_rows_s8
    kernel = "edgec_conv2d_rows16_s8" if convs_of[last].in_hwc[2] % 4 == 0 else "edgec_conv2d_rows_s8"
    assert f"{kernel}(&op{last}_params" in engine.files[f"{engine.name}.c"]
    dense = generate_engine(model, name, weights="dense")
    assert engine.sram_bytes <= dense.sram_bytes + EXTRA_SCRATCH
    x = np.random.default_rng(3).integers(-128, 128, (6,) + tuple(engine.input_shape[1:])).astype(np.int8)
    reference = run_tflm(data, x).tobytes()
    for defines in ((), ("EDGEC_EMULATE_DSP",), ("EDGEC_SCALAR",)):
        host = compile_host(engine, tmp_path / ("-".join(defines) or "generic"), defines=defines)
        assert host.run(x).tobytes() == reference, defines


def test_each_chunk_is_the_largest_the_limit_allows(models):
    """No chunked layer could take its next larger chunk within the SRAM limit; a layer decoded
    whole keeps the dense kernel's in-place overlap, a chunked one none."""
    for name, data in models.items():
        graph = lower_model(read_tflite(data, name))
        limit = plan_memory(graph).sram_bytes + EXTRA_SCRATCH
        packed, plan = pack_and_plan(graph, "auto")
        assert plan.sram_bytes <= limit
        ops = list(packed.ops)
        for i, op in enumerate(ops):
            if not getattr(op, "rows", 0):
                continue
            assert op.scratch_bytes == rows_conv_scratch(op, op.rows)
            larger = [r for r in row_chunks(op) if r > op.rows]
            if larger:
                trial = dataclasses.replace(packed, ops=tuple(ops[:i] + [dataclasses.replace(op, rows=larger[-1])]
                                                              + ops[i + 1:]))
                assert plan_memory(trial).sram_bytes > limit, (name, op.index, op.rows)
