"""`edgec build --runtime c --patch`: the patched stage in the summary, report.json and the timeline;
the model input named the application's buffer when it is the largest."""
from __future__ import annotations

import io
import json
from dataclasses import replace

import pytest
from click.testing import CliRunner
from rich.console import Console

from tests.conftest import MLPERF_TINY, require_tool
from tests.toolchain.reporting.conftest import _library_report
from toolchain.cli import cli


@pytest.fixture(scope="module")
def patched(tmp_path_factory):
    require_tool("arm-none-eabi-gcc")
    out = tmp_path_factory.mktemp("patched") / "out"
    report = _library_report(MLPERF_TINY / "pretrainedResnet_quant.tflite", "cortex-m7", out, "build",
                             runtime="c", patch="auto")
    return out, report


def _text(report) -> str:
    from toolchain.report.build_text import render_build

    buffer = io.StringIO()
    render_build(Console(file=buffer, width=120, no_color=True, highlight=False), report)
    return " ".join(buffer.getvalue().split())


def test_patch_auto_is_reported(patched):
    out, report = patched
    document = json.loads((out / "report.json").read_text())
    engine, patch = document["engine"], document["engine"]["patch"]
    # ResNet: its first residual block (conv, conv, ADD of the block's input) is the stage
    assert (patch["first_op"], patch["last_op"], patch["ops"]) == (1, 3, ["CONV_2D", "CONV_2D", "ADD"])
    assert patch["patches"] >= 2 and patch["bands"] == "rows"
    assert patch["arena_bytes"] == engine["activation_bytes"] + engine["scratch_bytes"] < patch["unpatched_arena_bytes"]
    assert 0 <= patch["added_macs"] <= 0.2 * patch["model_macs"]
    assert document["timeline"]["peak_bytes"] == engine["activation_bytes"]
    assert any(c.startswith("ops 1-3 (CONV_2D, CONV_2D, ADD)") for c in document["timeline"]["caveats"])
    text = _text(report)
    assert "patched stage: ops 1-3 (CONV_2D, CONV_2D, ADD)" in text
    assert f"arena {patch['arena_bytes']:,} B instead of {patch['unpatched_arena_bytes']:,} B unpatched" in text
    assert engine["input_is_largest"] is False and "is the largest buffer" not in text


def test_input_larger_than_every_engine_buffer_is_named_the_applications(patched):
    _, report = patched
    e = replace(report.engine, largest_buffer_bytes=report.engine.caller_input_bytes - 1)
    text = _text(replace(report, engine=e))
    assert (f"the model input ({e.caller_input_bytes:,} B) is the largest buffer: it belongs to the application, "
            f"which fills it; the engine's own SRAM is {e.activation_bytes + e.scratch_bytes:,} B "
            f"(arena {e.activation_bytes:,} B + scratch {e.scratch_bytes:,} B)") in text


def test_patch_count_below_two_is_refused(tmp_path):
    result = CliRunner().invoke(cli, ["build", str(MLPERF_TINY / "str_ww_ref_model.tflite"), "-t", "cortex-m7",
                                      "--runtime", "c", "--patch", "1", "-o", str(tmp_path)])
    assert result.exit_code == 2
    assert "--patch '1'" in result.output and "at least 2" in result.output
