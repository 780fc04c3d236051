"""`edgec validate`: compare a runtime's outputs with the tflite-micro interpreter's."""
from __future__ import annotations

from pathlib import Path

import click
import numpy as np

from toolchain.base.errors import EXIT_INTERNAL


@click.command("validate")
@click.argument("model", type=click.Path(exists=True, dir_okay=False, path_type=Path))
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
@click.pass_context
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON on stdout, nothing else.")
def validate(ctx, model, runtime, inputs_path, count, seed, weights, save_outputs, as_json):
    """Check that the C engine computes exactly what TFLM computes on MODEL.tflite.

    \b
    Example:
      edgec validate model.tflite --runtime c --count 32 --save-outputs out.npz
    """
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
