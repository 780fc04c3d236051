"""The search space without TensorFlow: recipes written as TOML read back equal, the order, the skips."""
from __future__ import annotations

import tomllib

from toolchain.compress.recipe import TrainOptions, parse_recipe
from toolchain.search.search import predicted_misses, skip_reason
from toolchain.search.sensitivity import GroupSensitivity, Sensitivity
from toolchain.search.space import Config, candidates, predicted_loss, recipe_toml

SENSITIVITY = Sensitivity(90.0, 200, (GroupSensitivity("conv1", 8, {0.25: 0.5, 0.5: 3.0, 0.75: 20.0}),
                                      GroupSensitivity("dense1", 32, {0.25: 0.0, 0.5: 0.5, 0.75: 1.0})))


def test_every_configuration_s_recipe_reads_back_equal_from_its_toml():
    train = TrainOptions(epochs=3, batch_size=32, learning_rate=5e-4)
    for config in candidates(SENSITIVITY, tolerance=1.0, factorizable=True, filters=("", "bottleneck", "separable")):
        recipe = config.recipe(train)
        assert parse_recipe(tomllib.loads(recipe_toml(recipe, "header\nlines")), "t") == recipe
        assert Config.from_dict(config.to_dict()) == config


def test_compact_filters_are_a_dimension_of_the_search():
    order = candidates(SENSITIVITY, tolerance=1.0, factorizable=False, modes=("int8",), distill=False,
                       filters=("", "separable"))
    separable = [c for c in order if c.filters == "separable"]
    assert separable and Config(filters="separable") in separable
    assert Config(filters="separable").recipe().separable is not None
    assert Config(filters="separable").key.endswith("-sep") and Config().key == "s0.00-p0.00-c0-f0.00-n-int8"
    assert "separable filters" in Config(filters="separable").techniques
    assert Config().at_most(Config(filters="separable")) and not Config(filters="bottleneck").at_most(
        Config(filters="separable"))
    # filters are expected to cost accuracy: the plain configuration comes before its compact twin
    assert order.index(Config()) < order.index(Config(filters="separable"))


def test_groups_are_pruned_at_most_at_the_ratio_they_tolerate_and_the_cheapest_come_first():
    order = candidates(SENSITIVITY, tolerance=1.0, factorizable=False, modes=("int8",), distill=False)
    half = next(c for c in order if c.structured == 0.5)
    assert dict(half.group_ratios) == {"conv1": 0.25, "dense1": 0.5}
    assert order[0] == Config()  # nothing lost: first
    recipe = half.recipe()
    assert recipe.prune_structured.sparsity == 0.5 and recipe.prune_structured.per_layer == {"conv1": 0.25}
    losses = [round(predicted_loss(c, SENSITIVITY), 6) for c in order]
    assert losses == sorted(losses)
    assert len({c.key for c in order}) == len(order)


def _measured(config: Config, flash_variable: int, fits: bool) -> dict:
    figures = {"fits": fits, "flash": {"used": 10_000 + flash_variable, "budget": 20_000, "variable": flash_variable},
               "sram": {"used": 5_000, "budget": 8_000, "variable": 3_000},
               "arena": {"used": 3_000, "budget": 8_000, "variable": 3_000}}
    target = {"runtimes": {"tflm": figures}, "runtime": "tflm", "memory_fits": fits, "latency_fits": True}
    return {"key": config.key, "config": config.to_dict(), "status": "does-not-fit" if not fits else "trained",
            "one_shot": {"t": target}, "targets": {"t": target}}


def test_a_configuration_is_skipped_when_dominated_by_a_misfit_or_predicted_over_every_budget():
    pruned = Config(sparsity=0.5)
    clustered = Config(clusters=16)
    measured = {c.key: r for c, r in ((Config(), _measured(Config(), 40_000, False)),
                                      (pruned, _measured(pruned, 30_000, False)),
                                      (clustered, _measured(clustered, 20_000, False)))}
    # Less compressed than a measured misfit: skipped without measuring.
    assert skip_reason(Config(), {pruned.key: measured[pruned.key]})["reason"] == "dominated"
    # Both techniques: 10,000 + 40,000 x 30/40 x 20/40 = 25,000 B of 20,000: predicted over by 25 %.
    both = Config(sparsity=0.5, clusters=16)
    predicted = predicted_misses(both, measured)
    assert predicted["t"]["flash"] == {"predicted": 25_000, "budget": 20_000}
    assert skip_reason(both, measured)["reason"] == "predicted"
    # A technique alone is measured, never predicted.
    assert predicted_misses(Config(sparsity=0.75), measured) is None


def test_a_level_no_group_tolerates_more_of_is_not_a_second_configuration():
    tight = Sensitivity(90.0, 200, (GroupSensitivity("conv1", 8, {0.25: 0.5, 0.5: 3.0, 0.75: 20.0}),))
    order = candidates(tight, tolerance=1.0, factorizable=False, modes=("int8",), distill=False)
    structured = [c for c in order if c.structured and not (c.sparsity or c.clusters)]
    assert [(c.structured, c.group_ratios) for c in structured] == [(0.25, (("conv1", 0.25),))]
    assert structured[0].techniques == ["structured pruning 25%"]
