"""Every supported op, variant by variant, against the tflite-micro interpreter: exact equality."""
from __future__ import annotations

import numpy as np
import pytest

from tests.firmware_export.single_op_models import CASES
from toolchain.oracle import run_tflm
from toolchain.tflite_reader import read_tflite


def _inputs(engine, rng) -> np.ndarray:
    shape = tuple(engine.input_shape[1:])
    if engine.input_dtype == "float32":
        return rng.normal(0.0, 2.0, (24,) + shape).astype(np.float32)
    random = rng.integers(-128, 128, (24,) + shape)
    # Every int8 value once, so element-wise tables are checked entry by entry.
    every = np.resize(np.arange(-128, 128), (-(-256 // int(np.prod(shape))),) + shape)
    return np.concatenate([every, random]).astype(np.int8)


@pytest.mark.parametrize("name", [case.name for case in CASES])
def test_op_matches_tflm_exactly(name, single_op_models, engine_cache):
    case, model_bytes = single_op_models[name]
    ops = read_tflite(model_bytes).op_names
    assert set(case.expected_ops) <= set(ops), f"the converter produced {ops}"
    host = engine_cache(name, model_bytes)
    x = _inputs(host.engine, np.random.default_rng(7))
    ours = host.run(x)
    reference = run_tflm(model_bytes, x)
    assert ours.dtype == reference.dtype
    assert ours.tobytes() == reference.tobytes()


def test_dsp_path_matches_tflm_exactly(single_op_models, engine_cache):
    """The Cortex-M DSP dot products (portable emulation of __sxtb16/__smlad) give the same bytes."""
    for name in ("conv_same_s1_relu", "conv_grouped", "dense_relu", "conv_1x1"):
        _, model_bytes = single_op_models[name]
        host = engine_cache(name, model_bytes, ("EDGEC_EMULATE_DSP",))
        x = _inputs(host.engine, np.random.default_rng(11))
        assert host.run(x).tobytes() == run_tflm(model_bytes, x).tobytes(), name
