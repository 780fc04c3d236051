"""`edgec fit` from start to end: load, search, build the best fit per target, write the reports.

Output folder:
    DIR/report.json, DIR/report.html   the search: every trial, the Pareto fronts, the best fits
    DIR/trials/KEY.json                 one per finished trial (resume reads them back)
    DIR/sensitivity.json, DIR/search.json, DIR/calib.npz
    DIR/TARGET/                         the best fit for TARGET built as `edgec build` builds it (same
                                        files), with recipe.toml, which reproduces it:
                                        edgec build MODEL --recipe DIR/TARGET/recipe.toml ...
"""
from __future__ import annotations

import hashlib
import json
import shlex
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from toolchain.base.errors import DataError, OptionError
from toolchain.progress import SILENT, Progress
from toolchain.search.search import SearchOptions, prepare, run_search


@dataclass
class FitOutcome:
    report: dict
    records: list[dict]
    interrupted: bool


def _fingerprint(model, train, evaluation, options: SearchOptions) -> dict:
    """What a stored trial depends on: the model (its weights and configuration), the data, the options."""
    digest = hashlib.sha256(json.dumps(model.get_config(), sort_keys=True, default=str).encode())
    for a in (*model.get_weights(), train.x, evaluation.x, evaluation.y):
        digest.update(np.ascontiguousarray(a).tobytes())
    return {"inputs_sha256": digest.hexdigest(), "targets": [t.name for t in options.targets],
            "runtimes": list(options.runtimes), "epochs": options.epochs, "batch_size": options.batch_size,
            "learning_rate": options.learning_rate, "max_latency_ms": options.max_latency_ms}


def reproduce_command(model_path, target: str, runtime: str, mode: str, out_dir: Path, train_path,
                      eval_path) -> str:
    return " ".join(shlex.quote(str(a)) for a in (
        "edgec", "build", model_path, "--target", target, "--runtime", runtime, "--mode", mode,
        "--recipe", out_dir / target / "recipe.toml", "--train", train_path, "--eval", eval_path,
        "--calib", out_dir / "calib.npz", "-o", f"{target}-rebuilt"))


def build_best(model_path, record: dict, target, out_dir: Path, train_path, eval_path, options: SearchOptions,
               progress: Progress = SILENT) -> dict:
    """The best fit for `target`, built by `toolchain.build.build` with its recipe (as `edgec build
    --recipe` builds it), exported into DIR/TARGET/ with its report and recipe.toml."""
    from toolchain.build import BuildOptions, build, export
    from toolchain.compress.recipe import TrainOptions
    from toolchain.convert import ConvertOptions
    from toolchain.outputs import staged_output
    from toolchain.report.build_result import build_report
    from toolchain.report_html import write_reports
    from toolchain.search.space import Config, recipe_toml

    config = Config.from_dict(record["config"])
    runtime = record["targets"][target.name]["runtime"]
    recipe = config.recipe(TrainOptions(options.epochs, options.batch_size, options.learning_rate))
    command = reproduce_command(model_path, target.name, runtime, config.mode, out_dir, train_path, eval_path)
    text = recipe_toml(recipe, f"edgec fit: trial {config.key} for {target.name}\nreproduce with:\n  {command}")
    build_options = BuildOptions(target=target, calib=out_dir / "calib.npz", runtime=runtime,
                                 convert=ConvertOptions(mode=config.mode), recipe=recipe,
                                 weights=recipe.storage.weights, train=Path(train_path), eval=Path(eval_path))
    progress.stage(f"building the best fit for {target.name} ({config.key})")
    with staged_output(out_dir / target.name) as stage:
        result = build(model_path, build_options, progress=progress)
        export(result, stage)
        stage.write_text("recipe.toml", text)
        files = stage.files + ["report.json", "report.html"]
        write_reports(stage, build_report(result, files))
    final = result.compression.rows[-1] if result.compression is not None else None
    if final is None and result.accuracy is not None:  # no compression: the build measured it (--eval)
        tflm = next(sc for sc in result.accuracy.scores if sc.runtime == "int8 tflite-micro")
        final_accuracy = tflm.accuracy_percent
    else:
        final_accuracy = None if final is None or final.int8_metric is None else round(100 * final.int8_metric, 4)
    return {"folder": str(out_dir / target.name), "recipe": str(out_dir / target.name / "recipe.toml"),
            "command": command, "fits": result.fit.fits, "flash": result.fit.flash.used_bytes,
            "sram": result.fit.sram.used_bytes,
            "int8_accuracy": final_accuracy}


def workload_for(model_path, train_path, eval_path, options: SearchOptions, out_dir: Path,
                 progress: Progress = SILENT, latency_probe=None):
    """(the Workload the trials receive, the SearchState to run): the model and data loaded, the
    output folder checked against the search stored there, the calibration samples written, the
    float baseline and the sensitivity analysis done."""
    from toolchain.compress.data import fit_to_input, load_dataset
    from toolchain.compress.layers import load_compressible
    from toolchain.compress.pipeline import calibration_samples
    from toolchain.compress.recipe import TrainOptions
    from toolchain.compress.train import is_classifier
    from toolchain.quiet import import_tensorflow
    from toolchain.search.trial import Workload

    import_tensorflow()
    out_dir = Path(out_dir)
    progress.stage("loading the model and the data")
    model = load_compressible(model_path)
    shape = tuple(model.inputs[0].shape[1:])
    image_size = tuple(shape[:2]) if len(shape) == 3 else None
    channels = shape[-1] if len(shape) == 3 else None
    train = fit_to_input(load_dataset(train_path, image_size, channels), shape)
    evaluation = fit_to_input(load_dataset(eval_path, image_size, channels), shape)
    if evaluation.y is None:
        raise DataError(eval_path, "evaluation data needs labels 'y' (the search compares accuracies)")
    if not is_classifier(model, evaluation):
        raise DataError(eval_path, "edgec fit searches classifiers (accuracy); the labels are not class indices")
    with tempfile.TemporaryDirectory(prefix="edgec-fit-") as folder:
        saved = Path(folder) / "model.keras"
        compiled = model.compiled
        model.compiled = False
        model.save(saved)
        model.compiled = compiled
        model_bytes = saved.read_bytes()
    out_dir.mkdir(parents=True, exist_ok=True)
    fingerprint = _fingerprint(model, train, evaluation, options)
    search_file = out_dir / "search.json"
    if search_file.exists():
        previous = json.loads(search_file.read_text())
        if previous != fingerprint:
            changed = sorted(k for k in fingerprint if previous.get(k) != fingerprint[k])
            raise OptionError("-o", str(out_dir), "a new folder, or the same model, data and options as the "
                              f"search stored there (they differ in: {', '.join(changed)})")
    search_file.write_text(json.dumps(fingerprint, indent=1))
    calib = calibration_samples(train, evaluation)
    np.savez(out_dir / "calib.npz", x=calib)
    state = prepare(model, evaluation, out_dir, options, progress)
    work = Workload(model_bytes, Path(model_path).stem, train.x, train.y, evaluation.x, evaluation.y, calib,
                    tuple(options.targets), tuple(options.runtimes),
                    TrainOptions(options.epochs, options.batch_size, options.learning_rate), options.max_latency_ms,
                    latency_probe)
    return work, state


def fit_model(model_path, train_path, eval_path, options: SearchOptions, out_dir: Path,
              progress: Progress = SILENT, runner=None, build: bool = True, latency_probe=None) -> FitOutcome:
    """Search, then (`build`, unless interrupted) build the best fit per target; write the reports.

    `latency_probe(model.tflite, target, folder) -> dict` (toolchain.benchmark.emulated_latency, given
    by the CLI: this layer does not run devices) measures latency on the target's emulated board: of
    every trained trial that fits a target's memory with the C engine (in the trial, on its worker),
    and of each built fit; its figure replaces the estimate, labelled measured."""
    from toolchain.search.result import render_html, search_dict

    out_dir = Path(out_dir)
    work, state = workload_for(model_path, train_path, eval_path, options, out_dir, progress, latency_probe)
    state = run_search(work, options, out_dir, state, progress, runner)
    records = list(state.records.values())
    builds = {}
    report = search_dict(state, options, options.targets, builds, [])
    if build and not state.interrupted:
        for target in options.targets:
            best = report["targets"][target.name]["best"]
            if best is not None:
                builds[target.name] = build_best(model_path, state.records[best["key"]], target, out_dir,
                                                 train_path, eval_path, options, progress)
                if latency_probe is not None:
                    progress.stage(f"latency of the fit for {target.name} on its emulated board")
                    with tempfile.TemporaryDirectory(prefix="edgec-fit-emulate-") as folder:
                        builds[target.name]["latency"] = latency_probe(out_dir / target.name / "model.tflite",
                                                                       target, Path(folder))
    files = ["report.json", "report.html", "search.json", "sensitivity.json", "calib.npz"] + \
        [f"trials/{p.name}" for p in sorted((out_dir / "trials").glob("*.json"))] + \
        [f"{name}/" for name in builds]
    report = search_dict(state, options, options.targets, builds, files)
    (out_dir / "report.json").write_text(json.dumps(report, indent=1, default=str) + "\n")
    (out_dir / "report.html").write_text(render_html(report, records))
    return FitOutcome(report, records, state.interrupted)
