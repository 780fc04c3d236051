"""The load pass on real files, and every kind of bad input it must refuse clearly."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from toolchain.base.errors import InputFileError, ModelLoadError, UnsupportedLayerError
from toolchain.loader import load_model

# The float sources shipped in tests/data/mlperf-tiny (its README says why vww_96.h5 and ad01.h5 are not:
# str_ww_ref_model.h5 carries the same legacy DepthwiseConv2D config as vww_96.h5).
MLPERF_FLOAT = {
    "pretrainedResnet.h5": ((None, 32, 32, 3), (None, 10)),  # Keras 2.4 HDF5
    "str_ww_ref_model.h5": ((None, 30, 1, 40), (None, 3)),  # Keras 2.14 HDF5, DepthwiseConv2D with the legacy `groups` key
    "kws_ref_model": ((None, 49, 10, 1), (None, 12)),  # SavedModel with optimizer slots
}


@pytest.mark.parametrize("name", sorted(MLPERF_FLOAT))
def test_mlperf_float_models_load(mlperf_models, name):
    model = load_model(mlperf_models / name)
    assert (model.input_shapes[0], model.output_shapes[0]) == MLPERF_FLOAT[name]
    assert model.input_dtypes == ("float32",)


def test_legacy_depthwise_keeps_its_weights(mlperf_models):
    import h5py

    model = load_model(mlperf_models / "str_ww_ref_model.h5").keras_model
    layer = next(l for l in model.layers if type(l).__name__ == "DepthwiseConv2D")
    with h5py.File(mlperf_models / "str_ww_ref_model.h5") as f:
        group = f["model_weights"][layer.name]
        kernels = []
        group.visititems(lambda n, obj: kernels.append(obj[()]) if n.endswith("depthwise_kernel:0") else None)
    np.testing.assert_array_equal(layer.get_weights()[0], kernels[0])


@pytest.mark.parametrize("name", ["pretrainedResnet_quant.tflite", "vww_96_int8.tflite", "kws_ref_model.tflite",
                                  "ad01_int8.tflite", "str_ww_ref_model.tflite"])
def test_mlperf_tflite_models_load(mlperf_models, name):
    model = load_model(mlperf_models / name)
    assert model.is_tflite and model.input_dtypes == ("int8",) and model.input_shapes[0][0] == 1


def test_missing_file(tmp_path):
    with pytest.raises(InputFileError, match="no such file"):
        load_model(tmp_path / "nope.keras")


@pytest.mark.parametrize("suffix", [".tflite", ".h5", ".keras"])
def test_empty_file(tmp_path, suffix):
    path = tmp_path / f"empty{suffix}"
    path.write_bytes(b"")
    with pytest.raises(ModelLoadError, match="empty"):
        load_model(path)


@pytest.mark.parametrize("suffix", [".tflite", ".h5", ".keras"])
def test_random_bytes(tmp_path, suffix):
    path = tmp_path / f"random{suffix}"
    path.write_bytes(os.urandom(4096))
    with pytest.raises(ModelLoadError):
        load_model(path)


def test_truncated_tflite(tmp_path, mlperf_models):
    path = tmp_path / "cut.tflite"
    path.write_bytes((mlperf_models / "kws_ref_model.tflite").read_bytes()[:3000])
    with pytest.raises(ModelLoadError, match="corrupted or truncated"):
        load_model(path)


def test_truncated_h5(tmp_path, mlperf_models):
    path = tmp_path / "cut.h5"
    path.write_bytes((mlperf_models / "pretrainedResnet.h5").read_bytes()[:50_000])
    with pytest.raises(ModelLoadError, match="corrupted or truncated"):
        load_model(path)


def test_truncated_keras(tmp_path, tiny_keras):
    path = tmp_path / "cut.keras"
    path.write_bytes(tiny_keras.read_bytes()[:2000])
    with pytest.raises(ModelLoadError, match="corrupted or truncated"):
        load_model(path)


def test_unknown_format(tmp_path):
    path = tmp_path / "model.onnx"
    path.write_bytes(b"x")
    with pytest.raises(InputFileError, match="unknown model format"):
        load_model(path)


def test_savedmodel_without_serving_signature(tmp_path):
    import tensorflow as tf

    module = tf.Module()
    module.v = tf.Variable(1.0)
    tf.saved_model.save(module, str(tmp_path / "sm"), signatures={})
    with pytest.raises(ModelLoadError, match="no 'serving_default' signature"):
        load_model(tmp_path / "sm")


def test_folder_that_is_not_a_savedmodel(tmp_path):
    with pytest.raises(InputFileError, match="not a TensorFlow SavedModel"):
        load_model(tmp_path)


def test_custom_layer_is_named_with_the_fix(custom_layer_model):
    path, source = custom_layer_model
    import keras

    keras.saving.get_custom_objects().clear()
    with pytest.raises(UnsupportedLayerError) as err:
        load_model(path)
    assert "my_sign" in err.value.message and "--custom-objects" in err.value.message
    assert load_model(path, custom_objects_file=source).keras_model.get_layer("my_sign") is not None


def test_lambda_layer_needs_trust(tmp_path):
    import keras

    model = keras.Sequential([keras.Input((4,)), keras.layers.Lambda(lambda x: x * 2.0, name="double")])
    path = tmp_path / "lambda.keras"
    model.save(path)
    with pytest.raises(UnsupportedLayerError) as err:
        load_model(path)
    assert "double" in err.value.message and "--trust-lambda" in err.value.message
    assert load_model(path, trust_lambda=True).keras_model is not None


KERAS2_NESTED = Path(__file__).resolve().parents[1] / "data" / "keras2" / "nested_sequential_keras28.h5"


def test_keras2_functional_nesting_two_sequentials_loads_with_its_weights():
    import h5py

    model = load_model(KERAS2_NESTED)
    assert [type(layer).__name__ for layer in model.keras_model.layers] == ["InputLayer", "Sequential", "Sequential"]
    assert (model.input_shapes, model.output_shapes) == (((None, 8),), ((None, 3),))
    with h5py.File(KERAS2_NESTED) as f:
        w = f["model_weights"]
        k1, b1 = w["encoder"]["dense"]["kernel:0"][()], w["encoder"]["dense"]["bias:0"][()]
        k2, b2 = w["head"]["dense_1"]["kernel:0"][()], w["head"]["dense_1"]["bias:0"][()]
    x = np.random.default_rng(0).normal(size=(5, 8)).astype(np.float32)
    expected = np.maximum(x @ k1 + b1, 0) @ k2 + b2
    np.testing.assert_allclose(model.keras_model(x, training=False).numpy(), expected, rtol=1e-5, atol=1e-6)


def test_keras2_nested_node_mapping():
    """Only nested Sequentials move (a shared one keeps its calls apart); a nested Functional keeps
    its own node 0 in Keras 3 too; a Keras 3 config (first call is node 0) is unchanged."""
    from toolchain.loader import map_keras2_nested_nodes

    def config(first):
        layers = [{"class_name": "InputLayer", "name": "in", "inbound_nodes": []},
                  {"class_name": "Sequential", "name": "seq", "config": {"name": "seq", "layers": []},
                   "inbound_nodes": [[["in", 0, 0, {}]], [["seq", first, 0, {}]]]},
                  {"class_name": "Functional", "name": "sub", "config": {"name": "sub", "layers": []},
                   "inbound_nodes": [[["seq", first + 1, 0, {}]]]},
                  {"class_name": "Dense", "name": "d", "inbound_nodes": [[["sub", 1, 0, {}]]]}]
        return {"class_name": "Functional", "config": {"layers": layers, "output_layers": [["d", 0, 0]]}}

    keras2 = config(1)
    assert map_keras2_nested_nodes(keras2)
    assert keras2 == config(0)
    assert not map_keras2_nested_nodes(keras2)
