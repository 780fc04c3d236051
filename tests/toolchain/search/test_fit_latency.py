"""`edgec fit` with the C engine on a core QEMU emulates: each trained trial that fits memory has its
latency measured on the emulated board (QEMU microbit, -icount), labelled measured, in the trial
files, report.json, the table and report.html; --max-latency-ms is checked against that figure."""
from __future__ import annotations

import json

import pytest

from tests.conftest import require_tool
from tests.toolchain.search.conftest import profile
from toolchain.cli import run

COMMON = ["--workers", "1", "--runtime", "c", "--epochs", "1", "--no-distill", "--no-16x8", "--no-qat",
          "--trials", "1", "--fits", "1"]
PART = "m0-part"
# Between the tiny model's measured latency on the micro:bit (12.04 ms: 578,062 instructions at 48 MHz) and
# its cost-model estimate (13.98 ms): the estimate alone would rule the model out, the measurement keeps it.
LIMIT_MS = 13.0


def fit(tiny, target_file, out, *extra):
    folder, model, train, evaluation = tiny
    return run(["fit", model, "--target-file", target_file, "--train", train, "--eval", evaluation,
                "-o", str(out), *COMMON, *extra])


@pytest.fixture(scope="module")
def measured(tiny, tmp_path_factory):
    require_tool("qemu-system-arm")
    require_tool("arm-none-eabi-gcc")
    folder = tmp_path_factory.mktemp("latency")
    part = profile(folder / "part.toml", PART, 262_144)  # the dense model fits: it is the one trained trial
    return part, folder / "fit", fit(tiny, part, folder / "fit", "--max-latency-ms", str(LIMIT_MS))


def _trained(out) -> list[dict]:
    records = [json.loads(p.read_text()) for p in (out / "trials").glob("*.json")]
    return [r for r in records if r["status"] == "trained"]


def test_every_trained_trial_that_fits_has_its_latency_measured_on_the_emulated_board(measured, capsys):
    part, out, code = measured
    assert code == 0
    trained = _trained(out)
    assert trained
    for record in trained:
        t = record["targets"][PART]
        assert t["memory_fits"] and t["runtime"] == "c" and t["latency_measured"] is True
        emulated = t["emulated"]
        assert (emulated["latency"], emulated["machine"], emulated["exact_outputs"]) == ("emulated", "microbit", 1.0)
        assert t["latency_ms"] == emulated["latency_ms"] == round(1000 * emulated["instructions"] / 48_000_000, 4)
        assert t["latency"] == (f"measured (instruction count on QEMU microbit (cortex-m0), one cycle each: "
                                f"{emulated['instructions']:,} instructions at 48 MHz)")
        assert t["latency_estimate_ms"] > 0 and t["latency_estimate_ms"] != t["latency_ms"]
    report = json.loads((out / "report.json").read_text())
    rows = {r["key"]: r["targets"][PART] for r in report["trials"] if PART in r["targets"]}
    for record in trained:
        assert rows[record["key"]]["latency_measured"] is True
        assert rows[record["key"]]["latency_ms"] == record["targets"][PART]["latency_ms"]
    best = report["targets"][PART]["best"]
    assert best["latency_measured"] is True and best["latency"].startswith("measured (")
    html = (out / "report.html").read_text()
    assert f"{rows[best['key']]['latency_ms']:.1f} meas." in html


def test_max_latency_is_checked_against_the_measured_figure(measured):
    """The estimate over --max-latency-ms, the measured latency within it: measured before training
    (not ruled out by the estimate), trained, and the fit."""
    part, out, code = measured
    (record,) = _trained(out)
    for figures in (record["one_shot"][PART], record["targets"][PART]):
        assert figures["latency_ms"] < LIMIT_MS < figures["latency_estimate_ms"], "move LIMIT_MS between them"
        assert figures["latency_measured"] and figures["latency_fits"]
    report = json.loads((out / "report.json").read_text())
    assert code == 0 and report["max_latency_ms"] == LIMIT_MS
    assert report["targets"][PART]["best"]["key"] == record["key"]
