"""Fixtures shared by the toolchain tests: small real models, built once per session."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import REPO

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

EXAMPLE_MODEL = REPO / "examples" / "fashion_cnn.keras"
EXAMPLE_CALIB = REPO / "examples" / "fashion_calib.npz"
EXAMPLE_EVAL = REPO / "examples" / "fashion_eval.npz"

CUSTOM_LAYER_SOURCE = '''
import keras


@keras.saving.register_keras_serializable(package="tests")
class SignLayer(keras.layers.Layer):
    """An op with no int8 kernel and no TFLM kernel (SIGN)."""
    def call(self, x):
        return keras.ops.sign(x)
'''


@pytest.fixture(scope="session")
def tiny_keras(tmp_path_factory) -> Path:
    """A small CNN saved as .keras (untrained weights are enough for conversion tests)."""
    import keras

    keras.utils.set_random_seed(1)
    model = keras.Sequential([
        keras.Input((12, 12, 1)),
        keras.layers.Conv2D(4, 3, activation="relu", name="conv"),
        keras.layers.DepthwiseConv2D(3, name="dw"),
        keras.layers.Flatten(name="flat"),
        keras.layers.Dense(3, name="head"),
    ], name="tiny")
    path = tmp_path_factory.mktemp("models") / "tiny.keras"
    model.save(path)
    return path


@pytest.fixture(scope="session")
def tiny_calib(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("data") / "calib.npz"
    np.savez(path, x=np.random.default_rng(0).random((16, 12, 12, 1), dtype=np.float32))
    return path


@pytest.fixture(scope="session")
def custom_layer_model(tmp_path_factory) -> tuple[Path, Path]:
    """A .keras model with a custom layer, and the Python file that defines it."""
    import importlib.util

    import keras

    folder = tmp_path_factory.mktemp("custom")
    source = folder / "my_layers.py"
    source.write_text(CUSTOM_LAYER_SOURCE)
    spec = importlib.util.spec_from_file_location("my_layers_for_save", source)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    model = keras.Sequential([keras.Input((12, 12, 1)), keras.layers.Conv2D(2, 3, name="conv"),
                              module.SignLayer(name="my_sign"), keras.layers.Flatten(), keras.layers.Dense(2)])
    path = folder / "custom.keras"
    model.save(path)
    return path, source
