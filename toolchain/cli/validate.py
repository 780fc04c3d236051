"""`edgec validate`: compare a runtime's outputs with the tflite-micro interpreter's."""
from __future__ import annotations

from pathlib import Path

import click
import numpy as np

from toolchain.base.errors import EXIT_INTERNAL, OptionError
from toolchain.cli.options import keras_loading_options


@click.command("validate")
@click.argument("model", type=click.Path(exists=True, path_type=Path))
@click.option("--runtime", type=click.Choice(["c"]), default="c", show_default=True,
              help="Runtime to check against TFLM: 'c' is the generated C engine, compiled for the host.")
@click.option("--inputs", "inputs_path", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help=".npz with one array: a batch of inputs, one per row in the model's input shape "
                   "(float values are quantized with the model's input scale). Default: random inputs.")
@click.option("--count", type=click.IntRange(1, 100000), default=16, show_default=True,
              help="Number of random inputs (without --inputs).")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the random inputs.")
@click.option("--weights", type=click.Choice(["auto", "dense"]), default="auto", show_default=True,
              help="Weight storage of the engine, as `edgec build --weights` (clustered/sparse where it pays, "
                   "or plain int8).")
@click.option("--save-outputs", type=click.Path(dir_okay=False, writable=True, path_type=Path),
              help="Save the runtime's raw outputs to this .npz (array 'outputs', one row per input).")
@click.option("--eval", "eval_path", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Labelled data (.npz: x and y): accuracy of the float model, of the int8 model under "
                   "tflite-micro and of the C engine (checked byte for byte against tflite-micro on every sample), "
                   "and the per-layer error of int8 against float. Without integer labels: RMSE and max error.")
@click.option("--reference", "reference_path", type=click.Path(exists=True, path_type=Path),
              help="The float model (Keras, SavedModel) a .tflite MODEL was converted from (with --eval).")
@click.option("--calib", "calib_path", type=click.Path(exists=True, path_type=Path),
              help="Calibration samples when MODEL is a Keras model converted here (with --eval; default: 200 "
                   "samples of the evaluation set).")
@click.option("--layer-samples", type=click.IntRange(0), default=100, show_default=True,
              help="Samples the per-layer error is measured on (with --eval; 0: none).")
@keras_loading_options
@click.pass_context
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON on stdout, nothing else.")
def validate(ctx, model, runtime, inputs_path, count, seed, weights, save_outputs, as_json, eval_path,
             reference_path, calib_path, layer_samples, custom_objects, trust_lambda):
    """Check that the C engine computes exactly what TFLM computes on MODEL.tflite; with --eval, measure
    accuracy on labelled data (float, int8 under TFLM, C engine) and the per-layer int8 error.

    \b
    Examples:
      edgec validate model.tflite --runtime c --count 32 --save-outputs out.npz
      edgec validate model.keras --eval test.npz
      edgec validate model.tflite --eval test.npz --reference model.keras
    """
    if eval_path is not None:
        return _validate_eval(ctx, model, eval_path, reference_path, calib_path, weights, layer_samples,
                              custom_objects, trust_lambda, as_json, save_outputs, inputs_path)
    for name, value in (("--reference", reference_path), ("--calib", calib_path)):
        if value is not None:
            raise OptionError(name, str(value), "only with --eval")
    if model.is_dir() or (model.is_file() and model.suffix.lower() != ".tflite"):  # a device: refused on reading
        raise OptionError("MODEL", str(model), "a .tflite file (or give --eval to convert a Keras model here)")
    from toolchain.validate import validate_c_engine

    result, outputs = validate_c_engine(model, inputs_path=inputs_path, count=count, seed=seed, weights=weights)
    if save_outputs is not None:
        np.savez(save_outputs, outputs=outputs)
    if as_json:
        click.echo(result.to_json(), nl=False)
    else:
        for line in result.lines():
            click.echo(line)
        if save_outputs is not None:
            click.echo(f"engine outputs saved to {save_outputs}")
    if not result.passed:
        click.echo("the engine's outputs differ from TFLM's: this is a bug in edgec, please report it", err=True)
        ctx.exit(EXIT_INTERNAL)


def _validate_eval(ctx, model, eval_path, reference_path, calib_path, weights, layer_samples, custom_objects,
                   trust_lambda, as_json, save_outputs, inputs_path):
    for name, value in (("--inputs", inputs_path), ("--save-outputs", save_outputs)):
        if value is not None:
            raise OptionError(name, str(value), "not with --eval (the evaluation set is the input)")
    from toolchain.evaluate import evaluate
    from toolchain.quiet import import_tensorflow

    if model.is_dir() or model.suffix.lower() != ".tflite" or reference_path is not None:
        import_tensorflow()
    result = evaluate(model, eval_path, reference_path, calib_path, weights, layer_samples, custom_objects,
                      trust_lambda)
    if as_json:
        import json

        click.echo(json.dumps({"schema_version": 1, "command": "validate", **result.to_dict()}, indent=2))
    else:
        for line in result.lines():
            click.echo(line)
    if not result.passed:
        click.echo("the engine's outputs differ from TFLM's: this is a bug in edgec, please report it", err=True)
        ctx.exit(EXIT_INTERNAL)
