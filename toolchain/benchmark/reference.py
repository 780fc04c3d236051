"""The inputs a benchmark feeds, and what the host computes for them (the tflite-micro
interpreter: the oracle for what a device running the model computes)."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from toolchain.base.errors import DataError
from toolchain.base.tflite_reader import TfliteModel

_INT_RANGES = {"int8": (-128, 127), "uint8": (0, 255), "int16": (-32768, 32767)}


@dataclass(frozen=True)
class TensorSpec:
    shape: tuple[int, ...]
    dtype: str
    scale: float | None
    zero_point: int

    @property
    def nbytes(self) -> int:
        return int(np.prod(self.shape)) * np.dtype(self.dtype).itemsize

    def dequantize(self, q: np.ndarray) -> np.ndarray:
        if self.scale is None:
            return q.astype(np.float64)
        return (q.astype(np.float64) - self.zero_point) * self.scale


def tensor_spec(model: TfliteModel, index: int) -> TensorSpec:
    t = model.main.tensors[index]
    scale = t.quant.scales[0] if t.quant and t.quant.scales else None
    zp = t.quant.zero_points[0] if t.quant and t.quant.zero_points else 0
    return TensorSpec(shape=tuple(t.shape), dtype=t.dtype, scale=scale, zero_point=int(zp))


def io_specs(model: TfliteModel) -> tuple[TensorSpec, TensorSpec]:
    return tensor_spec(model, model.main.inputs[0]), tensor_spec(model, model.main.outputs[0])


@dataclass(frozen=True)
class Samples:
    inputs: np.ndarray  # (N, *input shape), in the model's input dtype
    labels: np.ndarray | None
    source: str  # the file, or "random (seed N)"


def random_samples(spec: TensorSpec, count: int, seed: int = 0) -> Samples:
    rng = np.random.default_rng(seed)
    shape = (count,) + spec.shape
    if spec.dtype in _INT_RANGES:
        lo, hi = _INT_RANGES[spec.dtype]
        data = rng.integers(lo, hi + 1, size=shape).astype(spec.dtype)
    else:
        data = rng.standard_normal(shape).astype(spec.dtype)
    return Samples(inputs=data, labels=None, source=f"random (seed {seed})")


def _pick(arrays: dict, names: tuple[str, ...]):
    for n in names:
        if n in arrays:
            return arrays[n]
    return None


def load_samples(path: Path, spec: TensorSpec, limit: int, classes: int | None = None) -> Samples:
    """Read x (and y) from an .npz: keys x/inputs/data (and y/labels), else the first two arrays.
    Real-valued inputs are quantized with the model's input scale and zero point; labels must be
    class indices below `classes` (the model's outputs), or one-hot rows."""
    from toolchain.data import read_array_file

    arrays = read_array_file(Path(path))
    x = _pick(arrays, ("x", "inputs", "data", "x_test"))
    y = _pick(arrays, ("y", "labels", "y_test"))
    if x is None:
        names = sorted(arrays)
        if not names:
            raise DataError(path, "holds no arrays")
        x = arrays[names[0]]
        y = arrays[names[1]] if len(names) > 1 else None
    per_sample = int(np.prod(spec.shape))
    if x.size % per_sample or x.shape[0] == 0:
        raise DataError(path, f"inputs of shape {x.shape} do not split into samples of shape {spec.shape}")
    x = x.reshape((-1,) + spec.shape)[:limit]
    if np.issubdtype(x.dtype, np.floating) and not np.isfinite(x).all():
        raise DataError(path, "holds NaN or infinite values")
    if np.issubdtype(x.dtype, np.floating) and spec.dtype in _INT_RANGES:
        if spec.scale is None:
            raise DataError(path, "real-valued inputs, but the model's input has no quantization")
        lo, hi = _INT_RANGES[spec.dtype]
        x = np.clip(np.round(x / spec.scale) + spec.zero_point, lo, hi).astype(spec.dtype)
    elif x.dtype != np.dtype(spec.dtype):
        raise DataError(path, f"inputs are {x.dtype}, the model takes {spec.dtype}")
    if y is not None:
        y = np.asarray(y)
        if y.dtype.kind not in "biuf" or y.ndim == 0 or y.shape[0] == 0:
            raise DataError(path, f"labels must be class indices or one-hot rows, got {y.dtype} of shape {y.shape}")
        if y.dtype.kind == "f" and not np.isfinite(y).all():
            raise DataError(path, "the labels hold NaN or infinite values")
        if y.ndim > 1 and int(np.prod(y.shape[1:])) > 1:  # one-hot
            y = np.argmax(y.reshape(y.shape[0], -1), axis=1)
        y = y.reshape(len(y))
        if y.dtype.kind == "f":
            if (y != np.round(y)).any():
                raise DataError(path, "the labels are not whole numbers: expected class indices or one-hot rows")
            y = y.astype(np.int64)
        y = y[:len(x)]
        if len(y) != len(x):
            raise DataError(path, f"{len(x)} inputs but {len(y)} labels")
        if y.min() < 0 or (classes is not None and y.max() >= classes):
            bad = int(y.min()) if y.min() < 0 else int(y.max())
            raise DataError(path, f"label {bad} is not a class index of this model"
                                  + (f" (0 to {classes - 1}: it has {classes} outputs)" if classes else ""))
    return Samples(inputs=x, labels=y, source=str(path))


def host_reference(model_bytes: bytes, inputs: np.ndarray, input_shape: tuple[int, ...],
                   source: str = "model") -> list[np.ndarray]:
    """Outputs of the tflite-micro interpreter, one array per sample, with the arena `validate`
    gives it; run in a forked child (a model that crashes TFLM is a ModelCrashError)."""
    from toolchain.oracle import run_tflm

    batch = np.asarray(inputs).reshape((len(inputs),) + tuple(input_shape))
    return [row.ravel() for row in run_tflm(model_bytes, batch, source=source)]
