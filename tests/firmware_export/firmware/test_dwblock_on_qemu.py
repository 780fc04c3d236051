"""Depthwise layers stored as dw_block (the kept taps of groups of 4 channels) on the emulated
Cortex-M7 over serial: the Thumb-2 loop of edgec_packed_dwb (runs of pixels inside the input along a
row or down a column, border pixels through their own tap tables) gives tflite-micro's bytes. The
geometries of test_depthwise_on_qemu.py: 3 x 3 at stride 1 and 2, padding same and valid, a dilated
3 x 3, a 5 x 1 kernel, 1-wide columns (3 x 1, 2 x 1 at stride 2), with and without ReLU; each layer
with a group of channels whose taps are all pruned and one that keeps them all."""
from __future__ import annotations

import numpy as np
import pytest

from firmware_export.cengine import generate_engine
from tests.conftest import require_tool
from tests.firmware_export.firmware.test_depthwise_on_qemu import _build
from tests.firmware_export.single_op_models import Case, convert
from tests.firmware_export.weight_variants import map_weights
from toolchain.base.tflite_reader import read_tflite
from tests.firmware_export.firmware.emulated import exact_on_m7
from toolchain.compress.tflite_weights import prune_depthwise_blocks


def _prune(op, _name, q, _scales):
    pruned = prune_depthwise_blocks(q, 3, 0.75).copy()
    pruned[..., 0:4] = 0
    pruned[..., 4:8] = np.where(q[..., 4:8] == 0, 1, q[..., 4:8])
    return pruned


@pytest.mark.slow
def test_dw_block_layers_on_the_emulated_m7_equal_tflm(tmp_path):
    require_tool("arm-none-eabi-gcc")
    require_tool("qemu-system-arm")
    data = map_weights(convert(Case("depthwise", (21, 17, 12), _build)), _prune)
    engine = generate_engine(read_tflite(data, "dwblock"), "dwblock", "dwblock.tflite")
    assert [layer.format for layer in engine.layers] == ["dw_block"] * 7
    assert engine.files["dwblock.c"].count("_dsp[") == 7  # every layer through the Thumb-2 loop
    exact_on_m7(data, "dwblock", tmp_path)
