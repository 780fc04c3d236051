import numpy as np
import pytest

from tests.toolchain.compress.conftest import L, keras
from toolchain.compress.factorize import factorize_low_rank, low_rank_plan
from toolchain.base.errors import OptionError, UnknownNameError


def _mlp():
    keras.utils.set_random_seed(0)
    inputs = keras.Input((6, 6, 24))
    x = L.Conv2D(40, 1, activation="relu", name="pw")(inputs)
    x = L.Flatten(name="flatten")(x)
    x = L.Dense(64, activation="relu", name="fc")(x)
    outputs = L.Dense(4, name="head")(x)
    return keras.Model(inputs, outputs)


@pytest.mark.parametrize("energy", [0.5, 0.8, 0.95])
def test_factorized_kernels_reproduce_the_original_within_the_kept_energy(energy):
    model = _mlp()
    plans = {p.layer: p for p in low_rank_plan(model, energy)}
    out = factorize_low_rank(model, energy)
    paying = [name for name, plan in plans.items() if plan.pays]
    assert "fc" in paying
    for name in paying:
        plan = plans[name]
        assert plan.kept_energy >= energy
        w = model.get_layer(name).kernel.numpy().reshape(plan.shape)
        a = out.get_layer(f"{name}_lr_a").kernel.numpy().reshape(plan.shape[0], plan.rank)
        b = out.get_layer(f"{name}_lr_b").kernel.numpy().reshape(plan.rank, plan.shape[1])
        error = np.linalg.norm(w - a @ b) ** 2 / np.linalg.norm(w) ** 2
        # ||W - W_r||^2 = (1 - kept energy) ||W||^2 for a truncated SVD (float32 rounding aside).
        assert error == pytest.approx(1 - plan.kept_energy, abs=1e-5)
        assert np.array_equal(out.get_layer(f"{name}_lr_b").bias.numpy(), model.get_layer(name).bias.numpy())
    assert out.count_params() < model.count_params()


def test_a_kernel_of_low_rank_is_reproduced_exactly():
    model = _mlp()
    fc = model.get_layer("fc")
    rng = np.random.default_rng(0)
    low = (rng.normal(size=(fc.kernel.shape[0], 5)) @ rng.normal(size=(5, 64)) / 30).astype(np.float32)
    fc.set_weights([low, fc.bias.numpy()])
    plan = next(p for p in low_rank_plan(model, 0.999999) if p.layer == "fc")
    assert plan.rank == 5 and plan.pays
    out = factorize_low_rank(model, 0.999999, layers=["fc"])
    x = rng.normal(size=(8, 6, 6, 24)).astype(np.float32)
    np.testing.assert_allclose(out.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-4, atol=1e-4)


def test_a_given_rank_splits_only_where_it_pays():
    model = _mlp()
    exact = factorize_low_rank(model, rank=4, layers=["head"])  # 64x4 at rank 4: 272 > 256 weights
    assert [l.name for l in exact.layers] == [l.name for l in model.layers]
    split = factorize_low_rank(model, rank=3, layers=["head"])  # 204 < 256
    assert [l.name for l in split.layers][-2:] == ["head_lr_a", "head_lr_b"]


def test_split_only_where_it_reduces_parameters():
    plans = low_rank_plan(_mlp(), 0.9999)
    for plan in plans:
        assert plan.pays == (plan.rank * sum(plan.shape) < plan.shape[0] * plan.shape[1])
    out = factorize_low_rank(_mlp(), 0.9999)
    names = [l.name for l in out.layers]
    for plan in plans:
        assert (f"{plan.layer}_lr_a" in names) == plan.pays


def test_factorize_errors():
    model = _mlp()
    with pytest.raises(OptionError, match=r"kept-energy fraction in \(0, 1\)"):
        factorize_low_rank(model, 1.0)
    with pytest.raises(UnknownNameError):
        factorize_low_rank(model, 0.9, layers=["fcc"])
    with pytest.raises(OptionError, match="Dense layer or a 1x1 Conv2D"):
        factorize_low_rank(model, 0.9, layers=["flatten"])
