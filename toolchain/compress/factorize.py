"""Low-rank factorization: a Dense kernel (or a 1x1 convolution) W split into two thinner layers.

W (in x out) = U S V^T is cut to rank r: the first layer holds U_r sqrt(S_r) (in x r, no bias),
the second sqrt(S_r) V_r^T (r x out) with the original bias and activation. r is the smallest rank
keeping `energy` of the sum of squared singular values (so the relative Frobenius error of the
kernel is at most sqrt(1 - energy)), or given. A layer is split only where r (in + out) < in out.
"""
from __future__ import annotations

from dataclasses import dataclass

import keras
import numpy as np

from toolchain.base.errors import OptionError, UnknownNameError
from toolchain.compress.graph import Replacement, layer_graph, rebuild


@dataclass(frozen=True)
class FactorPlan:
    layer: str
    shape: tuple[int, int]  # (in, out) of the kernel as a matrix
    rank: int
    kept_energy: float
    params_before: int  # kernel weights only; the bias is unchanged
    params_after: int

    @property
    def pays(self) -> bool:
        return self.params_after < self.params_before


def check_energy(value) -> float:
    value = float(value)
    if not 0.0 < value < 1.0:
        raise OptionError("--factorize", value, "a kept-energy fraction in (0, 1), e.g. 0.9")
    return value


def _factorizable(layer) -> bool:
    if type(layer) is keras.layers.Dense:
        return True
    if type(layer) is keras.layers.Conv2D:
        cfg = layer.get_config()
        return tuple(cfg["kernel_size"]) == (1, 1) and cfg.get("groups", 1) == 1 and tuple(cfg["dilation_rate"]) == (1, 1)
    return False


def _matrix(layer) -> np.ndarray:
    w = layer.kernel.numpy()
    return w.reshape(w.shape[-2], w.shape[-1])


def rank_for_energy(singular_values: np.ndarray, energy: float) -> tuple[int, float]:
    power = singular_values.astype(np.float64) ** 2
    total = power.sum()
    if total == 0:
        return 1, 1.0
    cumulative = np.cumsum(power) / total
    rank = int(np.searchsorted(cumulative, energy - 1e-12) + 1)
    rank = min(rank, singular_values.size)
    return rank, float(cumulative[rank - 1])


def low_rank_plan(model: keras.Model, energy: float | None = None, rank: int | None = None,
                  layers: list[str] | None = None, exclude=(), per_layer: dict[str, int] | None = None
                  ) -> list[FactorPlan]:
    """What factorizing each eligible layer would do (including the layers where it does not pay)."""
    if (energy is None) == (rank is None) and not per_layer:
        raise OptionError("factorize", f"energy={energy}, rank={rank}", "exactly one of a kept energy or a rank")
    if energy is not None:
        energy = check_energy(energy)
    graph = layer_graph(model)
    known = {n.name: n.layer for n in graph.nodes}
    per_layer = dict(per_layer or {})
    for name in list(per_layer) + list(layers or []) + list(exclude):
        if name not in known:
            raise UnknownNameError("layer", name, known)
    if energy is None and rank is None:
        candidates = []  # only the layers given a rank in per_layer
    elif layers is None:
        candidates = [name for name, layer in known.items() if _factorizable(layer)]
    else:
        candidates = list(layers)
    names = [n for n in dict.fromkeys(candidates + list(per_layer)) if n not in set(exclude)]
    for name in names:
        if not _factorizable(known[name]):
            raise OptionError("factorize layer", name,
                              f"a Dense layer or a 1x1 Conv2D, not a {type(known[name]).__name__}")
    plans = []
    for name in names:
        w = _matrix(model.get_layer(name))
        s = np.linalg.svd(w, compute_uv=False)
        if name in per_layer or rank is not None:
            r = int(per_layer.get(name, rank))
            if not 1 <= r <= min(w.shape):
                raise OptionError(f"factorize rank for '{name}'", r, f"an integer from 1 to {min(w.shape)}")
            kept = float((s[:r] ** 2).sum() / max((s ** 2).sum(), 1e-30))
        else:
            r, kept = rank_for_energy(s, energy)
        plans.append(FactorPlan(name, w.shape, r, kept, w.size, r * (w.shape[0] + w.shape[1])))
    return plans


def factors(w: np.ndarray, rank: int) -> tuple[np.ndarray, np.ndarray]:
    u, s, vt = np.linalg.svd(w.astype(np.float64), full_matrices=False)
    root = np.sqrt(s[:rank])
    return (u[:, :rank] * root).astype(np.float32), (root[:, None] * vt[:rank]).astype(np.float32)


def factorize_low_rank(model: keras.Model, energy: float | None = None, rank: int | None = None,
                       layers: list[str] | None = None, exclude=(), per_layer: dict[str, int] | None = None
                       ) -> keras.Model:
    """A model where each eligible layer whose split pays is replaced by two thinner layers."""
    plans = {p.layer: p for p in low_rank_plan(model, energy, rank, layers, exclude, per_layer) if p.pays}

    def split(layer):
        plan = plans.get(layer.name)
        if plan is None:
            return None
        a, b = factors(_matrix(layer), plan.rank)
        cfg = layer.get_config()
        bias = [layer.bias.numpy()] if cfg["use_bias"] else []
        if isinstance(layer, keras.layers.Dense):
            first = keras.layers.Dense(plan.rank, use_bias=False, name=f"{layer.name}_lr_a")
            second_cfg = dict(cfg, name=f"{layer.name}_lr_b")
            second = keras.layers.Dense.from_config(second_cfg)
            return Replacement([first, second], [[a], [b] + bias])
        first = keras.layers.Conv2D(plan.rank, 1, strides=cfg["strides"], padding=cfg["padding"],
                                    data_format=cfg["data_format"], use_bias=False, name=f"{layer.name}_lr_a")
        second = keras.layers.Conv2D.from_config(dict(cfg, name=f"{layer.name}_lr_b", strides=(1, 1), padding="valid"))
        return Replacement([first, second], [[a[None, None]], [b[None, None]] + bias])

    return rebuild(model, split)
