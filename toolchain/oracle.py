"""Run a .tflite model on the tflite-micro Python interpreter: what a device with TFLM computes.

TFLM's reference kernels are the oracle of the C engine's bit-exactness. Imports tflite_micro
lazily (it is heavy and not needed by commands that do not run a model).
"""
from __future__ import annotations

import numpy as np

from toolchain.base.errors import ModelLoadError

DEFAULT_ARENA_BYTES = 4 * 1024 * 1024


def run_tflm(model_bytes: bytes, inputs: np.ndarray, arena_bytes: int = DEFAULT_ARENA_BYTES,
             source: str = "model") -> np.ndarray:
    """One TFLM inference per row of `inputs` ([n, *input_shape]); returns [n, *output_shape]."""
    from tflite_micro.python.tflite_micro import runtime

    try:
        interpreter = runtime.Interpreter.from_bytes(model_bytes, arena_size=arena_bytes)
    except (RuntimeError, ValueError) as exc:
        raise ModelLoadError(source, f"tflite-micro cannot load the model ({exc})") from None
    details = interpreter.get_input_details(0)
    shape, dtype = tuple(int(d) for d in details["shape"]), details["dtype"]
    outputs = []
    for row in inputs:
        interpreter.set_input(np.asarray(row, dtype=dtype).reshape(shape), 0)
        interpreter.invoke()
        outputs.append(np.array(interpreter.get_output(0)).reshape(-1).copy())
    out_shape = tuple(int(d) for d in interpreter.get_output_details(0)["shape"])
    return np.stack(outputs).reshape((len(outputs),) + out_shape)
