"""What a model costs: parameters, MACs, and, once converted to int8, what the device stores.

- flash as deployed: the bytes of the .tflite model as the device stores it (after LUT
  compression, if applied). Unstructured zeros and clustered values do not shrink it by themselves.
- zip size: the .tflite model deflated in a zip archive, the figure tfmot's guides report; a
  device does not store it that way.
- arena: the TFLM tensor arena the model needs (activations, and LUT-decoded weights).
- engine weights and SRAM: the generated C engine for the same int8 model, its constants as it
  stores them (clustered and sparse weights compressed, with `weights="auto"`) and the SRAM an
  inference needs; generated, not compiled.
"""
from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass, field

import numpy as np

from toolchain.compress.data import Dataset
from toolchain.compress.lut import LutResult, lut_compress


def zip_size(model: bytes) -> int:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("model.tflite", model)
    return len(buffer.getvalue())


def _prod(values) -> int:
    return int(np.prod([int(v) for v in values])) if len(values) else 1


def count_params(model) -> int:
    """The parameters of a Keras model as it deploys: a QAT model's masks, shared-value indices and
    activation ranges are not parameters (its layers' kernels and biases are)."""
    from toolchain.compress.qat import FakeQuant, QuantizeWeights

    total = 0
    for layer in model.layers:
        if isinstance(layer, QuantizeWeights):
            total += int(layer.layer.count_params())
        elif not isinstance(layer, FakeQuant):
            total += int(layer.count_params()) if layer.built else 0
    return total


def keras_macs(model) -> int:
    """Multiply-accumulates of one inference (batch 1) of a Keras model's Dense/Conv layers."""
    import keras

    total = 0
    for layer in model.layers:
        inner = getattr(layer, "layer", layer)
        if not inner.weights or not hasattr(layer, "output"):
            continue
        out = layer.output.shape
        if isinstance(inner, keras.layers.SeparableConv2D):
            k = inner.depthwise_kernel.shape
            total += _prod(out[1:-1]) * k[0] * k[1] * k[2] * k[3]
            total += _prod(out[1:-1]) * k[2] * k[3] * out[-1]
        elif isinstance(inner, keras.layers.DepthwiseConv2D):
            k = inner.kernel.shape
            total += _prod(out[1:]) * k[0] * k[1]
        elif isinstance(inner, (keras.layers.Conv1D, keras.layers.Conv2D)):
            k = inner.kernel.shape
            total += _prod(out[1:]) * _prod(k[:-1])  # kernel: (..., in / groups, out)
        elif isinstance(inner, keras.layers.Dense):
            total += _prod(out[1:-1]) * inner.kernel.shape[0] * inner.kernel.shape[1]
    return int(total)


def tflite_macs(model: bytes) -> int:
    """Multiply-accumulates of one invoke of a TFLite model (counted by toolchain.analysis)."""
    from toolchain.analysis import analyse
    from toolchain.base.tflite_reader import read_tflite

    return analyse(read_tflite(model)).macs


def convert_keras_int8(model, calib: np.ndarray, max_samples: int = 200) -> bytes:
    """Full-integer int8 TFLite of an in-memory Keras model: the build's own convert pass."""
    from toolchain.convert import ConvertOptions, convert_int8
    from toolchain.loader import from_keras

    samples = np.asarray(calib, dtype=np.float32)
    return convert_int8(from_keras(model), samples, ConvertOptions(max_calibration_samples=max_samples)).tflite_bytes


def measure_arena_bytes(model: bytes) -> int:
    """The smallest TFLM arena, measured by the build's own measure pass."""
    from toolchain.arena import measure_arena

    return measure_arena(model).total_bytes


def run_tflite(model: bytes, x: np.ndarray) -> np.ndarray:
    """Float outputs of an int8 TFLite model on float inputs `x`, one sample per invoke (ai-edge-litert)."""
    from ai_edge_litert.interpreter import Interpreter

    from toolchain.quiet import captured_fds

    with captured_fds(2):  # the runtime announces its CPU delegate on stderr
        interpreter = Interpreter(model_content=model)
        interpreter.allocate_tensors()
    inp, out = interpreter.get_input_details()[0], interpreter.get_output_details()[0]
    in_scale, in_zero = inp["quantization"]
    out_scale, out_zero = out["quantization"]
    results = []
    for sample in x:
        if np.issubdtype(inp["dtype"], np.floating):  # a model built with --io float32
            q = sample.astype(inp["dtype"])
        else:
            info = np.iinfo(inp["dtype"])
            q = np.clip(np.round(sample / in_scale + in_zero), info.min, info.max).astype(inp["dtype"])
        interpreter.set_tensor(inp["index"], q[None])
        interpreter.invoke()
        y = interpreter.get_tensor(out["index"])[0].astype(np.float32)
        results.append(y if np.issubdtype(out["dtype"], np.floating) else (y - out_zero) * out_scale)
    return np.stack(results)


def quantize_input(model: bytes, x: np.ndarray) -> np.ndarray:
    from ai_edge_litert.interpreter import Interpreter

    detail = Interpreter(model_content=model).get_input_details()[0]
    scale, zero = detail["quantization"]
    return np.clip(np.round(x / scale + zero), -128, 127).astype(np.int8)


@dataclass(frozen=True)
class Deployed:
    """One model as int8 TFLite, with what it costs and how well it does."""

    flash_bytes: int
    zip_bytes: int
    params: int
    macs: int
    arena_bytes: int
    int8_metric: float | None
    lut: LutResult | None = None
    tflite: bytes = field(default=b"", repr=False)  # as deployed on TFLM (LUT-compressed, if it was)
    int8: bytes = field(default=b"", repr=False)  # as converted (what the C engine is generated from)
    engine_weight_bytes: int | None = None  # None: the C engine cannot run the model
    engine_sram_bytes: int | None = None


def engine_figures(tflite: bytes, weights: str = "auto") -> tuple[int | None, int | None]:
    """(constants as stored, SRAM) of the C engine generated for an int8 model; (None, None) when
    the engine cannot run it."""
    from firmware_export.cengine.generate import generate_engine
    from toolchain.base.errors import UnsupportedOpsError
    from toolchain.base.tflite_reader import read_tflite

    try:
        engine = generate_engine(read_tflite(tflite), "model", weights=weights)
    except UnsupportedOpsError:
        return None, None
    return engine.weight_bytes, engine.sram_bytes


def deploy(model, calib: np.ndarray, eval_data: Dataset | None = None, lut_bits: int | None = None,
           converter=None, weights: str = "auto") -> Deployed:
    """Convert `model` to int8, LUT-compress it when `lut_bits` is given, and measure it (on TFLM,
    and as the C engine generated with `weights` storage).

    The metric is that of the uncompressed int8 model run with ai-edge-litert (which has no TFLM
    DECODE operator); the LUT model's outputs are checked to be identical in the TFLM interpreter.
    """
    from toolchain.compress.train import is_classifier, score

    convert = converter or convert_keras_int8
    tflite = convert(model, calib)
    metric = None
    if eval_data is not None and eval_data.y is not None:
        metric = score(run_tflite(tflite, eval_data.x), eval_data, is_classifier(model, eval_data))
    lut = None
    deployed = tflite
    if lut_bits is not None:
        lut = lut_compress(tflite, lut_bits, check_inputs=quantize_input(tflite, calib[:8]))
        deployed = lut.model
    engine_weights, engine_sram = engine_figures(tflite, weights)
    return Deployed(
        flash_bytes=len(deployed), zip_bytes=zip_size(deployed), params=count_params(model),
        macs=tflite_macs(deployed), arena_bytes=measure_arena_bytes(deployed), int8_metric=metric,
        lut=lut, tflite=deployed, int8=tflite, engine_weight_bytes=engine_weights, engine_sram_bytes=engine_sram,
    )
