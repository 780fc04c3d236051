"""The dense DSP kernels' Thumb-2 paths on the emulated Cortex-M7 over serial, on the shapes their
portable C twins are tested with on the host: the outputs equal the tflite-micro interpreter's
byte for byte. The convolution's 2x2 MAC loop over an odd pixel count (the last pixel alone), an
odd channel count above the 32 of one chunk, a 3-channel input (its window gathered as bytes, rows
inside and at the border), a 37-channel pointwise input and a 20-channel one (whole groups of 4),
the three clamps (ReLU6, none, ReLU); fully connected four rows at a time with a tail of inputs
(192 and 7) and of rows (7 and 13)."""
from __future__ import annotations

import pytest

import targets
from tests.conftest import require_tool
from tests.firmware_export.single_op_models import Case, convert
from toolchain.benchmark import BenchOptions, run_bench


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
    model = tmp_path / "dense_kernels.tflite"
    model.write_bytes(convert(Case("dense_kernels", (9, 9, 3), _build)))
    result = run_bench(BenchOptions(target=targets.load_target("cortex-m7"), emulate=True, model=model, runs=4,
                                    warmup=0, limit=4, out_dir=tmp_path / "bench"))
    c = result.comparison
    assert c.basis == "raw" and c.compared == 4
    assert c.exact_match_rate == 1.0 and c.max_abs_diff == 0.0
