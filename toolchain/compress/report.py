"""The compression report: one row per technique, rendered as a text table or JSON.

Does not import TensorFlow or Keras.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field


@dataclass(frozen=True)
class ReportRow:
    technique: str
    params: int
    macs: int
    float_metric: float | None
    int8_metric: float | None = None
    flash_bytes: int | None = None  # the .tflite as deployed (after LUT compression, if any)
    zip_bytes: int | None = None
    arena_bytes: int | None = None  # the TFLM arena (SRAM), LUT-decoded weights included
    detail: str = ""
    engine_weight_bytes: int | None = None  # the C engine's constants as stored (flash)
    engine_sram_bytes: int | None = None  # the C engine's SRAM for one inference
    int8_delta_points: float | None = None  # int8 accuracy minus the original's int8 accuracy, in points


@dataclass(frozen=True)
class CompressReport:
    metric: str
    rows: list[ReportRow]
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"metric": self.metric, "rows": [asdict(r) for r in self.rows], "notes": self.notes}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)

    def to_text(self) -> str:
        percent = self.metric == "accuracy"

        def metric(v):
            if v is None:
                return "-"
            return f"{100 * v:.2f}%" if percent else f"{v:.4g}"

        def size(v):
            return "-" if v is None else f"{v:,}"

        def points(v):
            return "-" if v is None else f"{v:+.2f}"

        columns = [
            ("technique", lambda r: r.technique, "<"),
            ("params", lambda r: size(r.params), ">"),
            ("MACs", lambda r: size(r.macs), ">"),
            (f"float {self.metric}", lambda r: metric(r.float_metric), ">"),
            (f"int8 {self.metric}", lambda r: metric(r.int8_metric), ">"),
            *([("pts", lambda r: points(r.int8_delta_points), ">")] if percent else []),
            ("TFLM flash (deployed)", lambda r: size(r.flash_bytes), ">"),
            ("SRAM (arena)", lambda r: size(r.arena_bytes), ">"),
            ("zip size", lambda r: size(r.zip_bytes), ">"),
            ("C engine weights", lambda r: size(r.engine_weight_bytes), ">"),
            ("C engine SRAM", lambda r: size(r.engine_sram_bytes), ">"),
        ]
        cells = [[head for head, _, _ in columns]] + [[get(r) for _, get, _ in columns] for r in self.rows]
        widths = [max(len(row[i]) for row in cells) for i in range(len(columns))]
        lines = []
        for n, row in enumerate(cells):
            lines.append("  ".join(f"{c:{align}{w}}" for c, (_, _, align), w in zip(row, columns, widths)).rstrip())
            if n == 0:
                lines.append("  ".join("-" * w for w in widths))
        for r in self.rows:
            if r.detail:
                lines.append(f"{r.technique}: {r.detail}")
        lines += self.notes
        return "\n".join(lines)
