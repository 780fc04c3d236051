"""The result of `edgec build` and `edgec check`: one typed value, made from the build's passes
(toolchain.build.BuildResult), that the terminal summary, report.json and report.html all render.

Parts the library already types (the fit, the analysis, the arena, the firmware, the timeline,
the compression table) are held as they are; the rest is typed here.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from toolchain import __version__
from toolchain.analysis import ModelAnalysis
from toolchain.arena import ArenaMeasurement
from toolchain.build import BuildResult, MlperfBuild
from toolchain.fit import FitResult
from toolchain.latency import LatencyEstimate, build_estimates
from toolchain.report.build_json import build_dict, to_json
from toolchain.timeline import Timeline

if TYPE_CHECKING:  # for the annotations only: each is imported where it is made
    from firmware_export.engine_size import EngineSize
    from firmware_export.firmware.build import FirmwareResult
    from firmware_export.project.emit import ProjectSources
    from toolchain.accuracy import AccuracyReport
    from toolchain.compress.report import CompressReport
    from toolchain.weights import ClusteredTensor, LutStorage


@dataclass(frozen=True)
class TensorInfo:
    name: str
    shape: tuple[int, ...]
    dtype: str
    scale: float | None
    zero_point: int | None


@dataclass(frozen=True)
class ModelInfo:
    path: str
    name: str
    format: str  # keras, h5, savedmodel, tflite
    inputs: tuple[TensorInfo, ...]
    outputs: tuple[TensorInfo, ...]


@dataclass(frozen=True)
class CalibrationInfo:
    source: str
    samples: int
    random: bool


@dataclass(frozen=True)
class ConversionInfo:
    performed: bool
    mode: str | None
    io: str | None
    per_channel: bool | None
    calibration: CalibrationInfo | None


@dataclass(frozen=True)
class TargetInfo:
    name: str
    core: str
    clock_hz: int
    flash_bytes: int
    sram_bytes: int


@dataclass(frozen=True)
class LayerStorage:
    """How the engine stores one conv / depthwise / fully-connected op's weights."""
    index: int
    op: str
    layer: str
    tensor: str
    format: str  # dense, clustered, sparse, sparse_clustered, block, block_clustered
    dense_bytes: int
    stored_bytes: int
    index_bits: int
    clusters: int
    density: float


@dataclass(frozen=True)
class PatchReport:
    """The stage the C engine computes patch by patch (firmware_export.cengine.patch)."""
    first_op: int  # model op indices of the stage's first and last op
    last_op: int
    ops: tuple[str, ...]
    patches: int
    bands: str  # "rows" or "columns" of the split tensor
    arena_bytes: int  # the arena, and the kernel scratch beside it if the planner kept it there
    unpatched_arena_bytes: int  # the same without patches
    stage_peak_bytes: int  # the arena's high-water mark during the stage
    stage_macs: int
    added_macs: int
    model_macs: int

    @property
    def overhead(self) -> float:
        return self.added_macs / self.model_macs if self.model_macs else 0.0


def patch_report(e) -> PatchReport | None:
    """The report of a GeneratedEngine's patched stage, if it has one."""
    s = e.patch
    if s is None:
        return None
    return PatchReport(s.first, s.last, tuple(e.op_names[s.first:s.last + 1]), s.patches,
                       "rows" if s.axis == 0 else "columns", e.activation_bytes + e.scratch_bytes, e.unpatched_arena_bytes,
                       e.patch_stage_peak_bytes, s.macs, s.added_macs, s.model_macs)


@dataclass(frozen=True)
class EngineReport:
    """The generated C engine: its buffers, its compiled size, its weight storage and its fit."""
    name: str
    activation_bytes: int
    scratch_bytes: int
    caller_input_bytes: int
    weight_bytes: int
    size: EngineSize  # as compiled for the target
    weights_mode: str
    layers: tuple[LayerStorage, ...]
    packed_refused: EngineSize | None  # the packed engine's size when dense was kept
    fit: FitResult
    patch: PatchReport | None = None  # the stage computed patch by patch (--patch)
    largest_buffer_bytes: int = 0  # the largest activation buffer the engine itself holds
    reversed_ops: tuple[int, ...] = ()  # pointwise ops run one row at a time from the last row (--patch)
    scratch_in_arena_ops: int = 0  # ops whose kernel scratch is planned inside the arena

    @property
    def input_is_largest(self) -> bool:
        """The model input (the application's buffer, read in place) outweighs every engine buffer."""
        return self.caller_input_bytes > self.largest_buffer_bytes

    @property
    def weights_dense_bytes(self) -> int:
        return sum(la.dense_bytes for la in self.layers)

    @property
    def weights_stored_bytes(self) -> int:
        return sum(la.stored_bytes for la in self.layers)


@dataclass(frozen=True)
class WeightsReport:
    """What the build found in the weights and how TFLM ships them (see toolchain.weights)."""
    mode: str
    clustered_tensors: tuple[ClusteredTensor, ...] = ()
    lut: LutStorage | None = None  # TFLM's LUT compression as shipped
    lut_refused: tuple[tuple[str, str], ...] = ()  # (tensor, why)
    engine_instead: EngineReport | None = None  # the C engine for the same model (TFLM builds with a LUT)


@dataclass(frozen=True)
class BuildReport:
    command: str  # "build" or "check"
    edgec_version: str
    model: ModelInfo
    conversion: ConversionInfo
    analysis: ModelAnalysis
    arena: ArenaMeasurement
    target: TargetInfo
    fit: FitResult
    tflm_fit: FitResult
    engine: EngineReport | None
    weights: WeightsReport
    firmware: FirmwareResult | None  # with --firmware
    mlperf: MlperfBuild | None
    compression: CompressReport | None  # with compression options
    timeline: Timeline
    latency: LatencyEstimate  # for the build's runtime: the engine's cost model, or TFLM's figure
    latency_tflm: LatencyEstimate  # TFLM's reference kernels, for comparison
    warnings: tuple[str, ...]
    files: tuple[str, ...]
    projects: tuple[ProjectSources, ...] = ()  # --project
    accuracy: AccuracyReport | None = None  # --eval without compression (a compression's table has it)

    @property
    def latency_estimate_s(self) -> float:
        return self.latency.seconds

    @property
    def fits(self) -> bool:
        return self.fit.fits

    def to_dict(self) -> dict:
        return build_dict(self)

    def to_json(self) -> str:
        return to_json(self.to_dict())


def _tensors(tflite, indices) -> tuple[TensorInfo, ...]:
    out = []
    for i in indices:
        t = tflite.main.tensors[i]
        q = t.quant
        out.append(TensorInfo(t.name, tuple(t.shape), t.dtype, q.scales[0] if q else None,
                              q.zero_points[0] if q else None))
    return tuple(out)


def storage_layers(engine, analysis, layer_names: tuple[str, ...] = ()) -> tuple[LayerStorage, ...]:
    """Per conv / depthwise / fully-connected op, how the engine stores its weights."""
    from toolchain.analysis import layer_of

    ops = {o.index: o for o in analysis.ops} if analysis is not None else {}  # None: not the same graph

    def layer(s) -> str:  # the op's Keras layer; its weights' when the output is a graph output
        op = ops.get(s.op_index)
        return op.layer if op is not None and op.layer != op.output_name else layer_of(s.tensor, layer_names)

    return tuple(LayerStorage(s.op_index, s.op, layer(s), s.tensor, s.format, s.dense_bytes, s.stored_bytes,
                              s.index_bits, s.clusters, s.density) for s in engine.layers)


def engine_report(build, analysis, mode: str, layer_names: tuple[str, ...] = ()) -> EngineReport:
    """The report of a toolchain.build.EngineBuild."""
    e = build.engine
    return EngineReport(e.name, e.activation_bytes, e.scratch_bytes, e.caller_input_bytes, e.weight_bytes,
                        build.size, mode, storage_layers(e, analysis, layer_names), build.packed_refused, build.fit,
                        patch_report(e), max((b.size for b in e.plan.buffers), default=0),
                        e.reversed_ops, e.scratch_in_arena_ops)


def weights_report(result: BuildResult) -> WeightsReport:
    w = result.weights
    if w is None:
        return WeightsReport("auto")
    instead = (engine_report(w.engine, None, w.mode, result.model.layer_names) if w.engine is not None
               else None)
    return WeightsReport(w.mode, tuple(w.clustered), w.lut, tuple(w.lut_refused), instead)


def _timeline(result: BuildResult) -> Timeline:
    """Per op in execution order, the live activations at their planned offsets (toolchain.timeline)."""
    from toolchain.timeline import engine_timeline, tflm_timeline

    if result.engine is not None:
        return engine_timeline(result.engine.engine.plan, result.analysis, patch_report(result.engine.engine))
    return tflm_timeline(result.tflite, result.analysis, result.arena.head_bytes)


def build_report(result: BuildResult, files: list[str] | tuple[str, ...] = (), command: str = "build") -> BuildReport:
    """The report of a build (or a check): `files` are those written into the output folder."""
    conv, cal, target = result.converted, result.calibration, result.target
    conversion = ConversionInfo(
        conv is not None, conv.options.mode if conv else None, conv.options.io if conv else None,
        conv.options.per_channel if conv else None,
        None if cal is None else CalibrationInfo(cal.source, cal.count, cal.random))
    model = ModelInfo(str(result.model.path), result.name, result.model.format,
                      _tensors(result.tflite, result.tflite.main.inputs),
                      _tensors(result.tflite, result.tflite.main.outputs))
    latency, tflm_latency = build_estimates(result.tflite, result.analysis.macs, result.fit.runtime, target.core,
                                            target.clock_hz, result.engine.engine if result.engine is not None else None)
    mode = result.weights.mode if result.weights else "auto"
    engine = (engine_report(result.engine, result.analysis, mode, result.model.layer_names)
              if result.engine is not None else None)
    return BuildReport(
        command=command, edgec_version=__version__, model=model, conversion=conversion,
        analysis=result.analysis, arena=result.arena,
        target=TargetInfo(target.name, target.core, target.clock_hz, target.flash_bytes, target.sram_bytes),
        fit=result.fit, tflm_fit=result.tflm_fit, engine=engine, weights=weights_report(result),
        firmware=result.firmware, mlperf=result.mlperf, compression=result.compression, timeline=_timeline(result),
        latency=latency, latency_tflm=tflm_latency,
        warnings=tuple(result.warnings), files=tuple(sorted(files)), projects=tuple(result.projects),
        accuracy=result.accuracy)
