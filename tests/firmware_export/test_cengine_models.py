"""Whole models: the MLPerf Tiny int8 models, on random and real inputs, byte for byte vs TFLM."""
from __future__ import annotations

import numpy as np
import pytest

from tests.firmware_export.conftest import MLPERF_MODELS, fashion_images, mlperf_path, resize_nearest
from toolchain.oracle import run_tflm


def _real_inputs(stem: str, engine) -> np.ndarray:
    shape = tuple(engine.input_shape[1:])
    scale, zero_point = engine.input_quant
    if stem == "str_ww_ref_model":
        specs = np.load(mlperf_path(stem).parent / "calibration_samples.npz")["specs"][:12]
        return np.clip(np.round(specs / scale) + zero_point, -128, 127).astype(np.int8).reshape((-1,) + shape)
    images = fashion_images(12)
    if len(shape) == 3:  # photographs, resized and repeated on the channels
        h, w, c = shape
        pixels = np.repeat(resize_nearest(images, h, w)[..., None], c, axis=3)
    else:  # no recorded features for these models: real pixel data laid out as their input
        pixels = np.resize(images.reshape(len(images), -1), (len(images), int(np.prod(shape)))).reshape((-1,) + shape)
    return (pixels.astype(np.int32) - 128).astype(np.int8)


@pytest.mark.parametrize("stem", MLPERF_MODELS)
def test_mlperf_model_matches_tflm_exactly(stem, engine_cache):
    path = mlperf_path(stem)
    model_bytes = path.read_bytes()
    host = engine_cache(stem, model_bytes)
    rng = np.random.default_rng(0)
    random = rng.integers(-128, 128, (12,) + tuple(host.engine.input_shape[1:])).astype(np.int8)
    for x in (random, _real_inputs(stem, host.engine)):
        ours = host.run(x)
        assert ours.tobytes() == run_tflm(model_bytes, x).tobytes()


def test_fully_connected_takes_tflms_per_tensor_multiplier(engine_cache):
    """TFLM's FULLY_CONNECTED multiplies input and filter scales as doubles. ad01 with one weight of
    dense_2 changed (4 -> 12; bench/malformed_models.py, seed 23) puts an accumulator of its last layer
    (-88,337 on the second input) 0.001 from a rounding tie, which the float32 product's multiplier
    (1,462,485,078 instead of 1,462,485,049) rounds the other way: one output one apart."""
    from toolchain.base.tflite_reader import pack_model, unpack_model
    from toolchain.validate import random_inputs

    m = unpack_model(mlperf_path("ad01_int8").read_bytes())
    dense_2 = next(t for t in m.subgraphs[0].tensors if t.name == b"functional_1/dense_2/MatMul")
    weights = m.buffers[dense_2.buffer].data.view(np.int8).reshape(128, 128).copy()
    assert weights[126, 26] == 4
    weights[126, 26] = 12
    m.buffers[dense_2.buffer].data = weights.reshape(-1).view(np.uint8)
    model_bytes = pack_model(m)
    host = engine_cache("ad01_fc_tie", model_bytes)
    x = random_inputs(tuple(host.engine.input_shape[1:]), "int8", 2, 0)
    assert host.run(x).tobytes() == run_tflm(model_bytes, x).tobytes()


def test_in_place_plan_is_used_and_exact(engine_cache):
    """KWS runs several ops with the output over the dying input: still exact (above)."""
    host = engine_cache("kws_ref_model", mlperf_path("kws_ref_model").read_bytes())
    plan = host.engine.plan
    assert len(plan.inplace) >= 2
    assert plan.arena_bytes < plan.live_peak_bytes


def test_dsp_path_on_a_whole_model(engine_cache):
    model_bytes = mlperf_path("kws_ref_model").read_bytes()
    host = engine_cache("kws_ref_model", model_bytes, ("EDGEC_EMULATE_DSP",))
    x = np.random.default_rng(5).integers(-128, 128, (8,) + tuple(host.engine.input_shape[1:])).astype(np.int8)
    assert host.run(x).tobytes() == run_tflm(model_bytes, x).tobytes()


@pytest.mark.parametrize("stem", ["kws_ref_model", "str_ww_ref_model"])
def test_armv6m_path_on_whole_models_with_in_place_ops(stem, engine_cache):
    """The Armv6-M path (EDGEC_SCALAR) computes four output pixels per pass: a block whose outputs
    would reach its own windows, where the plan overlaps a convolution's output with its input
    (KWS), goes pixel by pixel; exact either way."""
    model_bytes = mlperf_path(stem).read_bytes()
    host = engine_cache(stem, model_bytes, ("EDGEC_SCALAR",))
    x = np.random.default_rng(6).integers(-128, 128, (8,) + tuple(host.engine.input_shape[1:])).astype(np.int8)
    assert host.run(x).tobytes() == run_tflm(model_bytes, x).tobytes()


def test_bundled_example_built_model_matches_tflm_exactly(tmp_path, engine_cache):
    """The model `edgec build` produces from examples/fashion_cnn.keras, on its real eval images."""
    from click.testing import CliRunner

    from tests.toolchain.conftest import EXAMPLE_CALIB, EXAMPLE_MODEL
    from toolchain.cli import cli

    result = CliRunner().invoke(cli, ["build", str(EXAMPLE_MODEL), "-t", "cortex-m4", "--calib", str(EXAMPLE_CALIB),
                                      "-o", str(tmp_path)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    model_bytes = next(tmp_path.glob("*.tflite")).read_bytes()
    host = engine_cache("fashion_cnn", model_bytes)
    images = np.load(EXAMPLE_MODEL.parent / "fashion_eval.npz")["x"][:64]
    scale, zero_point = host.engine.input_quant
    if host.engine.input_dtype == "int8":
        images = np.clip(np.round(images / scale) + zero_point, -128, 127).astype(np.int8)
    assert host.run(images).tobytes() == run_tflm(model_bytes, images).tobytes()


def test_pruned_kws_overlaps_its_sparse_layers_in_place_and_stays_exact(engine_cache):
    """KWS pruned to 75 % as bench/compress_device.py prunes it: depthwise layers in the fixed sparse
    layout, pointwise ones on 8-pixel blocks whose windows are copied before their outputs overwrite
    the input (inplace._gathered_lag): each runs over its input in place, byte for byte as TFLM."""
    from toolchain.compress.tflite_weights import compress_weights

    model_bytes = compress_weights(mlperf_path("kws_ref_model").read_bytes(), 0.75).model
    host = engine_cache("kws_pruned", model_bytes)
    layers = {layer.op_index: layer for layer in host.engine.layers}
    assert [layers[i].format for i in (1, 2)] == ["sparse", "sparse"] and layers[2].tile == 8
    assert sum(la.stored_bytes for la in layers.values()) <= 0.40 * sum(la.dense_bytes for la in layers.values())
    overlapped = {op for op, _, _ in host.engine.plan.inplace}
    assert {1, 2} <= overlapped
    x = np.random.default_rng(6).integers(-128, 128, (8,) + tuple(host.engine.input_shape[1:])).astype(np.int8)
    assert host.run(x).tobytes() == run_tflm(model_bytes, x).tobytes()
