"""The build driver: one ordered list of passes, each a function from values to a new value.

`build()` runs every pass of `edgec build`, in this order (pass: function, values in -> value out):

    load:        load_model          model path                -> LoadedModel
    calibrate:   calibrate           LoadedModel               -> Calibration       (none for a .tflite)
    quantize:    quantize            LoadedModel, Calibration  -> Quantized         (int8; compressed first if asked)
    inspect:     inspect_graph       Quantized                 -> Graph             (analysis; float ops refused)
    store:       store_weights       Quantized, Graph          -> Stored            (clustered weights found;
                                                                                    TFLM: LUT-compressed where it
                                                                                    pays, the graph shipped
                                                                                    analysed again)
    measure:     measure             Graph                     -> ArenaMeasurement  (the TFLM arena, and one
                                                                                    test inference: a model
                                                                                    that crashes TFLM is refused)
    fit (TFLM):  tflm_fit            ArenaMeasurement          -> FitResult
    engine:      engine_or_fallback  Graph                     -> EngineBuild       (C engine, its fit)  [--runtime c]
    LUT cost:    lut_cost            Stored, ArenaMeasurement  -> WeightStorage     (decoded weights' arena, the
                                                                                    C engine beside)  [TFLM + LUT]
    evaluate:    evaluate            Stored, EngineBuild, data -> AccuracyReport    (int8 accuracy under
                                                                                    tflite-micro, the C engine's,
                                                                                    the float model's; RMSE for a
                                                                                    regression)  [--eval, no
                                                                                    compression: its table has it]
    firmware:    build_firmware      EngineBuild, folder       -> FirmwareBuild     (fit from the ELF; the MLPerf
                                                                                    Tiny benchmark id)   [--firmware]
    project:     plan_projects       EngineBuild or the model  -> ProjectSources    (a CMake / make / Arduino project
                                                                                    of the engine, or of TFLM's C
                                                                                    array)  [--project]
                                                               => BuildResult (the target, each value, the final fit)

and `export(result, stage)` then writes the model, its C array, the engine and the projects into the
staged output folder (toolchain.outputs) in which the firmware pass built the firmware.

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
from toolchain.base.errors import ConversionError, DataError, DoesNotFitError, OptionError, UnsupportedOpsError
from toolchain.fit import FitResult, check_fit, tflm_fit
from toolchain.loader import LoadedModel, load_model
from toolchain.progress import SILENT, Progress
from toolchain.base.tflite_reader import TfliteModel, read_tflite

RUNTIMES = ("tflm", "c")
FIRMWARE_FOLDER = "firmware"  # where in the output folder the firmware pass builds


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
    weights: str = "auto"  # "auto": compressed weight storage where it pays; "dense": int8 everywhere
    patch: str | int = "off"  # C engine: first stage patch by patch, "off", "auto" or a patch count
    recipe: object = None  # toolchain.compress.recipe.Recipe: compress before converting
    train: Path | None = None  # training data for fine-tuning and distillation
    eval: Path | None = None  # labelled evaluation data for the accuracy columns
    mlperf: str | None = None  # MLPerf Tiny benchmark id the firmware answers and decodes inputs for
    projects: tuple[str, ...] = ()  # projects to write: "cmake", "make", "arduino" (firmware_export.project)

    def __post_init__(self):
        from firmware_export.cengine.patch import parse_patch
        from firmware_export.project import PROJECT_KINDS
        from toolchain.mlperf import BENCHMARK_IDS

        object.__setattr__(self, "patch", parse_patch(self.patch))

        for kind in self.projects:
            if kind not in PROJECT_KINDS:
                raise OptionError("--project", kind, "one of " + ", ".join(PROJECT_KINDS))
            if not self.target.is_cortex_m:
                raise OptionError("--project", kind, "a Cortex-M target: the projects build with arm-none-eabi-gcc "
                                  f"({self.target.name} has a {self.target.core} core)")

        if self.mlperf is not None and self.mlperf not in BENCHMARK_IDS:
            raise OptionError("--mlperf", self.mlperf, "one of " + ", ".join(BENCHMARK_IDS))
        if self.mlperf is not None and not self.firmware:
            raise OptionError("--mlperf", self.mlperf, "to be given with --firmware (it sets what the firmware "
                              "answers and how it decodes the runner's inputs)")

    @property
    def compresses(self) -> bool:
        return self.recipe is not None and not self.recipe.is_empty

    @property
    def needs_engine(self) -> bool:
        """The C engine is generated: for the C runtime, and inside every firmware."""
        return self.runtime == "c" or self.firmware


@dataclass(frozen=True)
class Calibration:
    samples: np.ndarray | None = field(repr=False)
    source: str
    count: int
    random: bool


@dataclass(frozen=True)
class Quantized:
    """The int8 model as converted (before any LUT compression), and how it was made."""
    tflite_bytes: bytes = field(repr=False)
    converted: ConvertedModel | None  # what the converter did; None when the model was a .tflite
    compression: object = None  # toolchain.compress.report.CompressReport, when compressed
    lut: object = None  # toolchain.compress.lut.LutResult the compression pass measured already


@dataclass(frozen=True)
class Stored:
    """The model as shipped: as converted, or with its clustered weights LUT-compressed for TFLM."""
    plain: TfliteModel = field(repr=False)  # as converted: the C engine is generated from it
    plain_bytes: bytes = field(repr=False)
    tflite: TfliteModel = field(repr=False)  # as shipped
    tflite_bytes: bytes = field(repr=False)
    storage: object  # toolchain.weights.WeightStorage
    lut: object = None  # the LutResult shipped, or None


@dataclass(frozen=True)
class Graph:
    """The deployed graph, its analysis, and what is worth a warning about it."""
    tflite: TfliteModel = field(repr=False)
    analysis: ModelAnalysis
    warnings: tuple[str, ...]


@dataclass(frozen=True)
class EngineBuild:
    """The generated C engine, its sizes compiled for the target, and its fit."""
    engine: object = field(repr=False)  # firmware_export.cengine.GeneratedEngine
    size: object  # firmware_export.engine_size.EngineSize
    fit: FitResult
    packed_refused: object = None  # the packed engine's EngineSize when its code outweighed the weights saved


@dataclass(frozen=True)
class FirmwareBuild:
    """The benchmark firmware and the fit read from its ELF (it replaces every estimate)."""
    firmware: object  # firmware_export.firmware.FirmwareResult
    fit: FitResult


@dataclass(frozen=True)
class BuildResult:
    target: TargetProfile = field(repr=False)
    model: LoadedModel
    name: str
    tflite: TfliteModel = field(repr=False)
    tflite_bytes: bytes = field(repr=False)
    calibration: Calibration | None
    converted: ConvertedModel | None
    analysis: ModelAnalysis
    arena: ArenaMeasurement
    fit: FitResult  # the final fit: the firmware's ELF, else the C engine's, else TFLM's
    tflm_fit: FitResult  # the TFLM figures, always, for comparison
    engine: EngineBuild | None = None
    firmware: object = None  # firmware_export.firmware.FirmwareResult, with --firmware
    compression: object = None  # toolchain.compress.report.CompressReport
    weights: object = None  # toolchain.weights.WeightStorage: clustered weights found, how they are shipped
    mlperf: object = None  # MlperfBuild: the benchmark id built in, and the reference model recognised
    projects: tuple = ()  # firmware_export.project.ProjectSources, one per --project
    warnings: tuple[str, ...] = ()
    accuracy: object = None  # toolchain.accuracy.AccuracyReport, with --eval (no compression)


@dataclass(frozen=True)
class MlperfBuild:
    """The MLPerf Tiny side of a build: the id given (--mlperf), the reference model the .tflite is
    (recognised by the SHA-256 of its bytes), and the id proposed for it."""
    benchmark: str | None
    reference: object = None  # toolchain.mlperf.ReferenceModel

    @property
    def proposed(self) -> str | None:
        return self.reference.benchmark if self.reference is not None else None


def build(model_path: str | Path, options: BuildOptions,
          on_pass: Callable[[str], None] = lambda name: None, progress: Progress = SILENT, *,
          firmware_dir: Path | None = None) -> BuildResult:
    """Run every pass of `edgec build` in order. The firmware (options.firmware) is built into
    `firmware_dir`: the FIRMWARE_FOLDER of the caller's staged output (toolchain.outputs).
    `on_pass(name)` is told of each pass, `progress` of the steps of the long ones. A model that
    does not fit is a result (`fit.fits` false), not an error, and its firmware is not built:
    `require_fit` turns it into the error that stops a command."""
    if options.firmware and firmware_dir is None:
        raise ValueError("BuildOptions.firmware needs a firmware_dir to build into")
    target = options.target
    on_pass("load")
    model = load_model(model_path, options.custom_objects, options.trust_lambda)
    calibration = calibrate(model, options)
    if not model.is_tflite:
        on_pass("compress" if options.compresses else "convert")
    quantized = quantize(model, calibration, options, progress)
    on_pass("analyse")
    plain = (model.tflite if quantized.tflite_bytes is model.tflite_bytes
             else read_tflite(quantized.tflite_bytes, str(model.path)))
    graph = inspect_graph(model, plain, quantized.converted is not None, calibration)
    stored = store_weights(plain, quantized, calibration, options, on_pass)
    if stored.lut is not None:  # the graph shipped holds TFLM's DECODE ops: its figures are its own
        graph = Graph(stored.tflite, analyse(stored.tflite, model.layer_names), graph.warnings)
    on_pass("measure")
    arena = measure(stored.tflite_bytes, graph.analysis, progress, graph.tflite, str(model_path))
    tflm = tflm_fit(target, len(stored.tflite_bytes), arena.recommended_bytes, graph.analysis.peak.tensors)
    name = options.name or model.name
    engine, engine_warnings = None, ()
    storage = stored.storage
    if options.needs_engine:
        on_pass("engine")
        engine, engine_warnings = engine_or_fallback(graph.tflite, name, str(model_path), options)
    elif stored.lut is not None:
        on_pass("engine")
        storage = lut_cost(stored, arena, name, str(model_path), options)
    fit = engine.fit if engine is not None else tflm
    accuracy = None
    if options.eval is not None and not options.compresses:  # a compression's table holds its accuracy
        on_pass("evaluate")
        accuracy = evaluate(model, stored, engine, options.eval)
    firmware, firmware_warnings = None, ()
    if options.firmware:
        if fit.fits:
            on_pass("firmware")
            built = build_firmware(engine, model.path.name, target, firmware_dir, options.mlperf)
            firmware, fit = built.firmware, built.fit
        else:
            firmware_warnings = ("the firmware was not built: the C engine does not fit the target",)
    mlperf_build, mlperf_warnings = mlperf_identity(model, graph.tflite, options)
    projects = ()
    if options.projects:
        on_pass("project")
        projects = plan_projects(options.projects, engine, stored.tflite_bytes, arena, calibration, name,
                                 model.path.name, target)
    return BuildResult(target=target, model=model, name=name, tflite=graph.tflite,
                       tflite_bytes=stored.tflite_bytes, calibration=calibration, converted=quantized.converted,
                       analysis=graph.analysis, arena=arena, fit=fit, tflm_fit=tflm, engine=engine,
                       firmware=firmware, compression=quantized.compression, weights=storage, mlperf=mlperf_build,
                       projects=projects, accuracy=accuracy,
                       warnings=graph.warnings + engine_warnings + firmware_warnings + mlperf_warnings)


def require_fit(result: BuildResult) -> None:
    """Stop a command whose model does not fit (exit code 3), with the one message every command gives."""
    if not result.fit.fits:
        raise DoesNotFitError(f"{result.name} does not fit {result.target.name} ({result.fit.runtime} runtime): "
                              + "; ".join(result.fit.problems()))


# --- the passes, in order -------------------------------------------------------------------

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


def quantize(model: LoadedModel, calibration: Calibration | None, options: BuildOptions,
             progress: Progress = SILENT) -> Quantized:
    """The int8 model to deploy: a .tflite as it is, else converted (compressed first when asked)."""
    if model.is_tflite:
        if options.compresses:
            raise DataError(model.path, "a .tflite model cannot be compressed; give the Keras model")
        return Quantized(model.tflite_bytes, None)
    if options.compresses:
        return compress_and_convert(model, calibration, options, progress)
    converted = convert_int8(model, calibration.samples, options.convert)
    return Quantized(converted.tflite_bytes, converted)


def compress_and_convert(model: LoadedModel, calibration: Calibration, options: BuildOptions,
                         progress: Progress = SILENT) -> Quantized:
    """Compress the Keras model, convert it with the build's options (LUT-compressing clustered
    weights), and measure the original and the compressed model side by side."""
    from toolchain.compress.data import fit_to_input, load_dataset
    from toolchain.compress.pipeline import compress, measured
    from toolchain.loader import from_keras

    keras_model = model.keras_model
    shape = tuple(keras_model.inputs[0].shape[1:])
    image_size = tuple(shape[:2]) if len(shape) == 3 else None
    channels = shape[-1] if len(shape) == 3 else None

    def dataset(path):
        return None if path is None else fit_to_input(load_dataset(path, image_size, channels), shape,
                                                      tuple(keras_model.outputs[0].shape[1:]))

    result = compress(keras_model, options.recipe, dataset(options.train), dataset(options.eval),
                      progress=progress)
    deployed_conversion = []

    def converter(m, calib):  # called for the original model, then for the compressed one
        converted = convert_int8(from_keras(m, model.name), calib, options.convert)
        if m is result.model:
            deployed_conversion.append(converted)
        return converted.tflite_bytes

    report, deployed = measured(result, keras_model, calibration.samples, dataset(options.eval), converter,
                                lut=options.weights == "auto")
    return Quantized(deployed.int8, deployed_conversion[-1], report, deployed.lut)


def store_weights(plain: TfliteModel, quantized: Quantized, calibration: Calibration | None,
                  options: BuildOptions, on_pass: Callable[[str], None] = lambda name: None) -> Stored:
    """Find clustered weights; for TFLM, LUT-compress them where the model gets smaller.

    The C engine stores them itself (it cannot run TFLM's DECODE), so an engine build ships the
    model as converted. A .tflite given by the user is shipped as given."""
    from toolchain.weights import WeightStorage, clustered_tensors, lut_for_tflm, model_inputs

    data = quantized.tflite_bytes
    clustered = clustered_tensors(plain)
    if not clustered or options.weights != "auto" or options.needs_engine or calibration is None:
        return Stored(plain, data, plain, data, WeightStorage(options.weights, clustered))
    on_pass("store")
    lut, refused = lut_for_tflm(data, clustered, model_inputs(plain, calibration.samples[:8]), quantized.lut)
    storage = WeightStorage(options.weights, clustered, lut_refused=refused)
    if lut is None:
        return Stored(plain, data, plain, data, storage)
    return Stored(plain, data, read_tflite(lut.model, "the LUT-compressed model"), lut.model, storage, lut)


def inspect_graph(model: LoadedModel, tflite: TfliteModel, converted: bool, calibration: Calibration | None) -> Graph:
    """Analyse the int8 graph; refuse float ops left by a conversion."""
    analysis = analyse(tflite, model.layer_names)
    warnings = check_graph(tflite, analysis, converted, model.layer_names)
    if calibration is not None and calibration.random:
        warnings.insert(0, "ACCURACY RISK: calibrated on random data (--calib-random); "
                           "quantization ranges may not match real inputs")
    return Graph(tflite, analysis, tuple(warnings))


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


def measure(tflite_bytes: bytes, analysis: ModelAnalysis, progress: Progress = SILENT,
            tflite: TfliteModel | None = None, source: str = "model") -> ArenaMeasurement:
    """The TFLM arena, then one inference in it on seeded random inputs (in a forked child): a model
    that TFLM allocates but crashes on in invoke() is refused (ModelCrashError), never called fit."""
    from toolchain.oracle import try_inference

    def on_probe(n: int, size: int) -> None:
        progress.update(description=f"measuring the TFLM arena (allocation {n}: {size:,} B)")

    try:
        arena = measure_arena(tflite_bytes, on_probe)
    except ConversionError as exc:
        if "no kernel for" in exc.problem:
            missing = exc.problem.split("no kernel for ", 1)[1].split(", ")
            raise ConversionError("TFLM cannot run this model: no kernel for",
                                  [(op.op, op.layer) for op in analysis.ops if op.op in missing]) from None
        raise
    if tflite is not None:
        progress.update(description="running one test inference on TFLM")
        specs = [(tflite.main.tensors[i].shape, tflite.main.tensors[i].dtype) for i in tflite.main.inputs]
        try_inference(tflite_bytes, specs, 2 * arena.total_bytes, source)
    return arena


def evaluate(model: LoadedModel, stored: Stored, engine: EngineBuild | None, data: Path):
    """The accuracy on `data` of the model shipped (tflite-micro), of the C engine when the build
    generated one, and of the float model when MODEL is not a .tflite (toolchain.evaluate)."""
    from toolchain.evaluate import build_accuracy

    return build_accuracy(stored.tflite_bytes, stored.plain, data, None if model.is_tflite else model,
                          engine.engine if engine is not None else None, str(model.path))


def engine_or_fallback(tflite: TfliteModel, name: str, source: str,
                       options: BuildOptions) -> tuple[EngineBuild | None, tuple[str, ...]]:
    """The C engine, or (for --runtime c without --firmware) none and a warning when it cannot run
    the model: the build falls back to TFLM. A firmware needs the engine: the error stands."""
    try:
        return generate(tflite, name, source, options.target, options.weights, options.patch), ()
    except UnsupportedOpsError as exc:
        if options.firmware:
            raise
        return None, (f"the C engine cannot run this model, falling back to TFLM: {exc.message}",)


def generate(tflite: TfliteModel, name: str, source: str, target: TargetProfile, weights: str = "auto",
             patch="off") -> EngineBuild:
    """Generate the C engine and size it for the target (UnsupportedOpsError if it cannot)."""
    from firmware_export.cengine.generate import generate_engine
    from firmware_export.engine_size import measure_engine

    engine = generate_engine(tflite, name, source, weights=weights, patch=patch)
    size = measure_engine(engine, target)
    refused = None
    if any(layer.format != "dense" for layer in engine.layers):
        # Packed weights need the packed kernels' code: keep them only where the compiled engine
        # really gets smaller (a small model can save fewer weight bytes than that code costs).
        dense = generate_engine(tflite, name, source, weights="dense", patch=patch)
        dense_size = measure_engine(dense, target)
        if dense_size.flash_bytes <= size.flash_bytes and any(l.format == "sparse_clustered" for l in engine.layers):
            # the sparse-clustered kernels are the largest code: the engine without them may still win
            lean = generate_engine(tflite, name, source, weights=weights, patch=patch, formats=("clustered", "sparse"))
            lean_size = measure_engine(lean, target)
            if lean_size.flash_bytes < dense_size.flash_bytes:
                engine, size = lean, lean_size
        if dense_size.flash_bytes <= size.flash_bytes:
            engine, size, refused = dense, dense_size, size
    return EngineBuild(engine=engine, size=size, fit=engine_fit(target, engine, size), packed_refused=refused)


def lut_cost(stored: Stored, arena: ArenaMeasurement, name: str, source: str, options: BuildOptions):
    """What the shipped LUT costs: the arena against the same model without LUT compression (the
    decoded weights), and the C engine generated and sized for that model, for comparison."""
    import dataclasses

    from toolchain.base.errors import ToolchainError
    from toolchain.weights import LutStorage

    cost = LutStorage(stored.lut, len(stored.plain_bytes), len(stored.tflite_bytes),
                      measure_arena(stored.plain_bytes).total_32bit_bytes, arena.total_32bit_bytes)
    try:
        engine = generate(stored.plain, name, source, options.target, options.weights, options.patch)
    except (UnsupportedOpsError, ToolchainError):
        engine = None
    return dataclasses.replace(stored.storage, lut=cost, engine=engine)


def engine_fit(target: TargetProfile, engine, size) -> FitResult:
    """The fit of the generated C engine: every figure measured from its compiled objects."""
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


def build_firmware(engine: EngineBuild, model_label: str, target: TargetProfile, folder: Path,
                   benchmark: str | None = None) -> FirmwareBuild:
    """Build the benchmark firmware around the engine into `folder`, and read its fit from the ELF.
    With an MLPerf Tiny `benchmark` id, the firmware answers it and decodes inputs as its reference does."""
    from firmware_export.firmware.build import build_firmware as build_elf
    from firmware_export.firmware.context import FirmwareOptions

    firmware = build_elf(engine.engine, target, folder, FirmwareOptions(model_label=model_label, benchmark=benchmark))
    return FirmwareBuild(firmware, firmware_fit(target, firmware, engine.engine))


def mlperf_identity(model: LoadedModel, tflite: TfliteModel,
                    options: BuildOptions) -> tuple[MlperfBuild | None, tuple[str, ...]]:
    """The benchmark id given and the MLPerf Tiny reference model recognised (a .tflite by its bytes,
    a Keras model or SavedModel by its weights), with warnings when the two disagree or when the
    model's input quantization would misread the runner's dataset."""
    from toolchain.loader import model_weights
    from toolchain.mlperf import input_warnings, recognise, recognise_weights

    reference = recognise(model.tflite_bytes) if model.is_tflite else recognise_weights(model_weights(model))
    if reference is None and options.mlperf is None:
        return None, ()
    found = MlperfBuild(options.mlperf, reference)
    warnings = []
    if reference is not None and options.mlperf is not None and options.mlperf != reference.benchmark:
        what = f"the {reference.benchmark} reference model" if reference.benchmark else f"{reference.file}"
        warnings.append(f"--mlperf {options.mlperf}, but this is {what}")
    if options.mlperf is not None:
        t = tflite.main.tensors[tflite.main.inputs[0]]
        scale = t.quant.scales[0] if t.quant and t.quant.scales else 0.0
        zero_point = int(t.quant.zero_points[0]) if t.quant and t.quant.zero_points else 0
        warnings.extend(input_warnings(options.mlperf, (scale, zero_point)))
    return found, tuple(warnings)


def plan_projects(kinds: tuple[str, ...], engine: EngineBuild | None, tflite_bytes: bytes, arena: ArenaMeasurement,
                  calibration: Calibration | None, name: str, source: str, target: TargetProfile) -> tuple:
    """The projects asked for: of the C engine when the build has one, else of TFLM's C array (with
    the tflite-micro version that measured the arena). The example's input is the first calibration
    sample, else seeded random values."""
    from firmware_export.project import ProjectModel, render_project, sample_input
    from toolchain.oracle import tflm_version

    if engine is not None:
        sample, note = sample_input(engine.engine, calibration.samples if calibration is not None else None)
        model = ProjectModel(name, source, engine=engine.engine, sample=sample, sample_note=note)
    else:
        model = ProjectModel(name, source, tflite_bytes=tflite_bytes, arena_bytes=arena.total_bytes,
                             arena_note=arena_note(arena), tflm_version=tflm_version())
    return tuple(render_project(kind, model, target) for kind in kinds)


def arena_note(arena: ArenaMeasurement) -> str:
    return f"{arena.total_bytes:,} B on a 64-bit host, {arena.total_32bit_bytes:,} B for a 32-bit MCU"


def firmware_fit(target: TargetProfile, firmware, engine) -> FitResult:
    """The fit read from the linked firmware ELF (it replaces every estimate)."""
    return check_fit(target, "c", flash_items=[("firmware (from the ELF)", firmware.flash_used_bytes)],
                     sram_items=[("firmware incl. stack (from the ELF)", firmware.sram_used_bytes)],
                     arena_bytes=engine.sram_bytes)


# --- after the passes: the files ----------------------------------------------------------------

def export(result: BuildResult, stage) -> None:
    """Write the model, its TFLM C array and the engine into a staging folder (see toolchain.outputs),
    and take in the firmware that the firmware pass built there."""
    from firmware_export.c_array import render_c_array

    stage.write_bytes("model.tflite", result.tflite_bytes)
    if result.engine is not None:
        for name, text in result.engine.engine.files.items():
            stage.write_text(f"engine/{name}", text)
    note = arena_note(result.arena)
    for name, text in render_c_array(result.tflite_bytes, result.name, result.arena.total_bytes, note).items():
        stage.write_text(name, text)
    for project in result.projects:
        for name, text in project.files.items():
            stage.write_text(f"{project.folder}/{name}", text)
    if result.firmware is not None:
        stage.adopt(FIRMWARE_FOLDER)
