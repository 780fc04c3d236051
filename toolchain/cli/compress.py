"""`edgec compress`: compress a Keras model and save it as a Keras 3 model.

Also provides `compression_options` (the option bundle `edgec build` reuses) and
`recipe_from_options` (options -> a checked Recipe).
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

import click

from toolchain.base.errors import EXIT_INTERRUPTED, OptionError
from toolchain.cli.options import keras_loading_options
from toolchain.compress.recipe import Recipe, load_recipe, with_options
from toolchain.outputs import staged_output
from toolchain.report.compress_report import CompressCommandReport
from toolchain.report_html import write_reports

SPARSITY = click.FloatRange(0.0, 1.0, max_open=True)
ENERGY = click.FloatRange(0.0, 1.0, min_open=True, max_open=True)


def compression_options(command):
    """The compression options of `edgec compress` and `edgec build`."""
    options = [
        click.option("--prune", type=SPARSITY, metavar="S", help="Magnitude pruning to sparsity S (e.g. 0.75)."),
        click.option("--prune-block", type=click.IntRange(1, 64), metavar="B",
                     help="With --prune: zero whole aligned blocks of B taps per output channel, which the C "
                          "engine's block-sparse kernels skip (1: unstructured, the default)."),
        click.option("--prune-structured", type=SPARSITY, metavar="S",
                     help="Remove a fraction S of the channels (filters) of each prunable group."),
        click.option("--cluster", type=click.IntRange(2, 256), metavar="N",
                     help="Share N values per kernel (k-means); LUT-compressed after int8 conversion."),
        click.option("--factorize", type=ENERGY, metavar="E",
                     help="Split Dense/1x1-conv kernels by SVD, keeping energy fraction E (e.g. 0.9)."),
        click.option("--separable", is_flag=True,
                     help="Each k x k Conv2D (4+ input channels) becomes depthwise k x k + pointwise 1 x 1; "
                          "a Dense reading a Flatten of an H x W map too, as the H x W convolution it is."),
        click.option("--separable-rank", type=click.IntRange(1), metavar="R",
                     help="--separable with R spatial filters per input channel (depthwise multiplier R, "
                          "the R largest SVD terms); implies --separable. Default 1."),
        click.option("--bottleneck", type=ENERGY, metavar="R",
                     help="A 1 x 1 squeeze to a share R of the input channels before each k x k Conv2D."),
        click.option("--qat", is_flag=True,
                     help="Quantization-aware training last: int8 as the converter makes it (keeps zeros, clusters)."),
        click.option("--distill", is_flag=True, help="Fine-tune against the original model's soft outputs."),
        click.option("--train", "train_path", type=click.Path(exists=True), metavar="DATA",
                     help="Training data: .npz with x (and y), or a folder of class subfolders of images."),
        click.option("--eval", "eval_path", type=click.Path(exists=True), metavar="DATA",
                     help="Evaluation data (labeled), same formats as --train; `build` without compression: "
                          "the accuracy of the float model, of the int8 model under tflite-micro and of the C "
                          "engine (.npz, RMSE and max error for regression outputs)."),
        click.option("--recipe", "recipe_path", type=click.Path(exists=True, dir_okay=False), metavar="TOML",
                     help="Compression recipe (per-layer settings, schedule, epochs...); options override it."),
        click.option("--epochs", type=click.IntRange(0), help="Fine-tuning epochs after each technique."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def recipe_from_options(prune=None, prune_structured=None, cluster=None, factorize=None, separable=False,
                        bottleneck=None, distill=False, recipe_path=None, epochs=None, weights=None, qat=False,
                        prune_block=None, separable_rank=None, **_unused) -> Recipe:
    base = load_recipe(recipe_path) if recipe_path else None
    return with_options(base, prune=prune, prune_structured=prune_structured, cluster=cluster,
                        factorize=factorize, separable=separable, separable_rank=separable_rank,
                        bottleneck=bottleneck, distill=distill, qat=qat, epochs=epochs, weights=weights,
                        prune_block=prune_block)


def load_data(model, path):
    """A Dataset for `model`'s input from `path` (images are resized to the input size)."""
    from toolchain.compress.data import fit_to_input, load_dataset

    if path is None:
        return None
    shape = tuple(model.inputs[0].shape[1:])
    image_size = tuple(shape[:2]) if len(shape) == 3 else None
    channels = shape[-1] if len(shape) == 3 else None
    return fit_to_input(load_dataset(path, image_size, channels), shape, tuple(model.outputs[0].shape[1:]))


def write_atomically(path: Path, write) -> None:
    """Call `write(temp_path)` then move the file into place; nothing is left behind on failure."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=path.suffix, dir=path.parent or ".")
    os.close(fd)
    try:
        write(Path(temp))
        os.replace(temp, path)
    finally:
        if os.path.exists(temp):
            os.unlink(temp)


@click.command("compress")
@click.argument("model_path", metavar="MODEL", type=click.Path(exists=True))
@compression_options
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False), help="Compressed model (.keras).")
@click.option("--json", "as_json", is_flag=True,
              help="Print the report as JSON on stdout, nothing else (report.json and report.html are "
                   "written beside OUTPUT either way).")
@click.option("--no-int8", is_flag=True, help="Do not convert to int8 for the report.")
@click.option("--quiet", is_flag=True, help="No progress output.")
@keras_loading_options
@click.pass_context
def compress(ctx, model_path, output, as_json, no_int8, quiet, custom_objects, trust_lambda, **options):
    """Compress MODEL (prune, structured prune, cluster, factorize, compact filters, distill, QAT); save it to OUTPUT.

    \b
    Examples:
      edgec compress model.keras --prune 0.75 --train train.npz --eval test.npz -o pruned.keras
      edgec compress model.keras --prune-structured 0.5 --distill --train train.npz -o small.keras
      edgec compress model.keras --separable --distill --train train.npz -o separable.keras
      edgec compress model.keras --prune 0.75 --qat --train train.npz -o pruned_qat.keras
      edgec compress model.keras --recipe recipe.toml --train train.npz -o out.keras
    """
    output = Path(output)
    if output.suffix != ".keras":
        raise OptionError("--output", str(output), "a file name ending in .keras")
    recipe = recipe_from_options(**options)
    if recipe.is_empty:
        raise OptionError("compress", "no technique",
                          "at least one of --prune, --prune-structured, --cluster, --factorize, --separable, "
                          "--bottleneck, --qat or a --recipe with one")
    from toolchain.cli.options import make_console
    from toolchain.progress import progress_for

    err = make_console(True, False)  # messages and the progress bar go to stderr
    say = (lambda message: None) if quiet or as_json else (lambda message: err.print(message, markup=False))
    try:
        from toolchain.quiet import import_tensorflow

        import_tensorflow()
        from toolchain.compress.layers import load_compressible
        from toolchain.compress.pipeline import calibration_samples, compress as run, measured_report

        model = load_compressible(model_path, custom_objects, trust_lambda)
        train = load_data(model, options["train_path"])
        evaluation = load_data(model, options["eval_path"])
        with progress_for(err, quiet) as progress:
            result = run(model, recipe, train, evaluation, log=say, progress=progress)
        calib = None if no_int8 else calibration_samples(train, evaluation)
        if calib is not None:
            say("converting the original and the compressed model to int8 for the report")
        mode = recipe.storage.weights  # a recipe's [storage] table: dense storage is measured as such
        report = measured_report(result, model, calib, evaluation, lut=mode == "auto", weights=mode)
        document = CompressCommandReport(Path(model_path).stem, str(model_path), str(output), report)
        write_atomically(output, lambda temp: save_for_inference(result.model, temp))
        reports = output.with_name(output.stem + ".report")
        with staged_output(reports) as stage:
            write_reports(stage, document)
    except KeyboardInterrupt:
        click.echo("interrupted: nothing written", err=True)
        ctx.exit(EXIT_INTERRUPTED)
    if as_json:
        click.echo(document.to_json(), nl=False)
        return
    click.echo(document.to_text())
    click.echo(f"saved {output}; report: {reports / 'report.html'}")



def save_for_inference(model, path) -> None:
    """Save the compressed model as a user loads it: its graph and weights, without edgec's
    training set-up (its distillation loss is edgec's own class, which plain Keras could not
    rebuild). Keras writes the compile configuration of a model marked compiled, so the mark is
    lifted for the save."""
    compiled = model.compiled
    model.compiled = False
    try:
        model.save(path)
    finally:
        model.compiled = compiled
