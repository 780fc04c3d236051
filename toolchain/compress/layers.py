"""Which layers carry weights that compression acts on, and how they are found in a model."""
from __future__ import annotations

from collections.abc import Iterable

import keras

from toolchain.base.errors import OptionError, UnknownNameError
from toolchain.compress.graph import LayerGraph, first_of_kind, last_of_kind, layer_graph

# Layer types whose kernels pruning and clustering act on, and the attribute names of those kernels.
KERNELS: dict[type, tuple[str, ...]] = {
    keras.layers.Dense: ("kernel",),
    keras.layers.Conv1D: ("kernel",),
    keras.layers.Conv2D: ("kernel",),
    keras.layers.DepthwiseConv2D: ("kernel",),
    keras.layers.SeparableConv2D: ("depthwise_kernel", "pointwise_kernel"),
}
CONV_KINDS = (keras.layers.Conv1D, keras.layers.Conv2D, keras.layers.DepthwiseConv2D, keras.layers.SeparableConv2D)


def kernel_names(layer: keras.Layer) -> tuple[str, ...]:
    for kind, names in KERNELS.items():
        if type(layer) is kind:
            return names
    return ()


def kernel_variables(layer: keras.Layer) -> list:
    return [getattr(layer, name) for name in kernel_names(layer)]


def is_weighted(layer: keras.Layer) -> bool:
    return bool(kernel_names(layer))


def default_selection(graph: LayerGraph) -> list[str]:
    """Every weighted layer except the first convolution and the last dense layer.

    These two are small and hold the most accuracy per weight (tfmot's guides recommend leaving
    them alone); compressing them buys little flash and costs accuracy.
    """
    first_conv = first_of_kind(graph, CONV_KINDS)
    last_dense = last_of_kind(graph, (keras.layers.Dense,))
    return [
        n.name for n in graph.nodes
        if is_weighted(n.layer) and n.name not in (first_conv, last_dense)
    ]


def select_layers(
    model: keras.Model,
    option: str,
    include: Iterable[str] | None = None,
    exclude: Iterable[str] = (),
) -> list[str]:
    """Names of the layers a technique acts on: `include` (checked) or the default selection."""
    graph = layer_graph(model)
    names = [n.name for n in graph.nodes]
    weighted = [n.name for n in graph.nodes if is_weighted(n.layer)]
    for name in list(include or []) + list(exclude):
        if name not in names:
            raise UnknownNameError("layer", name, names)
    if include is not None:
        for name in include:
            if name not in weighted:
                layer = graph.node(name).layer
                raise OptionError(
                    option, name,
                    f"a layer with a kernel ({', '.join(k.__name__ for k in KERNELS)}); "
                    f"'{name}' is a {type(layer).__name__}",
                )
        chosen = list(include)
    else:
        chosen = default_selection(graph)
    exclude = set(exclude)
    return [n for n in names if n in chosen and n not in exclude]


def load_compressible(path, custom_objects=None, trust_lambda: bool = False) -> keras.Model:
    """A Keras model to compress, loaded by the build's own load pass (.keras or Keras 2 .h5).

    A model saved mid-way (before `strip`) loads too: the loader knows edgec's wrappers
    (toolchain.compress.registry).
    """
    from pathlib import Path

    from toolchain.base.errors import ModelLoadError
    from toolchain.loader import load_model

    loaded = load_model(Path(path), custom_objects, trust_lambda)
    if loaded.keras_model is None:
        raise ModelLoadError(path, f"a {loaded.format} model cannot be compressed",
                             "compression works on Keras models: .keras or .h5")
    return loaded.keras_model
