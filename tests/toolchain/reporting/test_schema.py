"""The JSON contract: schema_version 1, and every pinned key present with its type (keys are
only ever added; a key pinned as null may later hold an object)."""
from __future__ import annotations

import json
from pathlib import Path

PINNED = json.loads((Path(__file__).resolve().parent.parent / "report_schema_v1.json").read_text())


def _kind(v) -> str:
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "boolean"
    if isinstance(v, (int, float)):
        return "number"
    return {str: "string", list: "array", dict: "object"}[type(v)]


def _lookup(doc, path: str):
    """Values at a pinned path ('.a.b[].c'): every element of lists marked []."""
    values = [doc]
    for part in [p for p in path.split(".") if p]:
        many = part.endswith("[]")
        key = part[:-2] if many else part
        nxt = []
        for v in values:
            if not isinstance(v, dict) or key not in v:
                raise KeyError(path)
            item = v[key]
            nxt.extend(item if many else [item])
        values = nxt
    return values


def test_build_report_keeps_every_pinned_key(example_report):
    _, report = example_report
    assert report["schema_version"] == PINNED["schema_version"] == 1
    for path, kind in PINNED["keys"].items():
        for value in _lookup(report, path):
            got = _kind(value)
            assert got == kind or (kind == "null" and got == "object"), f"{path}: {got}, pinned {kind}"


def test_engine_build_report_keeps_every_pinned_key(engine_report):
    """With --runtime c, the engine's keys: its weight storage per layer."""
    _, report = engine_report
    for path, kind in PINNED["engine_keys"].items():
        for value in _lookup(report, path):
            got = _kind(value)
            assert got == kind or (kind == "null" and got == "object"), f"{path}: {got}, pinned {kind}"
    assert [la["layer"] for la in report["engine"]["layers"]] == ["conv1", "conv2", "fc1", "logits"]


def test_firmware_build_report_keeps_every_pinned_key(firmware_report):
    """With --firmware, the commands that built it."""
    _, report = firmware_report
    for path, kind in PINNED["firmware_keys"].items():
        for value in _lookup(report, path):
            assert _kind(value) == kind, path


def test_check_report_has_the_same_contract(overflow_report):
    _, report = overflow_report
    missing = [p for p in PINNED["keys"] if not p.startswith(".conversion.calibration")
               and _safe(report, p) is None]
    assert missing == []


def _safe(doc, path):
    try:
        return _lookup(doc, path)
    except KeyError:
        return None


def test_documented_keys_are_the_pinned_ones():
    """docs/report-json.md names every top-level key of the contract."""
    doc = (Path(__file__).resolve().parents[3] / "docs" / "report-json.md").read_text()
    top = {p.split(".")[1].rstrip("[]") for p in PINNED["keys"] if p != "."}
    assert [k for k in sorted(top) if f"`{k}`" not in doc] == []
