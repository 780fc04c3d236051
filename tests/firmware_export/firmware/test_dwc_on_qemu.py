"""Clustered depthwise column layers on the column kernel's Thumb-2 functions (dwcolpack.py,
edgec_packed_dwc.h, edgec_dwcol.h) on the emulated Cortex-M7 over serial: the outputs equal the
tflite-micro interpreter's byte for byte. Chunks of channels decoded into the records, then the
layer's function of each shift; the same C on the host: tests/firmware_export/test_cengine_dwc.py."""
from __future__ import annotations

import re

import pytest

from firmware_export.cengine import generate_engine
from tests.conftest import require_tool
from tests.firmware_export.firmware.emulated import exact_on_m7
from tests.firmware_export.firmware.test_depthwise_on_qemu import _build_column_steps, _build_column_wide
from tests.firmware_export.single_op_models import Case, convert
from tests.firmware_export.test_cengine_dwc import _clustered
from tests.firmware_export.weight_variants import map_weights
from toolchain.base.tflite_reader import read_tflite


@pytest.mark.slow
@pytest.mark.parametrize("build, shape, layers", [(_build_column_steps, (30, 1, 29), 8), (_build_column_wide, (21, 1, 201), 2)],
                         ids=["steps", "wide"])
def test_clustered_columns_on_the_emulated_m7_equal_tflm(tmp_path, build, shape, layers):
    require_tool("arm-none-eabi-gcc")
    require_tool("qemu-system-arm")
    data = map_weights(convert(Case("dwc", shape, build)), _clustered(16))
    engine = generate_engine(read_tflite(data, "dwc"), "dwc")
    chunks = [int(c) for c in re.findall(r"edgec_dwconv2d_dwc_s8\(&op\d+_cols, &op\d+_packed, (\d+),",
                                         engine.files["dwc.c"])]
    assert len(chunks) == layers
    assert layers == 8 or all(c < 201 for c in chunks)  # the wide layers in several chunks
    exact_on_m7(data, "dwc", tmp_path)
