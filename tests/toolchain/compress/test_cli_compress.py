import json
import shlex

import numpy as np
import pytest
from click.testing import CliRunner

from tests.toolchain.compress.conftest import blob_data, keras, small_cnn
from toolchain.cli import compress as cli
from toolchain.compress.layers import load_compressible
from toolchain.base.errors import EXIT_BAD_INPUT, EXIT_INTERRUPTED


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    small_cnn().save("model.keras")
    x, y = blob_data(128)
    np.savez("train.npz", x=x, y=y)
    xt, yt = blob_data(64, seed=1)
    np.savez("test.npz", x=xt, y=yt)
    (tmp_path / "recipe.toml").write_text("[train]\nepochs = 1\n[prune]\nsparsity = 0.5\n[cluster]\nclusters = 8\n")
    return tmp_path


def _run(args):
    return CliRunner().invoke(cli.compress, args, catch_exceptions=False)


def _help_examples():
    lines = cli.compress.help.split("Examples:")[1].strip().splitlines()
    return [shlex.split(line.strip())[2:] for line in lines if line.strip().startswith("edgec compress")]


def test_every_help_example_runs(workdir):
    examples = _help_examples()
    assert len(examples) == 5
    for args in examples:
        result = _run(args + ["--quiet"])
        assert result.exit_code == 0, result.output
        out = args[args.index("-o") + 1]
        assert load_compressible(workdir / out).count_params() > 0  # edgec's loader (QAT layers included)
        assert "flash (deployed)" in result.output and f"saved {out};" in result.output


def test_report_json_and_model_written(workdir):
    result = _run(["model.keras", "--prune", "0.5", "--epochs", "1", "--train", "train.npz", "--eval", "test.npz",
                   "-o", "out.keras", "--json", "--quiet"])
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document == json.loads((workdir / "out.report" / "report.json").read_text())
    assert (workdir / "out.report" / "report.html").is_file()
    report = document["compression"]
    assert [row["technique"] for row in report["rows"]] == ["original", "prune"]
    final = report["rows"][-1]
    assert final["int8_metric"] is not None and final["flash_bytes"] > 0 and final["arena_bytes"] > 0
    model = keras.models.load_model(workdir / "out.keras")
    kernel = model.get_layer("dense_mid").kernel.numpy()
    assert int((kernel == 0).sum()) == kernel.size // 2
    assert sorted(p.name for p in workdir.iterdir()) == ["model.keras", "out.keras", "out.report", "recipe.toml",
                                                         "test.npz", "train.npz"]  # no temporary left


@pytest.mark.parametrize("args, message", [
    (["--prune", "1.5"], "1.5 is not in the range 0.0<=x<1.0"),
    (["--cluster", "0"], "0 is not in the range 2<=x<=256"),
    (["--factorize", "1"], "1.0 is not in the range 0.0<x<1.0"),
    ([], "no technique"),
])
def test_bad_options_exit_with_2_and_say_why(workdir, args, message):
    result = CliRunner().invoke(cli.compress, ["model.keras", *args, "-o", "out.keras"])
    assert result.exit_code == EXIT_BAD_INPUT
    assert message in result.output
    assert not (workdir / "out.keras").exists()


def test_unknown_layer_in_a_recipe_is_a_clear_error(workdir):
    (workdir / "r.toml").write_text("[prune]\nlayers = [\"dense_mdi\"]\n")
    result = CliRunner().invoke(cli.compress, ["model.keras", "--recipe", "r.toml", "-o", "out.keras"])
    assert result.exit_code == EXIT_BAD_INPUT
    assert "unknown layer 'dense_mdi'; did you mean 'dense_mid'?" in result.output


def test_output_must_be_a_keras_file(workdir):
    result = CliRunner().invoke(cli.compress, ["model.keras", "--prune", "0.5", "-o", "out.h5"])
    assert result.exit_code == EXIT_BAD_INPUT and "ending in .keras" in result.output


def test_ctrl_c_leaves_no_output(workdir, monkeypatch):
    import toolchain.compress.pipeline as pipeline

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(pipeline, "compress", interrupted)
    result = CliRunner().invoke(cli.compress, ["model.keras", "--prune", "0.5", "--train", "train.npz",
                                               "-o", "out.keras"])
    assert result.exit_code == EXIT_INTERRUPTED
    assert "interrupted: nothing written" in result.output
    assert not (workdir / "out.keras").exists() and not (workdir / "out.report").exists()


def test_every_technique_is_measured_on_tflm_and_the_engine(workdir):
    result = _run(["model.keras", "--recipe", "recipe.toml", "--train", "train.npz", "--eval", "test.npz",
                   "-o", "out.keras", "--json", "--quiet"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)["compression"]["rows"]
    assert [r["technique"] for r in rows] == ["original", "prune", "cluster"]
    for r in rows:
        assert all(r[k] > 0 for k in ("flash_bytes", "arena_bytes", "zip_bytes", "engine_weight_bytes",
                                      "engine_sram_bytes")), r
    base = rows[0]["int8_metric"]
    assert [r["int8_delta_points"] for r in rows] == [0.0] + [round(100 * (r["int8_metric"] - base), 6)
                                                            for r in rows[1:]]
    original, pruned, clustered = rows
    # zeros shrink the zip, not the .tflite; the LUT shrinks the clustered model's flash and grows its arena
    # by the decoded weights
    assert pruned["zip_bytes"] < original["zip_bytes"] < original["flash_bytes"] <= pruned["flash_bytes"]
    assert clustered["flash_bytes"] < pruned["flash_bytes"] and clustered["arena_bytes"] > pruned["arena_bytes"]
    # the engine stores the clustered weights packed
    assert clustered["engine_weight_bytes"] < original["engine_weight_bytes"]
    text = _run(["model.keras", "--prune", "0.5", "--eval", "test.npz", "-o", "p.keras", "--quiet"]).output
    head = text.splitlines()[0].split()
    assert head[:6] == ["technique", "params", "MACs", "float", "accuracy", "int8"]
    assert "pts" in head and "SRAM (arena)" in text and "C engine weights" in text and "C engine SRAM" in text


def test_block_pruning_option_reaches_the_saved_model_and_the_report(workdir):
    from toolchain.compress.blocks import keras_rows

    result = _run(["model.keras", "--prune", "0.5", "--prune-block", "4", "--epochs", "1", "--train", "train.npz",
                   "-o", "out.keras", "--no-int8", "--json", "--quiet"])
    assert result.exit_code == 0, result.output
    prune = json.loads(result.stdout)["compression"]["rows"][1]
    assert prune["detail"] == "blocks of 4: conv_mid: 50.0%, dense_mid: 50.0%"
    model = keras.models.load_model(workdir / "out.keras")
    for name in ("conv_mid", "dense_mid"):  # 72 and 256 taps a row: whole blocks of 4, half of them zero
        blocks = keras_rows(model.get_layer(name).kernel.numpy()).reshape(-1, 4) == 0
        assert np.all(blocks.all(axis=1) | ~blocks.any(axis=1)) and blocks.all(axis=1).mean() == 0.5
    bad = CliRunner().invoke(cli.compress, ["model.keras", "--prune", "0.5", "--prune-block", "0", "-o", "o.keras"])
    assert bad.exit_code == EXIT_BAD_INPUT and "0 is not in the range 1<=x<=64" in bad.output
