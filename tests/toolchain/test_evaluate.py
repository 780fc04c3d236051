"""`edgec validate --eval`: float / int8 TFLM / C engine accuracy, per-layer error, regression scores."""
import json

import numpy as np
import pytest
from click.testing import CliRunner

from toolchain.accuracy import check_labels, score
from toolchain.base.errors import DataError, EXIT_BAD_INPUT


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """A small trained-ish classifier (random weights, fixed seed), its int8 .tflite and labelled data."""
    from toolchain.quiet import import_tensorflow

    import_tensorflow()
    import keras

    keras.utils.set_random_seed(0)
    inputs = keras.Input((8, 8, 1))
    x = keras.layers.Conv2D(6, 3, activation="relu", name="conv")(inputs)
    x = keras.layers.Flatten(name="flat")(x)
    outputs = keras.layers.Dense(4, name="logits")(x)
    model = keras.Model(inputs, outputs)
    folder = tmp_path_factory.mktemp("evaluate")
    model.save(folder / "m.keras")
    rng = np.random.default_rng(0)
    x = rng.random((60, 8, 8, 1)).astype(np.float32)
    float_out = model.predict(x, verbose=0)
    y = float_out.argmax(axis=1)
    y[:15] = (y[:15] + 1) % 4  # a quarter wrong: the float model scores 75 % exactly
    np.savez(folder / "eval.npz", x=x, y=y)
    np.savez(folder / "targets.npz", x=x, y=float_out + 0.5)
    return folder, model, x, y, float_out


def _run(args):
    from toolchain.cli.validate import validate

    return CliRunner().invoke(validate, args)


def test_a_keras_model_is_scored_float_int8_and_engine_with_the_engine_exact(tiny):
    folder, _model, x, y, _ = tiny
    result = _run([str(folder / "m.keras"), "--eval", str(folder / "eval.npz"), "--json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    scores = {s["runtime"]: s for s in doc["accuracy"]["scores"]}
    assert doc["accuracy"]["task"] == "classification" and doc["accuracy"]["samples"] == 60
    assert scores["float"]["accuracy_percent"] == 75.0
    assert scores["int8 tflite-micro"]["accuracy_percent"] == scores["int8 C engine"]["accuracy_percent"]
    assert doc["engine"]["exact"] == doc["engine"]["count"] == 60 and doc["passed"]
    assert "200 samples" not in doc["calibration"] and "60 samples of the evaluation set" in doc["calibration"]
    layers = doc["accuracy"]["layers"]
    assert [(e["op"], e["layer"]) for e in layers[:2]] == [("CONV_2D", "conv"), ("RESHAPE", "flat")]
    assert all(e["rmse"] >= 0 and -1 <= e["cosine"] <= 1.0000001 for e in layers)
    assert doc["accuracy"]["layer_samples"] == 60


def test_int8_accuracy_is_the_top1_of_the_dequantized_tflm_outputs(tiny):
    from toolchain.evaluate import evaluate
    from toolchain.oracle import run_tflm
    from toolchain.validate import quantize_inputs

    folder, _model, x, y, _ = tiny
    result = evaluate(folder / "m.keras", folder / "eval.npz", layer_samples=0)
    # the same figure, computed here from the int8 model the evaluation converted
    from toolchain.convert import convert_int8
    from toolchain.loader import load_model

    loaded = load_model(folder / "m.keras")
    pick = np.sort(np.random.default_rng(0).choice(60, size=60, replace=False))
    int8 = convert_int8(loaded, x[pick]).tflite_bytes
    from toolchain.base.tflite_reader import read_tflite

    sg = read_tflite(int8).main
    qin = sg.tensors[sg.inputs[0]].quant
    out = run_tflm(int8, quantize_inputs(x, "int8", (qin.scales[0], qin.zero_points[0]), "x"))
    hits = (out.reshape(60, -1).argmax(axis=1) == y).sum()
    tflm = next(s for s in result.accuracy.scores if s.runtime == "int8 tflite-micro")
    assert tflm.accuracy_percent == round(100 * hits / 60, 4)
    assert result.accuracy.layers == ()


def test_float_targets_give_rmse_and_no_top1(tiny):
    from toolchain.evaluate import evaluate

    folder, *_ = tiny
    result = evaluate(folder / "m.keras", folder / "targets.npz", layer_samples=0)
    assert result.accuracy.task == "regression"
    floating = result.accuracy.scores[0]
    assert floating.accuracy_percent is None and floating.against == "targets"
    assert floating.rmse == pytest.approx(0.5, abs=1e-5) and floating.max_abs_error == pytest.approx(0.5, abs=1e-5)


def test_a_tflite_model_without_reference_has_no_float_figures(tiny, tmp_path):
    from toolchain.evaluate import evaluate

    folder, *_ = tiny
    np.savez(tmp_path / "nolabels.npz", x=np.random.default_rng(1).random((8, 8, 8, 1)).astype(np.float32))
    # a .tflite MODEL: the int8 model evaluated as it is
    from toolchain.convert import convert_int8
    from toolchain.loader import load_model

    data = np.load(folder / "eval.npz")
    (tmp_path / "m.tflite").write_bytes(convert_int8(load_model(folder / "m.keras"), data["x"][:20]).tflite_bytes)
    result = evaluate(tmp_path / "m.tflite", folder / "eval.npz")
    assert [s.runtime for s in result.accuracy.scores] == ["int8 tflite-micro", "int8 C engine"]
    assert "--reference" in result.accuracy.layer_note and result.passed
    with_ref = evaluate(tmp_path / "m.tflite", tmp_path / "nolabels.npz", reference_path=folder / "m.keras",
                        layer_samples=4)
    assert with_ref.accuracy.task == "regression" and with_ref.accuracy.scores[1].against == "float model outputs"
    assert with_ref.accuracy.layer_samples == 4 and with_ref.accuracy.layers


def test_bad_labels_are_refused_with_the_sample_named(tiny, tmp_path):
    folder, _model, x, y, _ = tiny
    bad = y.copy()
    bad[7] = 4
    np.savez(tmp_path / "bad.npz", x=x, y=bad)
    result = _run([str(folder / "m.keras"), "--eval", str(tmp_path / "bad.npz")])
    assert result.exit_code == EXIT_BAD_INPUT
    assert "label 4 of sample 7 is outside the model's 4 classes (0..3)" in result.output


def test_label_checks():
    with pytest.raises(DataError, match="3 labels 'y' for 4 samples"):
        check_labels(np.zeros(3, int), 4, 10, "d")
    with pytest.raises(DataError, match="label -1 of sample 0"):
        check_labels(np.array([-1, 0]), 2, 10, "d")
    with pytest.raises(DataError, match="NaN"):
        check_labels(np.array([np.nan, 0.0]), 2, 1, "d")
    with pytest.raises(DataError, match="2 values per sample, the model outputs 3"):
        check_labels(np.zeros((2, 2)), 2, 3, "d")
    s = score("x", np.array([[0.1, 0.9], [0.8, 0.2], [0.3, 0.7]]), np.array([1, 0, 0]), None)
    assert s.accuracy_percent == pytest.approx(66.6667) and s.rmse is None


def _build(args):
    from toolchain.cli.build import build

    return CliRunner().invoke(build, args)


@pytest.fixture(scope="module")
def built_with_eval(tiny, tmp_path_factory):
    """`edgec build m.keras --runtime c --eval eval.npz` (no compression), and `edgec validate --eval`
    of the same model with the same calibration samples."""
    from tests.conftest import require_tool

    require_tool("arm-none-eabi-gcc")
    folder = tiny[0]
    out = tmp_path_factory.mktemp("build_eval") / "out"
    built = _build([str(folder / "m.keras"), "-t", "cortex-m7", "--calib", str(folder / "eval.npz"), "--runtime", "c",
                    "--eval", str(folder / "eval.npz"), "-o", str(out)])
    assert built.exit_code == 0, built.output
    validated = _run([str(folder / "m.keras"), "--eval", str(folder / "eval.npz"), "--calib", str(folder / "eval.npz"),
                      "--layer-samples", "0", "--json"])
    assert validated.exit_code == 0, validated.output
    return out, built.output, json.loads(validated.stdout)


def test_build_eval_reports_float_int8_and_engine_accuracy_as_validate_does(built_with_eval):
    out, summary, validated = built_with_eval
    accuracy = json.loads((out / "report.json").read_text())["accuracy"]
    assert accuracy == {"task": "classification", "samples": 60, "scores": [
        {k: s[k] for k in ("runtime", "count", "accuracy_percent", "rmse", "max_abs_error", "against")}
        for s in validated["accuracy"]["scores"]]}
    scores = {s["runtime"]: s["accuracy_percent"] for s in accuracy["scores"]}
    assert scores["float"] == 75.0 and scores["int8 tflite-micro"] == scores["int8 C engine"]
    line = (f"accuracy on 60 --eval samples: float 75.00%; int8 tflite-micro {scores['int8 tflite-micro']:.2f}%; "
            f"int8 C engine {scores['int8 C engine']:.2f}%")
    assert line in summary
    page = (out / "report.html").read_text()
    assert '<section id="accuracy">' in page and "<td>int8 C engine</td>" in page


def test_build_eval_of_regression_outputs_gives_rmse_and_no_top1(tiny, tmp_path):
    folder, *_ = tiny
    built = _build([str(folder / "m.keras"), "-t", "cortex-m7", "--calib", str(folder / "eval.npz"),
                    "--eval", str(folder / "targets.npz"), "-o", str(tmp_path / "out"), "--json"])
    assert built.exit_code == 0, built.output
    accuracy = json.loads(built.stdout)["accuracy"]
    assert accuracy["task"] == "regression" and [s["runtime"] for s in accuracy["scores"]] == [
        "float", "int8 tflite-micro"]
    assert all(s["accuracy_percent"] is None and s["against"] == "targets" for s in accuracy["scores"])
    assert accuracy["scores"][0]["rmse"] == pytest.approx(0.5, rel=1e-6)  # the targets are the float outputs + 0.5
    assert accuracy["scores"][1]["max_abs_error"] >= accuracy["scores"][1]["rmse"] > 0


def test_build_eval_of_a_tflite_scores_the_int8_model_only(built_with_eval, tiny, tmp_path):
    out, _, _ = built_with_eval
    built = _build([str(out / "model.tflite"), "-t", "cortex-m7", "--eval", str(tiny[0] / "eval.npz"),
                    "-o", str(tmp_path / "out"), "--json"])
    assert built.exit_code == 0, built.output
    first = json.loads((out / "report.json").read_text())["accuracy"]["scores"][1]
    assert json.loads(built.stdout)["accuracy"]["scores"] == [first]  # the same int8 model, no float one


def test_build_eval_reads_a_folder_of_class_images_as_compression_does(built_with_eval, tmp_path):
    """--eval DIR (one subfolder per class): the same figures as the .npz of the same pixels / 255."""
    from PIL import Image

    out, _, _ = built_with_eval
    rng = np.random.default_rng(1)
    pixels = rng.integers(0, 256, (8, 8, 8), dtype=np.uint8)
    labels = np.array([0, 0, 1, 1, 2, 2, 3, 3])
    for i, (image, label) in enumerate(zip(pixels, labels)):
        (tmp_path / "images" / f"c{label}").mkdir(parents=True, exist_ok=True)
        Image.fromarray(image, "L").save(tmp_path / "images" / f"c{label}" / f"{i}.png")
    np.savez(tmp_path / "same.npz", x=(pixels.astype(np.float32) / 255)[..., None], y=labels)
    from toolchain.base.tflite_reader import read_tflite
    from toolchain.evaluate import build_accuracy

    int8 = (out / "model.tflite").read_bytes()
    folder, same = (build_accuracy(int8, read_tflite(int8), data) for data in (tmp_path / "images",
                                                                               tmp_path / "same.npz"))
    assert folder == same and folder.samples == 8 and folder.task == "classification"
