"""Small models and data shared by the compression tests (seconds each, real Keras and TFLM)."""
from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np
import pytest

keras = pytest.importorskip("keras")
L = keras.layers


def small_cnn(seed: int = 0, classes: int = 4, width: int = 32) -> "keras.Model":
    """conv -> conv -> pool -> flatten -> dense (`width` units) -> dense: 12x12x1 images, `classes` logits."""
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((12, 12, 1))
    x = L.Conv2D(8, 3, activation="relu", name="conv_in")(inputs)
    x = L.Conv2D(16, 3, activation="relu", name="conv_mid")(x)
    x = L.MaxPooling2D(name="pool")(x)
    x = L.Flatten(name="flatten")(x)
    x = L.Dense(width, activation="relu", name="dense_mid")(x)
    outputs = L.Dense(classes, name="logits")(x)
    return keras.Model(inputs, outputs, name="small_cnn")


def blob_data(n: int = 256, classes: int = 4, seed: int = 0):
    """Images whose class is which quadrant is bright: learnable in a few steps."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, classes, n)
    x = rng.normal(0.0, 0.1, (n, 12, 12, 1)).astype(np.float32)
    for i, label in enumerate(y):
        r, c = divmod(int(label), 2)
        x[i, r * 6:(r + 1) * 6, c * 6:(c + 1) * 6, 0] += 1.0
    return x, y


@pytest.fixture
def cnn():
    return small_cnn()


@pytest.fixture
def data():
    return blob_data()
