"""A compression recipe: which techniques to apply, with what settings, and how to fine-tune.

A recipe comes from a TOML file (`--recipe`), from command-line options, or both (options win).
Every value is checked here, so the techniques receive numbers and names, never raw strings.
This module does not import TensorFlow or Keras.

Example (every table and key optional):

    [train]                    # fine-tuning after each technique
    epochs = 2
    batch_size = 64
    learning_rate = 1e-4
    learning_rate_decay = "cosine"   # or "none"

    [prune_structured]         # remove whole channels
    sparsity = 0.5
    importance = "l1"          # or "bn_scale"
    round_to = 1               # keep a multiple of this many channels
    exclude = ["conv_in"]
    per_layer = { conv3 = 0.25 }

    [factorize]                # low-rank split of Dense / 1x1 conv kernels
    energy = 0.9               # or: rank = 32
    per_layer = { dense1 = 16 }

    [prune]                    # magnitude pruning
    sparsity = 0.75
    schedule = "polynomial"    # or "constant"
    begin_step = 0
    end_step = -1              # -1: two thirds of the fine-tuning steps
    frequency = 100
    m_by_n = [2, 4]            # instead of sparsity: keep 2 of every 4 weights
    layers = ["conv2", "dense1"]
    per_layer = { dense1 = 0.9 }
    epochs = 3                 # overrides [train] for this technique

    [cluster]                  # k-means weight sharing
    clusters = 16
    init = "kmeans_plus_plus"  # "linear", "density_based"
    preserve_sparsity = true
    per_layer = { dense1 = 8 }

    [distill]                  # fine-tune against the original model's soft outputs
    temperature = 4.0
    alpha = 0.1                # weight of the hard labels (0: soft targets only)

    [storage]                  # how `edgec build` stores the weights it ships
    weights = "auto"           # clustered/sparse storage where it pays; "dense": int8 as converted
"""
from __future__ import annotations

import tomllib
from dataclasses import dataclass, field, fields, replace
from pathlib import Path

from toolchain.errors import InputFileError, RecipeError, UnknownNameError

SCHEDULES = ("constant", "polynomial")
IMPORTANCES = ("l1", "bn_scale")
INITS = ("kmeans_plus_plus", "linear", "density_based")
DECAYS = ("cosine", "none")
WEIGHT_MODES = ("auto", "dense")  # firmware_export.cengine.storage.WEIGHT_MODES (a test keeps them equal)


@dataclass(frozen=True)
class TrainOptions:
    epochs: int = 2
    batch_size: int = 64
    learning_rate: float = 1e-4
    learning_rate_decay: str = "cosine"  # over each technique's fine-tuning steps


@dataclass(frozen=True)
class PruneOptions:
    sparsity: float = 0.5
    schedule: str = "polynomial"
    begin_step: int = 0
    end_step: int = -1
    frequency: int = 100
    m_by_n: tuple[int, int] | None = None
    layers: tuple[str, ...] | None = None
    exclude: tuple[str, ...] = ()
    per_layer: dict[str, float] = field(default_factory=dict)
    epochs: int | None = None


@dataclass(frozen=True)
class StructuredOptions:
    sparsity: float = 0.5
    importance: str = "l1"
    round_to: int = 1
    exclude: tuple[str, ...] = ()
    per_layer: dict[str, float] = field(default_factory=dict)
    epochs: int | None = None


@dataclass(frozen=True)
class ClusterOptions:
    clusters: int = 16
    init: str = "kmeans_plus_plus"
    preserve_sparsity: bool = True
    layers: tuple[str, ...] | None = None
    exclude: tuple[str, ...] = ()
    per_layer: dict[str, int] = field(default_factory=dict)
    epochs: int | None = None


@dataclass(frozen=True)
class FactorizeOptions:
    energy: float | None = 0.9
    rank: int | None = None
    layers: tuple[str, ...] | None = None
    exclude: tuple[str, ...] = ()
    per_layer: dict[str, int] = field(default_factory=dict)
    epochs: int | None = None


@dataclass(frozen=True)
class DistillOptions:
    temperature: float = 4.0
    alpha: float = 0.1


@dataclass(frozen=True)
class StorageOptions:
    """How the built model stores its weights: "auto" picks clustered or sparse storage per layer
    where it costs less (the C engine) and TFLM's LUT compression for clustered weights (TFLM);
    "dense" ships every weight as int8."""
    weights: str = "auto"


@dataclass(frozen=True)
class Recipe:
    train: TrainOptions = TrainOptions()
    prune_structured: StructuredOptions | None = None
    factorize: FactorizeOptions | None = None
    prune: PruneOptions | None = None
    cluster: ClusterOptions | None = None
    distill: DistillOptions | None = None
    storage: StorageOptions = StorageOptions()  # not a technique: it applies to every build

    @property
    def techniques(self) -> list[str]:
        """The techniques in the order the pipeline applies them."""
        order = ("prune_structured", "factorize", "prune", "cluster")
        return [name for name in order if getattr(self, name) is not None]

    @property
    def is_empty(self) -> bool:
        return not self.techniques


# --- checking -------------------------------------------------------------------------------

class _Checker:
    def __init__(self, source: str):
        self.source = source

    def fail(self, key: str, expected: str, got=None):
        raise RecipeError(self.source, key, expected, got)

    def number(self, key, value, lo=None, hi=None, lo_open=False, hi_open=False, integer=False):
        ok_type = isinstance(value, int) if integer else isinstance(value, (int, float))
        if isinstance(value, bool) or not ok_type:
            self.fail(key, "an integer" if integer else "a number", value)
        bounds = ""
        if lo is not None:
            bounds += f"{'>' if lo_open else '>='} {lo}"
        if hi is not None:
            bounds += (" and " if bounds else "") + f"{'<' if hi_open else '<='} {hi}"
        if lo is not None and (value < lo or (lo_open and value == lo)):
            self.fail(key, f"{'an integer' if integer else 'a number'} {bounds}", value)
        if hi is not None and (value > hi or (hi_open and value == hi)):
            self.fail(key, f"{'an integer' if integer else 'a number'} {bounds}", value)
        return int(value) if integer else float(value)

    def sparsity(self, key, value):
        return self.number(key, value, 0.0, 1.0, hi_open=True)

    def choice(self, key, value, choices):
        if value not in choices:
            self.fail(key, "one of " + ", ".join(repr(c) for c in choices), value)
        return value

    def names(self, key, value):
        if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
            self.fail(key, "a list of layer names", value)
        return tuple(value)

    def boolean(self, key, value):
        if not isinstance(value, bool):
            self.fail(key, "true or false", value)
        return value

    def table(self, key, value, check_value):
        if not isinstance(value, dict):
            self.fail(key, "a table of layer name = value", value)
        return {str(k): check_value(f"{key}.{k}", v) for k, v in value.items()}


def _known_keys(checker: _Checker, section: str, data: dict, cls) -> None:
    known = [f.name for f in fields(cls)]
    for key in data:
        if key not in known:
            raise UnknownNameError(f"key in recipe table [{section}] of {checker.source}", key, known)


def _train(c: _Checker, d: dict) -> TrainOptions:
    _known_keys(c, "train", d, TrainOptions)
    base = TrainOptions()
    return TrainOptions(
        epochs=c.number("train.epochs", d.get("epochs", base.epochs), 0, integer=True),
        batch_size=c.number("train.batch_size", d.get("batch_size", base.batch_size), 1, integer=True),
        learning_rate=c.number("train.learning_rate", d.get("learning_rate", base.learning_rate), 0, lo_open=True),
        learning_rate_decay=c.choice("train.learning_rate_decay",
                                     d.get("learning_rate_decay", base.learning_rate_decay), DECAYS),
    )


def _epochs(c, section, d):
    return None if "epochs" not in d else c.number(f"{section}.epochs", d["epochs"], 0, integer=True)


def _layers(c, section, d):
    return None if "layers" not in d else c.names(f"{section}.layers", d["layers"])


def _prune(c: _Checker, d: dict) -> PruneOptions:
    _known_keys(c, "prune", d, PruneOptions)
    base = PruneOptions()
    m_by_n = d.get("m_by_n")
    if m_by_n is not None:
        if (not isinstance(m_by_n, (list, tuple)) or len(m_by_n) != 2
                or not all(isinstance(v, int) and not isinstance(v, bool) for v in m_by_n)
                or not 0 < m_by_n[0] < m_by_n[1]):
            c.fail("prune.m_by_n", "[m, n] with 0 < m < n, e.g. [2, 4]", m_by_n)
        m_by_n = (int(m_by_n[0]), int(m_by_n[1]))
    begin = c.number("prune.begin_step", d.get("begin_step", base.begin_step), 0, integer=True)
    end = c.number("prune.end_step", d.get("end_step", base.end_step), -1, integer=True)
    if end != -1 and end < begin:
        c.fail("prune.end_step", f"-1 or an integer >= begin_step ({begin})", end)
    return PruneOptions(
        sparsity=c.sparsity("prune.sparsity", d.get("sparsity", base.sparsity)),
        schedule=c.choice("prune.schedule", d.get("schedule", base.schedule), SCHEDULES),
        begin_step=begin, end_step=end,
        frequency=c.number("prune.frequency", d.get("frequency", base.frequency), 1, integer=True),
        m_by_n=m_by_n,
        layers=_layers(c, "prune", d),
        exclude=c.names("prune.exclude", d.get("exclude", ())),
        per_layer=c.table("prune.per_layer", d.get("per_layer", {}), c.sparsity),
        epochs=_epochs(c, "prune", d),
    )


def _structured(c: _Checker, d: dict) -> StructuredOptions:
    _known_keys(c, "prune_structured", d, StructuredOptions)
    base = StructuredOptions()
    return StructuredOptions(
        sparsity=c.sparsity("prune_structured.sparsity", d.get("sparsity", base.sparsity)),
        importance=c.choice("prune_structured.importance", d.get("importance", base.importance), IMPORTANCES),
        round_to=c.number("prune_structured.round_to", d.get("round_to", base.round_to), 1, integer=True),
        exclude=c.names("prune_structured.exclude", d.get("exclude", ())),
        per_layer=c.table("prune_structured.per_layer", d.get("per_layer", {}), c.sparsity),
        epochs=_epochs(c, "prune_structured", d),
    )


def _clusters(c, key, value):
    return c.number(key, value, 2, 256, integer=True)


def _cluster(c: _Checker, d: dict) -> ClusterOptions:
    _known_keys(c, "cluster", d, ClusterOptions)
    base = ClusterOptions()
    return ClusterOptions(
        clusters=_clusters(c, "cluster.clusters", d.get("clusters", base.clusters)),
        init=c.choice("cluster.init", d.get("init", base.init), INITS),
        preserve_sparsity=c.boolean("cluster.preserve_sparsity", d.get("preserve_sparsity", base.preserve_sparsity)),
        layers=_layers(c, "cluster", d),
        exclude=c.names("cluster.exclude", d.get("exclude", ())),
        per_layer=c.table("cluster.per_layer", d.get("per_layer", {}), lambda k, v: _clusters(c, k, v)),
        epochs=_epochs(c, "cluster", d),
    )


def _factorize(c: _Checker, d: dict) -> FactorizeOptions:
    _known_keys(c, "factorize", d, FactorizeOptions)
    if "energy" in d and "rank" in d:
        c.fail("factorize", "either energy or rank, not both", {"energy": d["energy"], "rank": d["rank"]})
    rank = None if "rank" not in d else c.number("factorize.rank", d["rank"], 1, integer=True)
    energy = None if rank is not None else c.number(
        "factorize.energy", d.get("energy", FactorizeOptions.energy), 0, 1, lo_open=True, hi_open=True)
    return FactorizeOptions(
        energy=energy, rank=rank,
        layers=_layers(c, "factorize", d),
        exclude=c.names("factorize.exclude", d.get("exclude", ())),
        per_layer=c.table("factorize.per_layer", d.get("per_layer", {}),
                          lambda k, v: c.number(k, v, 1, integer=True)),
        epochs=_epochs(c, "factorize", d),
    )


def _distill(c: _Checker, d: dict) -> DistillOptions:
    _known_keys(c, "distill", d, DistillOptions)
    base = DistillOptions()
    return DistillOptions(
        temperature=c.number("distill.temperature", d.get("temperature", base.temperature), 0, lo_open=True),
        alpha=c.number("distill.alpha", d.get("alpha", base.alpha), 0, 1),
    )


def _storage(c: _Checker, d: dict) -> StorageOptions:
    _known_keys(c, "storage", d, StorageOptions)
    return StorageOptions(weights=c.choice("storage.weights", d.get("weights", StorageOptions.weights), WEIGHT_MODES))


_SECTIONS = {
    "train": _train, "prune_structured": _structured, "factorize": _factorize,
    "prune": _prune, "cluster": _cluster, "distill": _distill, "storage": _storage,
}


def parse_recipe(data: dict, source: str = "recipe") -> Recipe:
    """A checked Recipe from the tables of a TOML document."""
    checker = _Checker(source)
    values = {}
    for section, table in data.items():
        if section not in _SECTIONS:
            raise UnknownNameError(f"recipe table in {source}", section, _SECTIONS)
        if not isinstance(table, dict):
            checker.fail(section, "a table", table)
        values[section] = _SECTIONS[section](checker, table)
    return Recipe(**values)


def load_recipe(path) -> Recipe:
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as exc:
        raise InputFileError(path, f"cannot read the recipe: {exc.strerror or exc}") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InputFileError(path, f"not valid TOML: {exc}") from None
    return parse_recipe(data, str(path))


def with_options(recipe: Recipe | None, *, prune: float | None = None, prune_structured: float | None = None,
                 cluster: int | None = None, factorize: float | None = None, distill: bool = False,
                 epochs: int | None = None, weights: str | None = None) -> Recipe:
    """`recipe` (or an empty one) with the command-line options laid over it."""
    recipe = recipe or Recipe()
    c = _Checker("command line")
    if prune is not None:
        recipe = replace(recipe, prune=replace(recipe.prune or PruneOptions(),
                                               sparsity=c.sparsity("--prune", prune)))
    if prune_structured is not None:
        recipe = replace(recipe, prune_structured=replace(recipe.prune_structured or StructuredOptions(),
                                                          sparsity=c.sparsity("--prune-structured", prune_structured)))
    if cluster is not None:
        recipe = replace(recipe, cluster=replace(recipe.cluster or ClusterOptions(),
                                                 clusters=_clusters(c, "--cluster", cluster)))
    if factorize is not None:
        energy = c.number("--factorize", factorize, 0, 1, lo_open=True, hi_open=True)
        recipe = replace(recipe, factorize=replace(recipe.factorize or FactorizeOptions(), energy=energy, rank=None))
    if distill and recipe.distill is None:
        recipe = replace(recipe, distill=DistillOptions())
    if epochs is not None:
        recipe = replace(recipe, train=replace(recipe.train, epochs=c.number("--epochs", epochs, 0, integer=True)))
    if weights is not None:
        recipe = replace(recipe, storage=StorageOptions(c.choice("--weights", weights, WEIGHT_MODES)))
    return recipe
