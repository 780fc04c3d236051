"""`edgec bench` as a library: firmware -> device (or emulator) -> run -> host reference -> compare.

The firmware is a given one, or built by `edgec build`'s passes (toolchain.build), fit check included.

Each step is a function returning a value; `run_bench` only strings them together.
"""
from __future__ import annotations

import statistics
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from targets import TargetProfile
from toolchain.base.errors import EdgecError
from toolchain.benchmark.compare import Comparison, compare_outputs
from toolchain.benchmark.device_run import DeviceRun, run_samples
from toolchain.analysis import analyse
from toolchain.benchmark.reference import (Samples, TensorSpec, host_reference, io_specs, load_samples,
                                           random_samples)
from toolchain.benchmark.report import BenchResult, LayerRow, Stats
from toolchain.device.eembc import EembcClient, open_port
from toolchain.device.emulator import QemuRunner, instructions_from_ticks
from toolchain.base.errors import DeviceError, ModelLoadError, OptionError
from toolchain.base.tflite_reader import read_tflite_bytes, read_tflite_file
from toolchain.mlperf import BENCHMARKS, FLOAT32_QUANTIZED, encode, reconstruction_error


@dataclass(frozen=True)
class BenchOptions:
    target: TargetProfile
    emulate: bool = False
    port: str = ""
    model: Path | None = None
    firmware: Path | None = None  # a folder with firmware.elf (or the ELF itself)
    eval_data: Path | None = None
    runs: int = 10
    warmup: int = 1
    limit: int = 100  # at most this many evaluation samples
    out_dir: Path = Path("edgec-bench")
    timeout_s: float = 5.0  # per answer
    infer_timeout_s: float | None = None  # per inference command; None: inference_timeout_s()
    deadline_s: float | None = None  # the whole device session; None: no limit besides each answer's
    weights: str = "auto"  # the engine's weight storage (as `edgec build --weights`)
    mlperf: str | None = None  # the MLPerf Tiny benchmark id of the firmware built here (as `edgec build --mlperf`)
    patch: str = "off"  # the engine's patched first stage (as `edgec build --patch`)


def build_for_model(model_path: Path, target: TargetProfile, folder: Path, weights: str = "auto",
                    mlperf: str | None = None, patch="off"):
    """The firmware for `model_path`, made by `edgec build --firmware`'s own passes (toolchain.build)
    into `folder`: a model that does not fit is refused as the build refuses it, before any device work.
    Returns the BuildResult (its `firmware` holds the ELF)."""
    from toolchain.build import BuildOptions, build, require_fit

    result = build(model_path, BuildOptions(target=target, runtime="c", firmware=True, weights=weights,
                                            mlperf=mlperf, patch=patch), firmware_dir=folder)
    require_fit(result)
    return result


def _given_firmware(options: BenchOptions) -> tuple[Path, int, int]:
    """The ELF of --firmware, and the flash and SRAM it uses."""
    from firmware_export.firmware.elfsize import read_usage

    path = Path(options.firmware)
    elf = path / "firmware.elf" if path.is_dir() else path
    if not elf.is_file():
        raise OptionError("--firmware", str(path), "a folder holding firmware.elf, or an ELF file")
    usage = read_usage(elf, options.target)
    return elf, usage.flash_used_bytes, usage.sram_used_bytes


def _memory_split(elf: Path, target: TargetProfile):
    """The firmware's bytes per category, from the linker map beside its ELF (none without one)."""
    from firmware_export.firmware.mapfile import read_split

    map_path = elf.parent / "firmware.map"
    if not map_path.is_file():
        return None
    try:
        return read_split(map_path, elf, target)
    except ValueError:  # not a GNU ld map, or not this ELF's: the report goes without the split
        return None


def _samples(options: BenchOptions, in_spec: TensorSpec | None, device_input_bytes: int | None,
             out_spec: TensorSpec | None = None) -> Samples:
    count = max(options.runs, 1)
    if in_spec is None:
        if options.eval_data is not None:
            raise OptionError("--eval", str(options.eval_data), "to be given with --model")
        if not device_input_bytes:
            raise OptionError("--model", "(none)", "a .tflite model: this firmware does not report its input size")
        in_spec = TensorSpec(shape=(device_input_bytes,), dtype="int8", scale=None, zero_point=0)
    if options.eval_data is not None:
        classes = int(out_spec.shape[-1]) if out_spec is not None and out_spec.shape else None
        return load_samples(options.eval_data, in_spec, options.limit, classes)
    return random_samples(in_spec, count)


def _stats(values: list[float]) -> Stats:
    return Stats(median=float(statistics.median(values)), min=float(min(values)), max=float(max(values)),
                 values=tuple(float(v) for v in values))


@dataclass(frozen=True)
class Timing:
    unit: str  # "instructions" (QEMU), "cycles" (a timer on the core clock) or "us" (m-lap-us)
    counts: list[float]  # per run, in `unit`
    latency_ms: list[float]  # per run
    estimate: bool  # latency estimated from instructions, not measured
    clock_hz: int  # the clock the latency is computed at
    convert: Callable[[int], float]  # timer ticks -> `unit`


def _timing(run: DeviceRun, options: BenchOptions) -> Timing:
    target = options.target
    if run.edgec and run.timer == "systick" and options.emulate:
        machine = target.emulator.machine
        conv = lambda t: float(instructions_from_ticks(t, machine))  # noqa: E731
        counts = [conv(r.ticks) for r in run.records]
        # QEMU counts instructions, not cycles: one a cycle at the profile's clock is an estimate
        return Timing("instructions", counts, [c / target.clock_hz * 1e3 for c in counts], True,
                      target.clock_hz, conv)
    if run.edgec and run.timer_hz:
        # Ticks at timer_hz, the core at core_hz: the clock the device says it runs at, which may
        # be below the profile's full speed. Older firmware does not say: its timers (SysTick on
        # the processor clock, the DWT cycle counter) count the core clock.
        core_hz = run.core_hz or run.timer_hz
        conv = lambda t: t * core_hz / run.timer_hz  # noqa: E731 - cycles at the core's real clock
        return Timing("cycles", [conv(r.ticks) for r in run.records],
                      [r.ticks / run.timer_hz * 1e3 for r in run.records], False, core_hz, conv)
    laps = [float(r.lap_us) for r in run.records if r.lap_us is not None]
    if not laps:
        raise DeviceError("the device reported no timestamps (m-lap-us) around its inferences")
    return Timing("us", laps, [c / 1e3 for c in laps], False, target.clock_hz, lambda t: float(t))


UNKNOWN_MODEL_INFER_TIMEOUT_S = 60.0  # --firmware without --model: no MAC count to estimate from
DEVICE_SLACK = 10.0  # a device may be 10x slower than the rough MAC estimate (packed layers, no SIMD)
EMULATOR_S_PER_MAC = 2e-6  # QEMU on a loaded host: >= 5 M instructions/s, <= 10 instructions/MAC


def inference_timeout_s(macs: int | None, target: TargetProfile, emulate: bool, timeout_s: float,
                        inferences: int = 1) -> float:
    """How long to wait for the answer to one `infer` of `inferences` inferences (warm-up ones
    included): the estimated latency with slack (and, emulated, QEMU's wall-clock pace), never
    less than the per-answer timeout."""
    if macs is None:
        return max(timeout_s, UNKNOWN_MODEL_INFER_TIMEOUT_S)
    estimate = macs * target.core_spec.cycles_per_mac_estimate / target.clock_hz * DEVICE_SLACK
    if emulate:
        estimate = max(estimate, macs * EMULATOR_S_PER_MAC)
    return max(timeout_s, estimate * inferences)


def _encoder(benchmark: str | None, in_spec: TensorSpec | None):
    """How a sample becomes the bytes loaded: the tensor's bytes, or the encoding of the MLPerf Tiny
    benchmark the device declares (m-model-[id]), so that one dataset serves edgec and the runner."""
    if benchmark is None:
        return lambda x: np.ascontiguousarray(x).tobytes()
    quant = (in_spec.scale, in_spec.zero_point) if in_spec is not None and in_spec.scale else None
    if BENCHMARKS[benchmark].encoding == FLOAT32_QUANTIZED and quant is None:
        raise OptionError("--model", "(none)", f"the .tflite model: the device declares {benchmark}, whose inputs "
                          "are float32 features made from the model's input scale and zero point")
    return lambda x: encode(benchmark, x, quant)


def _host_results(benchmark: str | None, x: np.ndarray, host: np.ndarray, in_spec, out_spec) -> np.ndarray:
    """What the device prints for sample x, computed on the host: its dequantized outputs, or
    ad01's reconstruction error."""
    if benchmark is not None and BENCHMARKS[benchmark].result == "mse":
        features = np.frombuffer(encode(benchmark, x, (in_spec.scale, in_spec.zero_point)), dtype="<f4")
        return np.array([reconstruction_error(features, host, (out_spec.scale, out_spec.zero_point))],
                        dtype=np.float64)
    return out_spec.dequantize(host)


def _compare(run: DeviceRun, samples: Samples, model_bytes: bytes | None, in_spec, out_spec,
             benchmark: str | None = None, source: str = "model") -> Comparison | None:
    if model_bytes is None:
        return None
    n = len(samples.inputs)
    host = host_reference(model_bytes, samples.inputs, in_spec.shape, source)
    firsts = {}
    for r in run.records:
        firsts.setdefault(r.sample, r)
    recs = [firsts[i] for i in range(n)]
    if run.edgec and all(r.raw is not None for r in recs):
        device = [np.frombuffer(r.raw, dtype=out_spec.dtype) for r in recs]
        return compare_outputs(device, host, samples.labels, "raw")
    device = [np.array(r.results, dtype=np.float64) for r in recs]
    host_real = [_host_results(benchmark, x, h, in_spec, out_spec) for x, h in zip(samples.inputs, host)]
    return compare_outputs(device, host_real, samples.labels, "results", tolerance=0.0005 + 1e-9)


def run_bench(options: BenchOptions, on_run=lambda done, total: None,
              firmware_dir: Path | None = None) -> BenchResult:
    """Benchmark: with --emulate and a model but no --firmware, the firmware is built first (by the
    build's passes) into `firmware_dir` (default: the `firmware` folder of options.out_dir)."""
    target = options.target
    if options.emulate == bool(options.port):
        raise OptionError("--port/--emulate", options.port or "(neither)", "exactly one of --port PORT or --emulate")
    if options.runs < 1 or options.warmup < 0:
        raise OptionError("-n/--warmup", f"{options.runs}/{options.warmup}", "runs >= 1 and warm-up >= 0")
    if options.emulate and (target.emulator is None or target.flasher != "qemu"):
        raise OptionError("--emulate", target.name, "a target with an [emulator] (cortex-m0plus, cortex-m4, "
                          "cortex-m7, cortex-m33, cortex-m55, microbit, netduinoplus2, lm3s6965evb)")
    if options.emulate and options.firmware is None and options.model is None:
        raise OptionError("--emulate", "", "--model MODEL.tflite or --firmware DIR")
    # The model is read (and verified) before any device work: a malformed one is refused at once.
    model = read_tflite_file(options.model) if options.model else None
    model_bytes = read_tflite_bytes(options.model) if options.model else None
    in_spec, out_spec = io_specs(model) if model is not None else (None, None)
    elf, flash_used, sram_used, built = None, None, None, None
    if options.firmware is not None:
        elf, flash_used, sram_used = _given_firmware(options)
    elif options.emulate:
        built = build_for_model(options.model, target, firmware_dir or options.out_dir / "firmware", options.weights,
                                options.mlperf, options.patch)
        elf, flash_used, sram_used = (built.firmware.elf, built.firmware.flash_used_bytes,
                                      built.firmware.sram_used_bytes)
    with ExitStack() as stack:
        if options.emulate:
            runner = stack.enter_context(QemuRunner(target.emulator.machine, elf))
            url, where = runner.url, target.emulator.machine
        else:
            url, where = options.port, options.port
        client = stack.enter_context(EembcClient(open_port(url, target.serial.baud), timeout_s=options.timeout_s,
                                                 deadline_s=options.deadline_s))
        info = client.connect()
        device_input = (client.int_field("edgec-arena", client.arena(), "input")
                        if in_spec is None and client.supports_edgec() else None)
        samples = _samples(options, in_spec, device_input, out_spec)
        benchmark = info.model if info.model in BENCHMARKS else None
        infer_timeout = options.infer_timeout_s or inference_timeout_s(
            analyse(model).macs if model is not None else None, target, options.emulate, options.timeout_s,
            1 + options.warmup)
        run = run_samples(client, info, samples.inputs, options.runs, options.warmup, infer_timeout,
                          on_run, _encoder(benchmark, in_spec))
    timing = _timing(run, options)
    per = _stats(timing.counts)
    analysis = analyse(model) if model is not None else None
    macs = analysis.macs if analysis is not None else None
    names = {o.index: o.layer for o in analysis.ops} if analysis is not None else {}
    # The device results are in hand: a failure of the host reference (a model that crashes TFLM)
    # must not lose them. It is recorded in the result, which the caller writes before failing.
    comparison, host_error = None, ""
    try:
        comparison = _compare(run, samples, model_bytes, in_spec, out_spec, benchmark, str(options.model))
    except ModelLoadError as exc:
        host_error = exc.message
    estimate = _latency_estimate(model, built, target, timing.unit, per.median)
    total_layer = sum(t for _, _, t in run.layers) or 1
    layers = tuple(LayerRow(i, op, int(timing.convert(t)), t / total_layer, names.get(i, ""))
                   for i, op, t in run.layers)
    return BenchResult(
        target=target.name, model=Path(options.model).name if options.model else info.model,
        device=info.name, firmware=info.firmware, emulated=options.emulate, machine=where,
        samples=f"{len(samples.inputs)} from {samples.source}", runs=len(run.records), warmup=options.warmup,
        timing_unit=timing.unit, per_inference=per, latency_ms=_stats(timing.latency_ms),
        latency_is_estimate=timing.estimate, clock_hz=timing.clock_hz, profile_clock_hz=target.clock_hz, macs=macs, per_mac=(per.median / macs) if macs else None,
        comparison=comparison, host_error=host_error, layers=layers,
        flash_used_bytes=flash_used, sram_used_bytes=sram_used, stack_used_bytes=run.stack_used_bytes,
        stack_size_bytes=run.stack_size_bytes, arena_bytes=run.arena_bytes,
        split=_memory_split(elf, target) if elf is not None else None, latency_estimate=estimate)


def _latency_estimate(model, built, target, unit: str, measured: float) -> dict | None:
    """The latency model's figure for the model on the target's core, beside the measured one: the
    engine's layers as the build stored their weights; for a given --firmware, as `edgec build` stores
    them by default (weights auto, no patches), which the figure's `storage` says."""
    if model is None:
        return None
    from toolchain.latency import estimate_engine, patch_of, storage_of

    engine = built.engine.engine if built is not None and built.engine is not None else None
    basis = "as this build stored them"
    if engine is None:
        from firmware_export.cengine import generate_engine

        try:
            engine = generate_engine(model, "model")
            basis = "as edgec build stores them by default (weights auto, no patches): assumed for --firmware"
        except EdgecError:
            basis = "dense int8 (assumed for --firmware)"
    storage = storage_of(engine) if engine is not None else None
    est = estimate_engine(built.tflite if built is not None else model, target.core, target.clock_hz, storage,
                          patch_of(engine) if engine is not None else None)
    # QEMU counts instructions; a board's timer counts cycles (the estimate is one instruction a cycle)
    comparable = unit in ("instructions", "cycles") and measured > 0
    d = est.to_dict()
    return {**d, "unit": "instructions" if est.basis == "engine cost model" else "cycles", "weights": basis,
            "measured": False, "error": d["instructions"] / measured - 1.0 if comparable else None}
