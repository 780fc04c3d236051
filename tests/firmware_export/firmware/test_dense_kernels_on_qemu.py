"""The dense DSP kernels' Thumb-2 paths on the emulated Cortex-M7 over serial, on the shapes their
portable C twins are tested with on the host: the outputs equal the tflite-micro interpreter's
byte for byte. The convolution's 2x2 MAC loop over an odd pixel count (the last pixel alone), an
odd channel count above the 32 of one chunk, a 3-channel input (its window gathered as bytes, rows
inside and at the border), a 37-channel pointwise input and a 20-channel one (whole groups of 4),
the three clamps (ReLU6, none, ReLU); fully connected four rows at a time with a tail of inputs
(192 and 7) and of rows (7 and 13)."""
from __future__ import annotations

import pytest

from tests.conftest import require_tool
from tests.firmware_export.single_op_models import Case, convert
from tests.firmware_export.firmware.emulated import exact_on_m7


def _build(keras, x):
    L = keras.layers
    y = L.Conv2D(37, 3, padding="same", activation="relu6")(x)
    y = L.Conv2D(20, 1)(y)
    y = L.Conv2D(12, 3, strides=2, padding="valid", activation="relu")(y)
    y = L.Flatten()(y)
    y = L.Dense(7, activation="relu")(y)
    return L.Dense(13)(y)


@pytest.mark.slow
def test_dense_dsp_kernels_on_the_emulated_m7_equal_tflm(tmp_path):
    require_tool("arm-none-eabi-gcc")
    require_tool("qemu-system-arm")
    exact_on_m7(convert(Case("dense_kernels", (9, 9, 3), _build)), "dense_kernels", tmp_path)
