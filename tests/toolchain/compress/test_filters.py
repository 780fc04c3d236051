"""Compact filters: separable (depthwise + pointwise) and bottleneck (1 x 1 squeeze) convolutions."""
import numpy as np
import pytest

from tests.toolchain.compress.conftest import L, keras
from toolchain.base.errors import OptionError, UnknownNameError
from toolchain.compress.filters import (describe, plan_filters, rank1_split, rank_split, replace_filters,
                                        squeeze_split)


def _cnn(strides=1, padding="same", dilation=1):
    keras.utils.set_random_seed(0)
    inputs = keras.Input((12, 12, 1))
    x = L.Conv2D(8, 3, padding="same", activation="relu", name="stem")(inputs)
    x = L.Conv2D(16, 3, strides=strides, padding=padding, dilation_rate=dilation, activation="relu",
                 name="body")(x)
    x = L.GlobalAveragePooling2D(name="gap")(x)
    outputs = L.Dense(3, name="head")(x)
    return keras.Model(inputs, outputs)


def _set_kernel(model, name, kernel):
    layer = model.get_layer(name)
    layer.set_weights([kernel.astype(np.float32), layer.bias.numpy()])


def _x(n=6):
    return np.random.default_rng(1).normal(size=(n, 12, 12, 1)).astype(np.float32)


@pytest.mark.parametrize("strides,padding,dilation", [(1, "same", 1), (2, "same", 1), (1, "valid", 1),
                                                      (1, "same", 2)])
def test_a_kernel_of_rank_one_per_input_channel_becomes_separable_exactly(strides, padding, dilation):
    model = _cnn(strides, padding, dilation)
    rng = np.random.default_rng(2)
    spatial, channel = rng.normal(size=(3, 3, 8)), rng.normal(size=(8, 16))
    _set_kernel(model, "body", np.einsum("hwc,co->hwco", spatial, channel) / 10)
    plans = plan_filters(model, "separable")
    assert [p.layer for p in plans] == ["body"]  # the stem reads 1 channel: it keeps its full conv
    plan = plans[0]
    assert plan.pays and plan.kept_energy == pytest.approx(1.0, abs=1e-9)
    assert (plan.params_before, plan.params_after) == (3 * 3 * 8 * 16, 3 * 3 * 8 + 8 * 16)
    out = replace_filters(model, plans)
    assert [type(l).__name__ for l in out.layers][2:4] == ["DepthwiseConv2D", "Conv2D"]
    assert out.get_layer("body_pw").get_config()["activation"] == "relu"
    np.testing.assert_allclose(out.predict(_x(), verbose=0), model.predict(_x(), verbose=0), rtol=1e-4, atol=1e-5)


def test_the_rank_one_split_keeps_the_energy_it_reports():
    w = np.random.default_rng(3).normal(size=(3, 3, 5, 7))
    depthwise, pointwise, kept = rank1_split(w)
    approx = depthwise[:, :, :, 0, None] * pointwise[0, 0][None, None]
    # Per channel, the truncated SVD's error is the energy it drops.
    assert np.linalg.norm(w - approx) ** 2 / np.linalg.norm(w) ** 2 == pytest.approx(1 - kept, abs=1e-5)
    assert 0 < kept < 1


@pytest.mark.parametrize("strides,padding", [(1, "same"), (2, "valid")])
def test_a_kernel_of_low_input_rank_becomes_a_bottleneck_exactly(strides, padding):
    model = _cnn(strides, padding)
    rng = np.random.default_rng(4)
    a, b = rng.normal(size=(8, 2)), rng.normal(size=(2, 3, 3, 16))
    _set_kernel(model, "body", np.einsum("cj,jhwo->hwco", a, b) / 10)
    plans = plan_filters(model, "bottleneck", ratio=0.25)
    plan = plans[0]
    assert (plan.layer, plan.inner) == ("body", 2)
    assert plan.kept_energy == pytest.approx(1.0, abs=1e-9)
    assert plan.params_after == 8 * 2 + 3 * 3 * 2 * 16
    out = replace_filters(model, plans)
    assert out.get_layer("body_squeeze").get_config()["use_bias"] is False
    np.testing.assert_allclose(out.predict(_x(), verbose=0), model.predict(_x(), verbose=0), rtol=1e-4, atol=1e-5)


def test_the_squeeze_split_error_is_the_energy_it_drops():
    w = np.random.default_rng(5).normal(size=(3, 3, 6, 4))
    squeeze, expand, kept = squeeze_split(w, 3)
    approx = np.einsum("cj,hwjo->hwco", squeeze[0, 0], expand)
    assert np.linalg.norm(w - approx) ** 2 / np.linalg.norm(w) ** 2 == pytest.approx(1 - kept, abs=1e-5)


def test_a_replacement_that_does_not_save_weights_is_not_made():
    model = _cnn()
    plans = plan_filters(model, "bottleneck", ratio=0.9, layers=["stem"])  # 1 input channel: squeeze to 1
    assert not plans[0].pays
    assert [l.name for l in replace_filters(model, plans).layers] == [l.name for l in model.layers]


def test_wrong_layers_and_ratios_are_refused_by_name():
    model = _cnn()
    with pytest.raises(UnknownNameError):
        plan_filters(model, "separable", layers=["nope"])
    with pytest.raises(OptionError, match="head"):
        plan_filters(model, "separable", layers=["head"])
    with pytest.raises(OptionError, match="ratio"):
        plan_filters(model, "bottleneck", ratio=1.5)


def test_separable_through_the_pipeline_and_the_recipe():
    from toolchain.compress.data import Dataset
    from toolchain.compress.pipeline import compress
    from toolchain.compress.recipe import parse_recipe

    model = _cnn()
    recipe = parse_recipe({"separable": {"layers": ["body"]}, "bottleneck": {"ratio": 0.5, "layers": ["stem"]},
                           "train": {"epochs": 1}, "distill": {}})
    assert recipe.techniques == ["separable", "bottleneck"]
    y = np.arange(6) % 3
    result = compress(model, recipe, Dataset(_x(), y, "t"), Dataset(_x(), y, "e"))
    assert [s.technique for s in result.stages] == ["original", "separable", "bottleneck"]
    assert "body: 1,152 -> 200 weights" in result.stages[1].detail
    assert result.stages[2].detail == "no replacement pays"  # 1 input channel cannot be squeezed
    assert result.final.params < result.original.params
    assert result.final.macs < result.original.macs


def _flatten_cnn(second_reader=False):
    """A Dense reading a Flatten of a 3 x 3 x 8 map (and, with `second_reader`, a second layer
    reading the same Flatten); the head reads a Dense, not a Flatten."""
    keras.utils.set_random_seed(0)
    inputs = keras.Input((6, 6, 1))
    x = L.Conv2D(8, 3, padding="same", name="stem")(inputs)
    x = L.MaxPooling2D(name="pool")(x)
    flat = L.Flatten(name="flatten")(x)
    x = L.Dense(12, activation="relu", name="fc")(flat)
    if second_reader:
        x = L.Concatenate(name="both")([x, L.Dense(2, name="side")(flat)])
    outputs = L.Dense(3, name="head")(x)
    return keras.Model(inputs, outputs)


def _x6(n=6):
    return np.random.default_rng(6).normal(size=(n, 6, 6, 1)).astype(np.float32)


@pytest.mark.parametrize("second_reader,layers", [(False, None), (True, ["fc"]), (True, None)])
def test_a_dense_reading_a_flatten_is_a_whole_map_convolution_made_separable_exactly(second_reader, layers):
    model = _flatten_cnn(second_reader)
    rng = np.random.default_rng(7)
    spatial, channel = rng.normal(size=(3, 3, 8)), rng.normal(size=(8, 12))
    # Rank 1 per input channel of the 3 x 3 convolution the Dense is (Flatten order h, w, c).
    _set_kernel(model, "fc", np.einsum("hwc,cu->hwcu", spatial, channel).reshape(72, 12) / 10)
    if second_reader:
        _set_kernel(model, "side", np.einsum("hwc,cu->hwcu", spatial, channel[:, :2]).reshape(72, 2) / 10)
    plans = plan_filters(model, "separable", layers=layers)
    # The stem reads 1 channel and the head a Dense: they stay; side reads the Flatten too.
    assert [p.layer for p in plans] == ["fc", "side"] if second_reader and layers is None else ["fc"]
    plan = plans[0]
    assert (plan.kernel, plan.reads_flatten) == ((3, 3, 8, 12), "flatten")
    assert plan.kept_energy == pytest.approx(1.0, abs=1e-9)
    assert (plan.params_before, plan.params_after) == (72 * 12, 3 * 3 * 8 + 8 * 12)
    out = replace_filters(model, plans)
    kinds = {l.name: type(l).__name__ for l in out.layers}
    assert (kinds["fc_dw"], kinds["fc_pw"], kinds["fc_flat"]) == ("DepthwiseConv2D", "Conv2D", "Flatten")
    assert out.get_layer("fc_dw").get_config()["padding"] == "valid"
    assert out.get_layer("fc_dw").output.shape[1:] == (1, 1, 8)
    assert out.get_layer("fc_pw").get_config()["activation"] == "relu"
    # The Flatten goes when the Dense layers made convolutions were its only readers; else the map is
    # rebuilt by a Reshape.
    kept = second_reader and layers is not None
    assert ("flatten" in kinds, "fc_map" in kinds) == (kept, kept)
    np.testing.assert_allclose(out.predict(_x6(), verbose=0), model.predict(_x6(), verbose=0),
                               rtol=1e-4, atol=1e-5)
    assert "fc (Dense as a 3x3 convolution): 864 -> 168 weights, 100.0% energy" in describe(plans)


def test_a_dense_not_reading_a_flatten_is_left_alone():
    model = _cnn()  # head reads a GlobalAveragePooling2D
    assert "head" not in [p.layer for p in plan_filters(model, "separable")]
    assert [p.layer for p in plan_filters(_flatten_cnn(), "bottleneck", ratio=0.5)] == []  # separable only
    with pytest.raises(OptionError, match="head"):
        plan_filters(_flatten_cnn(), "separable", layers=["head"])


def _rank_r_kernel(rng, kh, kw, cin, cout, rank):
    """A k x k x C_in x C_out kernel whose every input channel's slice has rank `rank`."""
    spatial, channel = rng.normal(size=(kh, kw, cin, rank)), rng.normal(size=(cin, rank, cout))
    return np.einsum("hwcj,cjo->hwco", spatial, channel) / 10


@pytest.mark.parametrize("strides,padding", [(1, "same"), (2, "valid")])
def test_a_kernel_of_rank_two_per_input_channel_becomes_separable_with_multiplier_two_exactly(strides, padding):
    model = _cnn(strides, padding)
    _set_kernel(model, "body", _rank_r_kernel(np.random.default_rng(8), 3, 3, 8, 16, 2))
    assert plan_filters(model, "separable")[0].kept_energy < 0.99  # rank 1 does not suffice
    plans = plan_filters(model, "separable", rank=2)
    plan = plans[0]
    assert (plan.rank, plan.inner) == (2, 16) and plan.kept_energy == pytest.approx(1.0, abs=1e-9)
    assert plan.params_after == 2 * (3 * 3 * 8 + 8 * 16)
    out = replace_filters(model, plans)
    assert out.get_layer("body_dw").get_config()["depth_multiplier"] == 2
    assert out.get_layer("body_pw").kernel.shape == (1, 1, 16, 16)
    np.testing.assert_allclose(out.predict(_x(), verbose=0), model.predict(_x(), verbose=0), rtol=1e-4, atol=1e-5)
    assert "body: 1,152 -> 400 weights (rank 2), 100.0% energy" == describe(plans)


def test_the_rank_r_split_keeps_the_energy_it_reports_and_is_exact_at_full_rank():
    w = np.random.default_rng(9).normal(size=(3, 3, 5, 7))
    energies = []
    for rank in (1, 2, 4, 7, 9):
        depthwise, pointwise, kept = rank_split(w, rank)
        assert depthwise.shape == (3, 3, 5, rank) and pointwise.shape == (1, 1, 5 * rank, 7)
        # depthwise output channel c * rank + j is the j-th filter of input channel c
        approx = np.einsum("hwcj,cjo->hwco", depthwise, pointwise[0, 0].reshape(5, rank, 7))
        assert np.linalg.norm(w - approx) ** 2 / np.linalg.norm(w) ** 2 == pytest.approx(1 - kept, abs=1e-5)
        energies.append(kept)
    assert energies[0] == pytest.approx(rank1_split(w)[2], abs=1e-12)
    assert energies == sorted(energies) and energies[-2] == pytest.approx(1.0, abs=1e-9)  # 7 = min(9, C_out)
    assert energies[-1] == pytest.approx(1.0, abs=1e-9)  # terms beyond the slice's rank are zero


def test_a_dense_gets_its_own_rank_per_layer():
    model = _flatten_cnn()
    _set_kernel(model, "fc", _rank_r_kernel(np.random.default_rng(10), 3, 3, 8, 12, 3).reshape(72, 12))
    plans = plan_filters(model, "separable", per_layer={"fc": 3})
    assert [(p.layer, p.rank) for p in plans] == [("fc", 3)]
    assert plans[0].params_after == 3 * (3 * 3 * 8 + 8 * 12) and plans[0].kept_energy == pytest.approx(1.0, abs=1e-9)
    out = replace_filters(model, plans)
    assert out.get_layer("fc_dw").output.shape[1:] == (1, 1, 24)
    np.testing.assert_allclose(out.predict(_x6(), verbose=0), model.predict(_x6(), verbose=0),
                               rtol=1e-4, atol=1e-5)
    with pytest.raises(UnknownNameError):
        plan_filters(model, "separable", per_layer={"nope": 2})
    with pytest.raises(OptionError, match="separable-rank"):
        plan_filters(model, "separable", rank=0)


def test_the_separable_rank_is_recorded_in_the_recipe_and_set_on_the_command_line(tmp_path):
    from toolchain.compress.recipe import load_recipe, parse_recipe, with_options
    from toolchain.search.space import recipe_toml

    recipe = parse_recipe({"separable": {"rank": 2, "per_layer": {"dense1": 3}}, "distill": {}})
    assert (recipe.separable.rank, recipe.separable.per_layer) == (2, {"dense1": 3})
    assert with_options(None, separable_rank=2).separable.rank == 2  # --separable-rank implies --separable
    assert with_options(recipe, separable_rank=4).separable.per_layer == {"dense1": 3}
    (tmp_path / "r.toml").write_text(recipe_toml(recipe))
    assert load_recipe(tmp_path / "r.toml") == recipe
