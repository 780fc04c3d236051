import numpy as np
import pytest

from tests.toolchain.compress.conftest import keras
from toolchain.compress.clustering import (CentroidInitialization, ClusterWeights, cluster_weights, kmeans,
                                           strip_clustering, unique_values)
from toolchain.base.errors import OptionError
from toolchain.loader import load_model


@pytest.mark.parametrize("init", list(CentroidInitialization))
def test_clustered_layers_have_at_most_n_values_after_fine_tuning_and_strip(cnn, data, init):
    x, y = data
    clustered = cluster_weights(cnn, 6, init)
    before = {l.layer.name: l.centroids[0].numpy().copy() for l in clustered.layers if isinstance(l, ClusterWeights)}
    clustered.compile(keras.optimizers.Adam(1e-2), keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    clustered.fit(x[:128], y[:128], batch_size=32, epochs=1, verbose=0)
    moved = [not np.array_equal(before[l.layer.name], l.centroids[0].numpy())
             for l in clustered.layers if isinstance(l, ClusterWeights)]
    assert all(moved)  # the centroids are what trains
    stripped = strip_clustering(clustered)
    counts = unique_values(stripped)
    assert counts["conv_mid"] <= 6 and counts["dense_mid"] <= 6
    assert counts["conv_in"] > 6  # not selected by default
    assert np.array_equal(stripped.predict(x[:8], verbose=0), clustered.predict(x[:8], verbose=0))


def test_preserve_sparsity_keeps_every_zero_and_counts_it_as_a_cluster(cnn):
    layer = cnn.get_layer("dense_mid")
    kernel, bias = layer.get_weights()
    kernel[::3] = 0
    layer.set_weights([kernel, bias])
    stripped = strip_clustering(cluster_weights(cnn, 8, preserve_sparsity=True))
    out = stripped.get_layer("dense_mid").kernel.numpy()
    assert np.array_equal(out == 0, kernel == 0)
    assert np.unique(out).size == 8


def test_kmeans_finds_well_separated_clusters_exactly():
    values = np.repeat(np.array([-2.0, 0.5, 3.0]), 50) + np.tile(np.linspace(-0.01, 0.01, 50), 3)
    centroids, idx = kmeans(values, 3, CentroidInitialization.KMEANS_PLUS_PLUS)
    np.testing.assert_allclose(np.sort(centroids), [-2.0, 0.5, 3.0], atol=1e-12)
    assert np.unique(idx).size == 3


def test_linear_and_density_initialisations_place_centroids_as_documented():
    values = np.arange(101, dtype=np.float64)
    linear, _ = kmeans(values, 5, CentroidInitialization.LINEAR)
    assert linear.tolist() == [0.0, 25.0, 50.0, 75.0, 100.0]
    density, _ = kmeans(values, 4, CentroidInitialization.DENSITY_BASED)
    assert density.tolist() == [12.5, 37.5, 62.5, 87.5]


@pytest.mark.parametrize("bad", [0, 1, 257, 2.5])
def test_bad_cluster_counts_are_refused(cnn, bad):
    with pytest.raises(OptionError, match="number of clusters from 2 to 256"):
        cluster_weights(cnn, bad)


def test_clustered_model_saves_and_loads(cnn, data, tmp_path):
    x, _ = data
    clustered = cluster_weights(cnn, 4, per_layer={"logits": 3})
    clustered.save(tmp_path / "c.keras")
    loaded = load_model(tmp_path / "c.keras").keras_model  # the wrappers from the explicit registry
    assert np.array_equal(loaded.predict(x[:4], verbose=0), clustered.predict(x[:4], verbose=0))
    assert unique_values(strip_clustering(loaded))["logits"] <= 3
