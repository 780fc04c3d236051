"""Clustered convolutions through the pair table (edgec_conv2d_pairs_s8) on the emulated Cortex-M7 over
serial (DSP path, real gcc: the kernel's Thumb-2 loop): the outputs equal tflite-micro's byte for byte.

The chain of tests/firmware_export/test_cengine_cvp.py: 72 taps (an odd count of index words) to 29
channels, the same in place, 252 taps (index words, then a halfword) at stride 2 over asymmetric
"same" padding, 108 taps dilated; two tables in flash, two built in scratch. And its pointwise chain:
15 pixels (a short last group), 36 taps (index words, then a halfword), 128 to 128 in place."""
from __future__ import annotations

import numpy as np
import pytest

from firmware_export.cengine import generate_engine
from tests.conftest import require_tool
from tests.firmware_export.single_op_models import Case, convert
from tests.firmware_export.test_cengine_cvp import NAME, POINTWISE, _calls, _chain, _codes, _pointwise_chain
from tests.firmware_export.weight_variants import map_weights
from toolchain.base.tflite_reader import read_tflite
from tests.firmware_export.firmware.emulated import exact_on_m7


@pytest.mark.slow
def test_pair_conv_on_the_emulated_m7_equals_tflm(tmp_path):
    require_tool("arm-none-eabi-gcc")
    require_tool("qemu-system-arm")
    data = map_weights(convert(Case(NAME, (9, 8, 8), _chain)), _codes)
    assert sorted(_calls(generate_engine(read_tflite(data, NAME), NAME))) == [0, 1, 2, 3]
    result = exact_on_m7(data, NAME, tmp_path)
    assert np.isfinite(result.per_inference.median)


@pytest.mark.slow
def test_pointwise_pair_conv_on_the_emulated_m7_equals_tflm(tmp_path):
    require_tool("arm-none-eabi-gcc")
    require_tool("qemu-system-arm")
    data = map_weights(convert(Case(POINTWISE, (5, 3, 36), _pointwise_chain)), _codes)
    assert sorted(_calls(generate_engine(read_tflite(data, POINTWISE), POINTWISE))) == [0, 1, 2]
    exact_on_m7(data, POINTWISE, tmp_path)
