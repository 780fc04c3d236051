"""What `edgec build` ships for a model saved clustered by `edgec compress`: TFLM's LUT with what it
costs in the arena beside the C engine's figures, or the engine's own storage; and `edgec validate`
checking the engine as it is shipped. Real converter, TFLM interpreter, cross compiler."""
from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from tests.conftest import require_tool
from tests.toolchain.compress.conftest import blob_data, small_cnn
from toolchain.cli import cli
from toolchain.base.tflite_reader import read_tflite_file

LAYERS = ["conv_in", "conv_mid", "dense_mid", "logits"]
WIDTH = 128  # dense_mid units


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


def flat(text: str) -> str:
    """The summary with the console's line wrapping undone."""
    return " ".join(text.split())


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """small_cnn saved plain and clustered to 16 values (one-shot, as `edgec compress --cluster 16`),
    wide enough (dense_mid: 32,768 weights) for packed storage to save more than its kernels' code;
    and a narrower small_cnn clustered (dense_mid: 2,048 weights), where it does not."""
    from toolchain.compress.clustering import cluster_weights, strip_clustering

    path = tmp_path_factory.mktemp("weights")
    small_cnn(width=WIDTH).save(path / "plain.keras")
    strip_clustering(cluster_weights(small_cnn(width=WIDTH), 16)).save(path / "clustered.keras")
    # width 8: with the default 32, conv_mid and dense_mid clustered (the chunked-rows convolution
    # kernel reuses the dense one's code) now save more than the packed code costs
    strip_clustering(cluster_weights(small_cnn(width=8), 16)).save(path / "narrow.keras")
    np.savez(path / "calib.npz", x=blob_data(64)[0])
    return path


@pytest.fixture(scope="module")
def builds(folder):
    """Builds of the clustered model: TFLM (LUT), TFLM --weights dense, C engine; output and report each."""
    require_tool("arm-none-eabi-gcc")
    out = {}
    for name, extra in (("lut", []), ("dense", ["--weights", "dense"]), ("engine", ["--runtime", "c"])):
        result = run("build", folder / "clustered.keras", "-t", "cortex-m7", "--calib", folder / "calib.npz",
                     "-o", folder / name, *extra)
        assert result.exit_code == 0, result.output
        out[name] = (result.output, json.loads((folder / name / "report.json").read_text()))
    return out


def _ops(folder, name):
    return read_tflite_file(folder / name / "model.tflite").op_names


def test_tflm_ships_the_lut_and_says_what_the_decoded_weights_cost(folder, builds):
    text, report = builds["lut"]
    _, dense = builds["dense"]
    _, engine = builds["engine"]
    weights = report["weights"]
    found = {c["tensor"].split("/")[1].rsplit("_", 1)[0]: c for c in weights["clustered_tensors"]}
    assert sorted(found) == ["conv_mid", "dense_mid"]  # conv_in (9 weights a channel) and logits say nothing
    assert all(c["values"] <= 16 for c in found.values())
    assert "CUSTOM:TFLM_DECODE" in _ops(folder, "lut")
    lut = weights["lut"]
    assert lut["model_bytes"] == (folder / "lut" / "model.tflite").stat().st_size
    assert lut["dense_model_bytes"] == (folder / "dense" / "model.tflite").stat().st_size > lut["model_bytes"]
    # the arena without LUT is the dense build's; with it, the arena this build fits against
    assert lut["dense_arena_bytes"] == dense["arena"]["total_32bit_bytes"]
    assert lut["arena_bytes"] == report["arena"]["total_32bit_bytes"]
    assert lut["decoded_weights_bytes"] == lut["arena_bytes"] - lut["dense_arena_bytes"] > 0
    assert lut["identical_outputs"] is True
    instead = weights["engine_instead"]
    assert instead["flash_bytes"] == engine["fit"]["flash"]["used_bytes"]
    assert instead["sram_bytes"] == engine["fit"]["sram"]["used_bytes"]
    assert (f"the decoded weights take {lut['decoded_weights_bytes']:,} B of the arena "
            f"({lut['dense_arena_bytes']:,} -> {lut['arena_bytes']:,} B)") in flat(text)
    assert (f"with the C engine instead (--runtime c): flash {instead['flash_bytes']:,} B, "
            f"SRAM {instead['sram_bytes']:,} B") in flat(text)
    page = (folder / "lut" / "report.html").read_text()
    assert 'id="weights"' in page and "The C engine would store them so:" in page


def test_weights_dense_ships_plain_int8_and_says_so(folder, builds):
    text, report = builds["dense"]
    assert "CUSTOM:TFLM_DECODE" not in _ops(folder, "dense")
    assert report["weights"]["mode"] == "dense" and report["weights"]["lut"] is None
    assert ("weights: 2 tensors hold <= 16 values per channel (clustered), shipped as int8: --weights dense"
            in flat(text))


def test_the_engine_build_ships_the_converted_model_and_its_storage_per_layer(folder, builds):
    text, report = builds["engine"]
    assert report["fit"]["runtime"] == "c" and report["weights"]["lut"] is None
    # the engine cannot run TFLM's DECODE: it is generated from the model as converted
    assert (folder / "engine" / "model.tflite").read_bytes() == (folder / "dense" / "model.tflite").read_bytes()
    engine = report["engine"]
    assert [la["layer"] for la in engine["layers"]] == LAYERS
    assert engine["weights_mode"] == "auto"
    assert engine["weights_dense_bytes"] == sum(la["dense_bytes"] for la in engine["layers"])
    assert engine["weights_stored_bytes"] == sum(la["stored_bytes"] for la in engine["layers"])
    # the clustered weights travel to the engine without being asked for again
    fc = next(la for la in engine["layers"] if la["layer"] == "dense_mid")
    assert fc["format"] == "clustered" and fc["clusters"] <= 16 and fc["stored_bytes"] < fc["dense_bytes"]
    assert (f"weights (auto): {engine['weights_dense_bytes']:,} B dense -> {engine['weights_stored_bytes']:,} B "
            "as stored in 4 conv/depthwise/FC layers") in flat(text)
    for fmt in {la["format"] for la in engine["layers"]}:
        group = [la["layer"] for la in engine["layers"] if la["format"] == fmt]
        assert any(line.strip().startswith(f"{fmt}") and line.endswith(", ".join(group))
                   for line in text.splitlines())
    page = (folder / "engine" / "report.html").read_text()
    assert all(f"<td>{name}</td>" in page for name in LAYERS)


def test_validate_checks_the_engine_as_built(folder, builds):
    _, report = builds["engine"]
    engine = report["engine"]
    result = run("validate", folder / "engine" / "model.tflite", "--count", "4")
    assert result.exit_code == 0, result.output
    assert "exact-match rate: 100.00% (4/4 inputs)" in result.output
    assert "clustered " in result.output.split("as stored (")[1]
    assert (f"weights (auto): {engine['weights_dense_bytes']:,} B dense -> {engine['weights_stored_bytes']:,} B "
            "as stored") in result.output
    dense = run("validate", folder / "engine" / "model.tflite", "--count", "2", "--weights", "dense", "--json")
    document = json.loads(dense.output)
    assert document["passed"] and document["weights"] == "dense"
    assert document["weights_stored_bytes"] == document["weights_dense_bytes"] == engine["weights_dense_bytes"]
    assert document["storage"] == {"dense": 4}


def test_an_unclustered_model_is_shipped_as_converted(folder):
    result = run("build", folder / "plain.keras", "-t", "cortex-m7", "--calib", folder / "calib.npz",
                 "-o", folder / "plain")
    assert result.exit_code == 0, result.output
    report = json.loads((folder / "plain" / "report.json").read_text())
    assert report["weights"] == {"mode": "auto", "clustered_tensors": [], "lut": None, "lut_refused": [],
                                 "engine_instead": None}
    assert "  weights" not in result.output and "clustered" not in result.output


def test_cluster_option_with_the_c_engine_does_not_fall_back_to_tflm(folder):
    require_tool("arm-none-eabi-gcc")
    result = run("build", folder / "plain.keras", "-t", "cortex-m7", "--calib", folder / "calib.npz",
                 "--cluster", "16", "--runtime", "c", "-o", folder / "cluster_c")
    assert result.exit_code == 0, result.output
    report = json.loads((folder / "cluster_c" / "report.json").read_text())
    assert report["fit"]["runtime"] == "c" and report["warnings"] == []
    assert "CUSTOM:TFLM_DECODE" not in _ops(folder, "cluster_c")
    rows = report["compression"]["rows"]
    assert [r["technique"] for r in rows] == ["original", "cluster"]
    # the table still shows what TFLM would ship (LUT-compressed) beside the engine
    assert rows[1]["flash_bytes"] < rows[0]["flash_bytes"]
    page = (folder / "cluster_c" / "report.html").read_text()
    assert "<th>C engine weights as stored</th>" in page and "<th>points vs original</th>" in page
    e = report["engine"]  # the table's engine figures are those of the engine shipped
    assert rows[1]["engine_weight_bytes"] == e["weight_bytes"]
    assert rows[1]["engine_sram_bytes"] == e["activation_bytes"] + e["scratch_bytes"] + e["caller_input_bytes"]


def test_weight_modes_agree_everywhere():
    from firmware_export.cengine.storage import WEIGHT_MODES
    from toolchain.cli.build import build
    from toolchain.compress.recipe import WEIGHT_MODES as RECIPE_MODES

    choice = next(p for p in build.params if p.name == "weights").type.choices
    assert tuple(choice) == RECIPE_MODES == WEIGHT_MODES


def test_bench_builds_its_firmware_with_the_weights_asked_for(folder, builds, tmp_path):
    """`edgec bench --model M --emulate` builds the firmware from M as `edgec build` would (--weights)."""
    from targets import load_target
    from toolchain.benchmark import build_for_model

    model_path = folder / "engine" / "model.tflite"
    target = load_target("cortex-m7")
    auto = build_for_model(model_path, target, tmp_path / "auto").firmware
    dense = build_for_model(model_path, target, tmp_path / "dense", "dense").firmware
    _, report = builds["engine"]
    saved = report["engine"]["weights_dense_bytes"] - report["engine"]["weights_stored_bytes"]
    assert saved > 0 and auto.flash_used_bytes != dense.flash_used_bytes
    for name in ("auto", "dense"):  # the firmware's engine sources: packed weights only with auto
        sources = "".join(p.read_text() for p in (tmp_path / name).rglob("*.c"))
        assert ("clustered" in sources.lower()) == (name == "auto"), name


@pytest.mark.parametrize("extra", [["--io", "float32"], ["--mode", "16x8"]])
def test_the_lut_is_checked_with_inputs_of_the_model_s_own_type(folder, extra):
    result = run("build", folder / "clustered.keras", "-t", "cortex-m7", "--calib", folder / "calib.npz",
                 "-o", folder / "io", *extra)
    assert result.exit_code == 0, result.output
    lut = json.loads((folder / "io" / "report.json").read_text())["weights"]["lut"]
    assert lut is not None and lut["identical_outputs"] is True and lut["samples_checked"] == 8


def test_packed_storage_is_kept_only_where_the_compiled_engine_gets_smaller(folder, builds):
    """The narrow model's clustered weights save fewer bytes than the packed kernels' code: the
    build ships the dense engine and says why; the wide one keeps its packed layers."""
    result = run("build", folder / "narrow.keras", "-t", "cortex-m7", "--calib", folder / "calib.npz",
                 "-o", folder / "narrow", "--runtime", "c")
    assert result.exit_code == 0, result.output
    engine = json.loads((folder / "narrow" / "report.json").read_text())["engine"]
    assert {la["format"] for la in engine["layers"]} == {"dense"}
    refused = engine["packed_refused"]
    assert refused is not None and refused["flash_bytes"] >= engine["flash_bytes"]
    assert (f"dense kept: with packed weights the engine took {refused['flash_bytes']:,} B of flash"
            in flat(result.output))
    wide = builds["engine"][1]["engine"]
    assert wide["packed_refused"] is None and any(la["format"] != "dense" for la in wide["layers"])
