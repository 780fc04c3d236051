"""`edgec inspect`: ops, tensors, parameters, MACs and per-layer sizes of a model."""
from __future__ import annotations

from pathlib import Path

import click

from toolchain.cli.options import keras_loading_options


@click.command()
@click.argument("model", type=click.Path(path_type=Path))
@click.option("--tensors", is_flag=True, help="Also list every tensor.")
@click.option("--json", "as_json", is_flag=True, help="Print as JSON on stdout.")
@keras_loading_options
def inspect_model(model, tensors, as_json, custom_objects, trust_lambda):
    """Print MODEL's ops, parameters, MACs and per-layer sizes.

    A .tflite file is read without TensorFlow; a Keras or SavedModel model is first converted to a
    float TFLite graph at batch 1.

    \b
    Example:
      edgec inspect model.tflite --tensors
    """
    from toolchain.cli.options import make_console
    from toolchain.report.inspect_report import inspect_model as run_inspect, render_inspect

    report = run_inspect(model, custom_objects, trust_lambda)
    if as_json:
        click.echo(report.to_json(), nl=False)
        return
    render_inspect(make_console(False, False), report, tensors)
