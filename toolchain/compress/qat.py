"""Quantization-aware training on Keras 3, in the manner of tfmot's `quantize_model`.

`quantize_model(model)` returns a model that computes in float what the int8 model the TFLite
converter makes of it computes in integers, so that fine-tuning it learns to live with int8:

- batch norm after a convolution or dense layer is folded into it first, as the converter folds
  it: w' = w * g / sqrt(v + eps) per output channel, b' = beta + (b - mean) * g / sqrt(v + eps)
  (the statistics are frozen: fine-tuning a trained model, the folded kernel and bias train);
- weights are fake-quantized per output channel, symmetric, to int8 in [-127, 127]:
  s = max|w| / 127, w_q = s * round(w / s); the gradient passes straight through (d w_q / d w = 1);
- ReLU and ReLU6 that follow (or are the activation of) the layer are applied before the output
  is fake-quantized, as the converter fuses them into the layer;
- activations are fake-quantized per tensor, asymmetric, to 8 bits over a range [min, max] that
  moving averages of each training batch's min and max learn (decay 0.999; `calibrate_ranges`
  starts them from the min and max of the float model's tensors over calibration samples, the
  ranges post-training quantization uses); the gradient passes straight through inside the range, zero outside;
- the model input is fake-quantized the same way; max pooling, average pooling, flatten, reshape,
  dropout and padding keep their input's scale (as int8 kernels do); softmax, sigmoid and tanh
  outputs get the fixed ranges of TFLite's int8 kernels; any other layer's output gets a learned
  range (the weights of layers other than Conv1D/Conv2D/DepthwiseConv2D/Dense, e.g.
  SeparableConv2D, are left to the converter's post-training quantization).

The activations are fake-quantized with TensorFlow's FakeQuantWithMinMaxVars op, which the TFLite
converter reads as the tensor's quantization: the QAT model converts through the build's own
convert pass to a full-integer model with exactly the learned ranges, and the weights, already on
their int8 grid, are quantized by the converter to the same integers. Nothing is stripped: the
QAT model is what `edgec build` converts.

Collaborative modes (tfmot's PQAT and CQAT):
- `preserve_sparsity`: a kernel that holds zeros keeps exactly those zeros (a fixed 0/1 mask);
- `preserve_clusters`: a clustered kernel (few distinct values) keeps, in each output channel,
  its values shared: the kernel is `centroids[indices]` with the indices fixed and the centroids
  trained (after folding, each output channel has its own centroids, as the converter's per-channel
  int8 weights have them).
"""
from __future__ import annotations

from dataclasses import dataclass

import keras
import numpy as np
from keras import ops

from toolchain.compress.graph import Replacement, clone_layer, layer_graph, rebuild, UnsupportedModelError
from toolchain.compress.layers import kernel_names

EMA_DECAY = 0.999
QUANTIZED_KINDS = (keras.layers.Conv1D, keras.layers.Conv2D, keras.layers.DepthwiseConv2D, keras.layers.Dense)
# Layers whose int8 kernels keep the scale of their input: no range of their own.
SAME_SCALE = (keras.layers.MaxPooling1D, keras.layers.MaxPooling2D, keras.layers.AveragePooling1D,
              keras.layers.AveragePooling2D, keras.layers.GlobalMaxPooling1D, keras.layers.GlobalMaxPooling2D,
              keras.layers.Flatten, keras.layers.Reshape, keras.layers.Dropout, keras.layers.SpatialDropout2D,
              keras.layers.ZeroPadding2D, keras.layers.Cropping2D, keras.layers.Identity)
FUSED = ("linear", "relu", "relu6")
# The output ranges of TFLite's int8 kernels for these activations (scale 1/256 or 1/128).
FIXED_RANGES = {"softmax": (0.0, 255 / 256), "sigmoid": (0.0, 255 / 256), "tanh": (-1.0, 127 / 128)}
CLUSTERED_MAX_VALUES = 256  # a kernel with at most this many distinct values, and at most a quarter
# of its size, is a clustered kernel


def _activation_name(layer) -> str:
    activation = getattr(layer, "activation", None)
    return getattr(activation, "__name__", "linear") if activation is not None else "linear"


def _relu_kind(layer) -> str | None:
    """'relu' or 'relu6' when `layer` is a plain ReLU/ReLU6 layer the converter fuses; else None."""
    if isinstance(layer, keras.layers.ReLU):
        if float(layer.negative_slope) != 0.0 or float(layer.threshold) != 0.0:
            return None
        if layer.max_value is None:
            return "relu"
        return "relu6" if float(layer.max_value) == 6.0 else None
    if isinstance(layer, keras.layers.Activation):
        name = _activation_name(layer)
        return name if name in ("relu", "relu6") else None
    return None


def channel_count(layer) -> int:
    """Output channels of a quantized layer's kernel (depthwise: input channels x multiplier)."""
    shape = tuple(layer.kernel.shape)
    return shape[-2] * shape[-1] if isinstance(layer, keras.layers.DepthwiseConv2D) else shape[-1]


def fake_quantize_weights(kernel, channels: int):
    """Per-channel symmetric int8 fake quantization of `kernel` (channels on its last axis or,
    depthwise, its last two), with a straight-through gradient."""
    flat = ops.reshape(kernel, (-1, channels))
    scale = ops.maximum(ops.max(ops.abs(flat), axis=0), 1e-12) / 127.0
    grid = ops.clip(ops.round(flat / scale), -127.0, 127.0) * scale
    quantized = flat + ops.stop_gradient(grid - flat)
    return ops.reshape(quantized, ops.shape(kernel))


class FakeQuant(keras.layers.Layer):
    """Per-tensor asymmetric 8-bit fake quantization over a range learned by moving averages
    (or fixed, for outputs whose int8 range TFLite fixes)."""

    def __init__(self, decay: float = EMA_DECAY, fixed_range=None, **kwargs):
        super().__init__(**kwargs)
        self.decay = float(decay)
        self.fixed_range = None if fixed_range is None else (float(fixed_range[0]), float(fixed_range[1]))
        self.calibrating = False  # eager calls only: running min/max instead of moving averages

    def build(self, input_shape=None):
        low, high = self.fixed_range or (0.0, 0.0)
        self.range_min = self.add_weight(name="range_min", shape=(), initializer=keras.initializers.Constant(low),
                                         trainable=False)
        self.range_max = self.add_weight(name="range_max", shape=(), initializer=keras.initializers.Constant(high),
                                         trainable=False)
        self.initialized = self.add_weight(name="initialized", shape=(), trainable=False,
                                           initializer=keras.initializers.Constant(float(self.fixed_range is not None)))
        self.built = True

    def call(self, inputs, training=None):
        import tensorflow as tf

        low, high = self.range_min, self.range_max
        if self.fixed_range is None and (training or self.calibrating):
            batch_min, batch_max = ops.min(inputs), ops.max(inputs)
            seen = self.initialized > 0
            if self.calibrating:
                low = ops.where(seen, ops.minimum(low, batch_min), batch_min)
                high = ops.where(seen, ops.maximum(high, batch_max), batch_max)
            else:
                low = ops.where(seen, self.decay * low + (1 - self.decay) * batch_min, batch_min)
                high = ops.where(seen, self.decay * high + (1 - self.decay) * batch_max, batch_max)
            self.range_min.assign(low)
            self.range_max.assign(high)
            self.initialized.assign(1.0)
            if self.calibrating:  # the float model's tensor, as the converter's calibration sees it
                return inputs
        low = ops.minimum(low, 0.0)
        high = ops.maximum(ops.maximum(high, 0.0), low + 1e-6)
        return tf.quantization.fake_quant_with_min_max_vars(inputs, low, high, num_bits=8, narrow_range=False)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "decay": self.decay, "fixed_range": self.fixed_range}


class QuantizeWeights(keras.layers.Wrapper):
    """A convolution or dense layer (batch norm already folded in) with per-channel int8
    fake-quantized weights and its fused activation; its output range is the next FakeQuant's.

    `preserve_zeros`: the kernel's zeros are kept by a fixed mask; `centroids`: the size of the
    table of shared values (0: not clustered), the kernel being `table[indices]`."""

    def __init__(self, layer, activation: str = "linear", preserve_zeros: bool = False, centroids: int = 0,
                 **kwargs):
        super().__init__(layer, **kwargs)
        if activation not in FUSED:
            raise ValueError(f"fused activation must be one of {FUSED}, not {activation!r}")
        self.activation = activation
        self.preserve_zeros = bool(preserve_zeros)
        self.centroids = int(centroids)
        self.calibrating = False  # eager calls only: the float kernel, as the converter calibrates

    def build(self, input_shape=None):
        if not self.layer.built:
            self.layer.build(input_shape)
        shape = tuple(self.layer.kernel.shape)
        if self.preserve_zeros:
            self.mask = self.add_weight(name="kernel_mask", shape=shape, initializer="ones", trainable=False)
        if self.centroids:
            self.layer.kernel.trainable = False  # the shared values are what trains
            self.table = self.add_weight(name="kernel_centroids", shape=(self.centroids,), initializer="zeros")
            self.indices = self.add_weight(name="kernel_indices", shape=shape, initializer="zeros", dtype="int32",
                                           trainable=False)
        self.built = True

    def set_kernel(self, kernel: np.ndarray, bias: np.ndarray) -> None:
        """Set the (folded) kernel and bias, and the mask and shared values that keep its structure."""
        self.layer.kernel.assign(kernel.astype(np.float32))
        self.layer.bias.assign(bias.astype(np.float32))
        if self.preserve_zeros:
            self.mask.assign((kernel != 0).astype(np.float32))
        if self.centroids:
            table, indices = channel_table(kernel, channel_count(self.layer))
            if table.size != self.centroids:
                raise ValueError(f"{self.name}: {table.size} shared values, {self.centroids} expected")
            self.table.assign(table.astype(np.float32))
            self.indices.assign(indices.reshape(kernel.shape))

    def float_kernel(self):
        """The kernel before fake quantization (shared values, zeros kept)."""
        kernel = ops.take(self.table, self.indices) if self.centroids else self.layer.kernel
        return kernel * self.mask if self.preserve_zeros else kernel

    def quantized_kernel(self):
        return fake_quantize_weights(self.float_kernel(), channel_count(self.layer))

    def call(self, inputs, training=None):
        kernel = self.float_kernel() if self.calibrating else self.quantized_kernel()
        with keras.StatelessScope(state_mapping=[(self.layer.kernel, kernel)]):
            outputs = self.layer(inputs)
        if self.activation == "relu":
            return ops.relu(outputs)
        if self.activation == "relu6":
            return ops.relu6(outputs)
        return outputs

    def compute_output_shape(self, input_shape):
        return self.layer.compute_output_shape(input_shape)

    def get_config(self):
        return {**super().get_config(), "activation": self.activation, "preserve_zeros": self.preserve_zeros,
                "centroids": self.centroids}


def channel_table(kernel: np.ndarray, channels: int) -> tuple[np.ndarray, np.ndarray]:
    """(the distinct values of each output channel one after the other, each weight's index in it)."""
    flat = kernel.reshape(-1, channels)
    tables, indices, offset = [], np.empty(flat.shape, np.int32), 0
    for c in range(channels):
        values, inverse = np.unique(flat[:, c], return_inverse=True)
        tables.append(values)
        indices[:, c] = inverse.reshape(-1) + offset
        offset += values.size
    return np.concatenate(tables), indices


def is_clustered(kernel: np.ndarray) -> bool:
    distinct = np.unique(kernel).size
    return distinct <= CLUSTERED_MAX_VALUES and distinct * 4 <= kernel.size


@dataclass(frozen=True)
class QuantizedLayer:
    """What `quantize_model` made of one weighted layer."""
    name: str
    folded: str | None  # the batch norm folded into it
    activation: str  # fused
    zeros_kept: bool
    clusters_kept: bool


def _fold(layer, bn) -> tuple[np.ndarray, np.ndarray]:
    kernel = np.asarray(layer.kernel.numpy(), np.float64)
    channels = channel_count(layer)
    bias = np.asarray(layer.bias.numpy(), np.float64) if layer.use_bias else np.zeros(channels)
    if bn is None:
        return kernel, bias
    gamma = bn.gamma.numpy() if bn.scale else np.ones(channels)
    beta = bn.beta.numpy() if bn.center else np.zeros(channels)
    factor = gamma / np.sqrt(bn.moving_variance.numpy().astype(np.float64) + bn.epsilon)
    folded = (kernel.reshape(-1, channels) * factor).reshape(kernel.shape)
    return folded, beta + (bias - bn.moving_mean.numpy()) * factor


def _foldable_bn(layer, rank: int) -> bool:
    if not isinstance(layer, keras.layers.BatchNormalization):
        return False
    axis = layer.axis if isinstance(layer.axis, int) else (layer.axis[0] if len(layer.axis) == 1 else None)
    return axis in (-1, rank - 1)


def quantize_model(model: keras.Model, preserve_sparsity: bool = True, preserve_clusters: bool = True,
                   ) -> keras.Model:
    """The QAT model of `model` (not modified): see the module docstring. Call `calibrate_ranges`
    before fine-tuning it, so that the activation ranges start where post-training
    quantization's would be."""
    graph = layer_graph(model)
    outputs = set(graph.output_names)
    absorbed: set[str] = set()
    plans: dict[str, tuple] = {}  # weighted layer name -> (bn layer or None, fused activation)
    for node in graph.nodes:
        layer = node.layer
        if type(layer) not in QUANTIZED_KINDS or node.name in absorbed:
            continue
        activation, bn, tail = _activation_name(layer), None, node.name
        rank = len(layer.output.shape)
        if activation == "linear":
            after = graph.consumers[tail]
            if (len(after) == 1 and tail not in outputs and _foldable_bn(graph.node(after[0]).layer, rank)
                    and len(graph.node(after[0]).inbound) == 1):
                bn, tail = graph.node(after[0]).layer, after[0]
            after = graph.consumers[tail]
            if len(after) == 1 and tail not in outputs and _relu_kind(graph.node(after[0]).layer):
                activation, tail = _relu_kind(graph.node(after[0]).layer), after[0]
                absorbed.add(tail)
            if bn is not None:
                absorbed.add(bn.name)
        plans[node.name] = (bn, activation)

    inputs = set(graph.input_names)
    made: dict[str, tuple[QuantizeWeights, np.ndarray, np.ndarray]] = {}
    report: list[QuantizedLayer] = []

    def replace(layer):
        node = graph.node(layer.name)
        front = ([FakeQuant(name=f"quantize_{node.inbound[0]}")]
                 if len(node.inbound) == 1 and node.inbound[0] in inputs else [])
        if layer.name in absorbed:
            return Replacement(front, [None] * len(front))
        if layer.name in plans:
            bn, activation = plans[layer.name]
            kernel, bias = _fold(layer, bn)
            zeros = bool(preserve_sparsity and (kernel == 0).any())
            clustered = bool(preserve_clusters and is_clustered(layer.kernel.numpy()))
            inner_activation = activation if activation in FUSED else "linear"
            inner = clone_layer(layer, {"activation": "linear", "use_bias": True})
            table = channel_table(kernel, channel_count(layer))[0].size if clustered else 0
            wrapper = QuantizeWeights(inner, inner_activation, zeros, table, name=f"quant_{layer.name}")
            made[layer.name] = (wrapper, kernel, bias)
            report.append(QuantizedLayer(layer.name, bn.name if bn is not None else None, inner_activation, zeros,
                                         clustered))
            tail = [FakeQuant(name=f"{layer.name}_out")]
            if activation not in FUSED:  # the activation as its own int8 op, after the layer's output
                tail += _activation_tail(layer.name, activation)
            return Replacement([*front, wrapper, *tail], [None] * (len(front) + 1 + len(tail)))
        copy = clone_layer(layer)
        layers = [*front, copy]
        if isinstance(layer, SAME_SCALE):
            pass
        elif isinstance(layer, (keras.layers.Softmax, keras.layers.Activation)):
            kind = "softmax" if isinstance(layer, keras.layers.Softmax) else _activation_name(layer)
            layers.append(_range_quant(f"{layer.name}_out", kind))
        else:
            layers.append(FakeQuant(name=f"{layer.name}_out"))
        return Replacement(layers, [None] * len(front) + [layer.get_weights()] + [None] * (len(layers) - len(front) - 1))

    qat = rebuild(model, replace, name=model.name)
    for wrapper, kernel, bias in made.values():
        wrapper.set_kernel(kernel, bias)
    qat.quantized_layers = report  # what describe() reads
    return qat


def _range_quant(name: str, activation: str) -> FakeQuant:
    fixed = FIXED_RANGES.get(activation)
    return FakeQuant(fixed_range=fixed, name=name)


def _activation_tail(name: str, activation: str) -> list:
    if activation not in FIXED_RANGES and activation not in ("elu", "swish", "silu", "gelu", "hard_sigmoid"):
        raise UnsupportedModelError("qat", f"layer '{name}': activation '{activation}' has no int8 kernel")
    return [keras.layers.Activation(activation, name=f"{name}_{activation}"),
            _range_quant(f"{name}_{activation}_out", activation)]


def fake_quant_layers(model: keras.Model) -> list[FakeQuant]:
    return [layer for layer in model.layers if isinstance(layer, FakeQuant)]


def calibrate_ranges(model: keras.Model, x: np.ndarray, batch_size: int = 64) -> None:
    """Set every learned activation range to the min and max over `x` of the float model's tensor
    (inference mode, nothing fake-quantized meanwhile): the ranges the converter's post-training
    calibration finds on the same samples, so that QAT starts at post-training quantization's point."""
    layers = [layer for layer in fake_quant_layers(model) if layer.fixed_range is None]
    for layer in layers:
        layer.initialized.assign(0.0)
    switched = layers + quantized_wrappers(model)
    for layer in switched:
        layer.calibrating = True
    try:
        for start in range(0, len(x), batch_size):
            model(np.asarray(x[start:start + batch_size], np.float32), training=False)
    finally:
        for layer in switched:
            layer.calibrating = False


def quantized_wrappers(model: keras.Model) -> list[QuantizeWeights]:
    return [layer for layer in model.layers if isinstance(layer, QuantizeWeights)]


def float_kernels(model: keras.Model) -> dict[str, np.ndarray]:
    """Each quantized layer's kernel before fake quantization (folded; zeros and shared values
    kept), keyed by the original layer's name."""
    return {w.layer.name: ops.convert_to_numpy(w.float_kernel()) for w in quantized_wrappers(model)}


def int8_kernels(model: keras.Model) -> dict[str, np.ndarray]:
    """Each quantized layer's kernel as the int8 integers it fake-quantizes to."""
    result = {}
    for w in quantized_wrappers(model):
        kernel = np.asarray(ops.convert_to_numpy(w.float_kernel()), np.float32)
        channels = channel_count(w.layer)
        flat = kernel.reshape(-1, channels)
        scale = np.maximum(np.abs(flat).max(axis=0), 1e-12) / np.float32(127.0)
        result[w.layer.name] = np.clip(np.round(flat / scale), -127, 127).astype(np.int8).reshape(kernel.shape)
    return result


def describe(model: keras.Model) -> str:
    """One line: the layers quantized, the batch norms folded, the activations fused, what is kept."""
    wrappers = quantized_wrappers(model)
    fused = sum(w.activation != "linear" for w in wrappers)
    ranges = sum(layer.fixed_range is None for layer in fake_quant_layers(model))
    parts = [f"{len(wrappers)} layers int8 per channel", f"{ranges} activation ranges learned",
             f"{fused} ReLU fused"]
    report = getattr(model, "quantized_layers", None)  # set by quantize_model (not saved)
    if report is not None:
        parts.append(f"{sum(r.folded is not None for r in report)} batch norms folded")
    zeros = [w.layer.name for w in wrappers if w.preserve_zeros]
    clusters = [w.layer.name for w in wrappers if w.centroids]
    if zeros:
        parts.append("zeros kept in " + ", ".join(zeros))
    if clusters:
        parts.append("shared values kept in " + ", ".join(clusters))
    return "; ".join(parts)
