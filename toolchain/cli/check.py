"""`edgec check`: the fit check alone, on a .tflite model, without TensorFlow."""
from __future__ import annotations

from pathlib import Path

import click

from toolchain.cli.options import OutputFolder, make_console, output_options, resolve_target, target_options
from toolchain.base.errors import InputFileError


@click.command()
@click.argument("model", type=click.Path(path_type=Path))
@target_options
@click.option("--out", "-o", "out_dir", type=OutputFolder(),
              help="Also write report.json and report.html into this folder.")
@click.option("--runtime", type=click.Choice(["tflm", "c"]), default="tflm", show_default=True,
              help="Deployment runtime the fit check (and the latency estimate) uses.")
@output_options
def check(model, target, target_file, out_dir, runtime, as_json, quiet):
    """Check that MODEL (.tflite) fits the target: flash, SRAM and the measured TFLM arena (with
    --runtime c, the generated C engine compiled for the target); and estimate its latency.

    \b
    Example:
      edgec check model.tflite --target nucleo-l4r5zi
      edgec check model.tflite --target cortex-m7 --runtime c
    """
    from toolchain.build import BuildOptions, build as run_build, require_fit
    from toolchain.outputs import staged_output
    from toolchain.progress import progress_for
    from toolchain.report.build_result import build_report
    from toolchain.report.build_text import render_build
    from toolchain.report_html import REPORT_FILES, write_reports

    profile = resolve_target(target, target_file)
    if model.suffix.lower() != ".tflite":
        raise InputFileError(model, "edgec check takes a .tflite file", "use `edgec build` for Keras models")
    console = make_console(as_json, quiet)
    with progress_for(console, quiet) as progress:
        result = run_build(model, BuildOptions(target=profile, runtime=runtime), progress=progress)
        report = build_report(result, list(REPORT_FILES) if out_dir else [], command="check")
        if out_dir is not None:
            progress.stage("writing report.json and report.html")
            with staged_output(out_dir) as stage:
                write_reports(stage, report)
    if as_json:
        click.echo(report.to_json(), nl=False)
    else:
        render_build(console, report)
        if out_dir is not None:
            console.print(f"  report: {out_dir / 'report.html'}")
    require_fit(result)
