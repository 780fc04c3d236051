"""`edgec bench`: run a model on a device (or the emulator) over serial, compare with the host."""
from __future__ import annotations

from pathlib import Path

import click

from toolchain.cli.options import (OutputFolder, make_console,
                                   output_options, patch_option, resolve_target, target_options,
                                   weights_option)
from toolchain.mlperf import BENCHMARK_IDS


@click.command()
@target_options
@click.option("--port", "-p", default="", help="Serial port of the board (e.g. /dev/ttyACM0), or a pyserial URL.")
@click.option("--emulate", is_flag=True, help="Run the firmware on the target's QEMU machine instead of a board.")
@click.option("--model", "-m", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="The .tflite model: built into firmware with --emulate, and the host reference.")
@click.option("--firmware", type=click.Path(exists=True, path_type=Path),
              help="A built firmware (folder with firmware.elf) to run instead of building one.")
@click.option("--eval", "eval_data", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Evaluation data .npz (x, and y for accuracy); default: random inputs.")
@click.option("-n", "runs", type=click.IntRange(min=1), default=10, show_default=True,
              help="Timed inferences (at least one per input sample; runs cycle over the samples).")
@click.option("--warmup", type=click.IntRange(min=0), default=1, show_default=True,
              help="Untimed inferences before the first timed one.")
@click.option("--limit", type=click.IntRange(min=1), default=100, show_default=True,
              help="At most this many evaluation samples.")
@click.option("--timeout", "timeout_s", type=click.FloatRange(min=0.1), default=5.0, show_default=True,
              help="Seconds to wait for each answer; an inference waits for its estimated latency "
                   "(from the model's MACs) with slack, at least this. A timed-out inference is retried once.")
@click.option("--deadline", "deadline_s", type=click.FloatRange(min=0.1),
              help="Seconds the whole device session may take, retries included (default: no limit "
                   "besides each answer's timeout).")
@click.option("--out", "-o", "out_dir", type=OutputFolder(),
              default=Path("edgec-bench"), show_default=True, help="Folder for report.json (and the firmware built).")
@click.option("--mlperf", type=click.Choice(BENCHMARK_IDS),
              help="MLPerf Tiny benchmark id of the firmware built from --model (as `edgec build --mlperf`); "
                   "inputs are then sent in that benchmark's encoding, as to any firmware declaring an id.")
@weights_option
@patch_option
@output_options
def bench(target, target_file, port, emulate, model, firmware, eval_data, runs, warmup, limit, timeout_s,
          deadline_s, out_dir, mlperf, weights, patch, as_json, quiet):
    """Benchmark a model on a device speaking the MLPerf Tiny protocol, or on QEMU.

    Connects, identifies the device, loads inputs, runs the inferences, reads the outputs back
    and compares them with the tflite-micro interpreter on the host.

    \b
    Example:
      edgec bench --target cortex-m7 --emulate --model model.tflite -n 10
      edgec bench --target nucleo-h743zi --port /dev/ttyACM0 --model model.tflite --eval eval.npz
    """
    from toolchain.benchmark import BenchOptions, render, run_bench
    from toolchain.build import FIRMWARE_FOLDER
    from toolchain.outputs import staged_output
    from toolchain.progress import progress_for
    from toolchain.report_html import write_reports

    profile = resolve_target(target, target_file)
    if emulate and port:
        raise click.UsageError("give --port or --emulate, not both")
    if not emulate and not port:
        raise click.UsageError("give --port PORT (a board) or --emulate (QEMU)")
    options = BenchOptions(target=profile, emulate=emulate, port=port, model=model, firmware=firmware,
                           eval_data=eval_data, runs=runs, warmup=warmup, limit=limit, out_dir=out_dir,
                           timeout_s=timeout_s, deadline_s=deadline_s, weights=weights or "auto", mlperf=mlperf,
                           patch=patch)
    console = make_console(as_json, quiet)
    with progress_for(console, quiet) as progress, staged_output(out_dir) as stage:
        progress.stage("connecting, building or loading the firmware")

        def on_run(done, total):  # each run loads its input over serial, infers, reads back
            progress.update(description="load input, infer, read outputs", completed=done, total=total)

        result = run_bench(options, on_run, firmware_dir=stage.folder(FIRMWARE_FOLDER))
        stage.adopt(FIRMWARE_FOLDER)  # the firmware built from --model, if one was
        write_reports(stage, result)
    report = out_dir / "report.html"
    if as_json:
        click.echo(result.to_json(), nl=False)
    else:
        render(result, console)
        console.print(f"  report: {report}")
    if result.host_error:
        from toolchain.base.errors import EdgecError

        raise EdgecError(f"{result.host_error}; the device results are saved in {out_dir / 'report.json'}")
