"""Clustered fully-connected layers through the pair table on the emulated Cortex-M7 over serial
(DSP path, real gcc: the kernel's Thumb-2 loops): the outputs equal tflite-micro's byte for byte.

The chain of tests/firmware_export/test_cengine_fcpairs.py: 138 taps (the loop of 16 taps, then 10
left) to 144 rows, 144 taps (every pair of a chunk in one loop) to 131 rows (a last row alone), both
with their table in flash; 131 taps to 10 rows (no table: edgec_packed_fc); 10 taps to 120 rows (the
table built in scratch)."""
from __future__ import annotations

import numpy as np
import pytest

from firmware_export.cengine import generate_engine
from tests.conftest import require_tool
from tests.firmware_export.single_op_models import Case, convert
from tests.firmware_export.test_cengine_fcpairs import _chain, _pair_calls, _shared_codes
from tests.firmware_export.weight_variants import map_weights
from toolchain.base.tflite_reader import read_tflite
from tests.firmware_export.firmware.emulated import exact_on_m7


@pytest.mark.slow
def test_pair_table_on_the_emulated_m7_equals_tflm(tmp_path):
    require_tool("arm-none-eabi-gcc")
    require_tool("qemu-system-arm")
    data = map_weights(convert(Case("fc_pairs", (138,), _chain)), _shared_codes)
    assert _pair_calls(generate_engine(read_tflite(data, "fc_pairs"), "fc_pairs")) == (3, 2)
    result = exact_on_m7(data, "fc_pairs", tmp_path)
    assert np.isfinite(result.per_inference.median)
