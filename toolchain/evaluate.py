"""`edgec validate --eval`: accuracy of the float model, of the int8 model under tflite-micro and of
the C engine on the user's labelled data, the engine checked byte for byte against tflite-micro on
every sample, and the per-layer error of int8 against float.

MODEL is a .tflite (int8) or a Keras/SavedModel model; a Keras model is converted here as `edgec
build` converts it (calibration samples from --calib, else 200 samples of the evaluation set, said
so). The float model is MODEL itself when it is not a .tflite, else `--reference`.
"""
from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from toolchain.accuracy import AccuracyReport, check_labels, dequantize, layer_errors, score, task_of
from toolchain.base.errors import DataError, OptionError
from toolchain.base.tflite_reader import read_tflite
from toolchain.validate import ValidationResult, engine_comparison, input_shape, quantize_inputs, run_host

CALIBRATION_SAMPLES = 200


@dataclass(frozen=True)
class EvaluationResult:
    model: str
    reference: str | None  # the float model the figures compare with
    calibration: str | None  # where the conversion's calibration samples came from (Keras MODEL)
    engine: ValidationResult
    accuracy: AccuracyReport
    seconds: dict  # phase -> wall seconds

    @property
    def passed(self) -> bool:
        return self.engine.passed

    def to_dict(self) -> dict:
        return {"model": self.model, "reference": self.reference, "calibration": self.calibration,
                "engine": {**asdict(self.engine), "exact_rate": self.engine.exact_rate,
                           "passed": self.engine.passed},
                "accuracy": self.accuracy.to_dict(), "seconds": self.seconds, "passed": self.passed}

    def lines(self) -> list[str]:
        out = [f"model: {self.model}" + (f" (float reference: {self.reference})" if self.reference else "")]
        if self.calibration:
            out.append(f"converted to int8 here, calibrated on {self.calibration}")
        out += self.accuracy.lines()
        e = self.engine
        out.append(f"C engine vs tflite-micro: {e.exact}/{e.count} outputs identical byte for byte"
                   + ("" if e.passed else f"; largest difference {e.max_abs_diff:g}"))
        out.append("time: " + ", ".join(f"{k} {v:.1f} s" for k, v in self.seconds.items()))
        return out


def _eval_data(path: Path, shape: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray | None]:
    from toolchain.data import pick_samples, read_array_file

    arrays = read_array_file(path)
    x = pick_samples(arrays, path)
    size = int(np.prod(shape))
    if x.ndim == 0 or len(x) == 0 or x[0].size != size:
        raise DataError(path, f"each row of 'x' must hold one input of shape {shape}, got rows of shape {x.shape[1:]}")
    y = next((arrays[k] for k in ("y", "labels", "y_test") if k in arrays), None)
    return x.reshape((len(x),) + shape), y


def _float_outputs(loaded, x: np.ndarray) -> np.ndarray:
    if loaded.keras_model is not None:
        return np.asarray(loaded.keras_model.predict(x.astype(np.float32), batch_size=256, verbose=0))
    from toolchain.convert import convert_float

    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_content=convert_float(loaded))
    interpreter.allocate_tensors()
    i, o = interpreter.get_input_details()[0]["index"], interpreter.get_output_details()[0]["index"]
    out = []
    for row in x.astype(np.float32):
        interpreter.set_tensor(i, row[None])
        interpreter.invoke()
        out.append(interpreter.get_tensor(o)[0].copy())
    return np.stack(out)


def run_runtimes(int8_bytes: bytes, q: np.ndarray, engine, source: str) -> tuple[np.ndarray, np.ndarray | None]:
    """(tflite-micro's outputs, the C engine's or None without an engine) on the model inputs `q`:
    the engine (a compiled host process) runs while tflite-micro runs in its forked child, two cores."""
    from toolchain.oracle import run_tflm

    if engine is None:
        return run_tflm(int8_bytes, q, source=source), None
    with ThreadPoolExecutor(1) as pool:
        host = pool.submit(run_host, engine, q)
        tflm = run_tflm(int8_bytes, q, source=source)
        return tflm, host.result()


def runtime_scores(model, y: np.ndarray | None, reference: np.ndarray | None, tflm: np.ndarray,
                   engine_out: np.ndarray | None) -> list:
    """The float model's (given its outputs), tflite-micro's and the C engine's (given) Scores."""
    scores = [] if reference is None else [score("float", reference, y, None)]
    scores.append(score("int8 tflite-micro", dequantize(tflm, model), y, reference))
    if engine_out is not None:
        scores.append(score("int8 C engine", dequantize(engine_out, model), y, reference))
    return scores


def build_accuracy(int8_bytes: bytes, model, eval_path: Path, floating=None, engine=None,
                   source: str = "model") -> AccuracyReport:
    """`edgec build --eval` without compression: the accuracy (RMSE and max error for a regression)
    of the model the build ships under tflite-micro, of its C engine when the build generated one,
    and of the float model `floating` (a LoadedModel, for a Keras or SavedModel MODEL), on the
    whole of `eval_path`; no per-layer error (that is `edgec validate --eval`'s)."""
    sg = model.main
    tensor = sg.tensors[sg.inputs[0]]
    shape = tuple(tensor.shape[1:]) if tensor.shape and tensor.shape[0] == 1 else tuple(tensor.shape)
    if Path(eval_path).is_dir():  # a folder of class subfolders of images, as --train and compression read it
        from toolchain.compress.data import load_dataset

        image = len(shape) == 3
        data = load_dataset(eval_path, shape[:2] if image else None, shape[-1] if image else None)
        if int(np.prod(data.x.shape[1:])) != int(np.prod(shape)):
            raise DataError(eval_path, f"images of shape {data.x.shape[1:]}, the model's input is {shape}")
        x, y = data.x.reshape((len(data.x),) + shape), data.y
    else:
        x, y = _eval_data(Path(eval_path), shape)
    quant = (tensor.quant.scales[0], tensor.quant.zero_points[0]) if tensor.quant is not None else (1.0, 0)
    q = quantize_inputs(x, "float32" if tensor.dtype == "float32" else "int8", quant, eval_path)
    if y is not None:
        y = check_labels(y, len(x), int(np.prod(sg.tensors[sg.outputs[0]].shape)), str(eval_path))
    tflm, engine_out = run_runtimes(int8_bytes, q, engine, source)
    reference = None if floating is None else _float_outputs(floating, x)
    return AccuracyReport(task_of(tflm, y), len(x), tuple(runtime_scores(model, y, reference, tflm, engine_out)))


def evaluate(model_path: Path, eval_path: Path, reference_path: Path | None = None, calib_path: Path | None = None,
             weights: str = "auto", layer_samples: int = 100, custom_objects=None,
             trust_lambda: bool = False) -> EvaluationResult:
    from firmware_export.cengine import generate_engine
    from toolchain.loader import load_model

    seconds: dict[str, float] = {}
    started = time.perf_counter()
    model_path = Path(model_path)
    loaded = load_model(model_path, custom_objects, trust_lambda)
    floating = None if loaded.is_tflite else loaded
    if reference_path is not None:
        if floating is not None:
            raise OptionError("--reference", str(reference_path), "only with a .tflite MODEL (a Keras MODEL is "
                              "its own float reference)")
        floating = load_model(reference_path, custom_objects, trust_lambda)
        if floating.is_tflite:
            raise OptionError("--reference", str(reference_path), "a float Keras or SavedModel model")
    calibration = None
    if loaded.is_tflite:
        int8_bytes = loaded.tflite_bytes
    shape = tuple(loaded.input_shapes[0][1:])
    x, y = _eval_data(Path(eval_path), shape)
    if np.issubdtype(x.dtype, np.floating) and not np.isfinite(x).all():
        raise DataError(eval_path, "the inputs 'x' hold NaN or infinite values")
    if not loaded.is_tflite:
        from toolchain.convert import convert_int8
        from toolchain.data import load_samples

        if calib_path is not None:
            calib = load_samples(calib_path, loaded.input_shapes[0], loaded.input_dtypes[0])
            calibration = f"{len(calib)} samples of {calib_path}"
        else:
            pick = np.random.default_rng(0).choice(len(x), size=min(CALIBRATION_SAMPLES, len(x)), replace=False)
            calib = x[np.sort(pick)].astype(np.float32)
            calibration = f"{len(calib)} samples of the evaluation set (give --calib to use others)"
        int8_bytes = convert_int8(loaded, calib).tflite_bytes
    seconds["load and convert"] = time.perf_counter() - started

    model = read_tflite(int8_bytes, str(model_path))
    engine = generate_engine(model, model_path.stem or "model", str(model_path), weights=weights)
    if tuple(input_shape(engine)) != shape:
        raise DataError(eval_path, f"the int8 model's input shape {input_shape(engine)} differs from {shape}")
    q = quantize_inputs(x, engine.input_dtype, engine.input_quant, eval_path)
    outputs_per_sample = int(np.prod(engine.output_shape))
    if y is not None:
        y = check_labels(y, len(x), outputs_per_sample, str(eval_path))

    t = time.perf_counter()
    tflm, engine_out = run_runtimes(int8_bytes, q, engine, str(model_path))
    seconds["tflite-micro and C engine"] = time.perf_counter() - t
    engine_result = engine_comparison(engine, str(model_path), q, str(eval_path), weights, engine_out, tflm)

    reference = None
    if floating is not None:
        t = time.perf_counter()
        reference = _float_outputs(floating, x)
        seconds["float model"] = time.perf_counter() - t
    scores = runtime_scores(model, y, reference, tflm, engine_out)

    layers, note, used = (), "", 0
    if floating is not None and layer_samples > 0:
        from toolchain.convert import convert_float

        t = time.perf_counter()
        used = min(layer_samples, len(x))
        layers, note = layer_errors(int8_bytes, convert_float(floating), x[:used].astype(np.float32),
                                    floating.layer_names)
        seconds["per-layer error"] = time.perf_counter() - t
    elif floating is None:
        note = "per-layer error needs the float model: give --reference float.keras"
    seconds["total"] = time.perf_counter() - started
    report = AccuracyReport(task_of(tflm, y), len(x), tuple(scores), layers, used, note)
    return EvaluationResult(str(model_path), None if reference_path is None else str(reference_path),
                            calibration, engine_result, report, {k: round(v, 2) for k, v in seconds.items()})
