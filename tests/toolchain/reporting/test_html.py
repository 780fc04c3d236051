"""report.html: self-contained, sections present exactly when their data is, exact numbers in labels."""
from __future__ import annotations

import re

from toolchain.report_html import render_html

REMOTE = re.compile(r"""(?:src|href)\s*=\s*["']?(?:https?:)?//""", re.I)


def test_self_contained(example_report):
    out, _ = example_report
    page = (out / "report.html").read_text()
    assert not REMOTE.search(page) and "http://" not in page and "https://" not in page
    assert "<script" not in page.lower() and "<link" not in page.lower() and "@import" not in page
    assert page.count("<svg") >= 3


def test_memory_map_labels_hold_the_exact_figures(example_report, overflow_report):
    _, report = example_report
    page = render_html(report)
    flash = report["fit"]["flash"]
    assert f"flash: {flash['used_bytes']:,} B of {flash['budget_bytes']:,} B ({flash['free_bytes']:,} B free)" in page
    _, bad = overflow_report
    page = render_html(bad)
    assert "flash: 390,632 B of 262,144 B (over by 128,488 B)" in page
    assert "SRAM: 106,688 B of 32,768 B (over by 73,920 B)" in page
    assert 'class="verdict nofit"' in page


def test_memory_map_splits_the_arena_exactly(overflow_report):
    _, report = overflow_report
    page = render_html(report)
    head = report["arena"]["head_bytes"]
    arena_item = next(i["bytes"] for i in report["fit"]["sram"]["items"] if i["label"] == "tensor arena")
    assert (head, arena_item) == (73_728, 101_568)
    assert "arena: activations: 73,728 B" in page and "arena: persistent data: 27,840 B" in page


def test_timeline_marks_the_measured_peak(overflow_report):
    _, report = overflow_report
    timeline = report["timeline"]
    assert timeline["peak_bytes"] == timeline["measured_head_bytes"] == report["arena"]["head_bytes"] == 73_728
    assert timeline["matches_measured"] is True and timeline["caveats"] == []
    page = render_html(report)
    assert "equal to the arena head TFLM measured" in page
    assert f"peak 73,728 B at op {timeline['peak_op']} (" in page
    assert "APPROXIMATE" not in page


def test_timeline_says_when_the_plan_differs_from_tflm(overflow_report):
    _, report = overflow_report
    timeline = {**report["timeline"], "measured_head_bytes": 80_000, "matches_measured": False,
                "caveats": ["op 3 (CUSTOM:X) may request kernel scratch memory that is not modelled"]}
    page = render_html({**report, "timeline": timeline})
    assert "APPROXIMATE (TFLM measured 80,000 B" in page
    assert "op 3 (CUSTOM:X) may request kernel scratch memory" in page


def test_timeline_blocks_never_overlap_while_alive(example_report, overflow_report):
    """Per op: the live blocks, their byte total, and no two of them sharing an arena byte."""
    for _, report in (example_report, overflow_report):
        timeline = report["timeline"]
        tensors = timeline["tensors"]
        assert [o["index"] for o in timeline["ops"]] == list(range(len(report["analysis"]["layers"])))
        for k, op in enumerate(timeline["ops"]):
            live = [tensors[i] for i in op["live"]]
            assert live == [t for t in tensors if t["first"] <= k <= t["last"]]
            assert op["live_bytes"] == sum(t["bytes"] for t in live)
            spans = sorted((t["offset"], t["offset"] + t["bytes"]) for t in live)
            assert all(a_end <= b_start for (_, a_end), (b_start, _) in zip(spans, spans[1:]))
        top = timeline["peak_bytes"]
        assert any(t["offset"] + t["bytes"] == top for t in (tensors[i] for i in timeline["ops"][timeline["peak_op"]]["live"]))


def test_sections_follow_the_data(example_report):
    _, report = example_report
    page = render_html(report)
    for section in ("memory-map", "timeline", "layers"):
        assert f'id="{section}"' in page
    assert 'id="compression"' not in page and 'id="bench"' not in page
    comp = {"metric": "accuracy", "notes": [], "rows": [
        {"technique": "original", "params": 10, "macs": 5, "float_metric": 0.9, "int8_metric": 0.89,
         "flash_bytes": 1000, "zip_bytes": 900, "arena_bytes": 100, "detail": ""},
        {"technique": "cluster", "params": 10, "macs": 5, "float_metric": 0.88, "int8_metric": 0.87,
         "flash_bytes": 600, "zip_bytes": 400, "arena_bytes": 100, "detail": ""}]}
    page = render_html({**report, "compression": comp})
    assert 'id="compression"' in page and "cluster (600 B)" in page
    bench = {"command": "bench", "target": "cortex-m7", "model": "m.tflite", "device": "dut", "runs": 3,
             "timing_unit": "instructions", "per_inference": {"median": 10.0, "min": 9.0, "max": 12.0,
                                                              "values": [9.0, 10.0, 12.0]},
             "latency_ms": {"median": 1.0, "min": 1.0, "max": 1.0, "values": [1.0]}, "latency_is_estimate": True,
             "comparison": {"exact_match_rate": 1.0, "max_abs_diff": 0.0, "top1_agreement": 1.0,
                            "per_sample_max_diff": [0.0, 0.0], "per_sample_cosine": [1.0, 1.0]},
             "layers": [{"index": 0, "op": "CONV_2D", "count": 7, "share": 1.0}]}
    page = render_html(bench)
    assert 'id="bench"' in page and "3 runs: median 10, min 9, max 12" in page
    assert 'id="memory-map"' not in page and "measured per layer (instructions" in page


def test_deterministic(example_report):
    _, report = example_report
    assert render_html(report) == render_html(report)


def test_compression_without_evaluation_has_a_table_and_no_scatter(example_report):
    _, report = example_report
    row = {"technique": "cluster", "params": 10, "macs": 5, "float_metric": None, "int8_metric": None,
           "flash_bytes": 600, "zip_bytes": 400, "arena_bytes": 100, "detail": ""}
    page = render_html({**report, "compression": {"metric": "accuracy", "notes": [], "rows": [row]}})
    assert 'id="compression"' in page and "<td>600 B</td>" in page
    assert "against flash, per technique" not in page
