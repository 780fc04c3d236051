"""Compact convolutional filters: a k x k Conv2D replaced by a cheaper structure of the same function.

Two families, each initialised from the trained kernel W (k x k x C_in x C_out) so that fine-tuning
(distillation from the original model, as the recipe asks) starts near the original function:

* separable (MobileNet): a depthwise k x k convolution, then a 1 x 1 pointwise convolution.
  For each input channel c, the slice W[:, :, c, :] seen as a (k*k) x C_out matrix is replaced by
  its best rank-1 approximation s u v^T (SVD): the spatial filter sqrt(s) u goes to the depthwise
  kernel, the channel weights sqrt(s) v to the pointwise kernel. The split is exact when every slice
  has rank 1; `kept_energy` is the share of ||W||^2 the rank-1 terms keep.
  Weights: k^2 C_in + C_in C_out instead of k^2 C_in C_out.

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
from toolchain.compress.graph import Replacement, layer_graph, rebuild

FAMILIES = ("separable", "bottleneck")


@dataclass(frozen=True)
class FilterPlan:
    layer: str
    family: str  # "separable" or "bottleneck"
    kernel: tuple[int, int, int, int]  # (k_h, k_w, C_in, C_out)
    inner: int  # separable: C_in (depthwise channels); bottleneck: the squeeze channels s
    kept_energy: float  # share of the kernel's squared norm the initial split keeps
    params_before: int  # kernel weights only; the bias is unchanged
    params_after: int

    @property
    def pays(self) -> bool:
        return self.params_after < self.params_before


def check_ratio(value) -> float:
    value = float(value)
    if not 0.0 < value < 1.0:
        raise OptionError("--bottleneck", value, "a squeeze ratio in (0, 1): the share of input channels kept")
    return value


def _eligible(layer) -> bool:
    if type(layer) is not keras.layers.Conv2D:
        return False
    cfg = layer.get_config()
    return (cfg.get("groups", 1) == 1 and cfg["data_format"] == "channels_last"
            and max(cfg["kernel_size"]) > 1)


def _candidates(model: keras.Model, layers, exclude, min_in_channels: int, option: str) -> list[str]:
    known = {n.name: n.layer for n in layer_graph(model).nodes}
    for name in list(layers or []) + list(exclude):
        if name not in known:
            raise UnknownNameError("layer", name, known)
    if layers is None:
        names = [name for name, layer in known.items()
                 if _eligible(layer) and layer.kernel.shape[2] >= min_in_channels]
    else:
        names = list(layers)
        for name in names:
            if not _eligible(known[name]):
                raise OptionError(f"{option} layer", name,
                                  f"a Conv2D with a kernel larger than 1 x 1 (no groups), "
                                  f"not a {type(known[name]).__name__}")
    return [name for name in names if name not in set(exclude)]


def rank1_split(w: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """(depthwise kernel k x k x C_in x 1, pointwise kernel 1 x 1 x C_in x C_out, kept energy)."""
    kh, kw, cin, cout = w.shape
    depthwise = np.zeros((kh, kw, cin, 1), np.float64)
    pointwise = np.zeros((1, 1, cin, cout), np.float64)
    kept = 0.0
    for c in range(cin):
        u, s, vt = np.linalg.svd(w[:, :, c, :].reshape(kh * kw, cout).astype(np.float64), full_matrices=False)
        root = np.sqrt(s[0])
        depthwise[:, :, c, 0] = (root * u[:, 0]).reshape(kh, kw)
        pointwise[0, 0, c, :] = root * vt[0]
        kept += s[0] ** 2
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
                 min_in_channels: int = 4) -> list[FilterPlan]:
    """What replacing each eligible layer would do (including the layers where it does not pay).

    Without `layers`, every k x k Conv2D with at least `min_in_channels` input channels is a candidate:
    a layer reading the raw image (1-3 channels) keeps its full convolution, as MobileNet keeps it."""
    if family not in FAMILIES:
        raise OptionError("filter family", family, " or ".join(FAMILIES))
    option = "--" + family
    if family == "bottleneck":
        ratio = check_ratio(ratio)
    plans = []
    for name in _candidates(model, layers, exclude, min_in_channels, option):
        w = model.get_layer(name).kernel.numpy()
        kh, kw, cin, cout = w.shape
        before = w.size
        if family == "separable":
            kept = rank1_split(w)[2]
            plans.append(FilterPlan(name, family, w.shape, cin, kept, before, kh * kw * cin + cin * cout))
        else:
            channels = max(1, int(round(ratio * cin)))
            kept = squeeze_split(w, channels)[2]
            plans.append(FilterPlan(name, family, w.shape, channels, kept, before,
                                    cin * channels + kh * kw * channels * cout))
    return plans


def replace_filters(model: keras.Model, plans: list[FilterPlan]) -> keras.Model:
    """A model where each layer of a paying plan is replaced by its compact structure."""
    chosen = {p.layer: p for p in plans if p.pays}

    def split(layer):
        plan = chosen.get(layer.name)
        if plan is None:
            return None
        cfg = layer.get_config()
        w = layer.kernel.numpy()
        bias = [layer.bias.numpy()] if cfg["use_bias"] else []
        if plan.family == "separable":
            depthwise, pointwise, _ = rank1_split(w)
            first = keras.layers.DepthwiseConv2D(
                cfg["kernel_size"], strides=cfg["strides"], padding=cfg["padding"],
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


def describe(plans: list[FilterPlan]) -> str:
    """One line for the compression report: what was replaced, and the energy its initial split kept."""
    done = [p for p in plans if p.pays]
    if not done:
        return "no replacement pays"
    return ", ".join(f"{p.layer}: {p.params_before:,} -> {p.params_after:,} weights"
                     + (f" (squeeze {p.inner})" if p.family == "bottleneck" else "")
                     + f", {p.kept_energy:.1%} energy" for p in done)
