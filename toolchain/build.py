"""The build driver: one ordered list of passes, each a function from values to a new value.

    load -> calibrate -> convert -> analyse + check -> measure arena -> fit -> export

What the hardware is comes from the target profile; how to build for it comes from BuildOptions.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from targets.schema import TargetProfile
from toolchain.analysis import GLUE_OPS, ModelAnalysis, analyse, float_ops
from toolchain.arena import ArenaMeasurement, measure_arena
from toolchain.convert import ConvertOptions, ConvertedModel, convert_int8
from toolchain.errors import ConversionError, DataError
from toolchain.fit import FitResult, tflm_fit
from toolchain.loader import LoadedModel, load_model
from toolchain.tflite_reader import TfliteModel, read_tflite

RUNTIMES = ("tflm", "c")


@dataclass(frozen=True)
class BuildOptions:
    target: TargetProfile
    calib: Path | None = None
    calib_random: bool = False
    image_range: str = "0-1"
    convert: ConvertOptions = ConvertOptions()
    runtime: str = "tflm"
    custom_objects: Path | None = None
    trust_lambda: bool = False
    name: str | None = None


@dataclass(frozen=True)
class Calibration:
    samples: np.ndarray | None = field(repr=False)
    source: str
    count: int
    random: bool


@dataclass(frozen=True)
class BuildResult:
    model: LoadedModel
    name: str
    tflite: TfliteModel = field(repr=False)
    tflite_bytes: bytes = field(repr=False)
    calibration: Calibration | None
    converted: ConvertedModel | None
    analysis: ModelAnalysis
    arena: ArenaMeasurement
    fit: FitResult
    warnings: tuple[str, ...] = ()


def calibrate(model: LoadedModel, options: BuildOptions) -> Calibration | None:
    from toolchain.data import load_samples, random_samples

    if model.is_tflite:
        return None
    if len(model.input_shapes) != 1:
        raise DataError(model.path, "models with several inputs need calibration in a recipe (not supported yet)")
    if options.calib is not None:
        x = load_samples(options.calib, model.input_shapes[0], model.input_dtypes[0], options.image_range)
        return Calibration(x, str(options.calib), min(len(x), options.convert.max_calibration_samples), False)
    if options.calib_random:
        x = random_samples(model.input_shapes[0])
        return Calibration(x, "random uniform [0, 1)", len(x), True)
    raise DataError(model.path, "int8 quantization needs calibration data: pass --calib FILE "
                                "(.npy, .npz or a folder of images), or --calib-random to accept the accuracy risk")


def check_graph(tflite: TfliteModel, analysis: ModelAnalysis, converted: bool,
                layer_names: tuple[str, ...]) -> list[str]:
    """Refuse float ops left in an int8 build; return warnings for what is only a concern."""
    warnings = []
    floats = float_ops(tflite, analysis)
    if floats and converted:
        raise ConversionError("float ops left in the int8 build",
                              [(op.op, op.layer) for op in floats])
    if floats:
        warnings.append("float ops (slow, no int8 kernels): " +
                        ", ".join(f"{op.op} ({op.layer})" for op in floats))
    glue = analysis.ops_named(GLUE_OPS)
    if glue:
        warnings.append("dynamic-shape glue ops: " + ", ".join(f"{op.op} ({op.layer})" for op in glue))
    return warnings


def measure(tflite_bytes: bytes, analysis: ModelAnalysis) -> ArenaMeasurement:
    try:
        return measure_arena(tflite_bytes)
    except ConversionError as exc:
        if "no kernel for" in exc.problem:
            missing = exc.problem.split("no kernel for ", 1)[1].split(", ")
            raise ConversionError("TFLM cannot run this model: no kernel for",
                                  [(op.op, op.layer) for op in analysis.ops if op.op in missing]) from None
        raise


def build(model_path: str | Path, options: BuildOptions,
          on_pass: Callable[[str], None] = lambda name: None) -> BuildResult:
    on_pass("load")
    model = load_model(model_path, options.custom_objects, options.trust_lambda)
    calibration = calibrate(model, options)
    converted = None
    if model.is_tflite:
        data = model.tflite_bytes
    else:
        on_pass("convert")
        converted = convert_int8(model, calibration.samples, options.convert)
        data = converted.tflite_bytes
    on_pass("analyse")
    tflite = read_tflite(data, str(model_path))
    analysis = analyse(tflite, model.layer_names)
    warnings = check_graph(tflite, analysis, converted is not None, model.layer_names)
    if calibration is not None and calibration.random:
        warnings.insert(0, "ACCURACY RISK: calibrated on random data (--calib-random); "
                           "quantization ranges may not match real inputs")
    on_pass("measure")
    arena = measure(data, analysis)
    fit = tflm_fit(options.target, len(data), arena.recommended_bytes, analysis.peak.tensors)
    return BuildResult(model=model, name=options.name or model.name, tflite=tflite, tflite_bytes=data,
                       calibration=calibration, converted=converted, analysis=analysis, arena=arena,
                       fit=fit, warnings=tuple(warnings))


def export(result: BuildResult, stage) -> None:
    """Write the model and its TFLM C array into a staging folder (see toolchain.outputs)."""
    from firmware_export.c_array import render_c_array

    stage.write_bytes("model.tflite", result.tflite_bytes)
    note = (f"{result.arena.total_bytes:,} B on a 64-bit host, "
            f"{result.arena.total_32bit_bytes:,} B for a 32-bit MCU")
    for name, text in render_c_array(result.tflite_bytes, result.name, result.arena.total_bytes, note).items():
        stage.write_text(name, text)
