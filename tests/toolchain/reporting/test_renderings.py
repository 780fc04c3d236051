"""One typed result per command, rendered three ways: for every command the JSON rendering keeps
the pinned keys (report_schema_v1.json), and a figure put into the typed result shows in the
terminal text, the JSON and (build, check, compress, bench) the HTML page alike."""
from __future__ import annotations

import io
import json
from dataclasses import replace

import pytest

from firmware_export.firmware.mapfile import MemorySplit
from tests.conftest import MLPERF_TINY
from tests.toolchain.reporting.test_schema import PINNED, _kind, _lookup
from toolchain.benchmark.compare import Comparison
from toolchain.benchmark.report import BenchResult, LayerRow, Stats, render
from toolchain.compress.report import CompressReport, ReportRow
from toolchain.report.build_text import render_build
from toolchain.report.compress_report import CompressCommandReport
from toolchain.report_html import render_html
from toolchain.validate import ValidationResult


def _text(render_to, result) -> str:
    """What a rich renderer prints, as plain text."""
    from rich.console import Console

    console = Console(file=io.StringIO(), width=200, no_color=True, highlight=False)
    render_to(console, result)
    return console.file.getvalue()


def _json(result) -> dict:
    """The JSON rendering, as a consumer reads it (the text, parsed)."""
    text = result.to_json()
    assert text.endswith("}\n")
    document = json.loads(text)
    assert document == json.loads(json.dumps(result.to_dict()))
    return document


def _keeps_pinned(document: dict, pinned: dict[str, str], skip: str = "") -> None:
    for path, kind in pinned.items():
        if skip and path.startswith(skip):
            continue
        for value in _lookup(document, "." + path if not path.startswith(".") else path):
            got = _kind(value)
            assert got == kind or (kind == "null" and got == "object"), f"{path}: {got}, pinned {kind}"


@pytest.mark.parametrize("fixture", ["example_result", "overflow_result"])
def test_build_and_check(fixture, request):
    """A flash item added to the typed BuildReport: in the summary, report.json and the memory map."""
    _, report = request.getfixturevalue(fixture)
    flash = report.fit.flash
    marked = replace(report, fit=replace(report.fit, flash=replace(flash, items=flash.items + (("test item", 4242),))))
    document = _json(marked)
    # a check converts nothing: its conversion keys are there, null
    _keeps_pinned(document, PINNED["keys"], skip=".conversion" if report.command == "check" else "")
    assert document["command"] == report.command
    assert document["fit"]["flash"]["items"][-1] == {"label": "test item", "bytes": 4242}
    assert document["fit"]["flash"]["used_bytes"] == flash.used_bytes + 4242
    assert f"{flash.used_bytes + 4242:,} B" in (text := _text(render_build, marked)) and "test item 4,242 B" in text
    page = render_html(marked)
    assert "test item: 4,242 B" in page and f"flash: {flash.used_bytes + 4242:,} B of" in page
    assert "test item 4,242 B" not in _text(render_build, report)


def test_build_accuracy(example_result):
    """--eval without compression: the AccuracyReport in the summary, report.json (key `accuracy`,
    pinned) and the page; classification and regression alike."""
    from toolchain.accuracy import AccuracyReport, Scores

    _, report = example_result
    assert _json(report)["accuracy"] is None and 'id="accuracy"' not in render_html(report)
    scores = (Scores("float", 1000, 89.7, None, None, "labels"), Scores("int8 tflite-micro", 1000, 89.6, None, None,
                                                                        "labels"),
              Scores("int8 C engine", 1000, 89.6, None, None, "labels"))
    marked = replace(report, accuracy=AccuracyReport("classification", 1000, scores))
    document = _json(marked)
    _keeps_pinned(document, PINNED["keys"])
    assert document["accuracy"]["samples"] == 1000 and document["accuracy"]["scores"][2] == {
        "runtime": "int8 C engine", "count": 1000, "accuracy_percent": 89.6, "rmse": None, "max_abs_error": None,
        "against": "labels"}
    assert ("accuracy on 1,000 --eval samples: float 89.70%; int8 tflite-micro 89.60%; int8 C engine 89.60%"
            in _text(render_build, marked))
    assert "<tr><td>int8 C engine</td><td>89.60%</td><td>-</td><td>-</td><td>labels</td></tr>" in render_html(marked)
    regression = replace(report, accuracy=AccuracyReport("regression", 50, (
        Scores("int8 tflite-micro", 50, None, 0.125, 0.5, "targets"),)))
    assert ("error on 50 --eval samples: int8 tflite-micro RMSE 0.125, max |error| 0.5 (against targets)"
            in _text(render_build, regression))
    assert "<tr><td>int8 tflite-micro</td><td>-</td><td>0.125</td><td>0.5</td><td>targets</td></tr>" in render_html(
        regression)


def test_compress():
    rows = [ReportRow("original", 105_866, 1_117_056, 0.897, 0.896, 113_064, 99_552, 19_040),
            ReportRow("cluster", 105_866, 1_117_056, 0.897, 0.897, 63_760, 52_155, 105_760, "conv2: 16 values",
                      56_927, 14_616, 0.1)]
    report = CompressCommandReport("fashion_cnn", "fashion_cnn.keras", "out/c.keras",
                                   CompressReport("accuracy", rows, ["a note"]))
    document = _json(report)
    _keeps_pinned(document, PINNED["other_commands"]["compress"])
    assert document["compression"]["rows"][1]["flash_bytes"] == 63_760
    text = report.to_text()
    assert "  63,760  " in text and "cluster: conv2: 16 values" in text and "a note" in text
    page = render_html(report)
    assert "<td>63,760 B</td>" in page and "cluster (63,760 B)" in page and 'id="memory-map"' not in page


def test_bench():
    split = MemorySplit(flash=(("weights", 108_293), ("engine", 5_204)), sram=(("engine", 13_136), ("stack", 4_096)))
    result = BenchResult(
        target="cortex-m7", model="model.tflite", device="dut", firmware="fw", emulated=True, machine="mps2-an500",
        samples="5 from eval.npz", runs=5, warmup=1, timing_unit="instructions",
        per_inference=Stats(3_300_840.0, 3_297_200.0, 3_302_040.0, (3_297_200.0, 3_300_840.0, 3_302_040.0)),
        latency_ms=Stats(15.28, 15.26, 15.29, (15.26, 15.28, 15.29)), latency_is_estimate=True,
        clock_hz=216_000_000, profile_clock_hz=216_000_000, macs=1_117_056, per_mac=2.955,
        comparison=Comparison(5, 1.0, 0.0, 1.0, 1.0, 0.8, 0.8, "raw", 0, (0.0,) * 5, (1.0,) * 5),
        layers=(LayerRow(0, "CONV_2D", 1_111_800, 0.337, "conv1"),), flash_used_bytes=113_497,
        sram_used_bytes=17_232, stack_used_bytes=452, stack_size_bytes=4_096, arena_bytes=12_560, split=split)
    document = _json(result)
    _keeps_pinned(document, PINNED["other_commands"]["bench"])
    assert document["per_inference"]["median"] == 3_300_840.0
    assert document["flash_split"][0] == {"category": "weights", "label": "weights (model constants)",
                                          "bytes": 108_293}
    assert "3,300,840 / 3,297,200 / 3,302,040" in _text(lambda c, r: render(r, c), result)
    page = render_html(result)
    assert "3,300,840 / 3,297,200 / 3,302,040" in page and "weights (model constants) 108,293 B" in page
    assert "1,111,800 (33.7%)" in page


def test_validate():
    result = ValidationResult("m.tflite", "c", "random, seed 0", 4, 3, 2.0, 5, 12_560, "auto", 105_747, 52_000,
                              {"clustered": 2, "dense": 2})
    document = _json(result)
    _keeps_pinned(document, PINNED["other_commands"]["validate"])
    assert (document["exact"], document["exact_rate"], document["passed"]) == (3, 0.75, False)
    assert "exact-match rate: 75.00% (3/4 inputs)" in result.lines()
    assert "105,747 B dense -> 52,000 B as stored (clustered 2, dense 2 layers)" in "\n".join(result.lines())


def test_inspect():
    from toolchain.report.inspect_report import inspect_model, render_inspect

    report = inspect_model(MLPERF_TINY / "ad01_int8.tflite")
    document = _json(report)
    _keeps_pinned(document, PINNED["other_commands"]["inspect"])
    a = report.analysis
    assert (document["macs"], len(document["layers"]), len(document["tensors"])) == (a.macs, len(a.ops),
                                                                                   len(report.tensors))
    text = _text(lambda c, r: render_inspect(c, r, tensors=True), report)
    assert f"{a.macs:,} MACs" in text and report.tensors[-1].name[:60] in text


def test_targets():
    import targets
    from toolchain.report.targets_report import TargetList, TargetShow

    listing = TargetList(tuple(targets.all_targets()))
    document = _json(listing)
    _keeps_pinned(document, PINNED["other_commands"]["targets"])
    assert [t["name"] for t in document["targets"]] == [p.name for p in listing.profiles]
    assert "│ cortex-m7        │ cortex-m7     │ 216 MHz │ 2,048 KiB │   512 KiB │" in _text(
        lambda c, r: r.render(c), listing)
    show = TargetShow(targets.load_target("cortex-m7"))
    document = _json(show)
    _keeps_pinned(document, PINNED["other_commands"]["targets show"])
    assert document["clock_hz"] == 216_000_000 and "  flash 2,097,152 B, SRAM 524,288 B" in show.lines()


def test_flash(firmware_report):
    """A dry run on QEMU (the plan, checked, not run), and the emulator's port once running."""
    import targets
    from toolchain.device.flashers import FirmwareImage, FlashOptions, flasher_for
    from toolchain.report.flash_report import FlashReport

    out, _ = firmware_report
    profile = targets.load_target("cortex-m7")
    image = FirmwareImage.from_dir(out / "firmware", profile)
    flasher = flasher_for(profile, FlashOptions(dry_run=True))
    report = FlashReport.of(profile, flasher, image, flasher.flash(image), dry_run=True)
    document = _json(report)
    _keeps_pinned(document, PINNED["other_commands"]["flash"])
    assert document["action"].startswith("qemu-system-arm -machine mps2-an500 ") and "emulator" not in document
    assert report.lines()[0] == f"would run: {document['action']}"
    running = replace(report, dry_run=False).running_on("mps2-an500", "/dev/pts/7")
    assert (_json(running)["emulator"], _json(running)["port"]) == ("mps2-an500", "/dev/pts/7")
    assert running.lines()[0] == "QEMU mps2-an500 is running the firmware; its UART is /dev/pts/7"
