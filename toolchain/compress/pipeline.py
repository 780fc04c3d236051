"""The compression pass: a Keras 3 model and a recipe in, a compressed Keras 3 model and its record out.

Techniques run in a fixed order, each followed by fine-tuning on the training data (distillation
from the original model when the recipe asks for it):

    structured pruning -> low-rank factorization -> separable filters -> bottleneck filters
    -> magnitude pruning -> clustering -> quantization-aware training

Structure-changing techniques come first, so the weights that pruning zeroes and clustering shares
are those of the final architecture. Clustering preserves pruned zeros by default, and QAT
(last, so that it fine-tunes the final weights) keeps zeros and shared values by default. Without
training data (or with 0 epochs) the techniques are applied one-shot, without fine-tuning.

The int8 conversion and the LUT rewrite of clustered weights come after this pass (see
`toolchain.compress.measure.deploy`); `CompressResult.lut_bits` says whether and how.
"""
from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields

import keras
import numpy as np

from toolchain.base.errors import DataError
from toolchain.compress import clustering, factorize, filters, pruning, qat, structured
from toolchain.compress.data import Dataset, fit_to_input
from toolchain.compress.measure import count_params, keras_macs
from toolchain.compress.recipe import PruneOptions, Recipe, TrainOptions
from toolchain.compress.train import evaluate, fine_tune, metric_name, teacher_logits
from toolchain.progress import SILENT, Progress


@dataclass(frozen=True)
class StageResult:
    technique: str  # "original" for the input model
    params: int
    macs: int
    metric: float | None  # on the evaluation data, after the technique and its fine-tuning
    detail: str = ""
    fine_tuned_epochs: int = 0
    model: keras.Model | None = field(default=None, repr=False, compare=False)  # the model after it

    def to_dict(self) -> dict:
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "model"}


@dataclass
class CompressResult:
    model: keras.Model = field(repr=False)
    recipe: Recipe
    metric_name: str
    stages: list[StageResult]
    lut_bits: int | None  # index bits for the LUT rewrite after int8 conversion (clustered models)

    @property
    def original(self) -> StageResult:
        return self.stages[0]

    @property
    def final(self) -> StageResult:
        return self.stages[-1]

    def to_dict(self) -> dict:
        return {
            "metric": self.metric_name,
            "lut_bits": self.lut_bits,
            "stages": [s.to_dict() for s in self.stages],
        }


def _stage(name: str, model: keras.Model, eval_data: Dataset | None, detail: str = "", epochs: int = 0):
    return StageResult(name, count_params(model), keras_macs(model), evaluate(model, eval_data), detail, epochs,
                       model)


def _pruning_schedule(options: PruneOptions, total_steps: int) -> pruning.PruningSchedule:
    end = options.end_step if options.end_step != -1 else max(options.begin_step + 1, (2 * total_steps) // 3)
    if options.schedule == "constant":
        return pruning.ConstantSparsity(options.sparsity, options.begin_step, options.end_step, options.frequency)
    frequency = min(options.frequency, max(1, (end - options.begin_step) // 10))
    return pruning.PolynomialDecay(0.0, options.sparsity, options.begin_step, end, frequency=frequency)


def compress(model: keras.Model, recipe: Recipe, train: Dataset | None = None, eval_data: Dataset | None = None,
             log: Callable[[str], None] | None = None, progress: Progress = SILENT, seed: int = 0) -> CompressResult:
    """Apply `recipe` to `model` (which is not modified) and record each technique's effect."""
    say = log or (lambda message: None)
    keras.utils.set_random_seed(seed)
    input_shape, output_shape = tuple(model.inputs[0].shape[1:]), tuple(model.outputs[0].shape[1:])
    train = fit_to_input(train, input_shape, output_shape) if train is not None else None
    eval_data = fit_to_input(eval_data, input_shape, output_shape) if eval_data is not None else None
    if eval_data is not None and eval_data.y is None:
        raise DataError(eval_data.source, "evaluation data needs labels 'y'")
    if recipe.distill is not None and train is None:
        raise DataError("--train", "distillation needs training data (labels optional)")
    teacher = model
    soft = teacher_logits(teacher, train.x) if (recipe.distill and train is not None) else None
    stages = [_stage("original", model, eval_data)]
    current = model
    lut_bits = None

    def tune(m: keras.Model, epochs: int | None, callbacks=(), data: Dataset | None = None) -> int:
        n = recipe.train.epochs if epochs is None else epochs
        data = train if data is None else data
        if data is None or n == 0:
            return 0
        say(f"  fine-tuning {n} epoch(s) on {len(data)} samples"
            + (" (distillation from the original model)" if recipe.distill else ""))
        bar = progress.keras_callback("fine-tuning")  # a bar on stderr on a terminal, else silent
        targets = soft if data is train else (None if soft is None else teacher_logits(teacher, data.x))
        fine_tune(m, data, recipe.train, n, callbacks=(*callbacks, *([bar] if bar else [])), teacher=teacher,
                  distill=recipe.distill, verbose=0, soft_targets=targets)
        return n

    if recipe.prune_structured is not None:
        o = recipe.prune_structured
        say(f"structured pruning: removing {o.sparsity:.0%} of the channels ({o.importance})")
        plan = structured.plan_structured(current, o.sparsity, o.importance, o.exclude, o.per_layer, o.round_to)
        current = structured.apply_structured(current, plan)
        groups = [g for g in plan.groups if g.keep is not None]
        detail = f"{sum(g.kept for g in groups)}/{sum(g.size for g in groups)} channels kept in {len(groups)} groups"
        stages.append(_stage("prune_structured", current, eval_data, detail, tune(current, o.epochs)))

    if recipe.factorize is not None:
        o = recipe.factorize
        say("low-rank factorization: " + (f"kept energy {o.energy}" if o.rank is None else f"rank {o.rank}"))
        plans = factorize.low_rank_plan(current, o.energy, o.rank, o.layers, o.exclude, o.per_layer)
        current = factorize.factorize_low_rank(current, o.energy, o.rank, o.layers, o.exclude, o.per_layer)
        split = [p for p in plans if p.pays]
        detail = ", ".join(f"{p.layer}: rank {p.rank} ({p.kept_energy:.1%} energy)" for p in split) or "no split pays"
        stages.append(_stage("factorize", current, eval_data, detail, tune(current, o.epochs)))

    for family in ("separable", "bottleneck"):
        o = getattr(recipe, family)
        if o is None:
            continue
        ranks = "" if family == "bottleneck" or (o.rank == 1 and not o.per_layer) else (
            f" (rank {o.rank}" + ("; " if o.per_layer else "") + ", ".join(f"{k} {v}" for k, v in o.per_layer.items())
            + ")")
        say(f"{family} filters" + (f": squeeze to {o.ratio:.0%} of the input channels" if family == "bottleneck"
                                   else ": depthwise k x k + pointwise 1 x 1" + ranks))
        plans = filters.plan_filters(current, family, getattr(o, "ratio", None), o.layers, o.exclude,
                                     o.min_in_channels, getattr(o, "rank", 1), getattr(o, "per_layer", None))
        current = filters.replace_filters(current, plans)
        stages.append(_stage(family, current, eval_data, filters.describe(plans), tune(current, o.epochs)))

    if recipe.prune is not None:
        o = recipe.prune
        steps = _steps(train, recipe.train, o.epochs)
        schedule = _pruning_schedule(o, steps)
        blocks = (f" in blocks of {o.block} taps per output channel (depthwise: units of a tap x 4 channels)"
                  if o.block > 1 else "")
        say(f"magnitude pruning: {'%d:%d' % o.m_by_n if o.m_by_n else f'{o.sparsity:.0%}'}{blocks} ({schedule!r})")
        per_layer = {name: _pruning_schedule(PruneOptions(**{**asdict(o), "sparsity": s}), steps)
                     for name, s in o.per_layer.items()}
        wrapped = pruning.prune_low_magnitude(current, schedule, o.m_by_n, o.layers, o.exclude, per_layer, o.block)
        if not pruning.pruned_wrappers(wrapped):  # nothing to prune: no fine-tuning for it either
            say("magnitude pruning: no prunable layer (Dense or Conv kernels besides the first convolution "
                "and the last Dense)")
            stages.append(_stage("prune", current, eval_data, "no prunable layer", 0))
        else:
            epochs = tune(wrapped, o.epochs, [pruning.UpdatePruningStep()]) if steps else 0
            if epochs == 0:  # one-shot: the schedule's final sparsity at once
                for layer in pruning.pruned_wrappers(wrapped):
                    layer.prune_now()
            current = pruning.strip_pruning(wrapped)
            sparsity = pruning.kernel_sparsity(current)
            detail = ", ".join(f"{k}: {v:.1%}" for k, v in sparsity.items() if v > 0) or "no weights pruned"
            if o.block > 1:
                detail = f"blocks of {o.block}: {detail}"
            stages.append(_stage("prune", current, eval_data, detail, epochs))

    if recipe.cluster is not None:
        o = recipe.cluster
        say(f"clustering: {o.clusters} clusters ({o.init}{', zeros kept' if o.preserve_sparsity else ''})")
        wrapped = clustering.cluster_weights(current, o.clusters, o.init, o.preserve_sparsity, o.layers,
                                             o.exclude, o.per_layer)
        epochs = tune(wrapped, o.epochs)
        current = clustering.strip_clustering(wrapped)
        counts = clustering.unique_values(current)
        inner = {w.layer.name for w in wrapped.layers if isinstance(w, clustering.ClusterWeights)}
        clustered = [name for name in counts if name.split("/")[0] in inner]
        detail = ", ".join(f"{name}: {counts[name]} values" for name in clustered)
        stages.append(_stage("cluster", current, eval_data, detail, epochs))
        lut_bits = max(1, math.ceil(math.log2(max([o.clusters, *o.per_layer.values()]))))

    if recipe.qat is not None:
        o = recipe.qat
        say("quantization-aware training: int8 weights per channel, int8 activation ranges learned"
            + (", zeros kept" if o.preserve_sparsity else "") + (", shared values kept" if o.preserve_clusters else ""))
        current = qat.quantize_model(current, o.preserve_sparsity, o.preserve_clusters)
        samples = calibration_samples(train, eval_data)
        if samples is not None:  # the ranges start where post-training quantization's are
            qat.calibrate_ranges(current, samples)
        epochs, kept = _qat_tune(current, train, o.validation, recipe, tune, say)
        stages.append(_stage("qat", current, eval_data, qat.describe(current) + kept, epochs))

    return CompressResult(current, recipe, metric_name(model, eval_data), stages, lut_bits)


def split_validation(train: Dataset, share: float, seed: int = 0) -> tuple[Dataset, Dataset]:
    """(the training data without a seeded random `share` of it, that share): the held-out part
    chooses among epochs; the test data never does."""
    order = np.random.default_rng(seed).permutation(len(train))
    held = min(len(train) - 1, max(1, int(round(share * len(train)))))
    rest, kept = np.sort(order[held:]), np.sort(order[:held])
    return (Dataset(train.x[rest], None if train.y is None else train.y[rest], train.source),
            Dataset(train.x[kept], None if train.y is None else train.y[kept], f"{train.source} (held out)"))


class BestEpoch(keras.callbacks.Callback):
    """Keeps the weights (activation ranges included) of the epoch that scores best on held-out
    data, the starting point counted as epoch 0; restores them when training ends. A later epoch
    must do strictly better to be kept: QAT starts at post-training quantization's point and only
    moves from it when the held-out data says it gains."""

    def __init__(self, held_out: Dataset, lower_is_better: bool):
        super().__init__()
        self.held_out, self.lower = held_out, lower_is_better
        self.scores: list[float] = []
        self.best, self.best_weights = None, None

    def consider(self, model: keras.Model) -> None:
        value = evaluate(model, self.held_out)
        self.scores.append(value)
        if self.best is None or (value < self.best if self.lower else value > self.best):
            self.best, self.best_weights = value, model.get_weights()
            self.best_epoch = len(self.scores) - 1

    def on_epoch_end(self, epoch, logs=None):
        self.consider(self.model)

    def on_train_end(self, logs=None):
        if self.best_weights is not None:
            self.model.set_weights(self.best_weights)


def _qat_tune(model: keras.Model, train: Dataset | None, share: float, recipe: Recipe, tune,
              say: Callable[[str], None]) -> tuple[int, str]:
    """QAT's fine-tuning, keeping its best epoch on a held-out share of the training data (labels
    needed); (epochs run, what was kept)."""
    n = recipe.train.epochs if recipe.qat.epochs is None else recipe.qat.epochs
    if train is None or n == 0 or share <= 0 or train.y is None or len(train) < 2:
        return tune(model, recipe.qat.epochs), ""
    fit_part, held_out = split_validation(train, share)
    keeper = BestEpoch(held_out, metric_name(model, held_out) != "accuracy")
    keeper.consider(model)  # epoch 0: the calibrated start, post-training quantization's point
    say(f"  keeping the best epoch on {len(held_out)} held-out training samples")
    epochs = tune(model, n, [keeper], fit_part)
    scores = ", ".join(f"{v:.4f}" for v in keeper.scores)
    return epochs, f"; epoch {keeper.best_epoch} of {epochs} kept (held-out {len(held_out)} training samples: {scores})"


def _steps(train: Dataset | None, options: TrainOptions, epochs: int | None) -> int:
    if train is None:
        return 0
    n = options.epochs if epochs is None else epochs
    return n * math.ceil(len(train) / options.batch_size)


def calibration_samples(train: Dataset | None, eval_data: Dataset | None, count: int = 200) -> np.ndarray | None:
    """Samples for int8 calibration: from the training data, else from the evaluation data."""
    source = train if train is not None else eval_data
    if source is None:
        return None
    rng = np.random.default_rng(0)
    pick = rng.choice(len(source), size=min(count, len(source)), replace=False)
    return source.x[np.sort(pick)]


def measured_report(result: CompressResult, original: keras.Model, calib: np.ndarray | None,
                    eval_data: Dataset | None, converter=None, lut: bool = True, weights: str = "auto"):
    """The report of `result`: float figures per technique, and int8 figures (flash as deployed,
    zip size, arena, C engine, int8 metric and its difference from the original's) for every
    technique's model when `calib` is given."""
    return measured(result, original, calib, eval_data, converter, lut, weights)[0]


def measured(result: CompressResult, original: keras.Model, calib: np.ndarray | None,
             eval_data: Dataset | None, converter=None, lut: bool = True, weights: str = "auto"):
    """(the report, the deployed final model or None): `edgec build` ships the latter.

    `lut`: LUT-compress the clustered model for TFLM (`weights="dense"` builds do not);
    `weights`: the C engine's storage mode for its columns."""
    from toolchain.compress.measure import deploy
    from toolchain.compress.report import CompressReport, ReportRow

    if eval_data is not None:
        eval_data = fit_to_input(eval_data, tuple(original.inputs[0].shape[1:]))
    stages = result.stages
    rows = [ReportRow(s.technique, s.params, s.macs, s.metric, detail=s.detail) for s in stages]
    notes = []
    after = None
    if calib is not None:
        models = [original] + [s.model for s in stages[1:-1]] + ([result.model] if len(stages) > 1 else [])
        deployed = [None if m is None else
                    deploy(m, calib, eval_data, result.lut_bits if (lut and i == len(stages) - 1) else None,
                           converter, weights)
                    for i, m in enumerate(models)]
        base = deployed[0].int8_metric
        for index, (r, d) in enumerate(zip(rows, deployed)):
            if d is None:
                continue
            delta = (None if base is None or d.int8_metric is None or result.metric_name != "accuracy"
                     else round(100 * (d.int8_metric - base), 6))
            rows[index] = ReportRow(r.technique, r.params, d.macs, r.float_metric, d.int8_metric, d.flash_bytes,
                                    d.zip_bytes, d.arena_bytes, r.detail, d.engine_weight_bytes, d.engine_sram_bytes,
                                    delta)
        after = deployed[-1]
        if len(rows) == 1:
            notes.append("no technique applied")
        if after.lut is not None:
            lut_result = after.lut
            if lut_result.tensors:
                check = ("identical" if lut_result.identical_outputs else "DIFFERENT") + \
                    f" on {lut_result.samples_checked} inputs"
                notes.append(f"LUT compression ({result.lut_bits}-bit indices) of {len(lut_result.tensors)} weight "
                             f"tensors: {lut_result.bytes_before:,} -> {lut_result.bytes_after:,} bytes; TFLM outputs "
                             f"{check}; needs a TFLM build with compression (TFLM_DECODE), and decoded weights "
                             "take arena space")
            for name, why in lut_result.skipped:
                notes.append(f"  not LUT-compressed: {name}: {why}")
        notes.append("MACs in rows with int8 figures are counted on the int8 model; others on the Keras model. "
                     "int8 metric: uncompressed int8 model run with ai-edge-litert"
                     + ("; its difference from the original's in points." if result.metric_name == "accuracy"
                        else ".")
                     + f" TFLM: the .tflite as deployed and its arena; C engine: its constants as stored "
                       f"(weights {weights}) and its SRAM, generated for the same int8 model.")
    return CompressReport(result.metric_name, rows, notes), after
