"""`edgec fit` in this process (--workers 1): a fit found under a budget the dense model misses, memory
measured before training, resumed from the stored trials, the chosen build reproduced by its recipe,
nothing fits -> exit 3 with the miss."""
from __future__ import annotations

import json

import pytest

from targets import load_target_file
from tests.toolchain.search.conftest import M0PLUS_RESERVES, profile
from toolchain.cli import run
from toolchain.latency import estimate_tflm

COMMON = ["--workers", "1", "--runtime", "tflm", "--epochs", "1", "--no-distill", "--no-16x8"]
BUDGET = M0PLUS_RESERVES + 10_000  # the dense model's TFLM flash is over it, half its channels under


def fit(tiny, target_file, out, *extra):
    folder, model, train, evaluation = tiny
    return run(["fit", model, "--target-file", target_file, "--train", train, "--eval", evaluation,
                "-o", str(out), *COMMON, *extra])


@pytest.fixture(scope="module")
def searched(tiny, tmp_path_factory):
    """One trained trial, then the same command with --trials 2 (it resumes)."""
    folder = tmp_path_factory.mktemp("searched")
    small = profile(folder / "small.toml", "small-part", BUDGET)
    out = folder / "fit"
    codes = [fit(tiny, small, out, "--trials", "1")]
    first = {p.name: p.read_text() for p in (out / "trials").glob("*.json")}
    codes.append(fit(tiny, small, out, "--trials", "2"))
    return small, out, codes, first


def test_a_second_run_resumes_from_the_stored_trials(searched, tiny, tmp_path):
    small, out, codes, first = searched
    assert codes == [0, 0]
    report = json.loads((out / "report.json").read_text())
    assert report["resumed_trials"] == len(first)
    assert sum(t["status"] == "trained" for t in report["trials"]) >= 2
    for name, text in first.items():  # kept as they were, not run again
        assert (out / "trials" / name).read_text() == text
    other = profile(tmp_path / "other.toml", "other-part", BUDGET + 10_000)
    assert fit(tiny, other, out, "--trials", "1") == 2  # another search refuses the folder


def test_the_dense_model_is_measured_and_not_trained_and_the_fit_is_built(searched):
    small, out, codes, first = searched
    report = json.loads((out / "report.json").read_text())
    trials = {t["key"]: t for t in report["trials"]}
    dense = json.loads((out / "trials" / "s0.00-p0.00-c0-f0.00-n-int8.json").read_text())
    # Measured one-shot as edgec build measures it, over the budget, never trained.
    assert dense["status"] == "does-not-fit" and dense["accuracy"] is None
    assert dense["one_shot"]["small-part"]["runtimes"]["tflm"]["flash"]["used"] > BUDGET
    # a trial's latency is the estimate of its runtime's cost model (TFLM's here), labelled so
    one = dense["one_shot"]["small-part"]
    target = load_target_file(small)
    assert one["latency"] == "estimate (TFLM reference kernels, x86-64 instructions per MAC (callgrind))"
    assert one["latency_ms"] == 1000 * estimate_tflm(one["macs"], target.core, target.clock_hz).seconds
    trained = [json.loads((out / "trials" / f"{k}.json").read_text()) for k, t in trials.items()
               if t["status"] == "trained"]
    for record in trained:  # fine-tuning changes no byte of the memory measured before it
        if record["config"]["qat"]:  # QAT converts through its learned ranges: measured again, that counts
            continue
        for memory in ("flash", "sram", "arena"):
            assert (record["one_shot"]["small-part"]["runtimes"]["tflm"][memory]["used"]
                    == record["targets"]["small-part"]["runtimes"]["tflm"][memory]["used"])
    best = report["targets"]["small-part"]["best"]
    assert best is not None and best["flash"] <= BUDGET and best["drop"] <= 1.0
    assert best["accuracy"] == max(r["accuracy"] for r in trained
                                   if r["targets"]["small-part"]["runtimes"]["tflm"]["fits"])
    assert best["key"] in report["targets"]["small-part"]["pareto"]
    # each technique alone, at its first level that fits, is a trial of the search: never more accurate
    singles = report["targets"]["small-part"]["single_techniques"]
    assert singles and all(s["accuracy"] <= best["accuracy"] for s in singles if s["fits"])
    assert trials[singles[0]["key"]]["status"] == "trained"
    # the final stage: QAT on the most accurate fitting configurations (their twins, "-qat")
    qat = [r for r in trained if r["config"]["qat"]]
    assert qat and all(r["key"].endswith("-qat") and r["key"][:-4] in trials for r in qat)
    assert "QAT stage" in report["stopped_by"]
    built = out / "small-part"
    assert {"model.tflite", "model_data.cc", "model_data.h", "report.json", "report.html", "recipe.toml"} <= \
        {p.name for p in built.iterdir()}
    assert json.loads((built / "report.json").read_text())["fit"]["flash"]["used_bytes"] == best["flash"]
    html = (out / "report.html").read_text()
    assert "<svg" in html and "Pareto front" in html and "chosen" in html


def test_the_recipe_rebuilds_the_chosen_build_byte_for_byte(searched, tiny):
    small, out, codes, first = searched
    folder, model, train, evaluation = tiny
    again = out.parent / "again"
    assert run(["build", model, "--target-file", small, "--runtime", "tflm", "--mode", "int8",
                "--recipe", str(out / "small-part" / "recipe.toml"), "--train", train, "--eval", evaluation,
                "--calib", str(out / "calib.npz"), "-o", str(again), "-q"]) == 0
    assert (again / "model.tflite").read_bytes() == (out / "small-part" / "model.tflite").read_bytes()


def test_nothing_fits_exits_3_with_the_closest_trial_and_its_miss(tiny, tmp_path, capsys):
    budget = M0PLUS_RESERVES + 1_000
    part = profile(tmp_path / "tiny.toml", "tiny-part", budget)
    out = tmp_path / "fit"
    assert fit(tiny, part, out, "--trials", "1", "--time-budget", "1s") == 3
    report = json.loads((out / "report.json").read_text())
    target = report["targets"]["tiny-part"]
    assert target["best"] is None and target["build"] is None
    closest = target["closest"]
    measured = [t for t in report["trials"] if "tiny-part" in t["targets"]]
    assert measured and {t["status"] for t in measured} == {"does-not-fit"}
    assert closest["flash"] == min(t["targets"]["tiny-part"]["flash"] for t in measured)
    assert closest["misses"]["flash_bytes_over"] == closest["flash"] - budget
    err = capsys.readouterr().err
    assert (f"nothing fits tiny-part: closest {closest['key']} misses by flash over by "
            f"{closest['flash'] - budget:,} B") in err
    assert not (out / "tiny-part").exists()
