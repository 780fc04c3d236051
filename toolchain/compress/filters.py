"""Compact convolutional filters: a k x k Conv2D replaced by a cheaper structure of the same function.

Two families, each initialised from the trained kernel W (k x k x C_in x C_out) so that fine-tuning
(distillation from the original model, as the recipe asks) starts near the original function:

* separable (MobileNet): a depthwise k x k convolution, then a 1 x 1 pointwise convolution.
  For each input channel c, the slice W[:, :, c, :] seen as a (k*k) x C_out matrix is replaced by
  its best rank-1 approximation s u v^T (SVD): the spatial filter sqrt(s) u goes to the depthwise
  kernel, the channel weights sqrt(s) v to the pointwise kernel. The split is exact when every slice
  has rank 1; `kept_energy` is the share of ||W||^2 the rank-1 terms keep.
  Weights: k^2 C_in + C_in C_out instead of k^2 C_in C_out.
  Rank r > 1 keeps the r largest terms of each slice's SVD: a depthwise convolution with depth
  multiplier r (output channel c r + j holds the j-th spatial filter of input channel c), then a
  pointwise C_in r -> C_out convolution; r >= min(k^2, C_out) is exact. Weights: r (k^2 C_in +
  C_in C_out). Where rank 1 keeps little of a layer's energy (a Dense seen as a convolution), a
  larger rank for that layer (`per_layer`) spends the saving on what matters.
  A Dense layer reading a Flatten of an H x W x C map (channels_last, so the flattened order is
  (h, w, c)) is exactly an H x W valid Conv2D with C_out = units whose kernel is the Dense kernel
  reshaped to (H, W, C, units), followed by a Flatten of its 1 x 1 x units output. `--separable`
  treats such a Dense as that convolution: a depthwise H x W (valid) convolution to a 1 x 1 x C map,
  a pointwise 1 x 1 convolution C -> units (bias and activation), then the Flatten the next layer
  expects. The Flatten before it is dropped when such Dense layers are its only readers (else a
  Reshape back to H x W x C goes first).

* bottleneck (SqueezeNet's fire module): a 1 x 1 "squeeze" convolution to s < C_in channels, then
  the k x k convolution from s channels. W seen as a C_in x (k*k*C_out) matrix is cut to rank s
  by SVD, W = A B: A is the squeeze kernel, B the k x k kernel. Exact at full rank (the squeeze has
  no bias, so zero padding stays zero). Weights: C_in s + k^2 s C_out.

A layer is replaced only where the new structure has fewer weights; strides, padding, dilation,
bias and activation stay with the layer that produces the output. Both structures are ops that
TFLite, TFLM and the C engine run (DEPTHWISE_CONV_2D, CONV_2D).
"""
from __future__ import annotations

from dataclasses import dataclass

import keras
import numpy as np

from toolchain.base.errors import OptionError, UnknownNameError
from toolchain.compress.graph import LayerGraph, Replacement, layer_graph, rebuild

FAMILIES = ("separable", "bottleneck")


@dataclass(frozen=True)
class FilterPlan:
    layer: str
    family: str  # "separable" or "bottleneck"
    kernel: tuple[int, int, int, int]  # (k_h, k_w, C_in, C_out)
    inner: int  # separable: C_in x rank (depthwise output channels); bottleneck: the squeeze channels s
    kept_energy: float  # share of the kernel's squared norm the initial split keeps
    params_before: int  # kernel weights only; the bias is unchanged
    params_after: int
    reads_flatten: str | None = None  # a Dense treated as an H x W convolution: the Flatten it reads
    rank: int = 1  # separable: terms kept per input channel (the depthwise multiplier)

    @property
    def pays(self) -> bool:
        return self.params_after < self.params_before


def check_rank(value, option: str = "--separable-rank") -> int:
    if isinstance(value, bool) or int(value) != value or int(value) < 1:
        raise OptionError(option, value, "an integer >= 1: spatial filters per input channel (the depth multiplier)")
    return int(value)


def check_ratio(value) -> float:
    value = float(value)
    if not 0.0 < value < 1.0:
        raise OptionError("--bottleneck", value, "a squeeze ratio in (0, 1): the share of input channels kept")
    return value


def _eligible_conv(layer) -> bool:
    if type(layer) is not keras.layers.Conv2D:
        return False
    cfg = layer.get_config()
    return (cfg.get("groups", 1) == 1 and cfg["data_format"] == "channels_last"
            and max(cfg["kernel_size"]) > 1)


def dense_as_conv(graph: LayerGraph, name: str) -> tuple[str, tuple[int, int, int]] | None:
    """(the Flatten's name, (H, W, C)) when layer `name` is a Dense whose only input is a Flatten of
    an H x W x C map (channels_last) larger than 1 x 1: the Dense is then an H x W valid convolution."""
    node = graph.node(name)
    if type(node.layer) is not keras.layers.Dense or len(node.inbound) != 1:
        return None
    source = graph.node(node.inbound[0])
    flatten = source.layer
    if type(flatten) is not keras.layers.Flatten or flatten.get_config().get("data_format") == "channels_first":
        return None
    shape = tuple(source.node.input_tensors[0].shape[1:]) if len(source.node.input_tensors) == 1 else ()
    if len(shape) != 3 or None in shape or shape[0] * shape[1] < 2:
        return None
    if len(node.node.input_tensors[0].shape) != 2 or node.layer.kernel.shape[0] != shape[0] * shape[1] * shape[2]:
        return None
    return flatten.name, tuple(int(v) for v in shape)


def _kernel(model: keras.Model, graph: LayerGraph, name: str) -> tuple[np.ndarray, str | None]:
    """The layer's kernel as a k_h x k_w x C_in x C_out convolution kernel, and the Flatten a Dense reads."""
    w = model.get_layer(name).kernel.numpy()
    seen = dense_as_conv(graph, name) if w.ndim == 2 else None
    if seen is None:
        return w, None
    flatten, (h, wd, c) = seen
    return w.reshape(h, wd, c, w.shape[1]), flatten


def _candidates(model: keras.Model, graph: LayerGraph, family: str, layers, exclude, min_in_channels: int
                ) -> list[str]:
    known = {n.name: n.layer for n in graph.nodes}
    for name in list(layers or []) + list(exclude):
        if name not in known:
            raise UnknownNameError("layer", name, known)

    def eligible(name):  # the number of input channels of the convolution it is, or None
        if _eligible_conv(known[name]):
            return known[name].kernel.shape[2]
        if family == "separable":
            seen = dense_as_conv(graph, name)
            return None if seen is None else seen[1][2]
        return None

    if layers is None:
        names = [name for name in known if (eligible(name) or 0) >= min_in_channels]
    else:
        names = list(layers)
        for name in names:
            if eligible(name) is None:
                also = (", or a Dense reading a Flatten of an H x W x C map (larger than 1 x 1)"
                        if family == "separable" else "")
                raise OptionError(f"--{family} layer", name,
                                  f"a Conv2D with a kernel larger than 1 x 1 (no groups){also}, "
                                  f"not a {type(known[name]).__name__}")
    return [name for name in names if name not in set(exclude)]


def rank1_split(w: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """(depthwise kernel k x k x C_in x 1, pointwise kernel 1 x 1 x C_in x C_out, kept energy)."""
    return rank_split(w, 1)


def rank_split(w: np.ndarray, rank: int) -> tuple[np.ndarray, np.ndarray, float]:
    """(depthwise kernel k x k x C_in x rank, pointwise kernel 1 x 1 x (C_in rank) x C_out, kept
    energy): per input channel c, the `rank` largest SVD terms s_j u_j v_j^T of the (k*k) x C_out
    slice, sqrt(s_j) u_j as depthwise filter (c, j) (output channel c rank + j, the order of
    DEPTHWISE_CONV_2D with depth multiplier `rank`) and sqrt(s_j) v_j as its pointwise weights.
    Terms beyond the slice's own rank are zero."""
    kh, kw, cin, cout = w.shape
    depthwise = np.zeros((kh, kw, cin, rank), np.float64)
    pointwise = np.zeros((1, 1, cin * rank, cout), np.float64)
    kept = 0.0
    for c in range(cin):
        u, s, vt = np.linalg.svd(w[:, :, c, :].reshape(kh * kw, cout).astype(np.float64), full_matrices=False)
        n = min(rank, s.size)
        root = np.sqrt(s[:n])
        depthwise[:, :, c, :n] = (u[:, :n] * root).reshape(kh, kw, n)
        pointwise[0, 0, c * rank: c * rank + n, :] = root[:, None] * vt[:n]
        kept += float((s[:n] ** 2).sum())
    total = float((w.astype(np.float64) ** 2).sum())
    return depthwise.astype(np.float32), pointwise.astype(np.float32), (kept / total if total else 1.0)


def squeeze_split(w: np.ndarray, channels: int) -> tuple[np.ndarray, np.ndarray, float]:
    """(squeeze kernel 1 x 1 x C_in x s, k x k kernel k x k x s x C_out, kept energy) of rank s."""
    kh, kw, cin, cout = w.shape
    matrix = w.transpose(2, 0, 1, 3).reshape(cin, kh * kw * cout).astype(np.float64)
    u, s, vt = np.linalg.svd(matrix, full_matrices=False)
    root = np.sqrt(s[:channels])
    squeeze = (u[:, :channels] * root)[None, None]
    expand = (root[:, None] * vt[:channels]).reshape(channels, kh, kw, cout).transpose(1, 2, 0, 3)
    total = float((s ** 2).sum())
    return (squeeze.astype(np.float32), expand.astype(np.float32),
            float((s[:channels] ** 2).sum() / total) if total else 1.0)


def plan_filters(model: keras.Model, family: str, ratio: float | None = None, layers=None, exclude=(),
                 min_in_channels: int = 4, rank: int = 1, per_layer=None) -> list[FilterPlan]:
    """What replacing each eligible layer would do (including the layers where it does not pay).

    Without `layers`, every k x k Conv2D with at least `min_in_channels` input channels is a candidate
    (for `separable`, also every Dense reading a Flatten of an H x W x C map with C that large, as the
    H x W convolution it is): a layer reading the raw image (1-3 channels) keeps its full convolution,
    as MobileNet keeps it. `separable` splits to `rank` terms per input channel (`per_layer`: layer
    name -> rank, for the layers named)."""
    if family not in FAMILIES:
        raise OptionError("filter family", family, " or ".join(FAMILIES))
    if family == "bottleneck":
        ratio = check_ratio(ratio)
    rank = check_rank(rank)
    per_layer = {name: check_rank(r, f"separable rank of {name}") for name, r in (per_layer or {}).items()}
    graph = layer_graph(model)
    known = {n.name for n in graph.nodes}
    for name in per_layer:
        if name not in known:
            raise UnknownNameError("layer", name, known)
    plans = []
    for name in _candidates(model, graph, family, layers, exclude, min_in_channels):
        w, flatten = _kernel(model, graph, name)
        kh, kw, cin, cout = w.shape
        before = w.size
        if family == "separable":
            r = per_layer.get(name, rank)
            kept = rank_split(w, r)[2]
            plans.append(FilterPlan(name, family, w.shape, cin * r, kept, before, r * (kh * kw * cin + cin * cout),
                                    flatten, r))
        else:
            channels = max(1, int(round(ratio * cin)))
            kept = squeeze_split(w, channels)[2]
            plans.append(FilterPlan(name, family, w.shape, channels, kept, before,
                                    cin * channels + kh * kw * channels * cout))
    return plans


def replace_filters(model: keras.Model, plans: list[FilterPlan]) -> keras.Model:
    """A model where each layer of a paying plan is replaced by its compact structure."""
    chosen = {p.layer: p for p in plans if p.pays}
    graph = layer_graph(model)
    # A Flatten read only by Dense layers that become convolutions goes: they read the map.
    readers = {p.reads_flatten: set() for p in chosen.values() if p.reads_flatten is not None}
    for p in chosen.values():
        if p.reads_flatten is not None:
            readers[p.reads_flatten].add(p.layer)
    dropped = {f for f, names in readers.items() if set(graph.consumers[f]) <= names}

    def split(layer):
        if layer.name in dropped:
            return Replacement([], [])
        plan = chosen.get(layer.name)
        if plan is None:
            return None
        if plan.reads_flatten is not None:
            return _dense_split(layer, plan, keep_flatten=plan.reads_flatten not in dropped)
        cfg = layer.get_config()
        w = layer.kernel.numpy()
        bias = [layer.bias.numpy()] if cfg["use_bias"] else []
        if plan.family == "separable":
            depthwise, pointwise, _ = rank_split(w, plan.rank)
            first = keras.layers.DepthwiseConv2D(
                cfg["kernel_size"], strides=cfg["strides"], padding=cfg["padding"], depth_multiplier=plan.rank,
                dilation_rate=cfg["dilation_rate"], use_bias=False, name=f"{layer.name}_dw")
            second = keras.layers.Conv2D.from_config(dict(
                cfg, name=f"{layer.name}_pw", kernel_size=(1, 1), strides=(1, 1), padding="valid",
                dilation_rate=(1, 1)))
            return Replacement([first, second], [[depthwise], [pointwise] + bias])
        squeeze, expand, _ = squeeze_split(w, plan.inner)
        first = keras.layers.Conv2D(plan.inner, 1, use_bias=False, name=f"{layer.name}_squeeze")
        second = keras.layers.Conv2D.from_config(dict(cfg, name=f"{layer.name}_expand"))
        return Replacement([first, second], [[squeeze], [expand] + bias])

    return rebuild(model, split)


_DENSE_TO_CONV = ("activation", "use_bias", "kernel_initializer", "bias_initializer", "kernel_regularizer",
                  "bias_regularizer", "activity_regularizer", "kernel_constraint", "bias_constraint", "dtype")


def _dense_split(layer, plan: FilterPlan, keep_flatten: bool) -> Replacement:
    """A Dense reading a Flatten of an H x W x C map, as the H x W valid convolution it is, made
    separable: depthwise H x W -> 1 x 1 x C, pointwise C -> units (bias, activation), Flatten."""
    kh, kw, cin, units = plan.kernel
    cfg = layer.get_config()
    depthwise, pointwise, _ = rank_split(layer.kernel.numpy().reshape(plan.kernel), plan.rank)
    bias = [layer.bias.numpy()] if cfg["use_bias"] else []
    reshape = [keras.layers.Reshape((kh, kw, cin), name=f"{layer.name}_map")] if keep_flatten else []
    first = keras.layers.DepthwiseConv2D((kh, kw), padding="valid", depth_multiplier=plan.rank, use_bias=False,
                                         name=f"{layer.name}_dw")
    shared = {k: cfg[k] for k in _DENSE_TO_CONV if k in cfg}  # activation, bias, initialisers, ...
    second = keras.layers.Conv2D(units, 1, **shared, name=f"{layer.name}_pw")
    flatten = keras.layers.Flatten(name=f"{layer.name}_flat")
    return Replacement(reshape + [first, second, flatten],
                       [None] * len(reshape) + [[depthwise], [pointwise] + bias, None])


def describe(plans: list[FilterPlan]) -> str:
    """One line for the compression report: what was replaced, and the energy its initial split kept."""
    done = [p for p in plans if p.pays]
    if not done:
        return "no replacement pays"
    return ", ".join(f"{p.layer}"
                     + (f" (Dense as a {p.kernel[0]}x{p.kernel[1]} convolution)" if p.reads_flatten else "")
                     + f": {p.params_before:,} -> {p.params_after:,} weights"
                     + (f" (squeeze {p.inner})" if p.family == "bottleneck" else "")
                     + (f" (rank {p.rank})" if p.family == "separable" and p.rank > 1 else "")
                     + f", {p.kept_energy:.1%} energy" for p in done)
