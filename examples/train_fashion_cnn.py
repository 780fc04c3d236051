"""Train the bundled example: a small Keras 3 CNN on Fashion-MNIST.

Writes examples/fashion_cnn.keras, examples/fashion_calib.npz (256 training images, array 'x')
and examples/fashion_eval.npz (1,000 test images and labels, arrays 'x' and 'y').

    .venv/bin/python examples/train_fashion_cnn.py
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def make_model():
    import keras
    from keras import layers

    return keras.Sequential([
        keras.Input((28, 28, 1), name="image"),
        layers.Conv2D(16, 3, padding="same", activation="relu", name="conv1"),
        layers.MaxPooling2D(2, name="pool1"),
        layers.Conv2D(32, 3, padding="same", activation="relu", name="conv2"),
        layers.MaxPooling2D(2, name="pool2"),
        layers.Flatten(name="flatten"),
        layers.Dense(64, activation="relu", name="fc1"),
        layers.Dense(10, activation="softmax", name="logits"),
    ], name="fashion_cnn")


def main(epochs: int = 4) -> None:
    import keras

    from fashion_mnist import load

    keras.utils.set_random_seed(0)
    x_train, y_train = load("train")
    x_test, y_test = load("test")
    model = make_model()
    model.compile(optimizer=keras.optimizers.Adam(2e-3), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    model.fit(x_train, y_train, batch_size=128, epochs=epochs, validation_split=0.1, verbose=2)
    _, acc = model.evaluate(x_test, y_test, verbose=0)
    print(f"test accuracy (float): {acc:.4f}")
    model.save(HERE / "fashion_cnn.keras")
    rng = np.random.default_rng(0)
    calib = rng.choice(len(x_train), 256, replace=False)
    np.savez_compressed(HERE / "fashion_calib.npz", x=x_train[calib])
    np.savez_compressed(HERE / "fashion_eval.npz", x=x_test[:1000], y=y_test[:1000])


if __name__ == "__main__":
    main()
