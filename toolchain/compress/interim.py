"""Stand-ins for the lead's `toolchain.convert.convert_int8` and `toolchain.arena` (not on this branch).

Both are kept to one function each so that merging swaps them for the real passes in one place:
`convert_int8_interim` -> `toolchain.convert.convert_int8`, `measure_arena_interim` ->
`toolchain.arena`. Nothing else in toolchain.compress converts models or sizes arenas.
"""
from __future__ import annotations

import contextlib
import os

import numpy as np

from toolchain.errors import ConversionError


def convert_int8_interim(model, calib: np.ndarray, max_samples: int = 200) -> bytes:
    """Full-integer int8 TFLite (int8 input and output), batch fixed to 1, per-channel weights."""
    import tensorflow as tf
    from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

    shape = [1] + list(model.inputs[0].shape[1:])
    spec = tf.TensorSpec(shape, tf.float32)
    function = tf.function(lambda x: model(x, training=False), input_signature=[spec])
    with quiet_stderr():  # grappler logs each session it starts
        frozen = convert_variables_to_constants_v2(function.get_concrete_function())
    converter = tf.lite.TFLiteConverter.from_concrete_functions([frozen])
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    samples = np.asarray(calib[:max_samples], dtype=np.float32)
    converter.representative_dataset = lambda: ([samples[i:i + 1]] for i in range(len(samples)))
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter.inference_input_type = tf.int8
    converter.inference_output_type = tf.int8
    try:
        with quiet_stderr():
            return bytes(converter.convert())
    except Exception as exc:  # the converter raises many types; the user sees one error
        raise ConversionError(f"int8 conversion failed: {exc}") from None


@contextlib.contextmanager
def quiet_stderr():
    """Silence C-level stderr (fd 2): TFLM and the converter print there."""
    saved = os.dup(2)
    try:
        with open(os.devnull, "wb") as null:
            os.dup2(null.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def _fits(model: bytes, arena: int) -> bool:
    from tflite_micro.python.tflite_micro import runtime

    try:
        with quiet_stderr():
            runtime.Interpreter.from_bytes(model, arena_size=arena)
        return True
    except (RuntimeError, ValueError):
        return False


def measure_arena_interim(model: bytes, granularity: int = 16) -> int:
    """Smallest TFLM tensor arena (bytes, to `granularity`) in which the model allocates."""
    hi = 1 << 14
    while not _fits(model, hi):
        hi *= 2
        if hi > 1 << 30:
            raise ConversionError("the model does not allocate in a 1 GiB TFLM arena")
    lo = 0
    while hi - lo > granularity:
        mid = (lo + hi) // 2
        if _fits(model, mid):
            hi = mid
        else:
            lo = mid
    return hi


def load_keras_interim(path):
    """Stand-in for `toolchain.loader.load_model(path)`: a Keras 3 model from .keras / .h5."""
    from pathlib import Path

    from toolchain.errors import ModelLoadError

    import keras
    # Registers edgec's own layers (pruning and clustering wrappers) for deserialization.
    import toolchain.compress.clustering  # noqa: F401
    import toolchain.compress.pruning  # noqa: F401

    path = Path(path)
    if path.is_dir():
        raise ModelLoadError(path, "a SavedModel folder cannot be compressed as a Keras model",
                             "save it as .keras with Keras 3")
    try:
        return keras.models.load_model(path, compile=False)
    except Exception as exc:  # Keras raises many types for a bad file
        raise ModelLoadError(path, f"not a loadable Keras model: {exc}") from None
