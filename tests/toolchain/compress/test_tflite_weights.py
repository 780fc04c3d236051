"""Pruning and clustering of int8 .tflite weights without training: exact counts, values, and bytes."""
from __future__ import annotations

import numpy as np
import pytest

from toolchain.compress.tflite_weights import (WEIGHT_INPUTS, cluster_channels, compress_weights, prune_channels)
from toolchain.base.tflite_reader import read_tflite


def test_prune_zeroes_the_smallest_magnitudes_of_each_channel_exactly():
    w = np.array([[5, -1, 3, 0, -7, 2, 1, -4],
                  [1, 1, 1, 1, -1, -1, -1, 9]], np.int8)
    pruned = prune_channels(w, axis=0, sparsity=0.75)
    # 6 of 8 per channel; ties broken by position (the first of equal magnitudes goes first)
    assert pruned.tolist() == [[5, 0, 0, 0, -7, 0, 0, 0],
                               [0, 0, 0, 0, 0, 0, -1, 9]]
    assert w.tolist()[0][0] == 5  # the input is not modified


def test_prune_along_the_last_axis_and_rounding_of_the_count():
    w = np.arange(1, 25, dtype=np.int8).reshape(2, 3, 4)  # 4 channels on the last axis, 6 weights each
    pruned = prune_channels(w, axis=2, sparsity=0.75)  # round(4.5) = 4 zeros a channel
    for c in range(4):
        channel = pruned[..., c].ravel()
        assert np.count_nonzero(channel == 0) == 4
        assert sorted(channel[channel != 0].tolist()) == sorted(w[..., c].ravel().tolist())[-2:]
    assert np.array_equal(prune_channels(w, 2, 0.0), w)
    assert not prune_channels(w, 2, 1.0).any()
    with pytest.raises(ValueError):
        prune_channels(w, 2, 1.5)


def test_cluster_finds_obvious_groups_exactly():
    w = np.array([[-100, -98, -102, 10, 12, 14, 60, 60, 61, 59]], np.int8)
    assert cluster_channels(w, 0, 3).tolist() == [[-100, -100, -100, 12, 12, 12, 60, 60, 60, 60]]


def test_cluster_leaves_channels_with_few_values_alone():
    w = np.array([[3, -3, 3, 7], [1, 2, 3, 4]], np.int8)
    assert np.array_equal(cluster_channels(w, 0, 4), w)


def test_cluster_bounds_the_values_of_every_channel():
    rng = np.random.default_rng(0)
    w = np.clip(np.rint(rng.normal(0, 40, (5, 3, 3, 7))), -128, 127).astype(np.int8)
    for clusters in (2, 4, 16):
        out = cluster_channels(w, 0, clusters)
        for c in range(5):
            assert 1 < len(np.unique(out[c])) <= clusters
            # each weight moved to a centroid no farther than the channel's own spread
            assert np.abs(out[c].astype(int) - w[c]).max() < np.ptp(w[c].astype(int))


def test_sparsity_preserving_cluster_keeps_zeros_and_nonzeros():
    rng = np.random.default_rng(1)
    w = prune_channels(np.clip(np.rint(rng.normal(0, 3, (4, 64))), -128, 127).astype(np.int8), 0, 0.75)
    out = cluster_channels(w, 0, 2, preserve_zeros=True)
    assert np.array_equal(out == 0, w == 0)  # small values near 0 never round to the pruned zero
    for c in range(4):
        assert len(np.unique(out[c][out[c] != 0])) <= 2


@pytest.fixture(scope="module")
def small_tflite() -> bytes:
    """A conv -> depthwise -> dense int8 model from the real converter."""
    from tests.firmware_export.single_op_models import Case, convert

    def build(keras, x):
        x = keras.layers.Conv2D(12, 3, activation="relu")(x)
        x = keras.layers.DepthwiseConv2D(3)(x)
        return keras.layers.Dense(5)(keras.layers.Flatten()(x))

    return convert(Case("conv_dw_dense", (9, 9, 3), build))


def _weights(model):
    return {op.op: model.main.tensors[op.inputs[WEIGHT_INPUTS[op.op]]]
            for op in model.main.operators if op.op in WEIGHT_INPUTS}


@pytest.mark.parametrize("sparsity, clusters, codebook", [(0.75, None, "tensor"), (None, 16, "tensor"),
                                                     (0.75, 16, "tensor"), (0.75, 16, "channel")])
def test_compress_weights_edits_only_the_weight_bytes(small_tflite, sparsity, clusters, codebook):
    edited = compress_weights(small_tflite, sparsity, clusters, codebook)
    before, after = read_tflite(small_tflite), read_tflite(edited.model)
    assert len(edited.model) == len(small_tflite)
    assert [t.tensor for t in edited.tensors] == [w.name for w in _weights(before).values()]
    assert edited.skipped == ()
    changed = set()
    pruned = read_tflite(compress_weights(small_tflite, sparsity).model) if sparsity is not None else None
    rescaled = clusters is not None and codebook == "tensor"
    for op, t in _weights(after).items():
        axis = 3 if op == "DEPTHWISE_CONV_2D" else 0
        channels = np.moveaxis(t.data, axis, 0).reshape(t.shape[axis], -1)
        original = np.moveaxis(_weights(before)[op].data, axis, 0).reshape(t.shape[axis], -1)
        for row, old in zip(channels, original):
            if sparsity is not None:
                assert np.count_nonzero(row == 0) == round(0.75 * row.size)
            if clusters is not None:
                assert len(np.unique(row[row != 0] if sparsity else row)) <= clusters
            if sparsity is not None and clusters is None:  # the kept weights are unchanged
                assert np.array_equal(row[row != 0], old[row != 0])
        if sparsity is not None and clusters is not None:  # clustering kept the pruned zeros, and only them
            assert np.array_equal(t.data == 0, _weights(pruned)[op].data == 0)
        if rescaled:  # one set of codes serves every channel of the tensor
            assert len(np.unique(channels[channels != 0] if sparsity else channels)) <= clusters
        changed.add(t.buffer)
        if rescaled:  # the bias requantized to the new weight scales: the same real values, rounded
            o = next(o for o in after.main.operators if o.op == op)
            b_old, b_new = before.main.tensors[o.inputs[2]], after.main.tensors[o.inputs[2]]
            s_old = np.asarray(_weights(before)[op].quant.scales, np.float64)
            s_new = np.asarray(t.quant.scales, np.float64)
            assert np.abs(b_new.data - b_old.data * s_old / s_new).max() <= 0.5 + 1e-3
            assert np.allclose(np.asarray(b_new.quant.scales) / s_new, np.asarray(b_old.quant.scales) / s_old,
                               rtol=1e-6)
            changed.add(b_new.buffer)
    for a, b in zip(before.main.tensors, after.main.tensors):  # other tensors and shapes: unchanged
        assert (a.name, a.shape) == (b.name, b.shape)
        if a.buffer not in changed:
            assert a.quant == b.quant
            if a.data is not None:
                assert np.array_equal(a.data, b.data)
    diff = [i for i, (x, y) in enumerate(zip(small_tflite, edited.model)) if x != y]
    assert diff and len(diff) <= sum(t.size for t in edited.tensors) * (2 if rescaled else 1)


def test_compressed_model_runs_in_tflm(small_tflite):
    from tflite_micro.python.tflite_micro import runtime

    edited = compress_weights(small_tflite, 0.75, 16).model
    interpreter = runtime.Interpreter.from_bytes(edited)
    x = np.random.default_rng(0).integers(-128, 128, (1, 9, 9, 3), dtype=np.int8)
    interpreter.set_input(x, 0)
    interpreter.invoke()
    assert np.asarray(interpreter.get_output(0)).shape == (1, 5)


def test_block_pruning_of_int8_weights_in_the_stored_order(small_tflite):
    from toolchain.compress.blocks import block_bounds

    before, after = _weights(read_tflite(small_tflite)), _weights(read_tflite(compress_weights(small_tflite, 0.75,
                                                                                               block=4).model))
    for op in ("CONV_2D", "FULLY_CONNECTED"):  # rows: OHWI (27 taps: 6 blocks of 4, one of 3), out x in
        shape = before[op].shape
        old, new = (np.asarray(t.data, np.int8).reshape(shape[0], -1) for t in (before[op], after[op]))
        for o, n in zip(old, new):
            spans = block_bounds(len(o), 4)
            pruned = [not n[a:b].any() for a, b in spans]
            for (a, b), zero in zip(spans, pruned):  # each block kept as it was, or zero as a whole
                assert zero or np.array_equal(n[a:b], o[a:b])
            assert sum(pruned) == round(0.75 * len(spans))
            means = [np.abs(o[a:b].astype(int)).mean() for a, b in spans]
            assert max(m for m, z in zip(means, pruned) if z) <= min(m for m, z in zip(means, pruned) if not z)
    # depthwise: whole (tap, group of 4 channels) units, 20 of 27 (80 of 108 weights: round(81) within 2),
    # those of smallest mean |w|; each kept unit as it was
    old = np.asarray(before["DEPTHWISE_CONV_2D"].data, np.int8).reshape(9, 3, 4).astype(int)
    dw = np.asarray(after["DEPTHWISE_CONV_2D"].data, np.int8).reshape(9, 3, 4)
    zero = ~dw.any(axis=2)
    assert zero.sum() == 20 and np.array_equal(dw[~zero], old[~zero])
    means = np.abs(old).mean(axis=2)
    assert means[zero].max() <= means[~zero].min()
