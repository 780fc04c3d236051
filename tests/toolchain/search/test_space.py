"""The search space without TensorFlow: recipes written as TOML read back equal, the order, the skips."""
from __future__ import annotations

import tomllib

from toolchain.compress.recipe import TrainOptions, parse_recipe
from toolchain.search.search import (SearchOptions, SearchState, _single_need, predicted_misses, qat_stage,
                                     skip_reason)
from toolchain.search.sensitivity import GroupSensitivity, Sensitivity
from toolchain.search.space import Config, candidates, predicted_loss, recipe_toml, single_techniques

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


def test_single_techniques_are_uniform_configurations_with_their_own_keys():
    singles = single_techniques(factorizable=False, filters=("", "separable"))
    assert list(singles) == ["structured", "sparsity", "clusters", "filters"]
    assert [c.key for c in singles["structured"]] == ["s0.25-p0.00-c0-f0.00-n-int8", "s0.50-p0.00-c0-f0.00-n-int8",
                                                      "s0.75-p0.00-c0-f0.00-n-int8"]
    assert [c.clusters for c in singles["clusters"]] == [16, 8]  # least compression first
    assert all(c.single == dim for dim, level in singles.items() for c in level)
    by_group = next(c for c in candidates(SENSITIVITY, tolerance=1.0, factorizable=False, modes=("int8",),
                                          distill=False) if c.structured == 0.5 and not (c.sparsity or c.clusters))
    # per-group ratios (conv1 25 %, dense1 50 %) are another model than every group at 50 %: another key
    assert by_group.key == "s0.50-p0.00-c0-f0.00-n-int8-g2550" and by_group.single is None
    assert by_group.at_most(Config(structured=0.5)) and not Config(structured=0.5).at_most(by_group)
    assert Config(sparsity=0.5, clusters=16).single is None and Config(sparsity=0.5, qat=True).single is None


def test_qat_is_the_last_stage_of_a_configuration_s_recipe_and_reads_back():
    twin = Config(structured=0.5, sparsity=0.5).with_qat()
    assert twin.key == "s0.50-p0.50-c0-f0.00-n-int8-qat" and twin.techniques[-1] == "QAT"
    recipe = twin.recipe(TrainOptions(epochs=1))
    assert recipe.techniques == ["prune_structured", "prune", "qat"]
    assert recipe.qat.preserve_sparsity and recipe.qat.preserve_clusters
    assert twin.recipe(one_shot=True).qat is None  # memory does not depend on it
    assert parse_recipe(tomllib.loads(recipe_toml(recipe)), "t") == recipe
    assert Config.from_dict(twin.to_dict()) == twin


def _state(records: list[dict], references=()):
    state = SearchState(90.0, SENSITIVITY, [], references=set(references))
    state.records = {r["key"]: r for r in records}
    return state


def _trained(config: Config, accuracy: float, fits: bool) -> dict:
    return {**_measured(config, 5_000 if fits else 40_000, fits), "status": "trained", "accuracy": accuracy}


def test_the_qat_stage_takes_each_target_s_most_accurate_memory_fits_not_yet_tried():
    options = SearchOptions(targets=(type("T", (), {"name": "t"})(),), qat_top=2)
    a, b, c, d = Config(sparsity=0.5), Config(clusters=16), Config(structured=0.25), Config(sparsity=0.9)
    state = _state([_trained(a, 89.0, True), _trained(b, 89.5, True), _trained(c, 88.0, True),
                    _trained(d, 95.0, False), _trained(Config(sparsity=0.75, mode="16x8"), 91.0, True)])
    assert qat_stage(state, options) == [b.with_qat(), a.with_qat()]
    state.records[b.with_qat().key] = _trained(b.with_qat(), 89.7, True)
    assert qat_stage(state, options) == [a.with_qat()]  # a QAT trial of the most accurate one: not again


def test_a_single_technique_is_trained_only_for_targets_no_lower_level_of_it_fits():
    options = SearchOptions(targets=(type("T", (), {"name": "t"})(),))
    s25, s50 = Config(structured=0.25), Config(structured=0.5)
    state = _state([_measured(Config(), 40_000, False), _measured(s25, 40_000, False)], [s25.key, s50.key])
    assert _single_need(s50, state, options) == ("t",)
    state.records[s50.key] = _trained(s50, 88.0, True)
    assert _single_need(Config(structured=0.75), state, options) == ()
    assert _single_need(Config(sparsity=0.5), state, options) == ("t",)  # another technique: its own walk


def test_a_technique_skipped_unmeasured_predicts_nothing():
    measured = {Config().key: _measured(Config(), 40_000, False),
                Config(sparsity=0.5).key: _measured(Config(sparsity=0.5), 30_000, False),
                Config(clusters=8).key: {"key": Config(clusters=8).key, "config": Config(clusters=8).to_dict(),
                                         "status": "skipped", "skip": {"reason": "reference found"}, "targets": {}}}
    assert predicted_misses(Config(sparsity=0.5, clusters=8), measured) is None
