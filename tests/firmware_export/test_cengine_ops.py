"""Every supported op, variant by variant, against the tflite-micro interpreter: exact equality."""
from __future__ import annotations

import numpy as np
import pytest

from tests.firmware_export.single_op_models import CASES
from toolchain.oracle import run_tflm
from toolchain.base.tflite_reader import read_tflite


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


MAC_AND_BINARY = [case.name for case in CASES
                  if {"CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "ADD", "SUB", "MUL"} & set(case.expected_ops)]
POOLS = [case.name for case in CASES if {"MAX_POOL_2D", "AVERAGE_POOL_2D"} & set(case.expected_ops)]


@pytest.mark.parametrize("name", MAC_AND_BINARY + POOLS)
def test_dsp_path_matches_tflm_exactly(name, single_op_models, engine_cache):
    """The Cortex-M DSP path (portable emulation of SXTB16/SMLAD/SMMULR, SSUB8/SEL) gives the same bytes:
    im2col columns for 3-, 4- and 20-channel inputs (taps not a multiple of 4 included), grouped fallback;
    max pooling four channels a word, clipped windows and a channel remainder included."""
    _, model_bytes = single_op_models[name]
    host = engine_cache(name, model_bytes, ("EDGEC_EMULATE_DSP",))
    x = _inputs(host.engine, np.random.default_rng(11))
    assert host.run(x).tobytes() == run_tflm(model_bytes, x).tobytes()


@pytest.mark.parametrize("name", MAC_AND_BINARY)
def test_armv6m_scalar_path_matches_tflm_exactly(name, single_op_models, engine_cache):
    """The Armv6-M path, in its portable C (EDGEC_SCALAR: no SIMD lanes): four output pixels, or four
    channels of one pixel, per pass over the windows, and the rounding high multiply built from
    16 x 16 products; the assembly of its inner loop runs on the emulated Cortex-M0
    (tests/firmware_export/firmware)."""
    _, model_bytes = single_op_models[name]
    host = engine_cache(name, model_bytes, ("EDGEC_SCALAR",))
    x = _inputs(host.engine, np.random.default_rng(17))
    assert host.run(x).tobytes() == run_tflm(model_bytes, x).tobytes()


@pytest.mark.parametrize("name", MAC_AND_BINARY)
def test_general_rescale_path_matches_tflm_exactly(name, single_op_models, tmp_path, monkeypatch):
    """The same models with the short rescale (edgec_mbqm_narrow) refused everywhere: the general
    MultiplyByQuantizedMultiplier path that layers outside its preconditions take is exact too."""
    from firmware_export.cengine import compile_host, generate_engine, lower

    def narrow_ops(model) -> int:
        return sum(bool(getattr(op, "narrow", False) or getattr(getattr(op, "requant", None), "narrow", False))
                   for op in lower.lower_model(model).ops)

    _, model_bytes = single_op_models[name]
    model = read_tflite(model_bytes, name)
    assert narrow_ops(model) > 0, "the default engine takes the short path"
    monkeypatch.setattr(lower, "narrow_requant", lambda bound, shifts: False)
    assert narrow_ops(model) == 0
    engine = generate_engine(model, name, f"{name}.tflite")
    host = compile_host(engine, tmp_path, defines=("EDGEC_EMULATE_DSP",))
    x = _inputs(engine, np.random.default_rng(13))
    assert host.run(x).tobytes() == run_tflm(model_bytes, x).tobytes()
