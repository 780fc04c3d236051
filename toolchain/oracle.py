"""Run a .tflite model on the tflite-micro Python interpreter: what a device with TFLM computes.

TFLM's reference kernels are the oracle of the C engine's bit-exactness. Imports tflite_micro
lazily (it is heavy and not needed by commands that do not run a model). The interpreter runs in
a forked child (toolchain.probe): a model that crashes it is a clear error, not a dead edgec.
"""
from __future__ import annotations

import numpy as np

from toolchain.probe import DEFAULT_TIMEOUT_S, call_in_child

DEFAULT_ARENA_BYTES = 4 * 1024 * 1024
_INT_RANGES = {"int8": (-128, 127), "uint8": (0, 255), "int16": (-32768, 32767), "int32": (-1000, 1000)}


def tflm_version() -> str:
    """The tflite-micro build installed (the one every arena and reference output here comes from)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return f"tflite-micro {version('tflite-micro')}"
    except PackageNotFoundError:
        return "tflite-micro (version unknown)"


def _run(model_bytes: bytes, inputs: np.ndarray, arena_bytes: int) -> np.ndarray:
    """In the child: one TFLM inference per row of `inputs`."""
    from tflite_micro.python.tflite_micro import runtime

    interpreter = runtime.Interpreter.from_bytes(model_bytes, arena_size=arena_bytes)
    details = interpreter.get_input_details(0)
    shape, dtype = tuple(int(d) for d in details["shape"]), details["dtype"]
    outputs = []
    for row in inputs:
        interpreter.set_input(np.asarray(row, dtype=dtype).reshape(shape), 0)
        interpreter.invoke()
        outputs.append(np.array(interpreter.get_output(0)).reshape(-1).copy())
    out_shape = tuple(int(d) for d in interpreter.get_output_details(0)["shape"])
    return np.stack(outputs).reshape((len(outputs),) + out_shape)


def run_tflm(model_bytes: bytes, inputs: np.ndarray, arena_bytes: int = DEFAULT_ARENA_BYTES,
             source: str = "model", timeout_s: float | None = DEFAULT_TIMEOUT_S) -> np.ndarray:
    """One TFLM inference per row of `inputs` ([n, *input_shape]); returns [n, *output_shape].

    ModelLoadError if TFLM refuses the model, ModelCrashError if it crashes on it."""
    inputs = np.asarray(inputs)
    return call_in_child(lambda: _run(model_bytes, inputs, arena_bytes), source,
                         f"running {len(inputs)} inference(s)", timeout_s)


def try_inference(model_bytes: bytes, input_specs: list[tuple[tuple[int, ...], str]], arena_bytes: int,
                   source: str = "model", timeout_s: float | None = 120.0) -> None:
    """Run one inference on seeded random inputs (every input of the model), to prove TFLM can run
    it before a build calls it fit. `input_specs` holds (shape, dtype) of each input."""
    rng = np.random.default_rng(0)
    arrays = []
    for shape, dtype in input_specs:
        if dtype in _INT_RANGES:
            lo, hi = _INT_RANGES[dtype]
            arrays.append(rng.integers(lo, hi + 1, size=shape).astype(dtype))
        elif dtype in ("float32", "float16", "float64"):
            arrays.append(rng.standard_normal(shape).astype(dtype))
        else:
            arrays.append(np.zeros(shape, dtype=dtype if dtype != "int4" else "int8"))

    def body() -> np.ndarray:
        from tflite_micro.python.tflite_micro import runtime

        interpreter = runtime.Interpreter.from_bytes(model_bytes, arena_size=arena_bytes)
        for i, x in enumerate(arrays):
            interpreter.set_input(x, i)
        interpreter.invoke()
        return np.zeros(0)

    call_in_child(body, source, "running a test inference", timeout_s)
