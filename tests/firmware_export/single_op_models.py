"""Small int8 models built with the real TFLite converter, one op (or op variant) each.

Each case is a Keras model on a small input, with seeded random weights (biases included), fully
int8-quantized from a seeded representative dataset. Building all of them takes a few seconds;
tests build them once per session.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Case:
    name: str
    input_shape: tuple[int, ...]
    build: object  # (keras, x) -> output tensor
    float_io: bool = False
    expected_ops: tuple[str, ...] = ()  # ops the converted model must contain


def _conv(**kw):
    return lambda keras, x: keras.layers.Conv2D(**kw)(x)


def _dw(**kw):
    return lambda keras, x: keras.layers.DepthwiseConv2D(**kw)(x)


CASES = [
    Case("conv_same_s1_relu", (9, 9, 4), _conv(filters=5, kernel_size=3, padding="same", activation="relu"), expected_ops=("CONV_2D",)),
    Case("conv_same_s2_relu6", (10, 9, 3), _conv(filters=6, kernel_size=3, strides=2, padding="same", activation="relu6"), expected_ops=("CONV_2D",)),
    Case("conv_valid_s2x1", (9, 8, 4), _conv(filters=4, kernel_size=(3, 2), strides=(2, 1), padding="valid"), expected_ops=("CONV_2D",)),
    Case("conv_dilated", (11, 11, 3), _conv(filters=4, kernel_size=3, dilation_rate=2, padding="same"), expected_ops=("CONV_2D",)),
    Case("conv_5x5_s3", (13, 12, 2), _conv(filters=3, kernel_size=5, strides=3, padding="same", activation="relu"), expected_ops=("CONV_2D",)),
    Case("conv_1x1", (6, 6, 20), _conv(filters=17, kernel_size=1), expected_ops=("CONV_2D",)),
    Case("conv_grouped", (7, 7, 8), _conv(filters=8, kernel_size=3, padding="same", groups=2), expected_ops=("CONV_2D",)),
    Case("conv_tanh_activation", (6, 6, 3), _conv(filters=4, kernel_size=3, padding="same", activation="tanh"), expected_ops=("CONV_2D", "TANH")),
    Case("dw_same_s1_relu6", (9, 9, 20), _dw(kernel_size=3, padding="same", activation="relu6"), expected_ops=("DEPTHWISE_CONV_2D",)),
    Case("dw_same_s2", (10, 11, 6), _dw(kernel_size=3, strides=2, padding="same", activation="relu"), expected_ops=("DEPTHWISE_CONV_2D",)),
    Case("dw_valid_multiplier2", (8, 8, 3), _dw(kernel_size=(3, 2), depth_multiplier=2, padding="valid"), expected_ops=("DEPTHWISE_CONV_2D",)),
    Case("dw_dilated", (12, 12, 17), _dw(kernel_size=3, dilation_rate=2, padding="same"), expected_ops=("DEPTHWISE_CONV_2D",)),
    Case("dw_1ch_same_s1", (7, 6, 1), _dw(kernel_size=3, padding="same", activation="relu"), expected_ops=("DEPTHWISE_CONV_2D",)),
    Case("dw_3ch_valid_s2", (9, 10, 3), _dw(kernel_size=3, strides=2, padding="valid"), expected_ops=("DEPTHWISE_CONV_2D",)),
    # channels a multiple of 4 over the whole int8 range: the generation-time DSP layout (dwlayout.py)
    Case("dw_layout_same_s1", (7, 9, 12), _dw(kernel_size=3, padding="same"), expected_ops=("DEPTHWISE_CONV_2D",)),
    Case("dw_layout_same_s2_relu", (9, 8, 8), _dw(kernel_size=3, strides=2, padding="same", activation="relu"), expected_ops=("DEPTHWISE_CONV_2D",)),
    Case("dw_layout_valid_5x1", (11, 2, 8), _dw(kernel_size=(5, 1), padding="valid"), expected_ops=("DEPTHWISE_CONV_2D",)),
    # ... 5 groups of 4 channels, dilation 3: more than 4 border columns (edgec_dwl_k3_row)
    Case("dw_layout_dilated3_20ch", (13, 11, 20), _dw(kernel_size=3, dilation_rate=3, padding="same"), expected_ops=("DEPTHWISE_CONV_2D",)),
    # ... rows too long for a line of zp bytes down (the border pixels list their taps); a 3 x 3 map
    Case("dw_layout_long_rows", (4, 9, 240), _dw(kernel_size=3, padding="same"), expected_ops=("DEPTHWISE_CONV_2D",)),
    Case("dw_layout_3x3_map", (3, 3, 24), _dw(kernel_size=3, padding="same"), expected_ops=("DEPTHWISE_CONV_2D",)),
    # column layers (kernel and input 1 wide, valid): from 5 taps by pairs of taps (dwpairs.py) when the
    # outputs are enough to pay for the pairs' building, else (and 3 taps) by the dense layout
    Case("dw_pair_3x1", (9, 1, 8), _dw(kernel_size=(3, 1), padding="valid"), expected_ops=("DEPTHWISE_CONV_2D",)),
    Case("dw_pair_5x1", (60, 1, 8), _dw(kernel_size=(5, 1), padding="valid"), expected_ops=("DEPTHWISE_CONV_2D",)),
    Case("dw_pair_10x1_12ch", (40, 1, 12), _dw(kernel_size=(10, 1), padding="valid"), expected_ops=("DEPTHWISE_CONV_2D",)),
    Case("dw_pair_15x1_dilated2", (70, 1, 8), _dw(kernel_size=(15, 1), dilation_rate=(2, 1), padding="valid"), expected_ops=("DEPTHWISE_CONV_2D",)),
    Case("dw_pair_7x1_dilated3_12ch", (60, 1, 12), _dw(kernel_size=(7, 1), dilation_rate=(3, 1), padding="valid"), expected_ops=("DEPTHWISE_CONV_2D",)),
    # ... as many rows as a group's pairs on the stack hold (dwpairs.MAX_ROWS); 15 taps over one output (dense)
    Case("dw_pair_6x1_96rows", (96, 1, 4), _dw(kernel_size=(6, 1), padding="valid"), expected_ops=("DEPTHWISE_CONV_2D",)),
    Case("dw_pair_15x1_one_output", (15, 1, 8), _dw(kernel_size=(15, 1), padding="valid"), expected_ops=("DEPTHWISE_CONV_2D",)),
    Case("dw_5x5_5ch_same", (9, 8, 5), _dw(kernel_size=5, padding="same", activation="relu6"), expected_ops=("DEPTHWISE_CONV_2D",)),
    # A kernel the size of the whole map, valid: a Dense made separable (toolchain.compress.filters).
    Case("dw_whole_map_valid", (4, 3, 10), _dw(kernel_size=(4, 3), padding="valid"), expected_ops=("DEPTHWISE_CONV_2D",)),
    # ... at rank 3 (`--separable-rank`, per_layer): depth multiplier 3 over the whole map
    Case("dw_whole_map_valid_multiplier3", (3, 3, 6), _dw(kernel_size=3, depth_multiplier=3, padding="valid"), expected_ops=("DEPTHWISE_CONV_2D",)),
    Case("conv_1x1_wide_odd", (5, 5, 8), _conv(filters=37, kernel_size=1, activation="relu"), expected_ops=("CONV_2D",)),
    Case("dense_odd_rows", (37,), lambda k, x: k.layers.Dense(13, activation="relu6")(x), expected_ops=("FULLY_CONNECTED",)),
    Case("dense_relu", (30,), lambda k, x: k.layers.Dense(12, activation="relu")(x), expected_ops=("FULLY_CONNECTED",)),
    Case("dense_batched_rows", (3, 10), lambda k, x: k.layers.Dense(7)(x), expected_ops=("FULLY_CONNECTED",)),
    Case("avgpool_same", (9, 9, 5), lambda k, x: k.layers.AveragePooling2D(3, strides=2, padding="same")(x), expected_ops=("AVERAGE_POOL_2D",)),
    Case("avgpool_valid", (8, 8, 3), lambda k, x: k.layers.AveragePooling2D(2)(x), expected_ops=("AVERAGE_POOL_2D",)),
    Case("maxpool_same", (9, 7, 4), lambda k, x: k.layers.MaxPooling2D(3, strides=2, padding="same")(x), expected_ops=("MAX_POOL_2D",)),
    Case("maxpool_valid", (8, 8, 6), lambda k, x: k.layers.MaxPooling2D(2)(x), expected_ops=("MAX_POOL_2D",)),
    Case("maxpool_s1_13ch", (6, 7, 13), lambda k, x: k.layers.MaxPooling2D(3, strides=1, padding="same")(x), expected_ops=("MAX_POOL_2D",)),
    Case("add_residual_relu", (6, 6, 4),
         lambda k, x: k.layers.ReLU()(k.layers.Add()([x, k.layers.Conv2D(4, 3, padding="same")(x)])), expected_ops=("ADD",)),
    Case("add_broadcast_const", (5, 5, 4), lambda k, x: x + np.linspace(-1, 1, 4).astype(np.float32), expected_ops=("ADD",)),
    Case("sub", (5, 5, 4), lambda k, x: k.layers.Subtract()([x, k.layers.Conv2D(4, 1)(x)]), expected_ops=("SUB",)),
    Case("mul", (5, 5, 4), lambda k, x: k.layers.Multiply()([x, k.layers.Conv2D(4, 1)(x)]), expected_ops=("MUL",)),
    Case("mul_broadcast_const", (5, 5, 4), lambda k, x: x * np.linspace(-2, 2, 4).astype(np.float32), expected_ops=("MUL",)),
    Case("reshape_dense_softmax", (4, 4, 3),
         lambda k, x: k.layers.Softmax()(k.layers.Dense(10)(k.layers.Reshape((48,))(x))), expected_ops=("RESHAPE", "SOFTMAX")),
    Case("softmax_rows", (6, 9), lambda k, x: k.layers.Softmax()(x * 3.0), expected_ops=("SOFTMAX",)),
    Case("logistic", (64,), lambda k, x: k.layers.Activation("sigmoid")(x * 4.0), expected_ops=("LOGISTIC",)),
    Case("tanh", (64,), lambda k, x: k.layers.Activation("tanh")(x * 3.0), expected_ops=("TANH",)),
    Case("relu_standalone", (8, 8), lambda k, x: k.layers.ReLU()(x), expected_ops=("RELU",)),
    Case("relu6_standalone", (8, 8), lambda k, x: k.layers.ReLU(max_value=6.0)(x), expected_ops=("RELU6",)),
    Case("pad", (5, 6, 3), lambda k, x: k.layers.ZeroPadding2D(((1, 2), (0, 3)))(x), expected_ops=("PAD",)),
    Case("mean_global", (6, 5, 7), lambda k, x: k.layers.GlobalAveragePooling2D()(x), expected_ops=("MEAN",)),
    Case("mean_keepdims", (6, 5, 7), lambda k, x: k.layers.GlobalAveragePooling2D(keepdims=True)(x), expected_ops=("MEAN",)),
    Case("concat_channels", (5, 5, 3),
         lambda k, x: k.layers.Concatenate()([x, k.layers.Conv2D(2, 1)(x), k.layers.DepthwiseConv2D(3, padding="same")(x)]),
         expected_ops=("CONCATENATION",)),
    Case("concat_rows", (4, 6),
         lambda k, x: k.layers.Concatenate(axis=1)([x, k.layers.Dense(6)(x)]), expected_ops=("CONCATENATION",)),
    Case("float_io", (6, 6, 3), lambda k, x: k.layers.Dense(5)(k.layers.Flatten()(k.layers.Conv2D(4, 3, padding="same")(x))),
         float_io=True, expected_ops=("QUANTIZE", "DEQUANTIZE")),
]


def _randomize(model, rng: np.random.Generator) -> None:
    for layer in model.layers:
        weights = layer.get_weights()
        if weights:
            layer.set_weights([rng.normal(0.0, 0.5, w.shape).astype(np.float32) for w in weights])


def convert(case: Case, seed: int = 0) -> bytes:
    """Build the case's Keras model and convert it to an int8 TFLite flatbuffer."""
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(seed)
    x = keras.Input(case.input_shape, batch_size=1)
    model = keras.Model(x, case.build(keras, x))
    rng = np.random.default_rng(seed)
    _randomize(model, rng)
    samples = [rng.normal(0.0, 1.0, (1,) + case.input_shape).astype(np.float32) for _ in range(16)]

    def representative():
        for s in samples:
            yield [s]

    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = representative
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    if not case.float_io:
        converter.inference_input_type = tf.int8
        converter.inference_output_type = tf.int8
    return converter.convert()
