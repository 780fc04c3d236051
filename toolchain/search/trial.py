"""One trial of `edgec fit`: a configuration compressed, converted and measured as `edgec build` measures.

Memory first: the configuration is compressed one-shot (no fine-tuning) and measured with the
build's own passes (quantize, inspect, store, measure, the TFLM fit; the C engine generated and
compiled for each target, its fit). Flash and SRAM depend on the weights' count, zeros and distinct
values, not on the values fine-tuning gives them, so a configuration that does not fit any target
(or misses --max-latency-ms) stops there, before any training is spent on it. One that can fit is
compressed again with fine-tuning, measured again, and its int8 model scored on the evaluation data
(ai-edge-litert, as `edgec compress` scores).

Latency: the estimate of the runtime's cost model for the core, until measured. With a latency probe
(`edgec fit` gives toolchain.benchmark.emulated_latency), a trial that fits a target's memory with
the C engine (trained, or measured one-shot and not trained) is run on the target's emulated board (or one that runs its core's code): its
instruction count replaces the estimate, labelled "measured", and --max-latency-ms is checked against
it. Before training, a configuration whose estimate misses --max-latency-ms is measured too, so that
the estimate alone never rules it out.

A trial returns a plain dict (JSON, stored in the output folder), never a Keras object.
"""
from __future__ import annotations

import hashlib
import os
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from toolchain.compress.recipe import TrainOptions
from toolchain.search.space import Config

VARIABLE_ITEMS = ("model", "tensor arena", "weights and constants (engine)", "activations (engine arena)")


@dataclass(frozen=True)
class Workload:
    """Everything a worker needs, sent once (through Ray's object store when on Ray)."""
    model_bytes: bytes = field(repr=False)  # the model as a .keras file
    model_name: str
    train_x: np.ndarray = field(repr=False)
    train_y: np.ndarray | None = field(repr=False)
    eval_x: np.ndarray = field(repr=False)
    eval_y: np.ndarray = field(repr=False)
    calib: np.ndarray = field(repr=False)
    targets: tuple = ()  # TargetProfile
    runtimes: tuple[str, ...] = ("tflm", "c")
    train_options: TrainOptions = TrainOptions()
    max_latency_ms: float | None = None
    # latency_probe(model.tflite, target, folder) -> dict: the C engine's latency on the target's emulated
    # board (toolchain.benchmark.emulated_latency, a plain function: it travels to Ray workers by name)
    latency_probe: Callable | None = None

    @property
    def digest(self) -> str:
        return hashlib.sha256(self.model_bytes).hexdigest()[:16]


_CACHE: dict[str, tuple] = {}  # per worker process: the model and data of the workload last seen


def _loaded(work: Workload):
    """(Keras model, train Dataset, eval Dataset), loaded once per worker process."""
    if work.digest not in _CACHE:
        import tempfile

        from toolchain.compress.data import Dataset
        from toolchain.compress.layers import load_compressible

        with tempfile.TemporaryDirectory(prefix="edgec-fit-") as folder:  # read whole: removed after
            path = os.path.join(folder, f"{work.model_name}.keras")
            with open(path, "wb") as f:
                f.write(work.model_bytes)
            model = load_compressible(path)
        _CACHE.clear()
        _CACHE[work.digest] = (model, Dataset(work.train_x, work.train_y, "training data"),
                               Dataset(work.eval_x, work.eval_y, "evaluation data"))
    return _CACHE[work.digest]


def _budget(b) -> dict:
    variable = sum(n for label, n in b.items if label in VARIABLE_ITEMS)
    return {"used": b.used_bytes, "budget": b.budget_bytes, "variable": variable}


def _fit_dict(fit) -> dict:
    return {"fits": fit.fits, "flash": _budget(fit.flash), "sram": _budget(fit.sram),
            "arena": _budget(fit.arena), "problems": fit.problems()}


def measure_memory(keras_model, work: Workload, config: Config, name: str) -> tuple[dict, bytes]:
    """Per target: per runtime, the fit as `edgec build` measures it; and the int8 model as converted.

    The build's passes, run once up to the arena (target-independent), then each target's fits."""
    from toolchain.base.errors import UnsupportedOpsError
    from toolchain.base.tflite_reader import read_tflite
    from toolchain.build import (BuildOptions, Calibration, Graph, generate, inspect_graph, measure, quantize,
                                 store_weights)
    from toolchain.analysis import analyse
    from toolchain.convert import ConvertOptions
    from toolchain.fit import tflm_fit
    from toolchain.loader import from_keras
    from toolchain.latency import build_estimates

    loaded = from_keras(keras_model, name)
    calibration = Calibration(work.calib, "training data", len(work.calib), False)
    options = BuildOptions(target=work.targets[0], convert=ConvertOptions(mode=config.mode))
    quantized = quantize(loaded, calibration, options)
    plain = read_tflite(quantized.tflite_bytes, name)
    graph = inspect_graph(loaded, plain, True, calibration)
    tflm = None
    if "tflm" in work.runtimes:
        stored = store_weights(plain, quantized, calibration, options)
        shipped = graph if stored.lut is None else Graph(stored.tflite, analyse(stored.tflite, loaded.layer_names),
                                                         graph.warnings)
        arena = measure(stored.tflite_bytes, shipped.analysis, tflite=shipped.tflite, source=name)
        tflm = (len(stored.tflite_bytes), arena.recommended_bytes, shipped.analysis.peak.tensors, stored.lut)
    out = {}
    for target in work.targets:
        runtimes = {}
        if tflm is not None:
            fit = tflm_fit(target, tflm[0], tflm[1], tflm[2])
            runtimes["tflm"] = {**_fit_dict(fit), "lut": tflm[3] is not None}
        engine = None
        if "c" in work.runtimes:
            try:
                engine = generate(graph.tflite, name, name, target, "auto")
                runtimes["c"] = {**_fit_dict(engine.fit),
                                 "packed": any(layer.format != "dense" for layer in engine.engine.layers)}
            except UnsupportedOpsError as exc:
                runtimes["c"] = {"fits": False, "unsupported": exc.message}
        macs = graph.analysis.macs
        chosen = _choose(runtimes)
        on_engine = chosen == "c" or (chosen is None and engine is not None)
        estimate, _ = build_estimates(graph.tflite, macs, "c" if on_engine else "tflm", target.core,
                                      target.clock_hz, engine.engine if on_engine and engine is not None else None)
        latency_ms = 1000 * estimate.seconds
        fits_latency = work.max_latency_ms is None or latency_ms <= work.max_latency_ms
        out[target.name] = {"runtimes": runtimes, "runtime": chosen, "macs": macs,
                            "latency_ms": latency_ms, "latency": f"estimate ({estimate.basis})",
                            "latency_measured": False,
                            "memory_fits": chosen is not None and runtimes[chosen]["fits"],
                            "latency_fits": fits_latency}
    return out, quantized.tflite_bytes


def measure_latency(targets: dict, tflite: bytes, work: Workload, wanted: Callable[[dict], bool]) -> None:
    """Per target whose figures `wanted` selects and whose chosen runtime is the C engine: the
    latency of the int8 model `tflite` measured by `work.latency_probe`, in place of the estimate
    (kept as latency_estimate_ms), and --max-latency-ms checked against it. A target the probe
    cannot run (no emulator for its core, a firmware larger than every emulated board) keeps the
    estimate, with why."""
    chosen = [t for t in work.targets if t.name in targets and targets[t.name]["runtime"] == "c"
              and wanted(targets[t.name])]
    if work.latency_probe is None or not chosen:
        return
    with tempfile.TemporaryDirectory(prefix="edgec-fit-latency-") as folder:
        path = Path(folder) / f"{work.model_name}.tflite"
        path.write_bytes(tflite)
        for target in chosen:
            figures = targets[target.name]
            result = work.latency_probe(path, target, Path(folder) / target.name)
            if result["latency"] != "emulated":
                figures["latency_not_measured"] = result["why"]
                continue
            figures.update(latency_estimate_ms=figures["latency_ms"], latency_ms=result["latency_ms"],
                           latency_measured=True, emulated=result,
                           latency=f"measured ({result['basis']}: {result['instructions']:,} instructions at "
                                   f"{result['clock_hz'] / 1e6:g} MHz)",
                           latency_fits=work.max_latency_ms is None or result["latency_ms"] <= work.max_latency_ms)


def _choose(runtimes: dict) -> str | None:
    """The runtime that fits with the most room (the largest fraction of flash, SRAM or arena used is
    the smallest); when none fits, the one that misses by the least."""
    def worst(r):
        return max(r[m]["used"] / r[m]["budget"] for m in ("flash", "sram", "arena"))

    measured = {k: v for k, v in runtimes.items() if "flash" in v}
    if not measured:
        return None
    return min(measured, key=lambda k: (not measured[k]["fits"], worst(measured[k]), k))


def _fitting(targets: dict) -> set[str]:
    return {name for name, t in targets.items() if t["memory_fits"] and t["latency_fits"]}


def run_trial(work: Workload, config: Config, need: tuple[str, ...] | None = None) -> dict:
    """Measure `config`'s memory one-shot; if it can fit one of the targets in `need` (all by
    default: the ones still without a fit), fine-tune it, measure it, score it."""
    from toolchain.compress.pipeline import compress
    from toolchain.compress.train import score
    from toolchain.compress.measure import run_tflite

    started = time.monotonic()
    model, train, evaluation = _loaded(work)
    name = work.model_name
    record = {"key": config.key, "config": config.to_dict(), "pid": os.getpid()}
    one_shot = compress(model, config.recipe(work.train_options, one_shot=True), None, None).model
    memory, one_shot_int8 = measure_memory(one_shot, work, config, name)
    # the estimate misses --max-latency-ms: measured before it rules the configuration out
    measure_latency(memory, one_shot_int8, work, lambda t: t["memory_fits"] and not t["latency_fits"])
    record["one_shot"] = memory
    fitting = _fitting(memory)
    if not fitting or not fitting & set(need if need is not None else memory):
        # Fits nothing, or only targets that have a fit already (a configuration found later is
        # expected to lose more accuracy: the order is by predicted loss): no training spent. Its
        # latency is measured all the same where it fits memory (fine-tuning keeps its zeros and
        # clusters, so the one-shot engine runs the same kernels).
        measure_latency(memory, one_shot_int8, work, lambda t: t["memory_fits"] and not t["latency_measured"])
        record.update(status="does-not-fit" if not fitting else "fits-untrained", targets=memory, accuracy=None,
                      seconds=round(time.monotonic() - started, 3))
        return record
    labeled = train if train.y is not None else None
    if config.distill or labeled is not None:
        tuned = compress(model, config.recipe(work.train_options), train, None).model
    else:
        tuned = one_shot  # no labels and no distillation: nothing to fine-tune on
    targets, int8 = measure_memory(tuned, work, config, name)
    measure_latency(targets, int8, work, lambda t: t["memory_fits"])
    accuracy = score(run_tflite(int8, evaluation.x), evaluation, True)
    record.update(status="trained", targets=targets, accuracy=round(100 * accuracy, 4),
                  seconds=round(time.monotonic() - started, 3))
    return record
