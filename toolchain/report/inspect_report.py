"""The result of `edgec inspect`: a model's ops, tensors, parameters, MACs and sizes, typed,
rendered as terminal tables and as JSON."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from toolchain.analysis import ModelAnalysis


@dataclass(frozen=True)
class TensorRow:
    index: int
    name: str
    shape: tuple[int, ...]
    dtype: str
    bytes: int
    constant: bool
    scales: int  # quantization scales (one per channel, or one)


@dataclass(frozen=True)
class InspectReport:
    model: str  # the file's name
    analysis: ModelAnalysis
    tensors: tuple[TensorRow, ...]

    def to_dict(self) -> dict:
        a = self.analysis
        return {
            "schema_version": 1,
            "model_bytes": a.model_bytes, "params": a.params, "macs": a.macs,
            "weight_bytes": a.weight_bytes, "op_counts": a.op_counts,
            "peak_activation_bytes": a.peak.bytes,
            "layers": [{"index": o.index, "op": o.op, "layer": o.layer, "output_shape": list(o.output_shape),
                        "output_dtype": o.output_dtype, "params": o.params, "macs": o.macs,
                        "weight_bytes": o.weight_bytes} for o in a.ops],
            "tensors": [{"index": t.index, "name": t.name, "shape": list(t.shape), "dtype": t.dtype,
                         "bytes": t.bytes, "constant": t.constant, "scales": t.scales} for t in self.tensors],
        }

    def to_json(self) -> str:
        from toolchain.report.build_json import to_json

        return to_json(self.to_dict())


def inspect_model(path: Path, custom_objects: Path | None = None, trust_lambda: bool = False) -> InspectReport:
    """Read (a .tflite) or convert to a float TFLite graph at batch 1 (Keras, SavedModel), then analyse."""
    from toolchain.analysis import analyse
    from toolchain.base.tflite_reader import read_tflite
    from toolchain.loader import load_model

    loaded = load_model(path, custom_objects, trust_lambda)
    if loaded.is_tflite:
        data = loaded.tflite_bytes
    else:
        from toolchain.convert import convert_float

        data = convert_float(loaded)
    tflite = read_tflite(data, str(path))
    tensors = tuple(TensorRow(t.index, t.name, tuple(t.shape), t.dtype, t.nbytes, t.is_constant,
                              len(t.quant.scales) if t.quant else 0) for t in tflite.main.tensors)
    return InspectReport(Path(path).name, analyse(tflite, loaded.layer_names), tensors)


def render_inspect(console, report: InspectReport, tensors: bool = False) -> None:
    """The ops as a table, the totals, and (with `tensors`) every tensor."""
    from rich.table import Table

    a = report.analysis
    table = Table(header_style="bold")
    for col in ("#", "op", "layer", "output", "params", "MACs", "weight B"):
        table.add_column(col, justify="right" if col in ("#", "params", "MACs", "weight B") else "left")
    for o in a.ops:
        table.add_row(str(o.index), o.op, o.layer[:40], f"{'x'.join(map(str, o.output_shape))} {o.output_dtype}",
                      f"{o.params:,}", f"{o.macs:,}", f"{o.weight_bytes:,}")
    console.print(table)
    console.print(f"{report.model}: {a.model_bytes:,} B, {a.params:,} parameters, {a.macs:,} MACs, "
                  f"{a.weight_bytes:,} B of weights; peak of live activations {a.peak.bytes:,} B")
    console.print("ops: " + ", ".join(f"{k} x{v}" for k, v in a.op_counts.items()))
    if tensors:
        tt = Table(header_style="bold")
        for col in ("#", "name", "shape", "dtype", "bytes", "kind"):
            tt.add_column(col)
        for t in report.tensors:
            tt.add_row(str(t.index), t.name[:60], "x".join(map(str, t.shape)), t.dtype,
                       f"{t.bytes:,}", "constant" if t.constant else "activation")
        console.print(tt)
