"""Writes nested_sequential_keras28.h5: a Keras 2.8 (TF 2.8) functional model that nests two
Sequential sub-models, in the legacy HDF5 layout Keras 2.8's `model.save("x.h5")` writes.

tf_keras (Keras 2) is not installed beside TensorFlow 2.21 here, so the file is written directly
with h5py: the model_config JSON as Keras 2.8 serialises it (the nested Sequentials carry their own
InputLayer, and the layers after them read node index 1 of each, because in Keras 2 a Sequential
built on an Input owns node 0), and the weights under model_weights/<layer>/<variable name>:0 with
the weight_names / layer_names attributes. Deterministic (seeded weights):

    /work/main/.venv/bin/python tests/data/keras2/make_nested_keras2.py
"""
from __future__ import annotations

import json
from pathlib import Path

import h5py
import numpy as np

OUT = Path(__file__).resolve().parent / "nested_sequential_keras28.h5"


def _input(name: str, width: int) -> dict:
    return {"class_name": "InputLayer", "config": {"batch_input_shape": [None, width], "dtype": "float32",
                                                   "sparse": False, "ragged": False, "name": name}}


def _dense(name: str, units: int, activation: str) -> dict:
    return {"class_name": "Dense", "config": {
        "name": name, "trainable": True, "dtype": "float32", "units": units, "activation": activation,
        "use_bias": True, "kernel_initializer": {"class_name": "GlorotUniform", "config": {"seed": None}},
        "bias_initializer": {"class_name": "Zeros", "config": {}}, "kernel_regularizer": None,
        "bias_regularizer": None, "activity_regularizer": None, "kernel_constraint": None,
        "bias_constraint": None}}


def model_config() -> dict:
    encoder = {"name": "encoder", "layers": [_input("dense_input", 8), _dense("dense", 6, "relu")]}
    head = {"name": "head", "layers": [_input("dense_1_input", 6), _dense("dense_1", 3, "linear")]}
    layers = [
        {**_input("input_1", 8), "name": "input_1", "inbound_nodes": []},
        {"class_name": "Sequential", "config": encoder, "name": "encoder",
         "inbound_nodes": [[["input_1", 0, 0, {}]]]},
        {"class_name": "Sequential", "config": head, "name": "head",
         "inbound_nodes": [[["encoder", 1, 0, {}]]]},
    ]
    return {"class_name": "Functional", "config": {"name": "model", "layers": layers,
                                                   "input_layers": [["input_1", 0, 0]],
                                                   "output_layers": [["head", 1, 0]]}}


def weights() -> dict[str, dict[str, np.ndarray]]:
    rng = np.random.default_rng(28)
    return {"input_1": {},
            "encoder": {"dense/kernel:0": rng.normal(0, 0.5, (8, 6)).astype(np.float32),
                        "dense/bias:0": rng.normal(0, 0.1, (6,)).astype(np.float32)},
            "head": {"dense_1/kernel:0": rng.normal(0, 0.5, (6, 3)).astype(np.float32),
                     "dense_1/bias:0": rng.normal(0, 0.1, (3,)).astype(np.float32)}}


def main() -> None:
    with h5py.File(OUT, "w") as f:
        f.attrs["keras_version"] = "2.8.0"
        f.attrs["backend"] = "tensorflow"
        f.attrs["model_config"] = json.dumps(model_config())
        group = f.create_group("model_weights")
        group.attrs["keras_version"] = b"2.8.0"
        group.attrs["backend"] = b"tensorflow"
        layers = weights()
        group.attrs["layer_names"] = [name.encode() for name in layers]
        for layer, values in layers.items():
            g = group.create_group(layer)
            g.attrs["weight_names"] = np.array([name.encode() for name in values], dtype="S")
            for name, value in values.items():
                g.create_dataset(name, data=value)
    print(f"wrote {OUT} ({OUT.stat().st_size} B)")


if __name__ == "__main__":
    main()
