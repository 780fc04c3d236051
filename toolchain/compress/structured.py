"""Structured (filter / channel) pruning: remove whole output channels and rewire what reads them.

The model's channels are first sorted into *channel groups*: the output channels of one producer
(Conv2D, Conv1D, Dense, SeparableConv2D) follow it through layers that keep channels in place
(BatchNormalization, activations, pooling, padding, dropout, DepthwiseConv2D) to the layers that
read them (the next producer's input; through Flatten, each channel is one input row per spatial
position). Residual merges (Add, Subtract, Average, Maximum, Minimum, Multiply) join the groups of
their inputs, which must keep the same channels. A group that reaches a model output, a model
input, or a layer this pass does not know is left whole.

In each other group, the channels with the lowest importance are removed: the sum over the
group's producers of each filter's L1 norm (normalised by the producer's mean), or the |gamma| of
the BatchNormalization that follows. The result is a genuinely smaller model: fewer parameters,
MACs, flash and activation memory.
"""
from __future__ import annotations

import enum
from dataclasses import dataclass, field

import keras
import numpy as np

from toolchain.base.errors import OptionError, UnknownNameError
from toolchain.compress.graph import Replacement, clone_layer, layer_graph, rebuild

L = keras.layers
PRODUCERS = (L.Conv1D, L.Conv2D, L.Dense, L.SeparableConv2D)
PASS_THROUGH = (
    L.Activation, L.ReLU, L.LeakyReLU, L.ELU, L.Dropout, L.SpatialDropout1D,
    L.SpatialDropout2D, L.GaussianNoise, L.MaxPooling1D, L.MaxPooling2D, L.AveragePooling1D,
    L.AveragePooling2D, L.GlobalAveragePooling1D, L.GlobalAveragePooling2D, L.GlobalMaxPooling1D,
    L.GlobalMaxPooling2D, L.ZeroPadding1D, L.ZeroPadding2D, L.Cropping1D, L.Cropping2D,
    L.UpSampling1D, L.UpSampling2D, L.Identity,
)
MERGES = (L.Add, L.Subtract, L.Average, L.Maximum, L.Minimum, L.Multiply)


class Importance(str, enum.Enum):
    L1 = "l1"
    BN_SCALE = "bn_scale"


def check_sparsity(option: str, value) -> float:
    value = float(value)
    if not 0.0 <= value < 1.0:
        raise OptionError(option, value, "a fraction of channels to remove in [0, 1)")
    return value


@dataclass
class ChannelGroup:
    size: int
    producers: list[str] = field(default_factory=list)
    members: list[str] = field(default_factory=list)  # per-channel layers: BatchNorm, depthwise
    frozen: list[str] = field(default_factory=list)  # why it must stay whole
    keep: np.ndarray | None = None  # sorted indices of the channels kept

    @property
    def kept(self) -> int:
        return self.size if self.keep is None else int(self.keep.size)


@dataclass(frozen=True)
class _Channels:
    group: int | None  # None: a tensor whose channels this pass does not change
    spatial: int = 1  # >1 after Flatten: each channel appears once per spatial position


@dataclass
class StructuredPlan:
    groups: list[ChannelGroup]
    layer_in: dict[str, _Channels]
    layer_out: dict[str, _Channels]

    def keep_in(self, name: str) -> np.ndarray | None:
        return self._rows(self.layer_in.get(name))

    def keep_out(self, name: str) -> np.ndarray | None:
        return self._rows(self.layer_out.get(name))

    def _rows(self, channels: _Channels | None) -> np.ndarray | None:
        if channels is None or channels.group is None:
            return None
        group = self.groups[channels.group]
        if group.keep is None:
            return None
        if channels.spatial == 1:
            return group.keep
        return (np.arange(channels.spatial)[:, None] * group.size + group.keep[None, :]).ravel()


def _channels_last(layer) -> bool:
    cfg = layer.get_config()
    return cfg.get("data_format", "channels_last") in (None, "channels_last")


def _is_producer(layer) -> bool:
    if type(layer) not in PRODUCERS or not _channels_last(layer):
        return False
    return layer.get_config().get("groups", 1) == 1


def _is_member(layer) -> bool:
    if type(layer) is L.BatchNormalization:
        return layer.get_config()["axis"] in (-1, [-1], len(layer.input.shape) - 1, [len(layer.input.shape) - 1])
    if type(layer) is L.DepthwiseConv2D:
        return layer.get_config()["depth_multiplier"] == 1 and _channels_last(layer)
    return False


def analyse(model: keras.Model, exclude=()) -> StructuredPlan:
    """Channel groups of `model` (nothing chosen for removal yet)."""
    graph = layer_graph(model)
    groups: list[ChannelGroup] = []
    parent: list[int] = []

    def find(g):
        while parent[g] != g:
            parent[g] = parent[parent[g]]
            g = parent[g]
        return g

    def new_group(size):
        groups.append(ChannelGroup(size=size))
        parent.append(len(groups) - 1)
        return len(groups) - 1

    def freeze(ch: _Channels, reason: str):
        if ch.group is not None:
            groups[ch.group].frozen.append(reason)

    out: dict[str, _Channels] = {}
    inp: dict[str, _Channels] = {}
    for node in graph.nodes:
        layer, name = node.layer, node.name
        ins = [out[p] for p in node.inbound]
        if isinstance(layer, L.InputLayer):
            out[name] = _Channels(None)
            continue
        if ins:
            inp[name] = ins[0]
        if _is_producer(layer) and len(ins) == 1:
            if ins[0].spatial > 1 and type(layer) is not L.Dense:
                freeze(ins[0], f"read by {name} after Flatten")
            g = new_group(int(layer.compute_output_shape(node.node.input_tensors[0].shape)[-1]))
            groups[g].producers.append(name)
            if name in exclude:
                groups[g].frozen.append(f"{name} excluded")
            out[name] = _Channels(g)
        elif _is_member(layer) and len(ins) == 1:
            if ins[0].spatial > 1:
                freeze(ins[0], f"{name} after Flatten")
            elif ins[0].group is not None:
                groups[ins[0].group].members.append(name)
            out[name] = ins[0]
        elif type(layer) in PASS_THROUGH and len(ins) == 1:
            out[name] = ins[0]
        elif type(layer) is L.Flatten and len(ins) == 1 and ins[0].spatial == 1:
            shape = node.node.input_tensors[0].shape
            out[name] = _Channels(ins[0].group, int(np.prod(shape[1:-1])) if len(shape) > 2 else 1)
        elif type(layer) in MERGES:
            ids = [c.group for c in ins]
            if any(g is None for g in ids) or len({c.spatial for c in ins}) > 1:
                for c in ins:
                    freeze(c, f"merged by {name} with a tensor whose channels are fixed")
                out[name] = _Channels(None)
                continue
            root = find(ids[0])
            for g in ids[1:]:
                parent[find(g)] = root  # union: later groups join the first
            out[name] = ins[0]
        else:
            for c in ins:
                freeze(c, f"read by {name} ({type(layer).__name__}), which this pass does not rewire")
            out[name] = _Channels(None)
    for name in graph.output_names:
        freeze(out[name], f"model output {name}")
    # Collapse unions: every group id maps to its root's merged record.
    roots: dict[int, ChannelGroup] = {}
    for g in range(len(groups)):
        r = find(g)
        merged = roots.setdefault(r, ChannelGroup(size=groups[r].size))
        merged.producers += groups[g].producers
        merged.members += groups[g].members
        merged.frozen += groups[g].frozen
    index = {r: i for i, r in enumerate(sorted(roots))}
    final = [roots[r] for r in sorted(roots)]

    def remap(c: _Channels) -> _Channels:
        return c if c.group is None else _Channels(index[find(c.group)], c.spatial)

    return StructuredPlan(final, {k: remap(v) for k, v in inp.items()}, {k: remap(v) for k, v in out.items()})


def _filter_l1(layer) -> np.ndarray:
    w = (layer.pointwise_kernel if isinstance(layer, L.SeparableConv2D) else layer.kernel).numpy()
    norms = np.abs(w).reshape(-1, w.shape[-1]).sum(axis=0)
    return norms / max(norms.mean(), 1e-12)


def channel_importance(model: keras.Model, group: ChannelGroup, method: Importance) -> np.ndarray:
    if method is Importance.BN_SCALE:
        bns = [model.get_layer(n) for n in group.members if isinstance(model.get_layer(n), L.BatchNormalization)]
        bns = [bn for bn in bns if bn.gamma is not None]
        if bns:
            return sum(np.abs(bn.gamma.numpy()) / max(np.abs(bn.gamma.numpy()).mean(), 1e-12) for bn in bns)
    return sum(_filter_l1(model.get_layer(n)) for n in group.producers)


def plan_structured(model: keras.Model, sparsity: float, importance=Importance.L1, exclude=(),
                    per_layer: dict[str, float] | None = None, round_to: int = 1) -> StructuredPlan:
    """Which channels to keep in each prunable group of `model`."""
    sparsity = check_sparsity("--prune-structured", sparsity)
    method = Importance(importance)
    names = [layer.name for layer in model.layers]
    for name in list(exclude) + list(per_layer or {}):
        if name not in names:
            raise UnknownNameError("layer", name, names)
    if int(round_to) < 1:
        raise OptionError("round_to", round_to, "an integer >= 1")
    plan = analyse(model, exclude)
    for name, value in (per_layer or {}).items():
        check_sparsity(f"structured sparsity of '{name}'", value)
        if not any(name in g.producers for g in plan.groups):
            raise OptionError("structured per_layer", name, "a Conv1D/Conv2D/Dense/SeparableConv2D layer")
    for group in plan.groups:
        if group.frozen or not group.producers:
            continue
        s = next((float(per_layer[p]) for p in group.producers if p in (per_layer or {})), sparsity)
        keep = max(1, group.size - int(round(s * group.size)))
        keep = min(group.size, -(-keep // round_to) * round_to)
        if keep == group.size:
            continue
        score = channel_importance(model, group, method)
        order = np.argsort(-score, kind="stable")
        group.keep = np.sort(order[:keep])
    return plan


def _sliced(layer, keep_in, keep_out) -> Replacement:
    weights = [v.numpy() for v in layer.weights]
    changes = {}
    if isinstance(layer, (L.Dense, L.Conv1D, L.Conv2D)):
        kernel = weights[0]
        if keep_in is not None:
            kernel = np.take(kernel, keep_in, axis=-2)
        if keep_out is not None:
            kernel = np.take(kernel, keep_out, axis=-1)
            weights[1:] = [np.take(b, keep_out) for b in weights[1:]]
            changes = {"units" if isinstance(layer, L.Dense) else "filters": int(keep_out.size)}
        weights[0] = kernel
    elif isinstance(layer, L.SeparableConv2D):
        depth, point = weights[0], weights[1]
        if keep_in is not None:
            m = depth.shape[-1]
            depth = np.take(depth, keep_in, axis=2)
            point = np.take(point, (keep_in[:, None] * m + np.arange(m)[None, :]).ravel(), axis=2)
        if keep_out is not None:
            point = np.take(point, keep_out, axis=-1)
            weights[2:] = [np.take(b, keep_out) for b in weights[2:]]
            changes = {"filters": int(keep_out.size)}
        weights[0], weights[1] = depth, point
    elif isinstance(layer, L.DepthwiseConv2D):
        if keep_in is not None:
            weights[0] = np.take(weights[0], keep_in, axis=2)
            weights[1:] = [np.take(b, keep_in) for b in weights[1:]]
    elif isinstance(layer, L.BatchNormalization):
        if keep_in is not None:
            weights = [np.take(w, keep_in) for w in weights]
    return Replacement([clone_layer(layer, changes)], [weights])


def apply_structured(model: keras.Model, plan: StructuredPlan) -> keras.Model:
    def shrink(layer):
        if not layer.weights:
            return None
        keep_in, keep_out = plan.keep_in(layer.name), plan.keep_out(layer.name)
        if _is_producer(layer):
            return _sliced(layer, keep_in, keep_out)
        if _is_member(layer):
            return _sliced(layer, keep_in, None)
        return None

    return rebuild(model, shrink)


def prune_structured(model: keras.Model, sparsity: float, importance=Importance.L1, exclude=(),
                     per_layer: dict[str, float] | None = None, round_to: int = 1) -> keras.Model:
    """Remove `sparsity` of the output channels of every prunable channel group."""
    return apply_structured(model, plan_structured(model, sparsity, importance, exclude, per_layer, round_to))
