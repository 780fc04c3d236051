import numpy as np
import pytest

from tests.toolchain.compress.conftest import keras, small_cnn
from toolchain.compress import pruning
from toolchain.compress.pruning import (ConstantSparsity, PolynomialDecay, UpdatePruningStep, kernel_sparsity,
                                        prune_low_magnitude, strip_pruning)
from toolchain.base.errors import OptionError, UnknownNameError
from toolchain.loader import load_model


def _fit(model, x, y, epochs=1, batch_size=32):
    model.compile(keras.optimizers.Adam(1e-2), keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.fit(x, y, batch_size=batch_size, epochs=epochs, verbose=0, callbacks=[UpdatePruningStep()])


def test_polynomial_decay_follows_its_formula_and_prunes_at_the_end_step():
    schedule = PolynomialDecay(0.1, 0.7, begin_step=10, end_step=30, power=3, frequency=7)
    assert schedule(9) == (False, pytest.approx(0.1))
    assert schedule(10) == (True, pytest.approx(0.1))
    assert schedule(17) == (True, pytest.approx(0.7 + (0.1 - 0.7) * (1 - 7 / 20) ** 3))
    assert schedule(18)[0] is False
    assert schedule(30) == (True, pytest.approx(0.7))  # not a multiple of 7 after 10, still pruned
    assert schedule(31)[0] is False


def test_constant_sparsity_prunes_every_frequency_steps_without_end():
    schedule = ConstantSparsity(0.5, begin_step=2, frequency=3)
    assert [schedule(s)[0] for s in range(0, 10)] == [False, False, True, False, False, True, False, False, True, False]
    assert schedule(1000)[1] == 0.5


@pytest.mark.parametrize("bad", [1.0, -0.1, 1.5])
def test_sparsity_outside_0_1_is_refused(bad):
    with pytest.raises(OptionError, match=r"sparsity in \[0, 1\)"):
        ConstantSparsity(bad)
    with pytest.raises(OptionError):
        PolynomialDecay(0.0, bad, 0, 10)


def test_default_selection_skips_first_conv_and_last_dense(cnn):
    wrapped = prune_low_magnitude(cnn, ConstantSparsity(0.5))
    names = sorted(l.layer.name for l in pruning.pruned_wrappers(wrapped))
    assert names == ["conv_mid", "dense_mid"]


def test_unknown_layer_name_is_a_clear_error(cnn):
    with pytest.raises(UnknownNameError, match="unknown layer 'dense_mdi'; did you mean 'dense_mid'"):
        prune_low_magnitude(cnn, ConstantSparsity(0.5), layers=["dense_mdi"])
    with pytest.raises(OptionError, match="'pool' is a MaxPooling2D"):
        prune_low_magnitude(cnn, ConstantSparsity(0.5), layers=["pool"])


def test_sparsity_reached_matches_the_schedule_exactly(cnn, data):
    x, y = data  # 256 samples, batch 32: 8 steps per epoch
    schedule = PolynomialDecay(0.0, 0.6, begin_step=1, end_step=12, frequency=4)
    wrapped = prune_low_magnitude(cnn, schedule)
    _fit(wrapped, x[:32 * 6], y[:32 * 6])  # 6 steps: last pruning at step 5
    mid = {l.layer.name: l for l in pruning.pruned_wrappers(wrapped)}
    expected_5 = schedule.sparsity_at(5)
    for layer in mid.values():
        n = int(np.prod(layer.layer.kernel.shape))
        assert int((layer.masks[0].numpy() == 0).sum()) == round(expected_5 * n)
    _fit(wrapped, x, y)  # 8 more steps: passes the end step 12
    stripped = strip_pruning(wrapped)
    for name in ("conv_mid", "dense_mid"):
        kernel = stripped.get_layer(name).kernel.numpy()
        assert int((kernel == 0).sum()) == round(0.6 * kernel.size)
    assert kernel_sparsity(stripped)["conv_in"] == 0.0


def test_pruned_weights_stay_zero_through_fine_tuning_and_after_strip(cnn, data):
    x, y = data
    wrapped = prune_low_magnitude(cnn, ConstantSparsity(0.5, begin_step=1, end_step=1))
    _fit(wrapped, x[:32], y[:32])  # one step: masks set once
    layer = {l.layer.name: l for l in pruning.pruned_wrappers(wrapped)}["dense_mid"]
    zeros = layer.layer.kernel.numpy() == 0
    before = layer.layer.kernel.numpy().copy()
    _fit(wrapped, x, y, epochs=2)  # no more mask updates; Adam momentum must not revive weights
    after = layer.layer.kernel.numpy()
    assert zeros.sum() == round(0.5 * zeros.size)
    assert np.all(after[zeros] == 0)
    assert not np.array_equal(after[~zeros], before[~zeros])  # the rest did train
    stripped = strip_pruning(wrapped)
    assert np.array_equal(stripped.get_layer("dense_mid").kernel.numpy() == 0, zeros)
    assert np.array_equal(stripped.predict(x[:8], verbose=0), wrapped.predict(x[:8], verbose=0))


def test_two_of_four_pattern_holds_along_the_input_axis(cnn, data):
    x, y = data
    wrapped = prune_low_magnitude(cnn, ConstantSparsity(0.5, begin_step=1, frequency=2), sparsity_m_by_n=(2, 4))
    _fit(wrapped, x, y)
    stripped = strip_pruning(wrapped)
    dense = stripped.get_layer("dense_mid").kernel.numpy()  # (in, out): groups along in
    groups = np.moveaxis(dense, 0, -1).reshape(-1, 4)
    assert np.all((groups != 0).sum(axis=1) <= 2)
    conv = stripped.get_layer("conv_mid").kernel.numpy()  # (h, w, in, out): groups along in
    groups = np.moveaxis(conv, 2, -1).reshape(-1, 4)
    assert np.all((groups != 0).sum(axis=1) <= 2)
    assert np.mean(groups == 0) >= 0.5


def test_m_by_n_needs_a_group_size_dividing_the_inputs():
    with pytest.raises(OptionError, match="dividing the input channels"):
        pruning.m_by_n_mask(np.ones((6, 3), np.float32), 2, 4, reduce_axis=0)


def test_saved_pruned_model_loads_with_its_masks(cnn, data, tmp_path):
    x, y = data
    wrapped = prune_low_magnitude(cnn, ConstantSparsity(0.5, begin_step=1))
    _fit(wrapped, x[:64], y[:64])
    wrapped.save(tmp_path / "p.keras")
    loaded = load_model(tmp_path / "p.keras").keras_model  # the wrappers from the explicit registry
    assert np.array_equal(loaded.predict(x[:8], verbose=0), wrapped.predict(x[:8], verbose=0))
    assert [l.masks[0].numpy().sum() for l in pruning.pruned_wrappers(loaded)] == \
        [l.masks[0].numpy().sum() for l in pruning.pruned_wrappers(wrapped)]
