"""`edgec fit`: search the compressions of a model for the most accurate one that fits each target."""
from __future__ import annotations

import re
from pathlib import Path

import click

from toolchain.base.errors import EXIT_INTERRUPTED, DoesNotFitError, OptionError
from toolchain.cli.options import OutputFolder, TargetType, make_console


def parse_duration(text: str) -> float:
    """"30m", "90s", "1h", "1h30m" or plain seconds -> seconds."""
    text = str(text).strip()
    if re.fullmatch(r"\d+(\.\d+)?", text):
        return float(text)
    parts = re.findall(r"(\d+(?:\.\d+)?)([hms])", text)
    if not parts or "".join(a + b for a, b in parts) != text:
        raise OptionError("--time-budget", text, "a duration such as 30m, 90s, 1h30m")
    return sum(float(a) * {"h": 3600, "m": 60, "s": 1}[b] for a, b in parts)


@click.command("fit")
@click.argument("model", type=click.Path(exists=True, path_type=Path))
@click.option("--target", "-t", "targets", type=TargetType(), multiple=True,
              help="Target to fit (repeat for several: one comparison table).")
@click.option("--target-file", "target_files", type=click.Path(dir_okay=False, path_type=Path), multiple=True,
              help="A target profile TOML file of your own (repeatable).")
@click.option("--train", "train_path", type=click.Path(exists=True), required=True, metavar="DATA",
              help="Training data (.npz with x and y, or image folders): fine-tuning and calibration.")
@click.option("--eval", "eval_path", type=click.Path(exists=True), required=True, metavar="DATA",
              help="Labelled evaluation data: the int8 accuracy of every trial.")
@click.option("--max-accuracy-drop", type=click.FloatRange(0), default=1.0, show_default=True,
              help="Points of accuracy a fit may lose against the float model.")
@click.option("--max-latency-ms", type=click.FloatRange(0, min_open=True),
              help="Latency limit: against the latency measured on the emulated board where the trial "
                   "runs the C engine on a core with an emulator, else the runtime's cost-model estimate.")
@click.option("--trials", type=click.IntRange(1), default=20, show_default=True,
              help="Fine-tuned trials at most (configurations measured not to fit are not counted).")
@click.option("--fits", type=click.IntRange(1), default=3, show_default=True,
              help="Fitting trials per target after which configurations that fit only that target are "
                   "measured but not trained (the order is by predicted loss: later ones are expected to lose more).")
@click.option("--time-budget", default="30m", show_default=True, help="Stop starting trials after this long.")
@click.option("--workers", type=click.IntRange(1),
              help="Parallel trials on a local Ray runtime (default: one per core); 1: in this process, no Ray.")
@click.option("--ray-address", help="Run the trials on this Ray cluster (host:port of its head).")
@click.option("--runtime", type=click.Choice(["both", "tflm", "c"]), default="both", show_default=True,
              help="Runtimes measured for each trial (each target keeps the one that fits with most room).")
@click.option("--epochs", type=click.IntRange(0), default=2, show_default=True,
              help="Fine-tuning epochs after each technique.")
@click.option("--no-16x8", "no_16x8", is_flag=True, help="Do not search int16 activations.")
@click.option("--no-distill", is_flag=True, help="Do not search distillation.")
@click.option("--no-qat", is_flag=True, help="No final stage of quantization-aware fine-tuning (on the most "
              "accurate fitting configurations, within the last 20 %% of the time budget).")
@click.option("--out", "-o", "out_dir", type=OutputFolder(), required=True, help="Output folder (resumable).")
@click.option("--json", "as_json", is_flag=True, help="Print report.json on stdout, nothing else.")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar.")
def fit(model, targets, target_files, train_path, eval_path, max_accuracy_drop, max_latency_ms, trials, fits,
        time_budget, workers, ray_address, runtime, epochs, no_16x8, no_distill, no_qat, out_dir, as_json,
        quiet):
    """Search the compressions of MODEL (a Keras model) for the most accurate one that fits each
    --target; build it as `edgec build` would, with the recipe that reproduces it.

    \b
    Example:
      edgec fit model.keras --target cortex-m0plus --target nucleo-l4r5zi \\
          --train train.npz --eval test.npz -o fit/
    Exit codes: 0 every target has a fit, 3 one has none (the closest trial and what it misses by
    are printed), 130 interrupted (the report of the trials finished is written).
    """
    from toolchain.benchmark.emulated_latency import emulated_latency
    from toolchain.progress import progress_for
    from toolchain.search.result import describe_miss, render_terminal
    from toolchain.search.run import fit_model
    from toolchain.search.search import SearchOptions

    import targets as profiles

    targets = tuple(targets) + tuple(profiles.load_target_file(f) for f in target_files)
    if not targets:
        raise click.UsageError("give --target NAME (see `edgec targets`) or --target-file FILE")
    if len({t.name for t in targets}) != len(targets):
        raise click.UsageError("each target once")
    if workers is not None and ray_address is not None:
        raise click.UsageError("give --workers (local) or --ray-address (a cluster), not both")
    options = SearchOptions(
        targets=tuple(targets), runtimes=("tflm", "c") if runtime == "both" else (runtime,),
        max_accuracy_drop=max_accuracy_drop, max_latency_ms=max_latency_ms, trials=trials, fits_per_target=fits,
        time_budget_s=parse_duration(time_budget), workers=workers, ray_address=ray_address, epochs=epochs,
        modes=("int8",) if no_16x8 else ("int8", "16x8"), distill=not no_distill, qat=not no_qat)
    console = make_console(as_json, quiet)
    with progress_for(console, quiet) as progress:
        outcome = fit_model(model, train_path, eval_path, options, out_dir, progress, latency_probe=emulated_latency)
    report = outcome.report
    if as_json:
        import json

        click.echo(json.dumps(report, indent=1, default=str))
    render_terminal(console, report)
    for name, t in report["targets"].items():
        if t["build"]:
            console.print(f"  {name}: built in {t['build']['folder']}/; recipe {t['build']['recipe']}")
    console.print(f"  {report['where']}; {report['wall_seconds']:.0f} s; stopped by {report['stopped_by']}"
                  + (f"; {report['resumed_trials']} trials resumed" if report["resumed_trials"] else ""))
    console.print(f"  report: {out_dir / 'report.html'}")
    if outcome.interrupted:
        click.echo("interrupted: the finished trials are kept and reported; run the same command to continue",
                   err=True)
        raise click.exceptions.Exit(EXIT_INTERRUPTED)
    missing = [(n, t["closest"]) for n, t in report["targets"].items() if t["best"] is None]
    if missing:
        raise DoesNotFitError("; ".join(
            f"nothing fits {n}" + ("" if c is None else f": closest {c['key']} misses by {describe_miss(c['misses'])}")
            for n, c in missing))
