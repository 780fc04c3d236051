"""The TFLM export: a .tflite model as a C array (`model_data.cc` / `model_data.h`).

Deterministic: the same bytes and names give the same text (no dates, no paths).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from string import Template

TEMPLATES = Path(__file__).resolve().parent / "templates"
BYTES_PER_LINE = 12
_C_KEYWORDS = frozenset("""auto break case char const continue default do double else enum extern float
for goto if inline int long register restrict return short signed sizeof static struct switch typedef
union unsigned void volatile while alignas alignof bool class delete false new private public
template this true try using virtual""".split())


def c_identifier(name: str) -> str:
    """A valid C identifier derived from any name (file stems like '2-model.v1')."""
    ident = re.sub(r"[^0-9A-Za-z_]", "_", name).strip("_") or "model"
    ident = re.sub(r"_+", "_", ident)
    if ident[0].isdigit():
        ident = "m_" + ident
    if ident in _C_KEYWORDS:
        ident += "_"
    return ident


@dataclass(frozen=True)
class CArrayContext:
    """Exactly the fields the two templates use."""
    source_name: str
    guard: str
    macro_prefix: str
    array_name: str
    header_name: str
    arena_bytes: int
    arena_note: str
    length: int
    rows: str


def _rows(data: bytes) -> str:
    lines = []
    for i in range(0, len(data), BYTES_PER_LINE):
        chunk = data[i:i + BYTES_PER_LINE]
        lines.append("    " + ", ".join(f"0x{b:02x}" for b in chunk) + ",")
    return "\n".join(lines)


def render_c_array(data: bytes, model_name: str, arena_bytes: int, arena_note: str,
                   header_name: str = "model_data.h") -> dict[str, str]:
    """Return {"model_data.h": text, "model_data.cc": text}."""
    ident = c_identifier(model_name).lower()
    ctx = CArrayContext(
        source_name=re.sub(r"[^\w.\-]", "_", model_name), guard=f"EDGEC_{ident.upper()}_MODEL_DATA_H_",
        macro_prefix=ident.upper(), array_name=f"{ident}_model_data", header_name=header_name,
        arena_bytes=-(-arena_bytes // 16) * 16, arena_note=arena_note, length=len(data), rows=_rows(data),
    )
    fields = vars(ctx)
    header = Template((TEMPLATES / "model_data.h.tmpl").read_text()).substitute(fields)
    source = Template((TEMPLATES / "model_data.cc.tmpl").read_text()).substitute(fields)
    return {header_name: header, "model_data.cc": source}
