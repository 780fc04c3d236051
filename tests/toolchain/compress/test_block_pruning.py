"""Block magnitude pruning: whole aligned blocks of taps per output channel, in the int8 kernel's order."""
from __future__ import annotations

import numpy as np
import pytest

from tests.toolchain.compress.conftest import blob_data, keras
from toolchain.base.errors import FieldError, OptionError
from toolchain.base.tflite_reader import read_tflite
from toolchain.compress import blocks, pruning
from toolchain.compress.measure import convert_keras_int8
from toolchain.compress.pruning import PolynomialDecay, UpdatePruningStep, prune_low_magnitude, strip_pruning
from toolchain.compress.recipe import PruneOptions, parse_recipe, with_options


def zero_blocks(rows: np.ndarray, block: int) -> np.ndarray:
    """Which aligned blocks of each row are all zero; fails if a block is zero only in part."""
    result = []
    for row in rows:
        flags = []
        for start, stop in blocks.block_bounds(len(row), block):
            zeros = np.count_nonzero(row[start:stop] == 0)
            assert zeros in (0, stop - start), f"block {start}:{stop} partly zero: {row[start:stop]}"
            flags.append(zeros > 0)
        result.append(flags)
    return np.array(result, bool)


def zero_dw_units(rows: np.ndarray) -> np.ndarray:
    """[groups, taps]: which (group of 4 channels, tap) units of depthwise rows are zero; fails if a
    unit is zero only in part."""
    result = []
    for g in range(0, len(rows), 4):
        unit = rows[g:g + 4] == 0
        assert (unit.all(axis=0) | ~unit.any(axis=0)).all(), f"group {g // 4} partly zero: {rows[g:g + 4]}"
        result.append(unit.all(axis=0))
    return np.array(result, bool)


def test_dw_block_mask_zeroes_whole_units_nearest_the_sparsity():
    # 6 channels (groups 0-3 and 4-5) x 3 taps; unit means: group 0: 1, 4, 2; group 1: 3, 0.5, 5
    rows = np.array([[1, 4, 2], [1, -4, 2], [-1, 4, 2], [1, 4, -2],
                     [3, 0.5, 5], [-3, -0.5, 5]], np.float32)
    # 9 of 18 weights: the units of mean 0.5 (2 weights), 1 (4), 2 (4): 10 is nearer than 6
    mask = blocks.dw_block_mask(rows, 0.5)
    assert mask.T.tolist() == [[0, 0, 0, 0, 1, 1], [1, 1, 1, 1, 0, 0], [0, 0, 0, 0, 1, 1]]
    assert blocks.dw_block_mask(rows, 0.4).T.tolist()[2] == [1] * 6  # 7: 6 is nearer than 10
    assert blocks.dw_block_mask(rows, 0.0).all() and not blocks.dw_block_mask(rows, 1.0).any()
    rng = np.random.default_rng(0)
    wide = rng.normal(size=(64, 9))
    mask = blocks.dw_block_mask(wide, 0.75)  # 16 groups x 9 taps: 108 of the 144 units, exactly 75 %
    assert np.count_nonzero(mask == 0) == 432 and zero_dw_units(wide * mask).sum() == 108
    scores, sizes = blocks.dw_unit_scores(wide)
    assert sizes.tolist() == [4] * 16
    assert scores[zero_dw_units(wide * mask)].max() <= scores[~zero_dw_units(wide * mask)].min()
    odd = blocks.dw_block_mask(rng.normal(size=(10, 3)), 0.75)  # groups of 4, 4, 2: 22.5 -> 22 or 23
    assert abs(np.count_nonzero(odd == 0) - 22) <= 2
    zero_dw_units(odd)
    with pytest.raises(ValueError):
        blocks.dw_block_mask(rows, 1.5)


def test_block_mask_zeroes_the_blocks_of_smallest_mean_magnitude_short_last_block_included():
    rows = np.array([[9, 9, 9, 9, 1, -1, 1, 1, 2, 2],     # block means 9, 1, 2 (the last block: 2 taps)
                     [0.5, 0.5, 0.5, -0.5, 4, 4, 4, 4, 8, -8]], np.float32)  # 0.5, 4, 8
    mask = blocks.block_mask(rows, 0.5, 4)  # round(0.5 x 6) = 3 blocks of the tensor: means 0.5, 1, 2
    assert mask.tolist() == [[1, 1, 1, 1, 0, 0, 0, 0, 0, 0],
                             [0, 0, 0, 0, 1, 1, 1, 1, 1, 1]]
    per_row = blocks.block_mask(rows, 0.34, 4, per_row=True)  # round(0.34 x 3) = 1 block a row
    assert per_row.tolist() == [[1, 1, 1, 1, 0, 0, 0, 0, 1, 1],
                                [0, 0, 0, 0, 1, 1, 1, 1, 1, 1]]
    assert blocks.block_mask(rows, 0.5, 1).sum() == 10  # block 1: the 10 largest of 20 weights
    assert blocks.block_mask(rows, 0.0, 4).all() and not blocks.block_mask(rows, 1.0, 4).any()
    with pytest.raises(ValueError):
        blocks.block_mask(rows, 0.5, 0)


def _model():
    """conv (27 taps a filter: 6 blocks of 4 and one of 3) -> depthwise -> dense (125 inputs)."""
    keras.utils.set_random_seed(0)
    x = inputs = keras.Input((9, 9, 3))
    x = keras.layers.Conv2D(5, 3, activation="relu", name="conv")(x)
    x = keras.layers.DepthwiseConv2D(3, name="dw")(x)
    x = keras.layers.Flatten()(x)
    return keras.Model(inputs, keras.layers.Dense(4, name="dense")(x))


def test_block_pruning_through_training_strip_and_int8_conversion():
    x, y = blob_data(256)
    x = np.repeat(x[:, :9, :9], 3, axis=-1)
    schedule = PolynomialDecay(0.0, 0.75, begin_step=1, end_step=12, frequency=4)
    wrapped = prune_low_magnitude(_model(), schedule, layers=["conv", "dw", "dense"], block_size=4)
    wrapped.compile(keras.optimizers.Adam(1e-2), keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    wrapped.fit(x[:32 * 6], y[:32 * 6], batch_size=32, verbose=0, callbacks=[UpdatePruningStep()])  # last: step 5
    conv = {w.layer.name: w for w in pruning.pruned_wrappers(wrapped)}["conv"]
    mid = zero_blocks(blocks.keras_rows(conv.masks[0].numpy()), 4)
    assert mid.sum() == round(schedule.sparsity_at(5) * mid.size)  # exact in blocks: 35 of them
    wrapped.fit(x, y, batch_size=32, verbose=0, callbacks=[UpdatePruningStep()])  # passes the end step 12
    stripped = strip_pruning(wrapped)

    kernel = stripped.get_layer("conv").kernel.numpy()  # (3, 3, 3, 5): rows of 27 taps
    pruned = {"conv": zero_blocks(blocks.keras_rows(kernel), 4)}
    assert pruned["conv"].shape == (5, 7) and pruned["conv"].sum() == round(0.75 * 35)
    dense = stripped.get_layer("dense").kernel.numpy()  # (125, 4): rows of 125 inputs
    pruned["dense"] = zero_blocks(blocks.keras_rows(dense), 4)
    assert pruned["dense"].shape == (4, 32) and pruned["dense"].sum() == round(0.75 * 128)
    dw = stripped.get_layer("dw").kernel.numpy()  # (3, 3, 5, 1): whole (tap, group of 4 channels) units
    units = zero_dw_units(blocks.keras_depthwise_rows(dw))
    assert units.shape == (2, 9)  # channels 0-3, then channel 4 alone
    # round(0.75 x 45) = 34 weights: 7 units of 4 and 6 of the last group's single channel, or so
    assert abs(np.count_nonzero(dw == 0) - 34) <= 2 and np.count_nonzero(dw == 0) == 4 * units[0].sum() + units[1].sum()

    # the contract with the engine: the same blocks are zero in the int8 kernels' stored order
    # (CONV_2D OHWI, FULLY_CONNECTED out x in)
    graph = read_tflite(convert_keras_int8(stripped, x[:32])).main
    for op, name in (("CONV_2D", "conv"), ("FULLY_CONNECTED", "dense")):
        (weights,) = [graph.tensors[o.inputs[1]] for o in graph.operators if o.op == op]
        rows = np.asarray(weights.data, np.int8).reshape(weights.shape[0], -1)
        assert np.array_equal(zero_blocks(rows, 4), pruned[name]), name
    (weights,) = [graph.tensors[o.inputs[1]] for o in graph.operators if o.op == "DEPTHWISE_CONV_2D"]
    rows = np.asarray(weights.data, np.int8).reshape(-1, weights.shape[-1]).T  # (1, kh, kw, c): [c][tap]
    assert np.array_equal(zero_dw_units(rows), units)


def test_block_size_is_checked_and_not_combined_with_m_by_n():
    with pytest.raises(OptionError, match="block_size 0: expected an integer >= 1"):
        prune_low_magnitude(_model(), block_size=0)
    with pytest.raises(OptionError, match="two patterns"):
        prune_low_magnitude(_model(), sparsity_m_by_n=(2, 4), block_size=4, layers=["dense"])
    layer = prune_low_magnitude(keras.layers.Dense(3), block_size=4)
    assert layer.get_config()["block_size"] == 4


def test_recipe_block_field_option_and_round_trip():
    import tomllib

    from toolchain.search.space import recipe_toml

    recipe = parse_recipe({"prune": {"sparsity": 0.75, "block": 4}})
    assert recipe.prune == PruneOptions(sparsity=0.75, block=4)
    assert parse_recipe(tomllib.loads(recipe_toml(recipe)), "again") == recipe
    assert parse_recipe({"prune": {}}).prune.block == 1  # unstructured by default
    assert with_options(None, prune=0.75, prune_block=4).prune == PruneOptions(sparsity=0.75, block=4)
    assert with_options(recipe, prune_block=1).prune.block == 1
    with pytest.raises(FieldError, match=r"'prune.block': expected 1 with m_by_n"):
        parse_recipe({"prune": {"m_by_n": [2, 4], "block": 4}})
    with pytest.raises(FieldError, match=r"'prune.block': expected an integer >= 1"):
        parse_recipe({"prune": {"block": 0}})
    with pytest.raises(FieldError, match=r"'--prune-block': expected --prune S"):
        with_options(None, prune_block=4)
    with pytest.raises(FieldError, match="two patterns"):
        with_options(parse_recipe({"prune": {"m_by_n": [2, 4]}}), prune_block=4)
