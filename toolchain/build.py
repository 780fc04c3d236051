"""The build driver: one ordered list of passes, each a function from values to a new value.

    load -> calibrate -> convert -> store weights (clustered: TFLM LUT) -> analyse + check
         -> measure arena -> fit (TFLM) -> [generate C engine -> size it -> fit (C)]
         -> [firmware -> fit (ELF)] -> export

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
from toolchain.progress import SILENT, Progress
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
    firmware: bool = False  # build the benchmark firmware (implies the C engine)
    recipe: object = None  # toolchain.compress.recipe.Recipe: compress before converting
    train: Path | None = None  # training data for fine-tuning and distillation
    eval: Path | None = None  # labelled evaluation data for the accuracy columns
    weights: str = "auto"  # "auto": compressed weight storage where it pays; "dense": int8 everywhere


@dataclass(frozen=True)
class EngineBuild:
    """The generated C engine, its sizes compiled for the target, and its fit."""
    engine: object = field(repr=False)  # firmware_export.cengine.GeneratedEngine
    size: object  # firmware_export.engine_size.EngineSize
    fit: FitResult


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
    fit: FitResult  # the fit of the runtime chosen (from the ELF when a firmware was built)
    tflm_fit: FitResult  # the TFLM figures, always, for comparison
    engine: EngineBuild | None = None
    compression: object = None  # toolchain.compress.report.CompressReport
    warnings: tuple[str, ...] = ()
    weights: object = None  # toolchain.weights.WeightStorage (None: no weight tensors inspected)


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


def measure(tflite_bytes: bytes, analysis: ModelAnalysis, progress: Progress = SILENT) -> ArenaMeasurement:
    def on_probe(n: int, size: int) -> None:
        progress.update(description=f"measuring the TFLM arena (allocation {n}: {size:,} B)")

    try:
        return measure_arena(tflite_bytes, on_probe)
    except ConversionError as exc:
        if "no kernel for" in exc.problem:
            missing = exc.problem.split("no kernel for ", 1)[1].split(", ")
            raise ConversionError("TFLM cannot run this model: no kernel for",
                                  [(op.op, op.layer) for op in analysis.ops if op.op in missing]) from None
        raise


def engine_fit(target: TargetProfile, engine, size) -> FitResult:
    """The fit of the generated C engine: every figure measured from its compiled objects."""
    from toolchain.fit import check_fit

    r = target.reserves
    return check_fit(
        target, "c",
        flash_items=[("weights and constants (engine)", size.const_bytes + size.data_bytes),
                     ("engine code", size.code_bytes), ("application reserve", r.app_flash_bytes)],
        sram_items=[("activations (engine arena)", size.bss_bytes + size.data_bytes),
                    ("input buffer (caller)", engine.caller_input_bytes),
                    ("stack", r.stack_bytes), ("application reserve", r.app_sram_bytes)],
        arena_bytes=engine.sram_bytes,
    )


def generate(tflite: TfliteModel, name: str, source: str, target: TargetProfile, weights: str = "auto") -> EngineBuild:
    """Generate the C engine and size it for the target (UnsupportedOpsError if it cannot)."""
    from firmware_export.cengine.generate import generate_engine
    from firmware_export.engine_size import measure_engine

    engine = generate_engine(tflite, name, source, weights=weights)
    size = measure_engine(engine, target)
    return EngineBuild(engine=engine, size=size, fit=engine_fit(target, engine, size))


def firmware_fit(target: TargetProfile, firmware, engine) -> FitResult:
    """The fit read from the linked firmware ELF (it replaces every estimate)."""
    from toolchain.fit import check_fit

    return check_fit(target, "c", flash_items=[("firmware (from the ELF)", firmware.flash_used_bytes)],
                     sram_items=[("firmware incl. stack (from the ELF)", firmware.sram_used_bytes)],
                     arena_bytes=engine.sram_bytes)


def build(model_path: str | Path, options: BuildOptions,
          on_pass: Callable[[str], None] = lambda name: None, progress: Progress = SILENT) -> BuildResult:
    """Run the passes; `on_pass(name)` is told of each, `progress` of the steps of the long ones."""
    on_pass("load")
    model = load_model(model_path, options.custom_objects, options.trust_lambda)
    calibration = calibrate(model, options)
    converted = None
    compression = None
    lut = None  # a LUT compression the compression pass measured already
    if model.is_tflite:
        if options.recipe is not None and not options.recipe.is_empty:
            raise DataError(model.path, "a .tflite model cannot be compressed; give the Keras model")
        data = model.tflite_bytes
    elif options.recipe is not None and not options.recipe.is_empty:
        on_pass("compress")
        data, lut, compression = compress_and_convert(model, calibration, options, progress)
    else:
        on_pass("convert")
        converted = convert_int8(model, calibration.samples, options.convert)
        data = converted.tflite_bytes
    runs_engine = options.runtime == "c" or options.firmware
    plain_bytes = data  # as converted: the C engine is generated from it
    plain = model.tflite if data is model.tflite_bytes else read_tflite(data, str(model_path))
    storage, lut = store_weights(plain, plain_bytes, calibration, options, runs_engine, lut, on_pass)
    data = lut.model if lut is not None else plain_bytes  # as shipped
    on_pass("analyse")
    tflite = plain if lut is None else read_tflite(data, str(model_path))
    analysis = analyse(tflite, model.layer_names)
    warnings = check_graph(tflite, analysis, converted is not None, model.layer_names)
    if calibration is not None and calibration.random:
        warnings.insert(0, "ACCURACY RISK: calibrated on random data (--calib-random); "
                           "quantization ranges may not match real inputs")
    on_pass("measure")
    arena = measure(data, analysis, progress)
    fit = tflm_fit(options.target, len(data), arena.recommended_bytes, analysis.peak.tensors)
    name = options.name or model.name
    engine = None
    if runs_engine:
        from toolchain.errors import UnsupportedOpsError

        on_pass("engine")
        try:
            engine = generate(tflite, name, str(model_path), options.target, options.weights)
        except UnsupportedOpsError as exc:
            if options.firmware:
                raise
            warnings.append(f"the C engine cannot run this model, falling back to TFLM: {exc.message}")
    elif lut is not None:
        on_pass("engine")
        storage = lut_cost(storage, lut, plain, plain_bytes, arena, name, str(model_path), options)
    return BuildResult(model=model, name=name, tflite=tflite, tflite_bytes=data,
                       calibration=calibration, converted=converted, analysis=analysis, arena=arena,
                       fit=engine.fit if engine else fit, tflm_fit=fit, engine=engine,
                       compression=compression, warnings=tuple(warnings), weights=storage)


def store_weights(plain: TfliteModel, data: bytes, calibration: Calibration | None, options: BuildOptions,
                  runs_engine: bool, lut=None, on_pass: Callable[[str], None] = lambda name: None):
    """Find clustered weights; for TFLM, LUT-compress them where the model gets smaller.

    The C engine stores them itself (it cannot run TFLM's DECODE), so an engine build ships `data`
    as converted. A .tflite given by the user is shipped as given.
    Returns (the WeightStorage, the LutResult to ship or None)."""
    from toolchain.weights import WeightStorage, clustered_tensors, lut_for_tflm, model_inputs

    clustered = clustered_tensors(plain)
    if not clustered or options.weights != "auto" or runs_engine or calibration is None:
        return WeightStorage(options.weights, clustered), None
    on_pass("store")
    lut, refused = lut_for_tflm(data, clustered, model_inputs(plain, calibration.samples[:8]), lut)
    return WeightStorage(options.weights, clustered, lut_refused=refused), lut


def lut_cost(storage, lut, plain: TfliteModel, plain_bytes: bytes, arena: ArenaMeasurement, name: str,
             source: str, options: BuildOptions):
    """What the shipped LUT costs: the arena against the same model without LUT compression (the
    decoded weights), and the C engine generated and sized for that model, for comparison."""
    import dataclasses

    from toolchain.arena import measure_arena
    from toolchain.errors import ToolchainError, UnsupportedOpsError
    from toolchain.weights import LutStorage

    cost = LutStorage(lut, len(plain_bytes), len(lut.model), measure_arena(plain_bytes).total_32bit_bytes,
                      arena.total_32bit_bytes)
    try:
        engine = generate(plain, name, source, options.target, options.weights)
    except (UnsupportedOpsError, ToolchainError):
        engine = None
    return dataclasses.replace(storage, lut=cost, engine=engine)


def compress_and_convert(model: LoadedModel, calibration: Calibration, options: BuildOptions,
                         progress: Progress = SILENT):
    """Compress the Keras model, convert it with the build's options (LUT-compressing clustered
    weights), and measure the original and the compressed model side by side.

    Returns (the int8 .tflite bytes before LUT compression, the LutResult measured or None,
    the CompressReport)."""
    import toolchain.compress.clustering  # noqa: F401  (registers the wrappers)
    from toolchain.compress.data import fit_to_input, load_dataset
    from toolchain.compress.pipeline import compress, measured
    from toolchain.loader import from_keras

    keras_model = model.keras_model
    shape = tuple(keras_model.inputs[0].shape[1:])
    image_size = tuple(shape[:2]) if len(shape) == 3 else None
    channels = shape[-1] if len(shape) == 3 else None

    def dataset(path):
        return None if path is None else fit_to_input(load_dataset(path, image_size, channels), shape)

    result = compress(keras_model, options.recipe, dataset(options.train), dataset(options.eval),
                      progress=progress)

    def converter(m, calib):
        return convert_int8(from_keras(m, model.name), calib, options.convert).tflite_bytes

    report, deployed = measured(result, keras_model, calibration.samples, dataset(options.eval), converter,
                                lut=options.weights == "auto")
    return deployed.int8, deployed.lut, report


def build_firmware(result: BuildResult, target: TargetProfile, folder: Path):
    """Build the benchmark firmware into `folder`; return (FirmwareResult, the fit from its ELF)."""
    from firmware_export.firmware.build import build_firmware as build_elf
    from firmware_export.firmware.context import FirmwareOptions

    firmware = build_elf(result.engine.engine, target, folder, FirmwareOptions(model_label=result.model.path.name))
    return firmware, firmware_fit(target, firmware, result.engine.engine)


def export(result: BuildResult, stage) -> None:
    """Write the model and its TFLM C array into a staging folder (see toolchain.outputs)."""
    from firmware_export.c_array import render_c_array

    stage.write_bytes("model.tflite", result.tflite_bytes)
    if result.engine is not None:
        for name, text in result.engine.engine.files.items():
            stage.write_text(f"engine/{name}", text)
    note = (f"{result.arena.total_bytes:,} B on a 64-bit host, "
            f"{result.arena.total_32bit_bytes:,} B for a 32-bit MCU")
    for name, text in render_c_array(result.tflite_bytes, result.name, result.arena.total_bytes, note).items():
        stage.write_text(name, text)
