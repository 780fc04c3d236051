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

    [separable]                # k x k conv -> depthwise k x k + pointwise 1 x 1 (MobileNet)
    layers = ["conv2", "conv3"]  # default: every k x k Conv2D with >= min_in_channels inputs, and
                                 # every Dense reading a Flatten of an H x W x C map (an H x W conv)
    min_in_channels = 4
    rank = 1                   # spatial filters per input channel (depthwise multiplier; SVD terms kept)
    per_layer = { dense1 = 3 }   # rank per layer

    [bottleneck]               # 1 x 1 squeeze before a k x k conv (SqueezeNet's fire module)
    ratio = 0.25               # squeeze channels: this share of the input channels

    [prune]                    # magnitude pruning
    sparsity = 0.75
    schedule = "polynomial"    # or "constant"
    begin_step = 0
    end_step = -1              # -1: two thirds of the fine-tuning steps
    frequency = 100
    m_by_n = [2, 4]            # instead of sparsity: keep 2 of every 4 weights
    block = 1                  # 1: unstructured; 4: zero whole aligned blocks of 4 taps per output
                               # channel (the C engine's block-sparse storage); > 1 not with m_by_n
    layers = ["conv2", "dense1"]
    per_layer = { dense1 = 0.9 }
    epochs = 3                 # overrides [train] for this technique

    [cluster]                  # k-means weight sharing
    clusters = 16
    init = "kmeans_plus_plus"  # "linear", "density_based"
    preserve_sparsity = true
    per_layer = { dense1 = 8 }

    [qat]                      # quantization-aware training (last: fake int8 as the converter makes it)
    preserve_sparsity = true   # a kernel's zeros stay exactly zero (PQAT)
    preserve_clusters = true   # a clustered kernel keeps its shared values per channel (CQAT)
    epochs = 1
    validation = 0.1           # share of the training data held out to keep the best epoch (the
                               # calibrated start included); 0: keep the last epoch

    [distill]                  # fine-tune against the original model's soft outputs
    temperature = 4.0
    alpha = 0.1                # weight of the hard labels (0: soft targets only)

    [storage]                  # how `edgec build` stores the weights it ships
    weights = "auto"           # clustered/sparse storage where it pays; "dense": int8 as converted
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace

from toolchain.base.tomlcheck import Checker, Table, read_toml

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
    block: int = 1  # taps per pruned block (toolchain.compress.blocks); 1: unstructured


MAX_BLOCK = 64


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
class SeparableOptions:
    layers: tuple[str, ...] | None = None
    exclude: tuple[str, ...] = ()
    min_in_channels: int = 4  # without `layers`: convs reading fewer channels (the image) stay whole
    epochs: int | None = None
    rank: int = 1  # spatial filters per input channel: the depthwise multiplier, SVD terms kept at the start
    per_layer: dict[str, int] = field(default_factory=dict)  # layer name -> rank


@dataclass(frozen=True)
class BottleneckOptions:
    ratio: float = 0.25
    layers: tuple[str, ...] | None = None
    exclude: tuple[str, ...] = ()
    min_in_channels: int = 4
    epochs: int | None = None


@dataclass(frozen=True)
class QatOptions:
    preserve_sparsity: bool = True
    preserve_clusters: bool = True
    epochs: int | None = None
    validation: float = 0.1  # share of the training data held out to keep the best epoch; 0: the last


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
    separable: SeparableOptions | None = None
    bottleneck: BottleneckOptions | None = None
    prune: PruneOptions | None = None
    cluster: ClusterOptions | None = None
    qat: QatOptions | None = None
    distill: DistillOptions | None = None
    storage: StorageOptions = StorageOptions()  # not a technique: it applies to every build

    @property
    def techniques(self) -> list[str]:
        """The techniques in the order the pipeline applies them."""
        order = ("prune_structured", "factorize", "separable", "bottleneck", "prune", "cluster", "qat")
        return [name for name in order if getattr(self, name) is not None]

    @property
    def is_empty(self) -> bool:
        return not self.techniques


# --- checking (base.tomlcheck: the same checker as the target profiles) -----------------------

def _sparsity(c: Checker, key, value):
    return c.number(key, value, 0.0, 1.0, hi_open=True)


def _clusters(c: Checker, key, value):
    return c.integer(key, value, 2, 256)


def _train(t: Table) -> TrainOptions:
    base = TrainOptions()
    return TrainOptions(
        epochs=t.integer("epochs", base.epochs, 0),
        batch_size=t.integer("batch_size", base.batch_size, 1),
        learning_rate=t.number("learning_rate", base.learning_rate, 0, lo_open=True),
        learning_rate_decay=t.choice("learning_rate_decay", DECAYS, base.learning_rate_decay),
    )


def _epochs(t: Table):
    return t.integer("epochs", None, 0)


def _layers(t: Table):
    return t.texts("layers", None, "a list of layer names")


def _exclude(t: Table):
    return t.texts("exclude", (), "a list of layer names")


def _prune(t: Table) -> PruneOptions:
    c, base = t.checker, PruneOptions()
    m_by_n = t.raw("m_by_n", None)
    if m_by_n is not None:
        if (not isinstance(m_by_n, (list, tuple)) or len(m_by_n) != 2
                or not all(isinstance(v, int) and not isinstance(v, bool) for v in m_by_n)
                or not 0 < m_by_n[0] < m_by_n[1]):
            c.fail("prune.m_by_n", "[m, n] with 0 < m < n, e.g. [2, 4]", m_by_n)
        m_by_n = (int(m_by_n[0]), int(m_by_n[1]))
    begin = t.integer("begin_step", base.begin_step, 0)
    end = t.integer("end_step", base.end_step, -1)
    if end != -1 and end < begin:
        c.fail("prune.end_step", f"-1 or an integer >= begin_step ({begin})", end)
    block = t.integer("block", base.block, 1, MAX_BLOCK)
    if block > 1 and m_by_n is not None:
        c.fail("prune.block", "1 with m_by_n (block pruning and m:n are two patterns)", block)
    return PruneOptions(
        sparsity=_sparsity(c, "prune.sparsity", t.raw("sparsity", base.sparsity)),
        schedule=t.choice("schedule", SCHEDULES, base.schedule),
        begin_step=begin, end_step=end,
        frequency=t.integer("frequency", base.frequency, 1),
        m_by_n=m_by_n,
        layers=_layers(t),
        exclude=_exclude(t),
        per_layer=t.mapping("per_layer", lambda k, v: _sparsity(c, k, v), {}, "a table of layer name = value"),
        epochs=_epochs(t),
        block=block,
    )


def _structured(t: Table) -> StructuredOptions:
    c, base = t.checker, StructuredOptions()
    return StructuredOptions(
        sparsity=_sparsity(c, "prune_structured.sparsity", t.raw("sparsity", base.sparsity)),
        importance=t.choice("importance", IMPORTANCES, base.importance),
        round_to=t.integer("round_to", base.round_to, 1),
        exclude=_exclude(t),
        per_layer=t.mapping("per_layer", lambda k, v: _sparsity(c, k, v), {}, "a table of layer name = value"),
        epochs=_epochs(t),
    )


def _cluster(t: Table) -> ClusterOptions:
    c, base = t.checker, ClusterOptions()
    return ClusterOptions(
        clusters=_clusters(c, "cluster.clusters", t.raw("clusters", base.clusters)),
        init=t.choice("init", INITS, base.init),
        preserve_sparsity=t.boolean("preserve_sparsity", base.preserve_sparsity),
        layers=_layers(t),
        exclude=_exclude(t),
        per_layer=t.mapping("per_layer", lambda k, v: _clusters(c, k, v), {}, "a table of layer name = value"),
        epochs=_epochs(t),
    )


def _factorize(t: Table) -> FactorizeOptions:
    c = t.checker
    if t.has("energy") and t.has("rank"):
        c.fail("factorize", "either energy or rank, not both", {"energy": t.data["energy"], "rank": t.data["rank"]})
    rank = t.integer("rank", None, 1)
    energy = None if rank is not None else t.number("energy", FactorizeOptions.energy, 0, 1, lo_open=True,
                                                    hi_open=True)
    return FactorizeOptions(
        energy=energy, rank=rank,
        layers=_layers(t),
        exclude=_exclude(t),
        per_layer=t.mapping("per_layer", lambda k, v: c.integer(k, v, 1), {}, "a table of layer name = value"),
        epochs=_epochs(t),
    )


def _separable(t: Table) -> SeparableOptions:
    c = t.checker
    return SeparableOptions(layers=_layers(t), exclude=_exclude(t),
                            min_in_channels=t.integer("min_in_channels", SeparableOptions.min_in_channels, 1),
                            epochs=_epochs(t), rank=t.integer("rank", SeparableOptions.rank, 1),
                            per_layer=t.mapping("per_layer", lambda k, v: c.integer(k, v, 1), {},
                                                "a table of layer name = rank"))


def _ratio(c: Checker, key, value):
    return c.number(key, value, 0.0, 1.0, lo_open=True, hi_open=True)


def _bottleneck(t: Table) -> BottleneckOptions:
    c = t.checker
    return BottleneckOptions(ratio=_ratio(c, "bottleneck.ratio", t.raw("ratio", BottleneckOptions.ratio)),
                             layers=_layers(t), exclude=_exclude(t),
                             min_in_channels=t.integer("min_in_channels", BottleneckOptions.min_in_channels, 1),
                             epochs=_epochs(t))
def _qat(t: Table) -> QatOptions:
    base = QatOptions()
    return QatOptions(
        preserve_sparsity=t.boolean("preserve_sparsity", base.preserve_sparsity),
        preserve_clusters=t.boolean("preserve_clusters", base.preserve_clusters),
        epochs=_epochs(t),
        validation=t.number("validation", base.validation, 0.0, 1.0, hi_open=True),
    )


def _distill(t: Table) -> DistillOptions:
    base = DistillOptions()
    return DistillOptions(
        temperature=t.number("temperature", base.temperature, 0, lo_open=True),
        alpha=t.number("alpha", base.alpha, 0, 1),
    )


def _storage(t: Table) -> StorageOptions:
    return StorageOptions(weights=t.choice("weights", WEIGHT_MODES, StorageOptions().weights))


_SECTIONS = {
    "train": _train, "prune_structured": _structured, "factorize": _factorize,
    "separable": _separable, "bottleneck": _bottleneck, "prune": _prune, "cluster": _cluster, "qat": _qat,
    "distill": _distill, "storage": _storage,
}


def parse_recipe(data: dict, source: str = "recipe") -> Recipe:
    """A checked Recipe from the tables of a TOML document; unknown tables and keys refused."""
    document = Checker(source, kind="recipe").table(data)
    values = {}
    for section, parse in _SECTIONS.items():
        table = document.table(section, None)
        if table is not None:
            values[section] = parse(table)
            table.done()
    document.done()
    return Recipe(**values)


def load_recipe(path) -> Recipe:
    return parse_recipe(read_toml(path, "recipe"), str(path))


def with_options(recipe: Recipe | None, *, prune: float | None = None, prune_structured: float | None = None,
                 cluster: int | None = None, factorize: float | None = None, separable: bool = False,
                 separable_rank: int | None = None, bottleneck: float | None = None, distill: bool = False,
                 qat: bool = False, epochs: int | None = None, weights: str | None = None,
                 prune_block: int | None = None) -> Recipe:
    """`recipe` (or an empty one) with the command-line options laid over it."""
    recipe = recipe or Recipe()
    c = Checker("command line", kind="recipe")
    if prune is not None:
        recipe = replace(recipe, prune=replace(recipe.prune or PruneOptions(), sparsity=_sparsity(c, "--prune", prune)))
    if prune_block is not None:
        if recipe.prune is None:
            c.fail("--prune-block", "--prune S (or a recipe's [prune] table) beside it", prune_block)
        block = c.integer("--prune-block", prune_block, 1, MAX_BLOCK)
        if block > 1 and recipe.prune.m_by_n is not None:
            c.fail("--prune-block", "1 with the recipe's prune.m_by_n (block pruning and m:n are two patterns)",
                   block)
        recipe = replace(recipe, prune=replace(recipe.prune, block=block))
    if prune_structured is not None:
        recipe = replace(recipe, prune_structured=replace(recipe.prune_structured or StructuredOptions(),
                                                          sparsity=_sparsity(c, "--prune-structured", prune_structured)))
    if cluster is not None:
        recipe = replace(recipe, cluster=replace(recipe.cluster or ClusterOptions(),
                                                 clusters=_clusters(c, "--cluster", cluster)))
    if factorize is not None:
        energy = c.number("--factorize", factorize, 0, 1, lo_open=True, hi_open=True)
        recipe = replace(recipe, factorize=replace(recipe.factorize or FactorizeOptions(), energy=energy, rank=None))
    if separable_rank is not None:  # implies --separable
        recipe = replace(recipe, separable=replace(recipe.separable or SeparableOptions(),
                                                   rank=c.integer("--separable-rank", separable_rank, 1)))
    if separable and recipe.separable is None:
        recipe = replace(recipe, separable=SeparableOptions())
    if bottleneck is not None:
        recipe = replace(recipe, bottleneck=replace(recipe.bottleneck or BottleneckOptions(),
                                                    ratio=_ratio(c, "--bottleneck", bottleneck)))
    if qat and recipe.qat is None:
        recipe = replace(recipe, qat=QatOptions())
    if distill and recipe.distill is None:
        recipe = replace(recipe, distill=DistillOptions())
    if epochs is not None:
        recipe = replace(recipe, train=replace(recipe.train, epochs=c.integer("--epochs", epochs, 0)))
    if weights is not None:
        recipe = replace(recipe, storage=StorageOptions(c.choice("--weights", weights, WEIGHT_MODES)))
    return recipe
