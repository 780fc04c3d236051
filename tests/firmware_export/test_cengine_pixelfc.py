"""Clustered 1x1 convolutions of one pixel run as the fully-connected layers they compute, through the
pair table's kernel (packing._one_pixel_fc, kernels/edgec_packed_fcp.c), byte-exact with tflite-micro.

A chain on a 1x1 image: 38 channels to 45 (ReLU; the pair kernel), 45 to 64 (odd taps: the pointwise
kernels), 64 to 31 (odd rows: the pair kernel, the last row alone), per-channel weights moved to 16
codes a tensor, the first output channel all zeros and the second all one code. A 1x1 convolution of
two pixels keeps the pointwise kernels.
"""
from __future__ import annotations

import numpy as np

from firmware_export.cengine import compile_host, generate_engine
from tests.firmware_export.single_op_models import Case, convert
from tests.firmware_export.test_cengine_fcpairs import PATHS, _pair_calls, _shared_codes
from tests.firmware_export.weight_variants import map_weights
from toolchain.base.tflite_reader import read_tflite
from toolchain.oracle import run_tflm


def _pixel_chain(keras, x):
    y = keras.layers.Conv2D(45, 1, activation="relu")(x)
    y = keras.layers.Conv2D(64, 1)(y)
    return keras.layers.Conv2D(31, 1)(y)


def test_one_pixel_convolutions_run_the_pair_kernel_exactly(tmp_path):
    data = map_weights(convert(Case("pixel_fc", (1, 1, 38), _pixel_chain)), _shared_codes)
    engine = generate_engine(read_tflite(data, "pixel_fc"), "pixel_fc")
    assert [layer.format for layer in engine.layers] == ["clustered"] * 3
    assert _pair_calls(engine) == (2, 0)  # the 45-tap layer on the pointwise kernels; tables in scratch
    dense = generate_engine(read_tflite(data, "pixel_fc"), "pixel_fc", weights="dense")
    assert engine.activation_bytes + engine.scratch_bytes <= dense.activation_bytes + dense.scratch_bytes + 1024
    x = np.random.default_rng(5).integers(-128, 128, (8, 1, 1, 38)).astype(np.int8)
    x[0] = -128
    reference = run_tflm(data, x).tobytes()
    assert len(set(reference)) > 40  # outputs spread, not clamped
    for defines in PATHS:
        host = compile_host(engine, tmp_path / ("_".join(defines) or "generic"), defines=defines)
        assert host.run(x).tobytes() == reference, defines


def test_two_pixels_keep_the_pointwise_kernels():
    data = map_weights(convert(Case("two_px", (1, 2, 38), lambda k, x: k.layers.Conv2D(40, 1)(x))), _shared_codes)
    engine = generate_engine(read_tflite(data, "two_px"), "two_px")
    assert [layer.format for layer in engine.layers] == ["clustered"]
    assert _pair_calls(engine) == (0, 0)
