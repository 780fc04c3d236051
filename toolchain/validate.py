"""Validate a runtime against the tflite-micro interpreter on the same inputs.

`validate_c_engine` generates the C engine for a model as `edgec build --runtime c` does (the same
weight storage: clustered and sparse layers as they ship), compiles it with the host C compiler, runs
it on a batch of inputs (given, or seeded random ones), runs TFLM on the same inputs, and returns
how many outputs match byte for byte, and the largest difference.
"""
from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from toolchain.base.errors import DataError, InputFileError
from toolchain.base.tflite_reader import read_tflite_bytes, read_tflite_file


@dataclass(frozen=True)
class ValidationResult:
    model: str
    runtime: str
    inputs: str  # where the inputs came from
    count: int
    exact: int  # inputs whose whole output matches TFLM byte for byte
    max_abs_diff: float
    mismatched_values: int
    arena_bytes: int
    weights: str = "auto"  # the storage mode the engine was generated with
    weights_dense_bytes: int = 0  # the conv / depthwise / FC weights as int8
    weights_stored_bytes: int = 0  # as the engine stores them (what was checked)
    storage: dict = None  # format -> number of layers stored so

    @property
    def exact_rate(self) -> float:
        return self.exact / self.count if self.count else 0.0

    @property
    def passed(self) -> bool:
        return self.count > 0 and self.exact == self.count

    def to_dict(self) -> dict:
        """The JSON rendering (docs/report-json.md, `validate`)."""
        from dataclasses import asdict

        return {"schema_version": 1, "command": "validate", **asdict(self), "exact_rate": self.exact_rate,
                "passed": self.passed}

    def to_json(self) -> str:
        from toolchain.report.build_json import to_json

        return to_json(self.to_dict())

    def lines(self) -> list[str]:
        return [
            f"model: {self.model}",
            f"runtime: {self.runtime} (engine arena {self.arena_bytes} B) vs tflite-micro interpreter",
            f"weights ({self.weights}): {self.weights_dense_bytes:,} B dense -> {self.weights_stored_bytes:,} B as "
            "stored (" + ", ".join(f"{fmt} {n}" for fmt, n in (self.storage or {}).items()) + " layers)",
            f"inputs: {self.count} ({self.inputs})",
            f"exact-match rate: {100.0 * self.exact_rate:.2f}% ({self.exact}/{self.count} inputs)",
            f"largest difference: {self.max_abs_diff:g} ({self.mismatched_values} values differ)",
        ]


def random_inputs(shape: tuple[int, ...], dtype: str, count: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    if dtype == "float32":
        return rng.normal(0.0, 1.0, (count,) + shape).astype(np.float32)
    return rng.integers(-128, 128, (count,) + shape).astype(np.int8)


def load_inputs(path: str | Path, shape: tuple[int, ...], dtype: str, quant: tuple[float, int]) -> np.ndarray:
    """Read a batch of inputs from an .npz (array 'x', or its only array; one input per row).

    Float arrays for an int8 model are quantized with the model's input scale and zero point;
    integer arrays must already be int8 values.
    """
    from toolchain.data import pick_samples, read_array_file

    path = Path(path)
    batch = pick_samples(read_array_file(path), path)  # the array 'x' (labels 'y' are ignored)
    size = int(np.prod(shape))
    if batch.ndim == 0 or batch[0].size != size:
        raise DataError(path, f"each row must hold one input of shape {shape}, got rows of shape {batch.shape[1:]}")
    return quantize_inputs(batch.reshape((len(batch),) + shape), dtype, quant, path)


def quantize_inputs(batch: np.ndarray, dtype: str, quant: tuple[float, int], path) -> np.ndarray:
    """Model inputs from an array: float values quantized with the input's scale and zero point for an
    int8 model; integer values must already be int8."""
    if np.issubdtype(batch.dtype, np.floating) and not np.isfinite(batch).all():
        raise DataError(path, "the inputs hold NaN or infinite values")
    if dtype == "float32":
        return batch.astype(np.float32)
    if np.issubdtype(batch.dtype, np.floating):
        scale, zero_point = quant
        q = np.round(batch.astype(np.float64) / scale) + zero_point
        return np.clip(q, -128, 127).astype(np.int8)
    if batch.min() < -128 or batch.max() > 127:
        raise DataError(path, "integer inputs must be int8 values (-128..127)")
    return batch.astype(np.int8)


def compare(outputs: np.ndarray, reference: np.ndarray) -> tuple[int, float, int]:
    """(inputs matching byte for byte, largest absolute difference, values that differ)."""
    a = outputs.reshape(len(outputs), -1)
    b = reference.reshape(len(reference), -1)
    exact = int((a.view(np.uint8) == b.view(np.uint8)).all(axis=1).sum()) if a.dtype == b.dtype else 0
    diff = np.abs(a.astype(np.float64) - b.astype(np.float64))
    return exact, float(diff.max(initial=0.0)), int((diff != 0).sum())


def validate_c_engine(model_path: str | Path, inputs_path: str | Path | None = None, count: int = 16,
                      seed: int = 0, work_dir: str | Path | None = None,
                      weights: str = "auto") -> tuple[ValidationResult, np.ndarray]:
    """Run the generated C engine and TFLM on the same inputs; return the result and engine outputs.

    The engine is the one `edgec build MODEL --runtime c --weights WEIGHTS` ships (same generator,
    same storage choice per layer)."""
    from firmware_export.cengine import generate_engine

    model_path = Path(model_path)
    model = read_tflite_file(model_path)
    engine = generate_engine(model, model_path.stem, str(model_path), weights=weights)
    shape = input_shape(engine)
    if inputs_path is not None:
        batch = load_inputs(inputs_path, shape, engine.input_dtype, engine.input_quant)
        source = str(inputs_path)
    else:
        batch = random_inputs(shape, engine.input_dtype, count, seed)
        source = f"random, seed {seed}"
    return check_engine(engine, read_tflite_bytes(model_path), str(model_path), batch, source, weights, work_dir)


def input_shape(engine) -> tuple[int, ...]:
    """The engine's input shape without its batch dimension of 1."""
    shape = tuple(engine.input_shape)
    return shape[1:] if shape and shape[0] == 1 else shape


def run_host(engine, batch: np.ndarray, work_dir=None) -> np.ndarray:
    """The engine's outputs on `batch`, compiled and run on the host."""
    from firmware_export.cengine import compile_host

    with tempfile.TemporaryDirectory(prefix="edgec_validate_") as tmp:
        return compile_host(engine, work_dir or tmp).run(batch)


def check_engine(engine, model_bytes: bytes, model_name: str, batch: np.ndarray, source: str, weights: str = "auto",
                 work_dir=None) -> tuple[ValidationResult, np.ndarray]:
    """Run a generated engine (compiled for the host) and TFLM on `batch`: the comparison and the
    engine's outputs."""
    from toolchain.oracle import run_tflm

    outputs = run_host(engine, batch, work_dir)
    reference = run_tflm(model_bytes, batch, source=model_name)
    return engine_comparison(engine, model_name, batch, source, weights, outputs, reference), outputs


def engine_comparison(engine, model_name: str, batch: np.ndarray, source: str, weights: str, outputs: np.ndarray,
                      reference: np.ndarray) -> ValidationResult:
    exact, max_diff, mismatched = compare(outputs, reference)
    return ValidationResult(model=model_name, runtime="c", inputs=source, count=len(batch), exact=exact,
                            max_abs_diff=max_diff, mismatched_values=mismatched,
                            arena_bytes=engine.activation_bytes, weights=weights,
                            weights_dense_bytes=sum(s.dense_bytes for s in engine.layers),
                            weights_stored_bytes=sum(s.stored_bytes for s in engine.layers),
                            storage={fmt: sum(s.format == fmt for s in engine.layers)
                                     for fmt in dict.fromkeys(s.format for s in engine.layers)})
