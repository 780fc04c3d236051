"""Accuracy on the user's data: float model, int8 model under tflite-micro, C engine; and where
quantization hurts, layer by layer.

Scores: with integer class labels and one logit per class, top-1 accuracy (percent); with float
targets of the output's size, or no labels at all (then against the float model's outputs), the
root-mean-square and largest absolute error of the dequantized outputs: no top-1 figure where it
means nothing.

Per-layer error: the int8 model and a float32 TFLite conversion of the float model have the same
op sequence (the converter folds batch norm and fuses activations the same way in both), so op k
of one is op k of the other once the int8 model's QUANTIZE / DEQUANTIZE ops at its edges are left
out. Each int8 op output, dequantized, is compared with the float op's output on the same inputs:
RMSE, cosine similarity, largest absolute difference (both interpreters are ai-edge-litert's,
with every intermediate tensor kept).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from toolchain.base.errors import DataError
from toolchain.base.tflite_reader import TfliteModel, read_tflite

EDGE_OPS = ("QUANTIZE", "DEQUANTIZE")


@dataclass(frozen=True)
class Scores:
    """One runtime's figures on the evaluation set."""

    runtime: str  # "float", "int8 tflite-micro", "int8 C engine"
    count: int
    accuracy_percent: float | None  # top-1 (classification only)
    rmse: float | None  # regression / no labels: of the (dequantized) outputs
    max_abs_error: float | None
    against: str  # "labels", "targets" or "float model outputs"


@dataclass(frozen=True)
class LayerError:
    index: int  # op index in the int8 model
    op: str
    layer: str
    rmse: float
    cosine: float
    max_abs: float
    float_rms: float  # RMS of the float output: the scale the errors compare with


@dataclass(frozen=True)
class AccuracyReport:
    task: str  # "classification" or "regression"
    samples: int
    scores: tuple[Scores, ...]
    layers: tuple[LayerError, ...] = ()
    layer_samples: int = 0
    layer_note: str = ""

    def to_dict(self) -> dict:
        return asdict(self)

    def lines(self) -> list[str]:
        out = [f"evaluation: {self.samples} samples, {self.task}"]
        for s in self.scores:
            if s.accuracy_percent is not None:
                out.append(f"  {s.runtime:<20} accuracy {s.accuracy_percent:.2f}%")
            else:
                out.append(f"  {s.runtime:<20} RMSE {s.rmse:.6g}, max |error| {s.max_abs_error:.6g} "
                           f"(against {s.against})")
        if self.layers:
            out.append(f"per-layer error of int8 against float ({self.layer_samples} samples; "
                       "RMSE and max relative to the float output's RMS):")
            width = max(len(e.layer) for e in self.layers)
            for e in self.layers:
                rel = e.rmse / e.float_rms if e.float_rms else 0.0
                out.append(f"  {e.index:>3} {e.op:<18} {e.layer:<{width}}  RMSE {e.rmse:.4g} ({100 * rel:.1f}%)  "
                           f"cosine {e.cosine:.4f}  max {e.max_abs:.4g}")
        if self.layer_note:
            out.append(f"  {self.layer_note}")
        return out


def task_of(outputs: np.ndarray, labels: np.ndarray | None) -> str:
    """'classification' when labels are integer classes, one per sample, and outputs one score per class."""
    if labels is None:
        return "regression"
    rows = outputs.reshape(len(outputs), -1)
    if np.issubdtype(labels.dtype, np.integer) and labels.reshape(len(labels), -1).shape[1] == 1 \
            and rows.shape[1] > 1:
        return "classification"
    return "regression"


def check_labels(labels: np.ndarray, n: int, outputs_per_sample: int, source: str) -> np.ndarray:
    """The labels, checked against the samples and the model's outputs; DataError naming what is wrong."""
    labels = np.asarray(labels)
    if len(labels) != n:
        raise DataError(source, f"{len(labels)} labels 'y' for {n} samples 'x'")
    if np.issubdtype(labels.dtype, np.floating) and not np.isfinite(labels).all():
        raise DataError(source, "the labels 'y' hold NaN or infinite values")
    if np.issubdtype(labels.dtype, np.integer) and labels.reshape(n, -1).shape[1] == 1 and outputs_per_sample > 1:
        flat = labels.reshape(n)
        bad = np.flatnonzero((flat < 0) | (flat >= outputs_per_sample))
        if bad.size:
            raise DataError(source, f"label {int(flat[bad[0]])} of sample {int(bad[0])} is outside the model's "
                                    f"{outputs_per_sample} classes (0..{outputs_per_sample - 1})")
    elif not np.issubdtype(labels.dtype, np.integer) and labels.reshape(n, -1).shape[1] != outputs_per_sample:
        raise DataError(source, f"float targets 'y' have {labels.reshape(n, -1).shape[1]} values per sample, "
                                f"the model outputs {outputs_per_sample}")
    return labels


def score(runtime: str, outputs: np.ndarray, labels: np.ndarray | None, reference: np.ndarray | None) -> Scores:
    """Top-1 accuracy against class labels, else RMSE / max error against float targets or the reference."""
    n = len(outputs)
    rows = outputs.reshape(n, -1).astype(np.float64)
    if task_of(outputs, labels) == "classification":
        hits = int((rows.argmax(axis=1) == labels.reshape(n)).sum())
        return Scores(runtime, n, round(100.0 * hits / n, 4), None, None, "labels")
    if labels is not None:
        target, against = np.asarray(labels, np.float64).reshape(n, -1), "targets"
    elif reference is not None:
        target, against = reference.reshape(n, -1).astype(np.float64), "float model outputs"
    else:
        return Scores(runtime, n, None, None, None, "nothing (no labels, no float model)")
    error = rows - target
    return Scores(runtime, n, None, float(np.sqrt((error ** 2).mean())), float(np.abs(error).max(initial=0.0)),
                  against)


def dequantize(outputs: np.ndarray, model: TfliteModel) -> np.ndarray:
    """The model's outputs as real values (its output tensor's scale and zero point)."""
    sg = model.main
    tensor = sg.tensors[sg.outputs[0]]
    if tensor.dtype == "float32" or tensor.quant is None:
        return outputs.astype(np.float32)
    return ((outputs.astype(np.float64) - tensor.quant.zero_points[0]) * tensor.quant.scales[0]).astype(np.float32)


def _interpreter(model_bytes: bytes):
    import warnings

    from ai_edge_litert.interpreter import Interpreter

    from toolchain.quiet import captured_fds

    with warnings.catch_warnings(), captured_fds(1, 2):  # "for debugging purposes only": that is what it is for
        warnings.simplefilter("ignore")
        interpreter = Interpreter(model_content=model_bytes, experimental_preserve_all_tensors=True)
        interpreter.allocate_tensors()
    return interpreter


def _paired_ops(int8: TfliteModel, float_: TfliteModel):
    a = [op for op in int8.main.operators if op.op not in EDGE_OPS]
    b = [op for op in float_.main.operators if op.op not in EDGE_OPS]
    pairs = []
    for x, y in zip(a, b):
        if x.op != y.op:
            break
        pairs.append((x, y))
    note = "" if len(pairs) == len(a) == len(b) else (
        f"the int8 and float graphs differ after op {len(pairs)} ({len(a)} and {len(b)} ops): "
        "layers past it are not compared")
    return pairs, note


def layer_errors(int8_bytes: bytes, float_bytes: bytes, samples: np.ndarray,
                 layer_names: tuple[str, ...] = ()) -> tuple[tuple[LayerError, ...], str]:
    """Per op output: the int8 model's error against the float model's, over float `samples`."""
    from toolchain.analysis import layer_of

    int8, float_ = read_tflite(int8_bytes), read_tflite(float_bytes)
    pairs, note = _paired_ops(int8, float_)
    qi, fi = _interpreter(int8_bytes), _interpreter(float_bytes)
    in_t = int8.main.tensors[int8.main.inputs[0]]
    sums = [np.zeros(5) for _ in pairs]  # sum e^2, sum f^2, sum q*f, sum q^2, count
    worst = [0.0 for _ in pairs]
    for x in samples:
        x = np.asarray(x, np.float32)[None]
        fi.set_tensor(fi.get_input_details()[0]["index"], x)
        if in_t.dtype == "float32" or in_t.quant is None:
            q = x
        else:
            q = np.clip(np.round(x / in_t.quant.scales[0]) + in_t.quant.zero_points[0], -128, 127).astype(np.int8)
        qi.set_tensor(qi.get_input_details()[0]["index"], q.astype(qi.get_input_details()[0]["dtype"]))
        fi.invoke()
        qi.invoke()
        for k, (a, b) in enumerate(pairs):
            t = int8.main.tensors[a.outputs[0]]
            raw = qi.get_tensor(a.outputs[0]).astype(np.float64)
            if t.quant is not None and t.dtype != "float32":
                raw = (raw - t.quant.zero_points[0]) * t.quant.scales[0]
            ref = fi.get_tensor(b.outputs[0]).astype(np.float64)
            if raw.size != ref.size:
                continue
            raw, ref = raw.reshape(-1), ref.reshape(-1)
            e = raw - ref
            sums[k] += (float(e @ e), float(ref @ ref), float(raw @ ref), float(raw @ raw), raw.size)
            worst[k] = max(worst[k], float(np.abs(e).max(initial=0.0)))
    errors = []
    for k, (a, _b) in enumerate(pairs):
        ee, ff, qf, qq, count = sums[k]
        if count == 0:
            continue
        cosine = qf / np.sqrt(ff * qq) if ff > 0 and qq > 0 else (1.0 if ff == qq else 0.0)
        name = int8.main.tensors[a.outputs[0]].name
        errors.append(LayerError(a.index, a.op, layer_of(name, layer_names), float(np.sqrt(ee / count)),
                                 float(cosine), worst[k], float(np.sqrt(ff / count))))
    return tuple(errors), note
