"""The layer graph of a Keras 3 model, and rebuilding a model with some layers replaced.

Every technique that changes a model's structure (wrapping for pruning or clustering, removing
channels, splitting a layer in two) is a `rebuild` with a function that says what replaces each
layer. The original model is never modified: each layer of the new model is a fresh layer made
from its config, with weights copied or given by the replacement.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import keras
import numpy as np

from toolchain.base.errors import EdgecError


class UnsupportedModelError(EdgecError):
    """A model whose graph a compression technique cannot rewrite."""

    def __init__(self, technique: str, reason: str):
        self.technique, self.reason = technique, reason
        super().__init__(f"{technique}: {reason}")


@dataclass
class GraphNode:
    """One call of one layer in the model."""

    layer: keras.Operation
    node: object  # keras.src.ops.node.Node
    inbound: tuple[str, ...]  # names of the layers whose outputs this call reads

    @property
    def name(self) -> str:
        return self.layer.name


@dataclass
class LayerGraph:
    nodes: list[GraphNode]  # in topological order, inputs first
    input_names: tuple[str, ...]
    output_names: tuple[str, ...]
    consumers: dict[str, list[str]] = field(default_factory=dict)

    def node(self, name: str) -> GraphNode:
        for n in self.nodes:
            if n.name == name:
                return n
        raise KeyError(name)


def _history(tensor):
    history = getattr(tensor, "_keras_history", None)
    if history is None:
        raise UnsupportedModelError("graph", "a model tensor has no Keras history (subclassed model?)")
    return history


def layer_graph(model: keras.Model) -> LayerGraph:
    """The call graph of a Functional or Sequential model, in topological order."""
    if not getattr(model, "built", False) or not hasattr(model, "outputs") or model.outputs is None:
        raise UnsupportedModelError(
            "graph", "only Functional and Sequential models with a known input shape are supported"
        )
    order: list[GraphNode] = []
    seen: dict[int, GraphNode] = {}
    used_by_name: dict[str, int] = {}

    def visit(tensor):
        operation, node_index, _ = _history(tensor)
        node = operation._inbound_nodes[node_index]
        if id(node) in seen:
            return
        for parent in node.input_tensors:
            visit(parent)
        inbound = tuple(_history(t).operation.name for t in node.input_tensors)
        graph_node = GraphNode(layer=operation, node=node, inbound=inbound)
        seen[id(node)] = graph_node
        used_by_name[operation.name] = used_by_name.get(operation.name, 0) + 1
        order.append(graph_node)

    for output in model.outputs:
        visit(output)
    shared = sorted(name for name, count in used_by_name.items() if count > 1)
    if shared:
        raise UnsupportedModelError("graph", f"layers called more than once are not supported: {shared}")
    consumers: dict[str, list[str]] = {n.name: [] for n in order}
    for n in order:
        for parent in n.inbound:
            consumers[parent].append(n.name)
    return LayerGraph(
        nodes=order,
        input_names=tuple(_history(t).operation.name for t in model.inputs),
        output_names=tuple(_history(t).operation.name for t in model.outputs),
        consumers=consumers,
    )


@dataclass
class Replacement:
    """What stands in a rebuilt model where one layer stood.

    `layers` are applied in sequence to the inputs of the original call (none: the layer is
    removed and its single input passes through); `weights[i]` (or None to keep a freshly
    initialised layer) is set on `layers[i]` once the new model is built.
    """

    layers: list[keras.Layer]
    weights: list[list[np.ndarray] | None]


def clone_layer(layer: keras.Layer, config_changes: dict | None = None) -> keras.Layer:
    config = layer.get_config()
    config.update(config_changes or {})
    return layer.__class__.from_config(config)


def same_layer(layer: keras.Layer) -> Replacement:
    """A fresh copy of `layer` with the same weights."""
    return Replacement([clone_layer(layer)], [layer.get_weights()])


def rebuild(
    model: keras.Model,
    replace: Callable[[keras.Layer], Replacement | None],
    name: str | None = None,
) -> keras.Model:
    """A new Functional model where each layer is `replace(layer)` (None: an unchanged copy)."""
    graph = layer_graph(model)
    new_tensors: dict[int, object] = {}
    pending: list[tuple[keras.Layer, list[np.ndarray]]] = []
    for gnode in graph.nodes:
        layer, node = gnode.layer, gnode.node
        if isinstance(layer, keras.layers.InputLayer):
            old = node.outputs[0]
            new = keras.Input(
                shape=old.shape[1:], batch_size=old.shape[0], dtype=old.dtype, name=layer.name
            )
            new_tensors[id(old)] = new
            continue
        if not isinstance(layer, keras.Layer):
            raise UnsupportedModelError(
                "rebuild", f"operation '{layer.name}' ({type(layer).__name__}) is not a layer; "
                "write it as a Keras layer to compress this model"
            )
        replacement = replace(layer) or same_layer(layer)

        def swap(x):
            if isinstance(x, keras.KerasTensor):
                return new_tensors[id(x)]
            return x

        args = keras.tree.map_structure(swap, node.arguments.args)
        kwargs = keras.tree.map_structure(swap, node.arguments.kwargs)
        if replacement.layers:
            out = replacement.layers[0](*args, **kwargs)
        elif len(node.input_tensors) == 1:  # removed: its input passes through
            out = new_tensors[id(node.input_tensors[0])]
        else:
            raise UnsupportedModelError("rebuild", f"layer '{layer.name}' with several inputs cannot be removed")
        for extra in replacement.layers[1:]:
            out = extra(out)
        for old, new in zip(keras.tree.flatten(node.outputs), keras.tree.flatten(out)):
            new_tensors[id(old)] = new
        for new_layer, weights in zip(replacement.layers, replacement.weights):
            if weights is not None:
                pending.append((new_layer, weights))
    inputs = [new_tensors[id(t)] for t in model.inputs]  # the model's own order
    outputs = [new_tensors[id(t)] for t in model.outputs]
    new_model = keras.Model(
        inputs=inputs[0] if len(inputs) == 1 else inputs,
        outputs=outputs[0] if len(outputs) == 1 else outputs,
        name=name or model.name,
    )
    for new_layer, weights in pending:
        new_layer.set_weights(weights)
    return new_model


def last_of_kind(graph: LayerGraph, kinds: Sequence[type]) -> str | None:
    found = [n.name for n in graph.nodes if isinstance(n.layer, tuple(kinds))]
    return found[-1] if found else None


def first_of_kind(graph: LayerGraph, kinds: Sequence[type]) -> str | None:
    found = [n.name for n in graph.nodes if isinstance(n.layer, tuple(kinds))]
    return found[0] if found else None
