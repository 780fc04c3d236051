"""Clustered depthwise column layers on edgec_dwconv2d_dwp_s8: a chunk of channel groups at a time
decoded into the pair layout of dwpairs.py and run by the dense layer's kernels (edgec_dwpair.c).

A chain over a 1-wide input of 30 rows and 44 channels (11 groups: chunks of the budget, the last one
shorter): 5 taps "valid" (odd taps: a channel's pairs start mid-byte where c * 5 is odd; pairs on the
stack), 12 taps (even), 15 taps over 15 rows (one output, str_ww's last: pairs in registers), then a
1x1 convolution of that one pixel (packing._one_pixel_fc: the pair table's FC kernel); the
filters moved to one codebook of 16 values a layer, one channel all equal; byte-exact with
tflite-micro on the generic, DSP (portable emulation) and Armv6-M paths on the host, and with the
Thumb-2 kernels on the emulated M7.
"""
from __future__ import annotations

import re

import numpy as np
import pytest

from firmware_export.cengine import compile_host, generate_engine
from firmware_export.cengine import dwpairs
from firmware_export.cengine.lower import lower_model
from firmware_export.cengine.ops import DepthwiseConv2D
from firmware_export.cengine.packing import EXTRA_SCRATCH, pack_and_plan
from tests.conftest import require_tool
from tests.firmware_export.firmware.emulated import exact_on_m7
from tests.firmware_export.single_op_models import Case, convert
from tests.firmware_export.test_cengine_dwg import _clustered
from tests.firmware_export.weight_variants import map_weights
from toolchain.base.tflite_reader import read_tflite
from toolchain.oracle import run_tflm


def _columns(keras, x):
    L = keras.layers
    y = L.DepthwiseConv2D((7, 1))(x)
    y = L.DepthwiseConv2D((12, 1))(y)
    y = L.DepthwiseConv2D((15, 1))(y)
    return L.Conv2D(30, 1)(y)


@pytest.fixture(scope="module")
def model() -> bytes:
    return map_weights(convert(Case("dwp_columns", (32, 1, 44), _columns)), _clustered(16))


def _calls(engine) -> list[tuple[int, int, str]]:
    text = engine.files[f"{engine.name}.c"]
    return [(int(op), int(chunk), entry) for op, chunk, entry in re.findall(
        r"edgec_dwconv2d_dwp_s8\(&op(\d+)_params, &op\d+_packed, (\d+), (\w+),", text)]


def test_column_layers_decode_into_the_pair_layout(model):
    graph = lower_model(read_tflite(model, "dwp_columns"))
    dws = [op for op in graph.ops if isinstance(op, DepthwiseConv2D)]
    assert all(dwpairs.eligible(op) for op in dws)  # the dense engine runs them by pairs of taps
    packed, _ = pack_and_plan(graph, "auto")
    chunked = [op for op in packed.ops if getattr(op, "chunk", 0)]
    assert [op.pair_layout for op in chunked] == [True] * 3
    engine = generate_engine(read_tflite(model, "dwp_columns"), "dwp_columns")
    calls = _calls(engine)
    assert [entry for _, _, entry in calls] == [dwpairs.groups_entry(op) for op in dws]
    assert calls[2][2] == "edgec_dwpair_groups_t15_s8" and calls[0][2] == "edgec_dwpair_groups_s8"
    assert engine.files["dwp_columns.c"].count("edgec_fully_connected_pairs_s8(&") == 1
    assert any(11 % chunk for _, chunk, _ in calls)  # a chunk shorter than the others
    dense = generate_engine(read_tflite(model, "dwp_columns"), "dwp_columns", weights="dense")
    assert engine.sram_bytes <= dense.sram_bytes + EXTRA_SCRATCH


def test_pair_layout_chunks_exact_on_three_paths(model, tmp_path):
    engine = generate_engine(read_tflite(model, "dwp_columns"), "dwp_columns")
    x = np.random.default_rng(8).integers(-128, 128, (5, 32, 1, 44)).astype(np.int8)
    reference = run_tflm(model, x).tobytes()
    assert len(set(reference)) > 40  # outputs spread, not clamped
    for defines in ((), ("EDGEC_EMULATE_DSP",), ("EDGEC_SCALAR",)):
        host = compile_host(engine, tmp_path / ("-".join(defines) or "generic"), defines=defines)
        assert host.run(x).tobytes() == reference, defines


@pytest.mark.slow
def test_pair_layout_chunks_on_the_emulated_m7_equal_tflm(model, tmp_path):
    """The Thumb-2 kernels of edgec_dwpair.c (pairs on the stack and in registers) over the decoded
    chunks, and the FC pair kernel's loop for the one-pixel convolution."""
    require_tool("arm-none-eabi-gcc")
    require_tool("qemu-system-arm")
    exact_on_m7(model, "dwp_columns", tmp_path)
