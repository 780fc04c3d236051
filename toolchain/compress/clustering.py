"""Weight clustering (k-means weight sharing) on Keras 3, in the manner of tfmot's `cluster_weights`.

Each chosen kernel is replaced by `centroids[indices]`: `number_of_clusters` shared float values
and, per weight, the index of its value. The centroids are trainable, the indices fixed, so
fine-tuning moves the shared values (each centroid's gradient is the sum of its weights'
gradients). With `preserve_sparsity`, weights that are zero stay zero and count as one of the
clusters. `strip_clustering` writes `centroids[indices]` back into plain layers.

A clustered kernel still takes one int8 per weight in a TFLite model: flash shrinks only when the
int8 model is rewritten with TFLM's look-up-table compression (see `toolchain.compress.lut`).
"""
from __future__ import annotations

import enum

import keras
import numpy as np
from keras import ops

from toolchain.base.errors import OptionError
from toolchain.compress.graph import Replacement, clone_layer, rebuild
from toolchain.compress.layers import kernel_names, select_layers

MAX_CLUSTERS = 256


class CentroidInitialization(str, enum.Enum):
    KMEANS_PLUS_PLUS = "kmeans_plus_plus"
    LINEAR = "linear"
    DENSITY_BASED = "density_based"


def check_clusters(option: str, value) -> int:
    if isinstance(value, bool) or int(value) != value or not 2 <= int(value) <= MAX_CLUSTERS:
        raise OptionError(option, value, f"an integer number of clusters from 2 to {MAX_CLUSTERS}")
    return int(value)


def init_method(value) -> CentroidInitialization:
    try:
        return CentroidInitialization(value.value if isinstance(value, enum.Enum) else str(value).lower())
    except ValueError:
        raise OptionError("cluster_centroids_init", value,
                          "one of " + ", ".join(m.value for m in CentroidInitialization)) from None


def assign(values: np.ndarray, centroids: np.ndarray) -> np.ndarray:
    """Index of the nearest centroid for each value (1-D)."""
    order = np.argsort(centroids, kind="stable")
    ordered = centroids[order]
    cuts = (ordered[1:] + ordered[:-1]) / 2
    return order[np.searchsorted(cuts, values)]


def initial_centroids(values: np.ndarray, k: int, method: CentroidInitialization, seed: int = 0) -> np.ndarray:
    values = values.astype(np.float64).ravel()
    if values.size == 0:
        return np.zeros(k)
    if method is CentroidInitialization.LINEAR:
        return np.linspace(values.min(), values.max(), k)
    if method is CentroidInitialization.DENSITY_BASED:
        # Equal numbers of weights between consecutive centroids: quantiles of the distribution.
        return np.quantile(values, (np.arange(k) + 0.5) / k)
    rng = np.random.default_rng(seed)
    centroids = [values[rng.integers(values.size)]]
    dist = (values - centroids[0]) ** 2
    for _ in range(1, k):
        total = dist.sum()
        pick = rng.integers(values.size) if total == 0 else rng.choice(values.size, p=dist / total)
        centroids.append(values[pick])
        dist = np.minimum(dist, (values - values[pick]) ** 2)
    return np.sort(np.array(centroids))


def kmeans(values: np.ndarray, k: int, method: CentroidInitialization, iterations: int = 25,
           seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Centroids and indices for 1-D `values`; Lloyd iterations follow k-means++ only."""
    values = values.astype(np.float64).ravel()
    centroids = initial_centroids(values, k, method, seed)
    rounds = iterations if method is CentroidInitialization.KMEANS_PLUS_PLUS else 0
    for _ in range(rounds):
        idx = assign(values, centroids)
        sums = np.bincount(idx, weights=values, minlength=k)
        counts = np.bincount(idx, minlength=k)
        updated = np.where(counts > 0, sums / np.maximum(counts, 1), centroids)
        if np.allclose(updated, centroids, rtol=0, atol=1e-12):
            break
        centroids = updated
    return centroids, assign(values, centroids)


class ClusterWeights(keras.layers.Wrapper):
    """A layer whose kernels are `centroids[indices]` (times a sparsity mask when preserved)."""

    def __init__(self, layer, number_of_clusters=16, cluster_centroids_init="kmeans_plus_plus",
                 preserve_sparsity=False, **kwargs):
        super().__init__(layer, **kwargs)
        self.number_of_clusters = check_clusters("number_of_clusters", number_of_clusters)
        self.cluster_centroids_init = init_method(cluster_centroids_init)
        self.preserve_sparsity = bool(preserve_sparsity)
        self.kernel_names = kernel_names(layer)

    def build(self, input_shape=None):
        if not self.layer.built:
            self.layer.build(input_shape)
        self.centroids, self.indices, self.sparsity_masks = [], [], []
        for name in self.kernel_names:
            kernel = getattr(self.layer, name)
            kernel.trainable = False  # the centroids are what trains
            self.centroids.append(self.add_weight(name=f"{name}_centroids", shape=(self.number_of_clusters,),
                                                  initializer="zeros", trainable=True))
            self.indices.append(self.add_weight(name=f"{name}_indices", shape=kernel.shape,
                                                initializer="zeros", dtype="int32", trainable=False))
            self.sparsity_masks.append(self.add_weight(name=f"{name}_sparsity_mask", shape=kernel.shape,
                                                       initializer="ones", trainable=False))
        self.built = True

    def initialize_clusters(self) -> None:
        """Cluster the layer's current kernels (call once its weights are in place)."""
        for name, centroids, indices, mask in zip(self.kernel_names, self.centroids, self.indices,
                                                  self.sparsity_masks):
            w = getattr(self.layer, name).numpy()
            keep = (w != 0) if self.preserve_sparsity else np.ones(w.shape, dtype=bool)
            k = self.number_of_clusters
            # When zeros are preserved they are one of the k values: k - 1 clusters for the rest.
            k_free = k - 1 if (self.preserve_sparsity and not keep.all()) else k
            c, idx = kmeans(w[keep], k_free, self.cluster_centroids_init)
            full_c = np.zeros(k)
            full_c[:k_free] = c
            full_idx = np.full(w.shape, k - 1 if k_free < k else 0, dtype=np.int32)
            full_idx[keep] = idx
            centroids.assign(full_c.astype("float32"))
            indices.assign(full_idx)
            mask.assign(keep.astype("float32"))

    def clustered_kernels(self) -> list:
        return [
            ops.multiply(ops.take(c, i), m)
            for c, i, m in zip(self.centroids, self.indices, self.sparsity_masks)
        ]

    def call(self, inputs, *args, **kwargs):
        mapping = [(getattr(self.layer, name), value)
                   for name, value in zip(self.kernel_names, self.clustered_kernels())]
        with keras.StatelessScope(state_mapping=mapping):
            return self.layer(inputs, *args, **kwargs)

    def compute_output_shape(self, input_shape):
        return self.layer.compute_output_shape(input_shape)

    def get_config(self):
        config = super().get_config()
        config.update(number_of_clusters=self.number_of_clusters,
                      cluster_centroids_init=self.cluster_centroids_init.value,
                      preserve_sparsity=self.preserve_sparsity)
        return config


def cluster_weights(
    to_cluster,
    number_of_clusters: int = 16,
    cluster_centroids_init=CentroidInitialization.KMEANS_PLUS_PLUS,
    preserve_sparsity: bool = False,
    layers: list[str] | None = None,
    exclude: tuple[str, ...] = (),
    per_layer: dict[str, int] | None = None,
):
    """Wrap layers for weight clustering; `to_cluster` is a Keras model or a single layer.

    `per_layer` maps layer names to their own number of clusters.
    """
    number_of_clusters = check_clusters("number_of_clusters", number_of_clusters)
    method = init_method(cluster_centroids_init)
    if isinstance(to_cluster, keras.layers.Layer) and not isinstance(to_cluster, keras.Model):
        wrapper = ClusterWeights(to_cluster, number_of_clusters, method, preserve_sparsity)
        return wrapper
    per_layer = {name: check_clusters(f"cluster layer '{name}'", n) for name, n in (per_layer or {}).items()}
    chosen = set(select_layers(to_cluster, "cluster layers", layers, exclude))
    if per_layer:
        chosen |= set(select_layers(to_cluster, "cluster per_layer", list(per_layer)))

    def wrap(layer):
        if layer.name not in chosen:
            return None
        return Replacement([ClusterWeights(clone_layer(layer), per_layer.get(layer.name, number_of_clusters),
                                           method, preserve_sparsity, name=f"cluster_{layer.name}")], [None])

    new_model = rebuild(to_cluster, wrap)
    for layer in new_model.layers:
        if isinstance(layer, ClusterWeights):
            layer.layer.set_weights(to_cluster.get_layer(layer.layer.name).get_weights())
            layer.initialize_clusters()
    return new_model


def strip_clustering(model: keras.Model) -> keras.Model:
    """Plain layers whose kernels hold the clustered values, in place of every ClusterWeights."""

    def unwrap(layer):
        if not isinstance(layer, ClusterWeights):
            return None
        clustered = {name: ops.convert_to_numpy(v) for name, v in zip(layer.kernel_names, layer.clustered_kernels())}
        kernels = {id(getattr(layer.layer, name)): name for name in layer.kernel_names}
        weights = [clustered[kernels[id(v)]] if id(v) in kernels else v.numpy() for v in layer.layer.weights]
        return Replacement([clone_layer(layer.layer)], [weights])

    return rebuild(model, unwrap)


def unique_values(model: keras.Model) -> dict[str, int]:
    """Number of distinct values in each kernel, keyed by layer name."""
    result = {}
    for layer in model.layers:
        inner = layer.layer if isinstance(layer, ClusterWeights) else layer
        names = kernel_names(inner)
        values = (dict(zip(layer.kernel_names, layer.clustered_kernels())) if isinstance(layer, ClusterWeights)
                  else {n: getattr(inner, n) for n in names})
        for name in names:
            key = inner.name if len(names) == 1 else f"{inner.name}/{name}"
            result[key] = int(np.unique(ops.convert_to_numpy(values[name])).size)
    return result
