"""One codebook per tensor: the models toolchain.compress writes (codes shared by every channel,
per-channel scales and biases rewritten) run on the engine as stored, byte-exact with tflite-micro.

One small model covers the three kernels (conv 3x3 with 5 input and 9 output channels, depthwise
over 9 channels, fully-connected to 7 outputs), the first channel of each layer all zeros; it is
clustered on its int8 weights (alone and after pruning), and clustered in float per tensor then
quantized per channel by the build's convert pass (as a Keras model clustered by `edgec compress`).
"""
from __future__ import annotations

import numpy as np
import pytest

from firmware_export.cengine import compile_host, generate_engine
from firmware_export.cengine.storage import encode
from tests.firmware_export.single_op_models import Case, convert
from tests.firmware_export.weight_variants import map_weights
from toolchain.base.tflite_reader import read_tflite
from toolchain.compress.tflite_weights import compress_weights
from toolchain.oracle import run_tflm


def _build(keras, x):
    x = keras.layers.Conv2D(9, 3, activation="relu")(x)
    x = keras.layers.DepthwiseConv2D(3)(x)
    return keras.layers.Dense(7)(keras.layers.Flatten()(x))


def _zero_first_channel(op, _name, q, _scales):
    axis = q.ndim - 1 if op == "DEPTHWISE_CONV_2D" else 0
    rows = np.moveaxis(q, axis, 0).copy()
    rows[0] = 0
    return np.moveaxis(rows, 0, axis)


@pytest.fixture(scope="module")
def model() -> bytes:
    return map_weights(convert(Case("codebook_trio", (9, 9, 5), _build)), _zero_first_channel)


def _float_clustered() -> bytes:
    """The trio (on 16 input channels: 144 weights a conv channel, each holding most of the values)
    with a batch normalization after the conv (folded into its weights per channel), each
    kernel clustered in float to 15 values per tensor, the first channel zero; converted by the
    build's convert pass, which shares the codebooks."""
    import keras

    from toolchain.compress.clustering import CentroidInitialization, kmeans
    from toolchain.convert import convert_int8
    from toolchain.loader import from_keras

    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    x = keras.Input((7, 7, 16), batch_size=1)
    y = keras.layers.BatchNormalization()(keras.layers.Conv2D(9, 3)(x))
    y = keras.layers.DepthwiseConv2D(3)(keras.layers.ReLU()(y))
    model = keras.Model(x, keras.layers.Dense(7)(keras.layers.Flatten()(y)))
    for layer in model.layers:
        weights = [rng.uniform(0.5, 2.0, w.shape) if isinstance(layer, keras.layers.BatchNormalization)
                   else rng.normal(0.0, 0.5, w.shape) for w in layer.get_weights()]
        if weights and not isinstance(layer, keras.layers.BatchNormalization):
            kernel = weights[0]
            # 15 values and the zero channel's 0: 16 codes
            centroids, index = kmeans(kernel, 15, CentroidInitialization.LINEAR)
            kernel = centroids[index].reshape(kernel.shape)
            if isinstance(layer, keras.layers.DepthwiseConv2D):
                kernel[:, :, 0, :] = 0  # [h, w, channel, multiplier]
            else:
                kernel[..., 0] = 0  # the first output channel
            weights[0] = kernel
        layer.set_weights([w.astype(np.float32) for w in weights])
    converted = convert_int8(from_keras(model), rng.normal(0.0, 1.0, (16, 7, 7, 16)).astype(np.float32))
    # the FC requantized to one codebook; the depthwise rows of 9 taps are left, and so is the conv: with
    # its batch normalization folded, some of its channels' roundings do not fit one set of codes
    # within a rounding (what the requantization guarantees), so it keeps a codebook per channel
    assert [t.op for t in converted.shared_codebooks] == ["FULLY_CONNECTED"]
    assert all(t.before > 16 >= t.codes and t.worst_move <= 1 for t in converted.shared_codebooks)
    return converted.tflite_bytes


def _variant(model: bytes, variant: str) -> bytes:
    if variant == "float_clustered":
        return _float_clustered()
    return compress_weights(model, 0.75 if variant == "pruned_clustered" else None, 16).model


ONE_CODEBOOK = {"clustered": ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED"),
                "pruned_clustered": ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED"),
                "float_clustered": ("FULLY_CONNECTED",)}


@pytest.mark.parametrize("variant", ["clustered", "pruned_clustered", "float_clustered"])
def test_one_codebook_per_tensor_runs_exactly(model, variant, tmp_path):
    data = _variant(model, variant)
    tflite = read_tflite(data, variant)
    engine = generate_engine(tflite, variant)
    assert [layer.op for layer in engine.layers] == ["CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED"]
    for layer in engine.layers:
        w = next(t for t in tflite.main.tensors if t.name == layer.tensor)
        axis = w.data.ndim - 1 if layer.op == "DEPTHWISE_CONV_2D" else 0
        rows = np.moveaxis(np.asarray(w.data), axis, 0).reshape(w.shape[axis], -1)
        assert not rows[0].any()  # the all-zero channel stayed so
        if layer.op not in ONE_CODEBOOK[variant]:
            continue
        assert len(np.unique(rows[rows != 0] if variant == "pruned_clustered" else rows)) <= 16
        assert layer.format != "dense", layer
        packed = encode(rows, layer.format)
        if layer.format in ("clustered", "sparse_clustered"):  # 16 bytes of codebook for the layer
            # unless per-row codebooks cost less: a pruned depthwise row of 9 taps holds 0 and 2 nonzeros,
            # 2-bit indices and 3 values a row beat 4-bit indices and one codebook of 11
            union = len(np.unique(rows))
            one_book = -(-rows.size * int(np.ceil(np.log2(union))) // 8) + 1 + union
            assert packed.shared or (layer.format == "clustered" and packed.nbytes <= one_book)
            assert packed.codebook.size == (1 if packed.shared else len(rows)) * layer.clusters
            assert layer.stored_bytes == packed.nbytes
    x = np.random.default_rng(7).integers(-128, 128, (8,) + tuple(engine.input_shape[1:])).astype(np.int8)
    reference = run_tflm(data, x).tobytes()
    # both paths once; the other variants read their codebooks through the same accessor: the DSP path
    for defines in ((), ("EDGEC_EMULATE_DSP",)) if variant == "clustered" else (("EDGEC_EMULATE_DSP",),):
        host = compile_host(engine, tmp_path / ("dsp" if defines else "generic"), defines=defines)
        assert host.run(x).tobytes() == reference, defines
