"""report.html: self-contained, sections present exactly when their data is, exact numbers in labels."""
from __future__ import annotations

import re
from dataclasses import replace

from toolchain.benchmark.compare import Comparison
from toolchain.benchmark.report import BenchResult, LayerRow, Stats
from toolchain.compress.report import CompressReport, ReportRow
from toolchain.report_html import render_html

REMOTE = re.compile(r"""(?:src|href)\s*=\s*["']?(?:https?:)?//""", re.I)


def test_self_contained(example_report):
    out, _ = example_report
    page = (out / "report.html").read_text()
    assert not REMOTE.search(page) and "http://" not in page and "https://" not in page
    assert "<script" not in page.lower() and "<link" not in page.lower() and "@import" not in page
    assert page.count("<svg") >= 3


def test_memory_map_labels_hold_the_exact_figures(example_result, overflow_result):
    _, report = example_result
    page = render_html(report)
    flash = report.fit.flash
    assert f"flash: {flash.used_bytes:,} B of {flash.budget_bytes:,} B ({flash.free_bytes:,} B free)" in page
    _, bad = overflow_result
    page = render_html(bad)
    assert "flash: 390,632 B of 262,144 B (over by 128,488 B)" in page
    assert "SRAM: 106,688 B of 32,768 B (over by 73,920 B)" in page
    assert 'class="verdict nofit"' in page


def test_memory_map_splits_the_arena_exactly(overflow_report, overflow_result):
    _, report = overflow_report
    page = render_html(overflow_result[1])
    head = report["arena"]["head_bytes"]
    arena_item = next(i["bytes"] for i in report["fit"]["sram"]["items"] if i["label"] == "tensor arena")
    assert (head, arena_item) == (73_728, 101_568)
    assert "arena: activations: 73,728 B" in page and "arena: persistent data: 27,840 B" in page


def test_timeline_marks_the_measured_peak(overflow_report, overflow_result):
    _, report = overflow_report
    timeline = report["timeline"]
    assert timeline["peak_bytes"] == timeline["measured_head_bytes"] == report["arena"]["head_bytes"] == 73_728
    assert timeline["matches_measured"] is True and timeline["caveats"] == []
    page = render_html(overflow_result[1])
    assert "equal to the arena head TFLM measured" in page
    assert f"peak 73,728 B at op {timeline['peak_op']} (" in page
    assert "APPROXIMATE" not in page


def test_timeline_says_when_the_plan_differs_from_tflm(overflow_result):
    _, report = overflow_result
    timeline = replace(report.timeline, measured_head_bytes=80_000,
                       caveats=("op 3 (CUSTOM:X) may request kernel scratch memory that is not modelled",))
    assert timeline.matches_measured is False
    page = render_html(replace(report, timeline=timeline))
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


def test_sections_follow_the_data(example_result):
    _, report = example_result
    page = render_html(report)
    for section in ("memory-map", "timeline", "layers"):
        assert f'id="{section}"' in page
    assert 'id="compression"' not in page and 'id="bench"' not in page
    comp = CompressReport("accuracy", [
        ReportRow("original", 10, 5, 0.9, 0.89, flash_bytes=1000, zip_bytes=900, arena_bytes=100),
        ReportRow("cluster", 10, 5, 0.88, 0.87, flash_bytes=600, zip_bytes=400, arena_bytes=100)])
    page = render_html(replace(report, compression=comp))
    assert 'id="compression"' in page and "cluster (600 B)" in page
    bench = BenchResult(
        target="cortex-m7", model="m.tflite", device="dut", firmware="fw", emulated=True, machine="mps2-an500",
        samples="", runs=3, warmup=0, timing_unit="instructions", per_inference=Stats(10.0, 9.0, 12.0, (9.0, 10.0, 12.0)),
        latency_ms=Stats(1.0, 1.0, 1.0, (1.0,)), latency_is_estimate=True, clock_hz=0, profile_clock_hz=0, macs=None,
        per_mac=None, comparison=Comparison(2, 1.0, 0.0, 1.0, 1.0, None, None, "raw", 0, (0.0, 0.0), (1.0, 1.0)),
        layers=(LayerRow(0, "CONV_2D", 7, 1.0),), flash_used_bytes=None, sram_used_bytes=None,
        stack_used_bytes=None, stack_size_bytes=None, arena_bytes=None)
    page = render_html(bench)
    assert 'id="bench"' in page and "3 runs: median 10, min 9, max 12" in page
    assert 'id="memory-map"' not in page and "measured per layer (instructions" in page


def test_deterministic(example_result):
    _, report = example_result
    assert render_html(report) == render_html(report)


def test_compression_without_evaluation_has_a_table_and_no_scatter(example_result):
    _, report = example_result
    row = ReportRow("cluster", 10, 5, None, None, flash_bytes=600, zip_bytes=400, arena_bytes=100)
    page = render_html(replace(report, compression=CompressReport("accuracy", [row])))
    assert 'id="compression"' in page and "<td>600 B</td>" in page
    assert "against flash, per technique" not in page
