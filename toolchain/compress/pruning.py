"""Magnitude pruning on Keras 3, in the manner of tfmot's `prune_low_magnitude`.

`prune_low_magnitude(model, pruning_schedule=...)` wraps the chosen layers in `PruneLowMagnitude`,
which holds a 0/1 mask per kernel and multiplies the kernel by it in every forward pass. During
`fit`, the `UpdatePruningStep` callback advances the step, recomputes the masks when the schedule
says so (the smallest magnitudes go to zero), and writes the masked kernels back after every batch
so that pruned weights stay exactly zero. `strip_pruning` returns plain layers holding the masked
weights.

`block_size=B` (B > 1) prunes whole aligned blocks of B consecutive taps per output channel, in
the order the TFLite kernel stores them (toolchain.compress.blocks: the layout, the score and the
depthwise rule), which the engine's block-sparse kernels run in multiply pairs; depthwise kernels
lose whole (tap, group of 4 channels) units instead, whatever B (the engine's dw_block storage).

Unstructured sparsity does not make an int8 TFLite model smaller on TFLM (its buffers are dense);
it pays off only in a compressed archive (zip size) or with a sparse-aware runtime.
"""
from __future__ import annotations

import numpy as np
import keras
from keras import ops

from toolchain.base.errors import OptionError
from toolchain.compress import blocks
from toolchain.compress.graph import Replacement, clone_layer, rebuild
from toolchain.compress.layers import kernel_names, select_layers



def _check_sparsity(name: str, value: float) -> float:
    value = float(value)
    if not 0.0 <= value < 1.0:
        raise OptionError(name, value, "a sparsity in [0, 1)")
    return value


def _check_steps(begin_step: int, end_step: int, frequency: int, end_required: bool) -> None:
    if int(begin_step) < 0:
        raise OptionError("begin_step", begin_step, "an integer >= 0")
    if end_required and int(end_step) < int(begin_step):
        raise OptionError("end_step", end_step, f"an integer >= begin_step ({begin_step})")
    if not end_required and int(end_step) != -1 and int(end_step) < int(begin_step):
        raise OptionError("end_step", end_step, f"-1 (never stop) or an integer >= begin_step ({begin_step})")
    if int(frequency) <= 0:
        raise OptionError("frequency", frequency, "an integer > 0")


class PruningSchedule:
    """When to prune and to which sparsity: `schedule(step) -> (prune_now, sparsity)`."""

    begin_step: int
    end_step: int
    frequency: int

    def sparsity_at(self, step: int) -> float:
        raise NotImplementedError

    def __call__(self, step: int) -> tuple[bool, float]:
        step = int(step)
        end = self.end_step if self.end_step >= 0 else None
        in_range = step >= self.begin_step and (end is None or step <= end)
        turn = (step - self.begin_step) % self.frequency == 0 or step == end
        return bool(in_range and turn), self.sparsity_at(step)

    def get_config(self) -> dict:
        return {"class_name": type(self).__name__, "config": dict(self.__dict__)}

    @staticmethod
    def from_config(config: dict) -> "PruningSchedule":
        kinds = {"ConstantSparsity": ConstantSparsity, "PolynomialDecay": PolynomialDecay}
        return kinds[config["class_name"]](**config["config"])

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.__dict__.items())
        return f"{type(self).__name__}({args})"


class ConstantSparsity(PruningSchedule):
    """Prune to `target_sparsity` at `begin_step` and every `frequency` steps until `end_step`."""

    def __init__(self, target_sparsity: float, begin_step: int = 0, end_step: int = -1, frequency: int = 100):
        self.target_sparsity = _check_sparsity("target_sparsity", target_sparsity)
        _check_steps(begin_step, end_step, frequency, end_required=False)
        self.begin_step, self.end_step, self.frequency = int(begin_step), int(end_step), int(frequency)

    def sparsity_at(self, step: int) -> float:
        return self.target_sparsity


class PolynomialDecay(PruningSchedule):
    """Sparsity rising from `initial_sparsity` to `final_sparsity` between begin and end step.

    s(t) = final + (initial - final) * (1 - p)^power, p = (t - begin) / (end - begin) in [0, 1].
    The end step is always a pruning step, so the final sparsity is reached exactly there.
    """

    def __init__(self, initial_sparsity: float, final_sparsity: float, begin_step: int, end_step: int,
                 power: float = 3, frequency: int = 100):
        self.initial_sparsity = _check_sparsity("initial_sparsity", initial_sparsity)
        self.final_sparsity = _check_sparsity("final_sparsity", final_sparsity)
        _check_steps(begin_step, end_step, frequency, end_required=True)
        self.begin_step, self.end_step, self.frequency = int(begin_step), int(end_step), int(frequency)
        self.power = float(power)

    def sparsity_at(self, step: int) -> float:
        span = max(self.end_step - self.begin_step, 1)
        p = min(max((int(step) - self.begin_step) / span, 0.0), 1.0)
        return self.final_sparsity + (self.initial_sparsity - self.final_sparsity) * (1.0 - p) ** self.power


def magnitude_mask(weights: np.ndarray, sparsity: float) -> np.ndarray:
    """0/1 mask zeroing exactly round(sparsity * size) of the smallest magnitudes."""
    k = int(round(sparsity * weights.size))
    mask = np.ones(weights.size, dtype=weights.dtype)
    if k > 0:
        order = np.argsort(np.abs(weights).ravel(), kind="stable")
        mask[order[:k]] = 0
    return mask.reshape(weights.shape)


def m_by_n_mask(weights: np.ndarray, m: int, n: int, reduce_axis: int) -> np.ndarray:
    """0/1 mask keeping the m largest magnitudes in each run of n weights along `reduce_axis`."""
    moved = np.moveaxis(np.abs(weights), reduce_axis, -1)
    if moved.shape[-1] % n:
        raise OptionError("sparsity_m_by_n", f"{m}:{n}",
                          f"a group size dividing the input channels ({moved.shape[-1]})")
    groups = moved.reshape(-1, n)
    order = np.argsort(-groups, axis=1, kind="stable")
    keep = np.zeros_like(groups)
    np.put_along_axis(keep, order[:, :m], 1.0, axis=1)
    return np.moveaxis(keep.reshape(moved.shape), -1, reduce_axis).astype(weights.dtype)


def block_magnitude_mask(weights: np.ndarray, sparsity: float, block: int) -> np.ndarray:
    """0/1 mask of a Dense / Conv kernel zeroing round(sparsity x blocks) whole blocks of `block` taps
    (toolchain.compress.blocks)."""
    rows = blocks.keras_rows(weights)
    return blocks.from_keras_rows(blocks.block_mask(rows, sparsity, block), weights.shape)


def depthwise_block_mask(weights: np.ndarray, sparsity: float) -> np.ndarray:
    """0/1 mask of a depthwise kernel (kh, kw, cin, multiplier) zeroing whole (tap, group of 4
    output channels) units (toolchain.compress.blocks.dw_block_mask)."""
    rows = blocks.keras_depthwise_rows(weights)
    return blocks.from_keras_depthwise_rows(blocks.dw_block_mask(rows, sparsity), weights.shape)


def check_block_size(value) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or int(value) < 1:
        raise OptionError("block_size", value, "an integer >= 1 (1: unstructured)")
    return int(value)


def _depthwise(layer: keras.Layer, kernel_name: str) -> bool:
    return isinstance(layer, keras.layers.DepthwiseConv2D) or kernel_name == "depthwise_kernel"


def _reduce_axis(layer: keras.Layer, kernel_name: str) -> int:
    # The axis summed over in a dot product: input features / input channels.
    if isinstance(layer, keras.layers.Dense):
        return 0
    return -2


class PruneLowMagnitude(keras.layers.Wrapper):
    """A layer whose kernels are multiplied by 0/1 masks that a pruning schedule updates."""

    def __init__(self, layer, pruning_schedule=None, sparsity_m_by_n=None, block_size=1, **kwargs):
        super().__init__(layer, **kwargs)
        self.block_size = check_block_size(block_size)
        if self.block_size > 1 and sparsity_m_by_n is not None:
            raise OptionError("block_size", self.block_size, "1 with sparsity_m_by_n (they are two patterns)")
        if isinstance(pruning_schedule, dict):
            pruning_schedule = PruningSchedule.from_config(pruning_schedule)
        self.pruning_schedule = pruning_schedule or ConstantSparsity(0.5)
        if sparsity_m_by_n is not None:
            m, n = (int(v) for v in sparsity_m_by_n)
            if not 0 < m < n:
                raise OptionError("sparsity_m_by_n", f"{m}:{n}", "m:n with 0 < m < n, e.g. 2:4")
            sparsity_m_by_n = (m, n)
        self.sparsity_m_by_n = sparsity_m_by_n
        self.kernel_names = kernel_names(layer)

    def build(self, input_shape=None):
        if not self.layer.built:
            self.layer.build(input_shape)
        self.masks = [
            self.add_weight(name=f"{name}_mask", shape=getattr(self.layer, name).shape,
                            initializer="ones", trainable=False)
            for name in self.kernel_names
        ]
        self.pruning_step = self.add_weight(name="pruning_step", shape=(), initializer="zeros",
                                            dtype="int32", trainable=False)
        self.built = True

    def call(self, inputs, *args, **kwargs):
        mapping = [
            (getattr(self.layer, name), ops.multiply(getattr(self.layer, name).value, mask))
            for name, mask in zip(self.kernel_names, self.masks)
        ]
        with keras.StatelessScope(state_mapping=mapping):
            return self.layer(inputs, *args, **kwargs)

    def compute_output_shape(self, input_shape):
        return self.layer.compute_output_shape(input_shape)

    # Done outside the compiled step, by UpdatePruningStep.
    def update_masks(self, step: int) -> bool:
        prune_now, sparsity = self.pruning_schedule(step)
        if not prune_now:
            return False
        self._set_masks(sparsity)
        return True

    def prune_now(self) -> None:
        """One-shot: masks at the schedule's final sparsity, applied to the kernels."""
        schedule = self.pruning_schedule
        self._set_masks(schedule.sparsity_at(max(schedule.end_step, schedule.begin_step)))
        self.apply_masks()

    def _set_masks(self, sparsity: float) -> None:
        for name, mask in zip(self.kernel_names, self.masks):
            w = np.asarray(getattr(self.layer, name).numpy()) * mask.numpy()
            if self.sparsity_m_by_n is not None:
                new = m_by_n_mask(w, *self.sparsity_m_by_n, reduce_axis=_reduce_axis(self.layer, name))
            elif self.block_size > 1 and _depthwise(self.layer, name):
                new = depthwise_block_mask(w, sparsity)
            elif self.block_size > 1:
                new = block_magnitude_mask(w, sparsity, self.block_size)
            else:
                new = magnitude_mask(w, sparsity)
            mask.assign(new)

    def apply_masks(self) -> None:
        for name, mask in zip(self.kernel_names, self.masks):
            variable = getattr(self.layer, name)
            variable.assign(ops.multiply(variable.value, mask.value))

    def get_config(self):
        config = super().get_config()
        config["pruning_schedule"] = self.pruning_schedule.get_config()
        config["sparsity_m_by_n"] = self.sparsity_m_by_n
        config["block_size"] = self.block_size
        return config


def pruned_wrappers(model: keras.Model) -> list[PruneLowMagnitude]:
    return [layer for layer in model.layers if isinstance(layer, PruneLowMagnitude)]


class UpdatePruningStep(keras.callbacks.Callback):
    """Advances the pruning step each batch, updates masks on schedule, keeps pruned weights zero."""

    def on_train_begin(self, logs=None):
        self._wrappers = pruned_wrappers(self.model)
        if not self._wrappers:
            raise OptionError("UpdatePruningStep", "callback", "a model with layers wrapped by prune_low_magnitude")

    def on_train_batch_begin(self, batch, logs=None):
        for wrapper in self._wrappers:
            step = int(wrapper.pruning_step.numpy()) + 1
            wrapper.pruning_step.assign(step)
            if wrapper.update_masks(step):
                wrapper.apply_masks()

    def on_train_batch_end(self, batch, logs=None):
        for wrapper in self._wrappers:
            wrapper.apply_masks()


def prune_low_magnitude(
    to_prune,
    pruning_schedule: PruningSchedule | None = None,
    sparsity_m_by_n: tuple[int, int] | None = None,
    layers: list[str] | None = None,
    exclude: tuple[str, ...] = (),
    per_layer: dict[str, PruningSchedule] | None = None,
    block_size: int = 1,
):
    """Wrap layers for magnitude pruning; `to_prune` is a Keras model or a single layer.

    On a model, `layers` names the layers to prune (default: every Dense/Conv kernel except the
    first convolution and the last Dense), `per_layer` gives some of them their own schedule.
    `block_size` > 1: whole blocks of that many taps per output channel (depthwise kernels: whole
    (tap, group of 4 channels) units).
    """
    schedule = pruning_schedule or ConstantSparsity(0.5)
    if isinstance(to_prune, keras.layers.Layer) and not isinstance(to_prune, keras.Model):
        return PruneLowMagnitude(to_prune, schedule, sparsity_m_by_n, block_size)
    if check_block_size(block_size) > 1 and sparsity_m_by_n is not None:
        raise OptionError("block_size", block_size, "1 with sparsity_m_by_n (they are two patterns)")
    per_layer = dict(per_layer or {})
    chosen = set(select_layers(to_prune, "prune layers", layers, exclude))
    if per_layer:
        chosen |= set(select_layers(to_prune, "prune per_layer", list(per_layer)))

    def wrap(layer):
        if layer.name not in chosen:
            return None
        inner = clone_layer(layer)
        wrapper = PruneLowMagnitude(inner, per_layer.get(layer.name, schedule), sparsity_m_by_n, block_size,
                                    name=f"prune_low_magnitude_{layer.name}")
        return Replacement([wrapper], [None])

    new_model = rebuild(to_prune, wrap)
    for layer in new_model.layers:  # carry the weights into the wrapped copies
        if isinstance(layer, PruneLowMagnitude):
            original = to_prune.get_layer(layer.layer.name)
            layer.layer.set_weights(original.get_weights())
    return new_model


def strip_pruning(model: keras.Model) -> keras.Model:
    """Plain layers with the masked (pruned) weights in place of every PruneLowMagnitude."""

    def unwrap(layer):
        if not isinstance(layer, PruneLowMagnitude):
            return None
        weights = []
        masks = {name: mask.numpy() for name, mask in zip(layer.kernel_names, layer.masks)}
        for variable in layer.layer.weights:
            value = variable.numpy()
            for name, mask in masks.items():
                if variable is getattr(layer.layer, name):
                    value = value * mask
            weights.append(value)
        return Replacement([clone_layer(layer.layer)], [weights])

    return rebuild(model, unwrap)


def kernel_sparsity(model: keras.Model) -> dict[str, float]:
    """Fraction of exact zeros in each kernel, keyed by layer name (wrapped layers by inner name)."""
    result = {}
    for layer in model.layers:
        inner = layer.layer if isinstance(layer, PruneLowMagnitude) else layer
        for name in kernel_names(inner):
            w = getattr(inner, name).numpy()
            if isinstance(layer, PruneLowMagnitude):
                w = w * layer.masks[layer.kernel_names.index(name)].numpy()
            key = inner.name if len(kernel_names(inner)) == 1 else f"{inner.name}/{name}"
            result[key] = float(np.mean(w == 0))
    return result
