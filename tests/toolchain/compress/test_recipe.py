import re

import pytest

from toolchain.compress import recipe as recipe_module
from toolchain.compress.recipe import Recipe, load_recipe, parse_recipe, with_options
from toolchain.base.errors import FieldError, InputFileError, UnknownKeyError


def test_the_documented_example_recipe_parses(tmp_path):
    doc = recipe_module.__doc__
    example = "\n".join(line[4:] for line in doc[doc.index("    [train]"):].splitlines())
    path = tmp_path / "recipe.toml"
    path.write_text(example)
    r = load_recipe(path)
    assert r.techniques == ["prune_structured", "factorize", "separable", "bottleneck", "prune", "cluster", "qat"]
    assert r.separable.layers == ("conv2", "conv3") and r.separable.min_in_channels == 4
    assert r.bottleneck.ratio == 0.25 and r.bottleneck.layers is None
    assert r.qat.preserve_sparsity and r.qat.preserve_clusters and r.qat.epochs == 1 and r.qat.validation == 0.1
    assert r.prune.m_by_n == (2, 4) and r.prune.per_layer == {"dense1": 0.9} and r.prune.epochs == 3
    assert r.cluster.per_layer == {"dense1": 8} and r.cluster.init == "kmeans_plus_plus"
    assert r.factorize.energy == 0.9 and r.factorize.per_layer == {"dense1": 16}
    assert r.distill.temperature == 4.0 and r.train.learning_rate == 1e-4
    assert r.storage.weights == "auto"


@pytest.mark.parametrize("text, field, expected", [
    ("[prune]\nsparsity = 1.0", "prune.sparsity", "< 1.0"),
    ("[prune]\nsparsity = -0.5", "prune.sparsity", ">= 0.0"),
    ("[prune_structured]\nsparsity = 1", "prune_structured.sparsity", "< 1.0"),
    ("[cluster]\nclusters = 0", "cluster.clusters", "an integer >= 2 and <= 256"),
    ("[cluster]\nclusters = 16.5", "cluster.clusters", "an integer"),
    ("[cluster.per_layer]\ndense = 1", "cluster.per_layer.dense", ">= 2"),
    ("[factorize]\nenergy = 0", "factorize.energy", "> 0"),
    ("[factorize]\nenergy = 0.9\nrank = 3", "factorize", "either energy or rank"),
    ("[prune]\nm_by_n = [4, 2]", "prune.m_by_n", "0 < m < n"),
    ("[prune]\nschedule = \"cubic\"", "prune.schedule", "'constant', 'polynomial'"),
    ("[train]\nepochs = -1", "train.epochs", ">= 0"),
    ("[prune]\nlayers = \"conv\"", "prune.layers", "a list of layer names"),
    ("[storage]\nweights = \"sparse\"", "storage.weights", "one of 'auto', 'dense'"),
    ("[bottleneck]\nratio = 1.0", "bottleneck.ratio", "< 1.0"),
    ("[separable]\nmin_in_channels = 0", "separable.min_in_channels", ">= 1"),
    ("[qat]\nepochs = -2", "qat.epochs", ">= 0"),
    ("[qat]\nvalidation = 1", "qat.validation", "< 1.0"),
])
def test_bad_recipes_name_the_field_and_what_was_expected(text, field, expected):
    with pytest.raises(FieldError) as info:
        parse_recipe(__import__("tomllib").loads(text), "r.toml")
    message = str(info.value)
    assert message.startswith(f"r.toml: recipe field '{field}': expected ")
    assert expected in message


def test_unknown_tables_and_keys_are_refused_by_the_one_toml_checker(tmp_path):
    """The recipe's unknown tables and keys: the same checker and error class as a target profile's."""
    with pytest.raises(UnknownKeyError) as info:
        parse_recipe({"prunes": {}}, "r.toml")
    assert str(info.value) == ("r.toml: recipe field 'prunes': unknown key; did you mean 'prune', 'prune_structured'? "
                               "known here: bottleneck, cluster, distill, factorize, prune, prune_structured, qat, separable, storage, "
                               "train")
    path = tmp_path / "recipe.toml"
    path.write_text("[cluster]\ncluster = 16\n")
    with pytest.raises(UnknownKeyError) as info:
        load_recipe(path)
    assert str(info.value) == (f"{path}: recipe field 'cluster.cluster': unknown key; did you mean 'clusters', "
                               "'exclude'? known here: clusters, epochs, exclude, init, layers, per_layer, "
                               "preserve_sparsity")
    assert (info.value.path, info.value.field) == (str(path), "cluster.cluster")


def test_unreadable_recipe_files(tmp_path):
    with pytest.raises(InputFileError, match="cannot read the recipe"):
        load_recipe(tmp_path / "missing.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[prune\n")
    with pytest.raises(InputFileError, match="not valid TOML"):
        load_recipe(bad)


def test_command_line_options_override_the_recipe():
    base = parse_recipe({"prune": {"sparsity": 0.5, "frequency": 10}, "train": {"epochs": 5}})
    r = with_options(base, prune=0.8, cluster=8, distill=True, epochs=1)
    assert r.prune.sparsity == 0.8 and r.prune.frequency == 10
    assert r.cluster.clusters == 8 and r.distill is not None and r.train.epochs == 1
    assert with_options(None).is_empty and Recipe().techniques == []
    filters = with_options(parse_recipe({"bottleneck": {"ratio": 0.5, "layers": ["c"]}}), separable=True,
                           bottleneck=0.25)
    assert filters.techniques == ["separable", "bottleneck"] and filters.separable.layers is None
    assert filters.bottleneck.ratio == 0.25 and filters.bottleneck.layers == ("c",)
    assert with_options(base, qat=True).techniques == ["prune", "qat"]
    kept = parse_recipe({"qat": {"preserve_clusters": False, "epochs": 3}})
    assert with_options(kept, qat=True).qat == kept.qat  # the option keeps the recipe's settings


def test_weights_storage_comes_from_the_recipe_or_the_option_and_is_no_technique():
    stored = parse_recipe({"storage": {"weights": "dense"}})
    assert stored.storage.weights == "dense" and stored.is_empty
    assert Recipe().storage.weights == "auto"
    assert with_options(stored).storage.weights == "dense"
    assert with_options(stored, weights="auto").storage.weights == "auto"
    with pytest.raises(FieldError, match="recipe field .--weights."):
        with_options(None, weights="packed")


def test_recipe_module_does_not_import_keras():
    import subprocess
    import sys

    code = "import sys, toolchain.compress.recipe, toolchain.compress.data, toolchain.compress.report; " \
           "print('keras' in sys.modules or 'tensorflow' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
