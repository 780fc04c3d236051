"""`edgec inspect`: ops, tensors, parameters, MACs and per-layer sizes of a model."""
from __future__ import annotations

import json
from pathlib import Path

import click

from toolchain.cli.options import keras_loading_options


def inspect_dict(analysis, tflite) -> dict:
    sg = tflite.main
    return {
        "schema_version": 1,
        "model_bytes": analysis.model_bytes, "params": analysis.params, "macs": analysis.macs,
        "weight_bytes": analysis.weight_bytes, "op_counts": analysis.op_counts,
        "peak_activation_bytes": analysis.peak.bytes,
        "layers": [{"index": o.index, "op": o.op, "layer": o.layer, "output_shape": list(o.output_shape),
                    "output_dtype": o.output_dtype, "params": o.params, "macs": o.macs,
                    "weight_bytes": o.weight_bytes} for o in analysis.ops],
        "tensors": [{"index": t.index, "name": t.name, "shape": list(t.shape), "dtype": t.dtype,
                     "bytes": t.nbytes, "constant": t.is_constant,
                     "scales": len(t.quant.scales) if t.quant else 0} for t in sg.tensors],
    }


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
    from toolchain.analysis import analyse
    from toolchain.loader import load_model
    from toolchain.base.tflite_reader import read_tflite

    loaded = load_model(model, custom_objects, trust_lambda)
    if loaded.is_tflite:
        data = loaded.tflite_bytes
    else:
        from toolchain.convert import convert_float

        data = convert_float(loaded)
    tflite = read_tflite(data, str(model))
    analysis = analyse(tflite, loaded.layer_names)
    d = inspect_dict(analysis, tflite)
    if as_json:
        click.echo(json.dumps(d, indent=2))
        return
    from toolchain.cli.options import make_console
    from rich.table import Table

    console = make_console(False, False)
    table = Table(header_style="bold")
    for col in ("#", "op", "layer", "output", "params", "MACs", "weight B"):
        table.add_column(col, justify="right" if col in ("#", "params", "MACs", "weight B") else "left")
    for o in d["layers"]:
        table.add_row(str(o["index"]), o["op"], o["layer"][:40],
                      f"{'x'.join(map(str, o['output_shape']))} {o['output_dtype']}",
                      f"{o['params']:,}", f"{o['macs']:,}", f"{o['weight_bytes']:,}")
    console.print(table)
    console.print(f"{model.name}: {d['model_bytes']:,} B, {d['params']:,} parameters, {d['macs']:,} MACs, "
                  f"{d['weight_bytes']:,} B of weights; peak of live activations {d['peak_activation_bytes']:,} B")
    console.print("ops: " + ", ".join(f"{k} x{v}" for k, v in d["op_counts"].items()))
    if tensors:
        tt = Table(header_style="bold")
        for col in ("#", "name", "shape", "dtype", "bytes", "kind"):
            tt.add_column(col)
        for t in d["tensors"]:
            tt.add_row(str(t["index"]), t["name"][:60], "x".join(map(str, t["shape"])), t["dtype"],
                       f"{t['bytes']:,}", "constant" if t["constant"] else "activation")
        console.print(tt)
