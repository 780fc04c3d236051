"""The search loop of `edgec fit`.

1. The model's per-group sensitivity to structured pruning (no training), stored in the output folder.
2. Every configuration of the space, cheapest first (toolchain.search.space.candidates).
3. Before a configuration is sent to a worker, what is already measured may rule it out:
   - a configuration that compresses at most as much as one measured not to fit any target does
     not fit either (skipped, "dominated");
   - with the base model and each of its techniques alone measured, its memory is predicted
     (each technique's measured ratio of the model's own bytes, multiplied); more than 10 % over
     every target's flash or SRAM: skipped ("predicted").
   A configuration sent is measured one-shot first and trained only if it can fit (trial.py).
4. Every finished trial is stored at once in DIR/trials/KEY.json: running the same command again
   continues from them. A configuration is trained only if it fits a target that has fewer than
   --fits trained fits (within every budget and the accuracy drop). The search stops after
   --trials fine-tuned trials, when every target has --fits fits, at --time-budget, when the space
   is exhausted, or on Ctrl-C (finished trials kept).
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path

from toolchain.progress import SILENT, Progress
from toolchain.search.space import Config, candidates, predicted_loss, single_techniques

PREDICTION_MARGIN = 1.10
QAT_SHARE = 0.2  # of the time budget kept for the final QAT stage


@dataclass(frozen=True)
class SearchOptions:
    targets: tuple  # TargetProfile
    runtimes: tuple[str, ...] = ("tflm", "c")
    max_accuracy_drop: float = 1.0
    max_latency_ms: float | None = None
    trials: int = 20
    fits_per_target: int = 3  # a target with this many fits takes no more training (see run_search)
    time_budget_s: float = 1800.0
    workers: int | None = None  # None: one per core
    ray_address: str | None = None
    epochs: int = 2
    batch_size: int = 64
    learning_rate: float = 1e-4
    modes: tuple[str, ...] = ("int8", "16x8")
    distill: bool = True
    configs: tuple[Config, ...] | None = None  # a fixed list of configurations (bench), else the space
    qat: bool = True  # the final stage: QAT on the most accurate fitting configurations
    qat_top: int = 2  # per target


@dataclass
class SearchState:
    baseline: float  # float accuracy (%) on the evaluation data
    sensitivity: object
    order: list[Config]
    records: dict[str, dict] = field(default_factory=dict)  # key -> trial record, in finishing order
    resumed: int = 0
    submitted: int = 0  # configurations sent to a worker in this run (each comes back as a trial)
    interrupted: bool = False
    stopped_by: str = ""
    references: set = field(default_factory=set)  # keys of the single techniques walked first
    wall_seconds: float = 0.0
    where: str = ""


class TrialStore:
    """DIR/trials/KEY.json, one per finished trial (written atomically)."""

    def __init__(self, folder: Path):
        self.folder = Path(folder) / "trials"

    def load(self) -> dict[str, dict]:
        if not self.folder.is_dir():
            return {}
        out = {}
        for path in sorted(self.folder.glob("*.json")):
            try:
                record = json.loads(path.read_text())
            except (OSError, ValueError):
                continue  # a trial file cut short: that trial runs again
            if record.get("status") in ("trained", "does-not-fit", "fits-untrained", "skipped"):
                out[record["key"]] = record
        return out

    def save(self, record: dict) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        temp = self.folder / f".{record['key']}.json.tmp"
        temp.write_text(json.dumps(record, indent=1, sort_keys=True))
        temp.replace(self.folder / f"{record['key']}.json")


def _fits_nowhere(record: dict) -> bool:
    """Measured (one-shot or trained) and fitting no target in memory."""
    memory = record.get("one_shot") or record.get("targets") or {}
    return bool(memory) and not any(t["memory_fits"] for t in memory.values())


def _anchor(config: Config, **dims) -> Config:
    return Config(**{"structured": 0.0, "sparsity": 0.0, "clusters": 0, "energy": 0.0, "distill": False,
                     "mode": "int8", "filters": "", **dims},
                  group_ratios=config.group_ratios if dims.get("structured") else ())


def predicted_misses(config: Config, measured: dict[str, dict]) -> dict | None:
    """Per target, the memory `config` is predicted to need from the base model's and each of its
    techniques' measured bytes; None when one of them is not measured yet."""
    base = measured.get(_anchor(config).key)
    parts = [_anchor(config, structured=config.structured)] if config.structured else []
    parts += [_anchor(config, sparsity=config.sparsity)] if config.sparsity else []
    parts += [_anchor(config, clusters=config.clusters)] if config.clusters else []
    parts += [_anchor(config, energy=config.energy)] if config.energy else []
    parts += [_anchor(config, filters=config.filters)] if config.filters else []
    parts += [_anchor(config, mode=config.mode)] if config.mode != "int8" else []
    records = [measured.get(p.key) for p in parts]
    records = [r if r is not None and r.get("one_shot") else None for r in records]  # skipped: not measured
    if base is None or not base.get("one_shot") or len(parts) < 2 or any(r is None for r in records):
        return None  # nothing to predict from, or one technique alone: it is measured itself
    predicted = {}
    for target, b in (base.get("one_shot") or {}).items():
        best = None
        for runtime, figures in b["runtimes"].items():
            if "flash" not in figures:
                continue
            need = {}
            for memory in ("flash", "sram"):
                var = figures[memory]["variable"] or 1
                ratio = 1.0
                for r in records:
                    other = r["one_shot"][target]["runtimes"].get(runtime, {})
                    if memory not in other:
                        ratio = None
                        break
                    ratio *= other[memory]["variable"] / var
                if ratio is None:
                    break
                need[memory] = (figures[memory]["used"] - var + var * ratio, figures[memory]["budget"])
            else:
                over = max(n / budget for n, budget in need.values())
                if best is None or over < best[0]:
                    best = (over, runtime, need)
        if best is not None:
            predicted[target] = {"runtime": best[1], "fraction_of_budget": round(best[0], 4),
                                 **{m: {"predicted": int(n), "budget": b_} for m, (n, b_) in best[2].items()}}
    return predicted or None


def skip_reason(config: Config, measured: dict[str, dict]) -> dict | None:
    """Why `config` need not be measured: dominated by a measured misfit, or predicted not to fit."""
    for record in measured.values():
        if _fits_nowhere(record) and config.at_most(Config.from_dict(record["config"])):
            return {"reason": "dominated", "by": record["key"],
                    "detail": f"compresses at most as much as {record['key']}, measured not to fit"}
    predicted = predicted_misses(config, measured)
    if predicted and all(p["fraction_of_budget"] > PREDICTION_MARGIN for p in predicted.values()):
        worst = min(predicted.values(), key=lambda p: p["fraction_of_budget"])
        return {"reason": "predicted", "predicted": predicted,
                "detail": f"predicted at {worst['fraction_of_budget']:.0%} of a budget at best "
                          "(from its techniques' measured bytes)"}
    return None


def _fits_within(record: dict, baseline: float, max_drop: float) -> set[str]:
    """The targets a trained trial fits within every budget and the accuracy drop."""
    if record.get("status") != "trained" or baseline - record["accuracy"] > max_drop + 1e-9:
        return set()
    return {name for name, t in record["targets"].items() if t["memory_fits"] and t["latency_fits"]}


def _memory_fits(record: dict | None) -> set[str]:
    """The targets a measured trial fits in memory (and latency), trained or not."""
    memory = (record or {}).get("targets") or (record or {}).get("one_shot") or {}
    return {name for name, t in memory.items() if t["memory_fits"] and t["latency_fits"]}


def _counted(record: dict, state: SearchState) -> bool:
    """A trial of the search proper: not a single technique's reference, not the QAT stage."""
    return record["key"] not in state.references and not record["config"].get("qat")


def _needed(state: SearchState, options: SearchOptions) -> tuple[str, ...]:
    """The targets with fewer than `fits_per_target` trained fits: a trial is trained only if it can
    fit one of them. The order is by predicted loss, so a configuration found after that many fits
    is expected to lose more accuracy than they do."""
    count = {t.name: 0 for t in options.targets}
    for r in state.records.values():
        if _counted(r, state):
            for name in _fits_within(r, state.baseline, options.max_accuracy_drop):
                count[name] = count.get(name, 0) + 1
    return tuple(name for name, n in count.items() if n < options.fits_per_target)


def _single_need(config: Config, state: SearchState, options: SearchOptions) -> tuple[str, ...]:
    """A single technique at one level is trained for the targets that neither the dense model nor a
    lower level of the same technique alone fits (the first level that fits is the reference)."""
    dim = config.single
    fitted = _memory_fits(state.records.get(Config().key))
    for key in state.references:
        r = state.records.get(key)
        if r is not None and Config.from_dict(r["config"]).single == dim:
            fitted |= _memory_fits(r)
    return tuple(t.name for t in options.targets if t.name not in fitted)


def _is_best(record: dict, baseline: float, max_drop: float) -> bool:
    return bool(_fits_within(record, baseline, max_drop))


def qat_stage(state: SearchState, options: SearchOptions) -> list[Config]:
    """The final stage: quantization-aware fine-tuning of each target's `qat_top` most accurate
    trained int8 configurations that fit it in memory (and latency), not yet tried with QAT."""
    out = []
    for target in options.targets:
        ranked = sorted((r for r in state.records.values()
                         if r.get("status") == "trained" and not r["config"].get("qat")
                         and r["config"]["mode"] == "int8" and target.name in _memory_fits(r)),
                        key=lambda r: (-r["accuracy"], r["key"]))
        for r in ranked[:options.qat_top]:
            twin = Config.from_dict(r["config"]).with_qat()
            if twin.key not in state.records and twin not in out:
                out.append(twin)
    return out


def run_search(work, options: SearchOptions, out_dir: Path, state: SearchState, progress: Progress = SILENT,
               runner=None) -> SearchState:
    """Run trials until a stop; every finished trial is stored and kept in `state.records`.

    Two stages: the configurations in order (the single techniques first), until a stop, within
    (1 - QAT_SHARE) of the time budget when QAT is searched; then QAT on the most accurate fitting
    configurations (`qat_stage`), within the rest of the budget."""
    from toolchain.search.runner import make_runner

    started = time.monotonic()
    store = TrialStore(out_dir)
    done = store.load()
    state.resumed = len(done)
    state.records.update(done)
    runner = runner or make_runner(work, options.workers, options.ray_address)
    state.where = runner.where
    trained = sum(1 for r in state.records.values() if r["status"] == "trained" and _counted(r, state))
    best = max((r["accuracy"] for r in state.records.values() if _is_best(r, state.baseline,
                                                                            options.max_accuracy_drop)), default=None)
    progress.stage(_describe(trained, options.trials, best), total=options.trials)
    progress.update(completed=min(trained, options.trials))
    queue = [c for c in state.order if c.key not in state.records]
    in_flight: dict[str, Config] = {}
    stage_limit = options.time_budget_s * (1 - QAT_SHARE) if options.qat else options.time_budget_s
    qat = False
    main_stop = ""

    def next_config(need):
        """The first configuration of the queue that may go now (a single technique waits while a
        lower level of it runs), with the targets it is trained for; skipped ones are stored."""
        i = 0
        while i < len(queue):
            config = queue[i]
            if qat:
                return queue.pop(i), None
            if config.key in state.references:
                if any(c.single == config.single for c in in_flight.values() if c.key in state.references):
                    i += 1
                    continue
                single_need = _single_need(config, state, options)
                queue.pop(i)
                if single_need:
                    return config, single_need
                skip(config, {"reason": "reference found", "detail": f"{config.single} alone at a lower "
                              "level already fits every target the dense model does not"})
                continue
            if not need or trained >= options.trials:
                i += 1
                continue
            queue.pop(i)
            reason = skip_reason(config, state.records)
            if reason is None:
                return config, need
            skip(config, reason)
        return None, None

    def skip(config, reason):
        record = {"key": config.key, "config": config.to_dict(), "status": "skipped", "skip": reason,
                  "accuracy": None, "targets": {}}
        state.records[config.key] = record
        store.save(record)

    try:
        while True:
            elapsed = time.monotonic() - started
            out_of_time = elapsed > (options.time_budget_s if qat else stage_limit)
            need = _needed(state, options)
            while runner.pending < runner.workers and not out_of_time:
                config, config_need = next_config(need)
                if config is None:
                    break
                runner.submit(config, config_need)
                in_flight[config.key] = config
                state.submitted += 1
            if runner.pending == 0:
                stop = ("time budget" if out_of_time else f"{options.trials} trials"
                        if trained >= options.trials else
                        f"{options.fits_per_target} fits for every target" if not need
                        else "search space exhausted")
                if qat or not options.qat:
                    state.stopped_by = f"{main_stop}; QAT stage: {stop}" if qat else stop
                    break
                main_stop, qat = stop, True
                queue = qat_stage(state, options)
                progress.update(description=_describe(trained, options.trials, best) + " (QAT stage)")
                if not queue:
                    state.stopped_by = f"{main_stop}; QAT stage: nothing to fine-tune"
                    break
                continue
            for config, record in runner.wait():
                in_flight.pop(config.key, None)
                record["predicted_loss"] = round(predicted_loss(config, state.sensitivity), 4)
                if config.key in state.references:
                    record["reference"] = config.single
                state.records[config.key] = record
                if record["status"] != "failed":
                    store.save(record)
                if record["status"] == "trained":
                    if _counted(record, state):
                        trained += 1
                        progress.advance(1)
                    if _is_best(record, state.baseline, options.max_accuracy_drop):
                        best = max(best or 0.0, record["accuracy"])
                progress.update(description=_describe(trained, options.trials, best))
    except KeyboardInterrupt:
        state.interrupted, state.stopped_by = True, "interrupted (Ctrl-C)"
        runner.cancel()
    finally:
        state.wall_seconds = round(time.monotonic() - started, 3)
        runner.close()
    return state


def _describe(trained: int, total: int, best: float | None) -> str:
    return f"trials {trained}/{total}: best fitting " + ("-" if best is None else f"{best:.2f} %")


def prepare(model, evaluation, out_dir: Path, options: SearchOptions, progress: Progress = SILENT) -> SearchState:
    """The float baseline, the sensitivity analysis (stored, reused on resume) and the order."""
    from toolchain.compress import factorize, filters
    from toolchain.compress.train import evaluate
    from toolchain.search.sensitivity import Sensitivity, analyse_sensitivity

    baseline = round(100 * evaluate(model, evaluation), 4)
    path = Path(out_dir) / "sensitivity.json"
    sensitivity = None
    if path.exists():
        try:
            sensitivity = Sensitivity.from_dict(json.loads(path.read_text()))
        except (OSError, ValueError, KeyError):
            sensitivity = None
    if sensitivity is None:
        progress.stage("sensitivity of each channel group to structured pruning (no training)")
        sensitivity = analyse_sensitivity(model, evaluation)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(sensitivity.to_dict(), indent=1))
    references: set[str] = set()
    if options.configs is not None:
        order = list(options.configs)
    else:
        factorizable = any(p.pays for p in factorize.low_rank_plan(model, 0.9))
        compact = tuple(f for f in ("bottleneck", "separable")
                        if any(p.pays for p in filters.plan_filters(model, f, 0.25)))
        order = candidates(sensitivity, tolerance=max(options.max_accuracy_drop, 0.5), factorizable=factorizable,
                           modes=options.modes if "tflm" in options.runtimes else ("int8",),
                           distill=options.distill, filters=("",) + compact)
        # the dense model, then each technique alone (least compression first), then the rest in order
        singles = [c for level in single_techniques(factorizable, ("",) + compact).values() for c in level]
        references = {c.key for c in singles}
        head = [Config()] + singles
        keys = {c.key for c in head}
        order = head + [c for c in order if c.key not in keys]
    return SearchState(baseline, sensitivity, order, references=references)
