"""Quantization-aware training: the fake-quantized Keras model computes what its int8 conversion computes."""
from __future__ import annotations

import numpy as np
import pytest

from tests.toolchain.compress.conftest import blob_data, keras
from toolchain.compress import clustering, qat
from toolchain.compress.measure import convert_keras_int8, run_tflite

L = keras.layers


def bn_cnn(seed: int = 0) -> "keras.Model":
    """conv + batch norm + ReLU, depthwise + ReLU6, pool, dense + ReLU, dense: every pattern QAT folds or fuses."""
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((12, 12, 1), name="image")
    x = L.Conv2D(8, 3, use_bias=False, name="conv")(inputs)
    x = L.BatchNormalization(name="bn")(x)
    x = L.ReLU(name="relu")(x)
    x = L.DepthwiseConv2D(3, activation="relu6", name="dw")(x)
    x = L.MaxPooling2D(name="pool")(x)
    x = L.Flatten(name="flatten")(x)
    x = L.Dense(16, activation="relu", name="dense")(x)
    model = keras.Model(inputs, L.Dense(4, name="logits")(x))
    rng = np.random.default_rng(seed)  # batch norm statistics that folding must get right
    model.get_layer("bn").set_weights([rng.uniform(0.5, 2, 8), rng.uniform(-0.5, 0.5, 8), rng.uniform(-0.2, 0.2, 8),
                                       rng.uniform(0.5, 2, 8)])
    return model


def train_qat(model, x, y, steps: int = 4, batch: int = 32):
    model.compile(keras.optimizers.Adam(1e-2), keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.fit(x[:steps * batch], y[:steps * batch], batch_size=batch, epochs=1, verbose=0)


@pytest.fixture(scope="module")
def trained():
    x, y = blob_data(160)
    model = qat.quantize_model(bn_cnn())
    qat.calibrate_ranges(model, x[:64])
    before = {layer.name: layer.range_max.numpy() for layer in qat.fake_quant_layers(model)}
    train_qat(model, x, y)
    return model, x, before, convert_keras_int8(model, x[:64])


def test_batch_norm_folded_and_relus_fused():
    model = qat.quantize_model(bn_cnn())
    assert [layer.name for layer in model.layers] == [
        "image", "quantize_image", "quant_conv", "conv_out", "quant_dw", "dw_out", "pool", "flatten",
        "quant_dense", "dense_out", "quant_logits", "logits_out"]
    assert [(r.name, r.folded, r.activation) for r in model.quantized_layers] == [
        ("conv", "bn", "relu"), ("dw", None, "relu6"), ("dense", None, "relu"), ("logits", None, "linear")]


def test_ranges_learned_by_moving_averages(trained):
    model, _, before, _ = trained
    after = {layer.name: layer.range_max.numpy() for layer in qat.fake_quant_layers(model)}
    assert after.keys() == before.keys() and all(after[k] != before[k] for k in after)


def test_int8_model_equals_the_fake_quantized_model_within_one_step(trained):
    from ai_edge_litert.interpreter import Interpreter

    model, x, _, tflite = trained
    interpreter = Interpreter(model_content=tflite)
    (scale, zero), = [d["quantization"] for d in interpreter.get_output_details()]
    out = model.get_layer("logits_out")
    low, high = min(float(out.range_min.numpy()), 0.0), max(float(out.range_max.numpy()), 0.0)
    assert scale == pytest.approx((high - low) / 255, rel=1e-3)  # the learned range is the int8 model's
    (in_scale, _), = [d["quantization"] for d in interpreter.get_input_details()]
    first = model.get_layer("quantize_image")
    assert in_scale == pytest.approx((float(first.range_max.numpy()) - min(float(first.range_min.numpy()), 0)) / 255,
                                     rel=1e-3)
    expected = np.rint(model.predict(x, verbose=0) / scale)
    got = np.rint(run_tflite(tflite, x) / scale)
    assert np.abs(expected - got).max() <= 1  # in quantization steps, on every output of 160 inputs


def test_no_float_op_left(trained):
    from toolchain.analysis import analyse, float_ops
    from toolchain.base.tflite_reader import read_tflite

    graph = read_tflite(trained[3])
    assert float_ops(graph, analyse(graph)) == []
    assert sorted(set(graph.op_names)) == ["CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "MAX_POOL_2D",
                                           "RESHAPE"]


def weight_arrays(tflite: bytes) -> list[np.ndarray]:
    """The int8 weights of each conv, depthwise and fully-connected op, in graph order."""
    from toolchain.base.tflite_reader import read_tflite
    from toolchain.compress.tflite_weights import WEIGHT_INPUTS

    sg = read_tflite(tflite).main
    return [np.asarray(sg.tensors[op.inputs[1]].data, np.int8).reshape(sg.tensors[op.inputs[1]].shape)
            for op in sg.operators if op.op in WEIGHT_INPUTS]


def test_int8_weights_are_the_fake_quantized_ones(trained):
    model, _, _, tflite = trained
    ours = qat.int8_kernels(model)
    theirs = weight_arrays(tflite)
    # TFLite kernels: conv OHWI, depthwise 1HW(C), dense (out, in)
    assert np.array_equal(theirs[0], np.transpose(ours["conv"], (3, 0, 1, 2)))
    assert np.array_equal(theirs[1], ours["dw"].reshape(1, 3, 3, 8))
    assert np.array_equal(theirs[2], ours["dense"].T) and np.array_equal(theirs[3], ours["logits"].T)


def test_saved_and_loaded_alike(trained, tmp_path):
    from toolchain.compress.layers import load_compressible

    model, x, _, _ = trained
    model.save(tmp_path / "qat.keras")
    loaded = load_compressible(tmp_path / "qat.keras")
    assert np.array_equal(loaded.predict(x[:16], verbose=0), model.predict(x[:16], verbose=0))


def pruned_cnn():
    model = bn_cnn()
    dense = model.get_layer("dense")
    kernel = dense.kernel.numpy()
    kernel[np.abs(kernel) < np.quantile(np.abs(kernel), 0.75)] = 0
    dense.kernel.assign(kernel)
    return model


def test_pqat_keeps_the_zeros_exactly():
    x, y = blob_data(128)
    source = pruned_cnn()
    zeros = source.get_layer("dense").kernel.numpy() == 0
    model = qat.quantize_model(source)
    qat.calibrate_ranges(model, x[:64])
    train_qat(model, x, y)
    kernel = qat.float_kernels(model)["dense"]
    assert np.array_equal(kernel == 0, zeros)  # the same zeros, no fewer and no more
    assert (qat.int8_kernels(model)["dense"][zeros] == 0).all()
    unkept = qat.quantize_model(source, preserve_sparsity=False)
    qat.calibrate_ranges(unkept, x[:64])
    train_qat(unkept, x, y)
    assert (qat.float_kernels(unkept)["dense"] != 0).sum() > (~zeros).sum()  # without PQAT training fills them


def per_channel_distinct(kernel: np.ndarray) -> list[int]:
    flat = kernel.reshape(-1, kernel.shape[-1])
    return [np.unique(flat[:, c]).size for c in range(flat.shape[1])]


def test_cqat_keeps_the_values_per_channel():
    x, y = blob_data(128)
    wrapped = clustering.cluster_weights(bn_cnn(), 6, layers=["dense"])
    source = clustering.strip_clustering(wrapped)
    before = per_channel_distinct(source.get_layer("dense").kernel.numpy())
    assert max(before) <= 6
    model = qat.quantize_model(source)
    qat.calibrate_ranges(model, x[:64])
    start = qat.float_kernels(model)["dense"].copy()
    train_qat(model, x, y)
    kernel = qat.float_kernels(model)["dense"]
    assert not np.array_equal(kernel, start)  # the shared values trained
    assert per_channel_distinct(kernel) == before
    assert all(a <= b for a, b in zip(per_channel_distinct(qat.int8_kernels(model)["dense"]), before))
    assert [w.centroids > 0 for w in qat.quantized_wrappers(model)] == [False, False, True, False]


def test_calibrated_start_is_post_training_quantization():
    """Before any training, the QAT model converts to the int8 model post-training quantization
    makes on the same calibration samples: the same weights, the same scales, the same outputs."""
    from ai_edge_litert.interpreter import Interpreter

    x, _ = blob_data(96)
    source = bn_cnn()
    model = qat.quantize_model(source)
    qat.calibrate_ranges(model, x[:64])
    ptq, start = convert_keras_int8(source, x[:64]), convert_keras_int8(model, x[:64])
    assert all(np.array_equal(a, b) for a, b in zip(weight_arrays(ptq), weight_arrays(start)))

    def scales(tflite):
        i = Interpreter(model_content=tflite)
        return [d["quantization"] for d in i.get_input_details() + i.get_output_details()]

    (s_in, z_in), (s_out, z_out) = scales(ptq)
    ((q_in, y_in), (q_out, y_out)) = scales(start)
    assert (z_in, z_out) == (y_in, y_out) and q_in == pytest.approx(s_in, rel=1e-6)
    assert q_out == pytest.approx(s_out, rel=1e-5)
    assert np.array_equal(run_tflite(ptq, x), run_tflite(start, x))


def test_qat_keeps_its_best_epoch_on_held_out_training_data():
    """A learning rate that wrecks the model: the held-out share of the training data keeps the
    calibrated start (epoch 0), weights and ranges as they were; never the evaluation data."""
    from toolchain.compress.data import Dataset
    from toolchain.compress.pipeline import calibration_samples, compress, split_validation
    from toolchain.compress.recipe import QatOptions, Recipe, TrainOptions

    x, y = blob_data(160)
    train = Dataset(x, y, "blobs")
    fit_part, held = split_validation(train, 0.25)
    assert (len(fit_part), len(held)) == (120, 40)
    assert sorted(np.concatenate([fit_part.x, held.x]).sum(axis=(1, 2, 3))) == sorted(x.sum(axis=(1, 2, 3)))
    model = bn_cnn()
    model.compile(keras.optimizers.Adam(1e-2), keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.fit(x, y, batch_size=32, epochs=3, verbose=0)  # a start worth keeping
    reference = qat.quantize_model(model)
    qat.calibrate_ranges(reference, calibration_samples(train, None))
    result = compress(model, Recipe(train=TrainOptions(2, 32, 50.0, "none"), qat=QatOptions(validation=0.25)),
                      train)
    assert "; epoch 0 of 2 kept (held-out 40 training samples: " in result.final.detail
    for a, b in zip(result.model.get_weights(), reference.get_weights(), strict=True):
        assert np.array_equal(a, b)
