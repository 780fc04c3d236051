"""The search space of `edgec fit`: configurations, the recipes they are, and their order.

A configuration is one value per dimension:

    structured   structured pruning level (0: none); each prunable channel group is pruned at the
                 level, or at the largest lower ratio the sensitivity analysis says it tolerates
    sparsity     magnitude pruning sparsity (0: none)
    clusters     weight clusters per kernel (0: none)
    energy       low-rank factorization kept energy (0: none)
    filters      compact convolutional filters: "" (none), "separable" (depthwise + pointwise) or
                 "bottleneck" (a 1x1 squeeze to a quarter of the input channels before each k x k conv)
    distill      fine-tune against the original model's outputs
    mode         "int8" or "16x8" (int16 activations; TFLM only: the C engine runs int8)
    qat          quantization-aware fine-tuning last (toolchain.compress.qat; PQAT/CQAT keep the
                 zeros and clusters the earlier stages made); int8 only. Not in the first order: the
                 search's final stage gives it to its most accurate fitting configurations.

The single techniques (each alone, uniform, at each of its levels, as `edgec compress --TECHNIQUE`
makes it) are configurations of the search too (`single_techniques`): the search measures them
first, least compression first, and trains each technique's first level that fits, so the best fit
is never less accurate than a technique alone that fits, measured the same way.

The runtime (TFLM or the C engine, with the compressed storage it supports) is not a dimension:
accuracy does not depend on it (the engine is bit-exact with TFLM), so every trial is measured
with each runtime asked for and each target keeps the one that fits with the most room.

This module does not import TensorFlow.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass, field, replace

from toolchain.compress.recipe import (BottleneckOptions, ClusterOptions, DistillOptions, FactorizeOptions,
                                       PruneOptions, QatOptions, Recipe, SeparableOptions, StructuredOptions, TrainOptions)

STRUCTURED = (0.0, 0.25, 0.5, 0.75)
SPARSITY = (0.0, 0.5, 0.75, 0.9)
CLUSTERS = (0, 16, 8)
ENERGY = (0.0, 0.9)
MODES = ("int8", "16x8")
FILTERS = ("", "bottleneck", "separable")

# Prior accuracy loss (points) of the techniques the sensitivity analysis does not measure: only
# used to order the configurations (cheapest first), never reported as a result.
PRIOR_LOSS = {"sparsity": {0.0: 0.0, 0.5: 0.1, 0.75: 0.4, 0.9: 1.5},
              "clusters": {0: 0.0, 16: 0.2, 8: 0.6},
              "energy": {0.0: 0.0, 0.9: 0.5},
              "filters": {"": 0.0, "bottleneck": 0.8, "separable": 1.0},
              "mode": {"int8": 0.0, "16x8": 0.0}}


@dataclass(frozen=True)
class Config:
    structured: float = 0.0
    sparsity: float = 0.0
    clusters: int = 0
    energy: float = 0.0
    distill: bool = False
    mode: str = "int8"
    filters: str = ""
    group_ratios: tuple[tuple[str, float], ...] = field(default=(), compare=False)  # producer -> ratio
    qat: bool = False

    @property
    def by_group(self) -> bool:
        """Structured pruning at per-group ratios (not every group at the level)."""
        return any(r != self.structured for _, r in self.group_ratios)

    @property
    def key(self) -> str:
        """A stable name: the trial's file name in the output folder."""
        return (f"s{self.structured:.2f}-p{self.sparsity:.2f}-c{self.clusters}-f{self.energy:.2f}"
                f"-{'d' if self.distill else 'n'}-{self.mode}" + (f"-{self.filters[:3]}" if self.filters else "")
                + ("-g" + "".join(f"{round(100 * r):02d}" for _, r in sorted(self.group_ratios)) if self.by_group else "")
                + ("-qat" if self.qat else ""))

    @property
    def single(self) -> str | None:
        """The technique this configuration applies alone, uniformly (as `edgec compress` applies it),
        or None."""
        if self.distill or self.mode != "int8" or self.qat or self.by_group:
            return None
        used = [name for name, on in (("structured", self.structured), ("sparsity", self.sparsity),
                                      ("clusters", self.clusters), ("energy", self.energy),
                                      ("filters", self.filters)) if on]
        return used[0] if len(used) == 1 else None

    @property
    def techniques(self) -> list[str]:
        used = []
        if self.structured:
            ratios = sorted({r for _, r in self.group_ratios} or {self.structured})
            used.append("structured pruning " + ("/".join(f"{r:.0%}" for r in ratios)
                                                 + (" by group" if len(ratios) > 1 else "")))
        if self.energy:
            used.append(f"factorization (energy {self.energy:g})")
        if self.filters:
            used.append(f"{self.filters} filters")
        if self.sparsity:
            used.append(f"pruning {self.sparsity:.0%}")
        if self.clusters:
            used.append(f"{self.clusters} clusters")
        if self.distill:
            used.append("distillation")
        if self.mode != "int8":
            used.append(self.mode)
        if self.qat:
            used.append("QAT")
        return used or ["int8 only"]

    def to_dict(self) -> dict:
        return {"structured": self.structured, "sparsity": self.sparsity, "clusters": self.clusters,
                "energy": self.energy, "distill": self.distill, "mode": self.mode,
                "filters": self.filters, "group_ratios": dict(self.group_ratios), "qat": self.qat}

    @staticmethod
    def from_dict(d: dict) -> "Config":
        return Config(d["structured"], d["sparsity"], d["clusters"], d["energy"], d["distill"], d["mode"],
                      d.get("filters", ""), tuple(sorted(d.get("group_ratios", {}).items())), d.get("qat", False))

    def at_most(self, other: "Config") -> bool:
        """Every dimension compresses at most as much as `other`'s (so it needs at least its memory)."""
        def clusters_le(a, b):  # fewer clusters compress more; 0 is none
            return a == 0 or (b != 0 and a >= b)

        def energy_le(a, b):  # lower energy compresses more; 0 is none
            return a == 0 or (b != 0 and a >= b)

        def structured_le(a: Config, b: Config) -> bool:  # per group when either has per-group ratios
            ra, rb = dict(a.group_ratios), dict(b.group_ratios)
            return all(ra.get(g, a.structured) <= rb.get(g, b.structured) + 1e-9 for g in set(ra) | set(rb)) \
                and (bool(ra or rb) or a.structured <= b.structured)

        return (structured_le(self, other) and self.sparsity <= other.sparsity
                and clusters_le(self.clusters, other.clusters) and energy_le(self.energy, other.energy)
                and MODES.index(self.mode) >= MODES.index(other.mode)
                and self.filters in ("", other.filters))

    def recipe(self, train: TrainOptions = TrainOptions(), one_shot: bool = False) -> Recipe:
        """The compression recipe of this configuration (`one_shot`: no fine-tuning, no distillation:
        what the memory measurement needs, since flash and SRAM do not depend on the weights' values
        beyond their count, zeros and distinct values)."""
        train = replace(train, epochs=0) if one_shot else train
        recipe = Recipe(train=train)
        if self.structured:
            recipe = replace(recipe, prune_structured=StructuredOptions(
                sparsity=self.structured, per_layer={k: v for k, v in self.group_ratios if v != self.structured}))
        if self.energy:
            recipe = replace(recipe, factorize=FactorizeOptions(energy=self.energy))
        if self.filters == "separable":
            recipe = replace(recipe, separable=SeparableOptions())
        elif self.filters == "bottleneck":
            recipe = replace(recipe, bottleneck=BottleneckOptions())
        if self.sparsity:
            recipe = replace(recipe, prune=PruneOptions(sparsity=self.sparsity))
        if self.clusters:
            recipe = replace(recipe, cluster=ClusterOptions(clusters=self.clusters))
        if self.qat and not one_shot:  # the memory does not depend on it: one-shot skips it
            recipe = replace(recipe, qat=QatOptions())
        if self.distill and not one_shot:
            recipe = replace(recipe, distill=DistillOptions())
        return recipe

    def with_qat(self) -> "Config":
        return replace(self, qat=True)


def group_ratios(level: float, sensitivity, tolerance: float) -> tuple[tuple[str, float], ...]:
    """Per prunable group (named by its first producer): the level, or the largest lower ratio whose
    measured loss stays within `tolerance` points (0 when none does)."""
    out = []
    for group in sensitivity.groups:
        ratio = 0.0
        for r in sorted(group.loss):
            if r <= level + 1e-9 and group.loss[r] <= tolerance:
                ratio = r
        out.append((group.name, ratio))
    return tuple(out)


def predicted_loss(config: Config, sensitivity) -> float:
    """Points of accuracy the configuration is expected to lose: the sensitivity analysis's measured
    losses for the structured part (summed over groups), priors for the rest."""
    ratios = dict(config.group_ratios)
    loss = sum(g.loss.get(ratios.get(g.name, 0.0), 0.0) for g in sensitivity.groups) if config.structured else 0.0
    return (loss + PRIOR_LOSS["sparsity"][config.sparsity] + PRIOR_LOSS["clusters"][config.clusters]
            + PRIOR_LOSS["energy"][config.energy] + PRIOR_LOSS["mode"][config.mode]
            + PRIOR_LOSS["filters"][config.filters])


def candidates(sensitivity, tolerance: float, factorizable: bool, modes=MODES, distill: bool = True,
               structured=STRUCTURED, sparsity=SPARSITY, clusters=CLUSTERS, energy=ENERGY,
               filters=("",)) -> list[Config]:
    """Every configuration, cheapest first: by predicted loss, then int8 before 16x8 (which needs more
    memory), the plain one before its distilled twin (distillation costs a teacher pass), then by key."""
    levels = [s for s in structured if s == 0 or sensitivity.groups]
    configs, seen = [], set()
    for s, p, c, e, m, d, f in itertools.product(levels, sparsity, clusters, energy if factorizable else (0.0,),
                                                 modes, (False, True) if distill else (False,), filters):
        ratios = group_ratios(s, sensitivity, tolerance) if s else ()
        if s and not any(r for _, r in ratios):
            continue  # no group tolerates any pruning: same as s = 0
        if d and not (s or p or c or e or f):
            continue  # distillation from itself: nothing to recover
        effective = (tuple(r for _, r in ratios), p, c, e, m, d, f)
        if effective in seen:
            continue  # a higher level whose groups tolerate no more than a lower one's: the same model
        seen.add(effective)
        configs.append(Config(s, p, c, e, d, m, f, ratios))
    return sorted(configs, key=lambda c: (round(predicted_loss(c, sensitivity), 6), c.mode != "int8", c.distill, c.key))


def single_techniques(factorizable: bool, filters=("",)) -> dict[str, list[Config]]:
    """Each technique alone, uniformly, at each level of the space, least compression first."""
    out = {"structured": [Config(structured=v) for v in STRUCTURED[1:]],
           "sparsity": [Config(sparsity=v) for v in SPARSITY[1:]],
           "clusters": [Config(clusters=v) for v in CLUSTERS[1:]]}
    if factorizable:
        out["energy"] = [Config(energy=v) for v in ENERGY[1:]]
    compact = [Config(filters=f) for f in filters if f]
    if compact:
        out["filters"] = compact
    return out


# --- recipes as TOML (what `edgec build --recipe` reads back) -------------------------------------

def _toml_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{_toml_key(k)} = {_toml_value(v)}" for k, v in value.items()) + " }"
    raise TypeError(f"no TOML form for {value!r}")


def _toml_key(key: str) -> str:
    return key if key.replace("_", "").replace("-", "").isalnum() else _toml_value(key)


def recipe_toml(recipe: Recipe, header: str = "") -> str:
    """The recipe as a TOML document `toolchain.compress.recipe.load_recipe` reads back to an equal Recipe."""
    from dataclasses import fields

    lines = [f"# {line}" for line in header.splitlines()]
    for name in ("train", "prune_structured", "factorize", "separable", "bottleneck", "prune", "cluster", "qat",
                 "distill", "storage"):
        section = getattr(recipe, name)
        if section is None:
            continue
        lines += ["", f"[{name}]"]
        for f in fields(section):
            value = getattr(section, f.name)
            if value is None or (f.name == "rank" and value is None):
                continue
            if f.name in ("per_layer",) and not value:
                continue
            if f.name == "exclude" and not value:
                continue
            lines.append(f"{f.name} = {_toml_value(list(value) if isinstance(value, tuple) else value)}")
    return "\n".join(lines).lstrip("\n") + "\n"
