import numpy as np
import pytest

from tests.toolchain.compress.conftest import L, keras, small_cnn
from toolchain.compress.measure import keras_macs
from toolchain.compress.structured import analyse, apply_structured, plan_structured, prune_structured
from toolchain.base.errors import OptionError, UnknownNameError


def _zero_filters(model, layer_name, channels):
    layer = model.get_layer(layer_name)
    kernel, bias = layer.get_weights()
    kernel[..., channels] = 0
    bias[channels] = 0
    layer.set_weights([kernel, bias])


def test_removing_all_zero_filters_changes_nothing():
    model = small_cnn()
    dead_in, dead_mid = [0, 3, 5, 6], [1, 2, 4, 8, 9, 11, 13, 15]
    _zero_filters(model, "conv_in", dead_in)  # ReLU(0) = 0: these channels carry nothing
    _zero_filters(model, "conv_mid", dead_mid)
    dense = model.get_layer("dense_mid")
    kernel, bias = dense.get_weights()
    dead_dense = list(range(0, 32, 2))
    kernel[:, dead_dense], bias[dead_dense] = 0, 0
    dense.set_weights([kernel, bias])

    pruned = prune_structured(model, 0.5)

    assert pruned.get_layer("conv_in").filters == 4
    assert pruned.get_layer("conv_mid").filters == 8
    assert pruned.get_layer("dense_mid").units == 16
    assert pruned.get_layer("logits").units == 4  # a model output stays whole
    kept_mid = [c for c in range(16) if c not in dead_mid]
    # Flatten (4x4x16 -> 256 rows): the dense layer keeps the rows of the kept channels at every position.
    rows = (np.arange(16)[:, None] * 16 + np.array(kept_mid)[None, :]).ravel()
    kept_dense = [u for u in range(32) if u not in dead_dense]
    assert np.array_equal(pruned.get_layer("dense_mid").kernel.numpy(), kernel[rows][:, kept_dense])
    x = np.random.default_rng(1).normal(size=(16, 12, 12, 1)).astype(np.float32)
    # Exact in real arithmetic; the float sums run over fewer terms (in another order), so not bitwise.
    np.testing.assert_allclose(pruned.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-5, atol=1e-5)
    # Parameters removed, counted by hand.
    before = model.count_params()
    removed = (3 * 3 * 1 * 4 + 4) + (3 * 3 * (8 * 16 - 4 * 8) + 8) + (256 * 32 - 128 * 16 + 16) + 16 * 4
    assert pruned.count_params() == before - removed


def _residual_model():
    keras.utils.set_random_seed(0)
    inputs = keras.Input((8, 8, 3))
    x = L.Conv2D(12, 3, padding="same", name="stem")(inputs)
    x = L.BatchNormalization(name="stem_bn")(x)
    x = L.ReLU()(x)
    y = L.Conv2D(12, 3, padding="same", activation="relu", name="branch_a")(x)
    y = L.DepthwiseConv2D(3, padding="same", name="branch_dw")(y)
    y = L.Conv2D(12, 1, name="branch_b")(y)
    x = L.Add(name="add")([x, y])
    x = L.SeparableConv2D(16, 3, name="sep")(x)
    x = L.GlobalAveragePooling2D()(x)
    outputs = L.Dense(5, name="head")(x)
    return keras.Model(inputs, outputs)


def test_residual_add_keeps_the_same_channels_on_both_branches():
    model = _residual_model()
    plan = plan_structured(model, 0.5)
    merged = [g for g in plan.groups if "stem" in g.producers]
    assert len(merged) == 1 and sorted(merged[0].producers) == ["branch_b", "stem"]
    assert merged[0].members == ["stem_bn"]
    pruned = apply_structured(model, plan)
    assert pruned.get_layer("stem").filters == pruned.get_layer("branch_b").filters == 6
    assert pruned.get_layer("branch_a").filters == 6
    assert pruned.get_layer("branch_dw").kernel.shape[2] == 6
    assert pruned.get_layer("sep").filters == 8
    assert pruned.get_layer("head").units == 5
    assert pruned.predict(np.zeros((2, 8, 8, 3), np.float32), verbose=0).shape == (2, 5)
    assert keras_macs(pruned) < 0.4 * keras_macs(model)


def test_bn_scale_importance_removes_channels_whose_gamma_is_smallest():
    model = _residual_model()
    bn = model.get_layer("stem_bn")
    gamma, beta, mean, var = bn.get_weights()
    gamma[:] = np.arange(1, 13, dtype=np.float32)  # channel 11 matters most, 0 least
    bn.set_weights([gamma, beta, mean, var])
    plan = plan_structured(model, 0.25, importance="bn_scale")
    group = next(g for g in plan.groups if "stem" in g.producers)
    assert group.keep.tolist() == list(range(3, 12))


def test_round_to_keeps_a_multiple_of_the_given_channel_count():
    plan = plan_structured(_residual_model(), 0.6, round_to=4)
    assert sorted(g.kept for g in plan.groups if g.keep is not None) == [8, 8, 8]


def test_a_layer_this_pass_does_not_know_freezes_its_input_channels():
    inputs = keras.Input((8, 8, 3))
    x = L.Conv2D(8, 3, name="a")(inputs)
    x = L.Reshape((6, 6 * 8))(x)  # channels mixed with space: cannot be followed
    outputs = L.Dense(3, name="b")(x)
    model = keras.Model(inputs, outputs)
    groups = analyse(model).groups
    frozen = next(g for g in groups if g.producers == ["a"])
    assert frozen.frozen and "Reshape" in frozen.frozen[0]
    assert prune_structured(model, 0.5).get_layer("a").filters == 8


def test_bad_structured_options_are_clear_errors():
    model = small_cnn()
    with pytest.raises(OptionError, match=r"\[0, 1\)"):
        prune_structured(model, 1.0)
    with pytest.raises(UnknownNameError, match="unknown layer 'conv_min'"):
        prune_structured(model, 0.5, exclude=["conv_min"])
