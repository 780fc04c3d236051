"""`edgec build`: parse the options, run the passes (toolchain.build), print the result."""
from __future__ import annotations

from pathlib import Path

import click

from toolchain.cli.compress import compression_options, recipe_from_options
from toolchain.cli.options import (OutputFolder, SymbolName, keras_loading_options, make_console,
                                   output_options, patch_option, resolve_target, target_options,
                                   weights_option)
from toolchain.mlperf import BENCHMARK_IDS

PASS_LABELS = {"load": "loading the model", "convert": "converting to int8 (TFLite converter)",
               "analyse": "analysing the graph", "measure": "measuring the TFLM arena",
               "engine": "generating and sizing the C engine",
               "evaluate": "measuring accuracy on --eval", "firmware": "building the firmware",
               "compress": "compressing, fine-tuning and converting",
               "store": "LUT-compressing the clustered weights for TFLM",
               "project": "writing the projects"}
PROJECT_KINDS = ("cmake", "make", "arduino")  # firmware_export.project.PROJECT_KINDS (checked by a test)


def summarize_files(files: list[str]) -> str:
    """Top-level files by name, folders by their file count: one line, however many files."""
    top = sorted(f for f in files if "/" not in f)
    folders: dict[str, int] = {}
    for f in files:
        if "/" in f:
            folders[f.split("/")[0]] = folders.get(f.split("/")[0], 0) + 1
    return ", ".join(top + [f"{d}/ ({n} files)" for d, n in sorted(folders.items())])


@click.command()
@click.argument("model", type=click.Path(path_type=Path))
@target_options
@click.option("--out", "-o", "out_dir", type=OutputFolder(), default=Path("build"),
              show_default=True, help="Output folder.")
@click.option("--calib", type=click.Path(path_type=Path),
              help="Calibration samples: .npy, .npz (array 'x') or a folder of images.")
@click.option("--calib-random", is_flag=True, help="Calibrate on random data (an accuracy risk, reported).")
@click.option("--image-range", type=click.Choice(["0-1", "0-255", "-1-1"]), default="0-1", show_default=True,
              help="Value range of calibration images.")
@click.option("--io", "io_type", type=click.Choice(["int8", "float32"]), default="int8", show_default=True,
              help="Type of the model's input and output tensors.")
@click.option("--mode", type=click.Choice(["int8", "16x8"]), default="int8", show_default=True,
              help="int8 activations, or int16 activations with int8 weights.")
@click.option("--runtime", type=click.Choice(["tflm", "c"]), default="tflm", show_default=True,
              help="Deployment runtime the fit check uses.")
@keras_loading_options
@click.option("--firmware", is_flag=True,
              help="Also build the benchmark firmware (C engine; ELF/BIN/HEX) for Cortex-M targets.")
@click.option("--name", type=SymbolName(), help="Name for the exported C symbols (default: the model file's name).")
@click.option("--mlperf", type=click.Choice(BENCHMARK_IDS),
              help="MLPerf Tiny benchmark id the firmware answers (m-model-[...]), decoding the official "
                   "runner's inputs as that benchmark's reference firmware does (with --firmware).")
@click.option("--project", "projects", type=click.Choice(PROJECT_KINDS), multiple=True,
              help="Also write a project a person compiles, with an example that runs the model: a CMake "
                   "library (cmake/), a plain Makefile (make/) or an Arduino library (arduino/); repeatable. "
                   "Of the C engine with --runtime c, else of TFLM's C array.")
@weights_option
@patch_option
@compression_options
@output_options
def build(model, target, target_file, out_dir, calib, calib_random, image_range, io_type, mode, runtime,
          custom_objects, trust_lambda, firmware, name, mlperf, projects, weights, patch, as_json, quiet, train_path,
          eval_path, **compression):
    """Quantize MODEL to int8, check it fits the target, export it into --out.

    MODEL is a Keras 3 .keras file, a Keras 2 .h5 file, a SavedModel folder or a .tflite file
    (then conversion is skipped).

    \b
    Example:
      edgec build examples/fashion_cnn.keras --target cortex-m7 \\
          --calib examples/fashion_calib.npz -o out/
    """
    from toolchain.build import FIRMWARE_FOLDER, BuildOptions, build as run_build, export, require_fit
    from toolchain.convert import ConvertOptions
    from toolchain.outputs import staged_output
    from toolchain.progress import progress_for
    from toolchain.report.build_result import build_report
    from toolchain.report.build_text import render_build
    from toolchain.report_html import REPORT_FILES, write_reports

    profile = resolve_target(target, target_file)
    if calib is not None and calib_random:
        raise click.UsageError("give --calib or --calib-random, not both")
    recipe = recipe_from_options(weights=weights, **compression)
    options = BuildOptions(target=profile, calib=calib, calib_random=calib_random, image_range=image_range,
                           convert=ConvertOptions(mode=mode, io=io_type), runtime=runtime,
                           custom_objects=custom_objects, trust_lambda=trust_lambda, name=name,
                           firmware=firmware, recipe=recipe, weights=recipe.storage.weights, patch=patch,
                           train=train_path, eval=eval_path, mlperf=mlperf,
                           projects=tuple(dict.fromkeys(projects)))
    console = make_console(as_json, quiet)
    with progress_for(console, quiet) as progress, staged_output(out_dir) as stage:
        result = run_build(model, options, progress.passes(PASS_LABELS), progress,
                           firmware_dir=stage.folder(FIRMWARE_FOLDER) if firmware else None)
        export(result, stage)
        progress.stage("writing report.json and report.html")
        report = build_report(result, stage.files + list(REPORT_FILES))
        write_reports(stage, report)
    if as_json:
        click.echo(report.to_json(), nl=False)
    else:
        render_build(console, report)
        console.print(f"  outputs: {out_dir}/ ({summarize_files(report.files)})")
        for project in report.projects:
            what = "C engine" if project.runtime == "c" else "TFLM C array"
            where = f"{out_dir}/{project.folder}"
            how = " && ".join([f"cd {where}", *project.commands]) if project.commands else project.usage
            console.print(f"  project {project.folder}/ ({what}): {how}", soft_wrap=True)
        console.print(f"  report: {out_dir / 'report.html'}")
    require_fit(result)
