"""Compression on the device: what pruning and clustering buy in the generated C engine (issue 10).

For each model, four variants: dense int8 / pruned 75% / clustered 16 / pruned 75% + clustered 16
(sparsity-preserving clustering), on
- the Fashion-MNIST reference CNN of bench/compress_fmnist.py (same data, same configuration),
  compressed by edgec's compression pass with its fine-tuning, then converted to int8;
- the five MLPerf Tiny int8 models, pruned and clustered on their int8 weights without
  fine-tuning (toolchain.compress.tflite_weights): their training data is not here, so these rows
  measure size, speed and exactness only.

"Pruned" is block pruning (PRUNE_BLOCK = 4): whole aligned blocks of 4 consecutive taps of an output
channel, in the order the int8 kernel stores them, are zeroed (toolchain.compress.blocks), the
pattern the engine's block-sparse kernels run; depthwise layers lose whole (tap, group of 4 channels)
units (the engine's dw_block storage).

Each row: weight bytes as the engine stores them (its per-layer storage record), flash and SRAM
read from the ELF, instructions per inference on the emulated Cortex-M7 (QEMU -icount, over
serial, as bench/device_qemu.py measures them), outputs compared byte for byte with the
tflite-micro interpreter (the engine compiled for the host, and the emulated M7 over serial), and
the int8 accuracy on the Fashion-MNIST test set where there are labels. Then the issue's targets,
each against the dense engine of the same model: MET or MISSED.

    PYTHONPATH=. python bench/compress_device.py [--smoke] [--json FILE] [--models DIR] [--only MODEL ...]

--smoke: bench/compress_fmnist.py's smoke configuration (one epoch, 300 training and 200 test
images) and one MLPerf model (kws_ref_model.tflite), fewer comparisons: proves that every step
runs, in a minute or two; its figures judge nothing.

A full run writes out/bench/compress_device.json (--json FILE elsewhere); a smoke run writes no
file unless asked. The trained Fashion-MNIST variants of a full run (int8 .tflite and accuracy)
are cached under out/bench/compress_device_cache, keyed by the configuration and data sizes (the
pruned variants also by the block size), with the float base model, so that a second run measures
a changed engine without retraining, and trains only the variants whose key changed; --retrain
ignores the cache.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import tempfile
import time
from collections import Counter
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

import numpy as np  # noqa: E402

NEEDS = ("arm-none-eabi-gcc", "qemu-system-arm", "/usr/share/datasets/fashion-mnist")  # bench/README.md
VARIANTS = ("dense", "prune", "cluster", "prune_cluster")
LABELS = {"dense": "dense int8", "prune": "pruned 75%", "cluster": "clustered 16",
          "prune_cluster": "pruned 75% + clustered 16"}
SPARSITY, CLUSTERS = 0.75, 16  # as bench/compress_fmnist.py's CONFIG (checked in fashion_candidates)
# "pruned" means block pruning: whole aligned blocks of 4 taps per output channel (toolchain.compress.blocks),
# what the engine's block-sparse kernels run; depthwise layers in (tap, group of 4 channels) units
PRUNE_BLOCK = 4
PRUNED = ("prune", "prune_cluster")
# the pruned variants' own settings, beside bench/compress_fmnist.py's CONFIG: the block size, and the
# fine-tuning epochs that blocks need (chosen on held-out training images: README, Measurements)
PRUNE_SETTINGS = {"prune_block": PRUNE_BLOCK, "block_prune_epochs": 6}
FASHION = "fmnist_cnn"


@dataclass(frozen=True)
class Sizes:
    host_fashion: int  # test images run by the host-compiled engine and tflite-micro
    host_mlperf: int  # random inputs, the same way
    serial: int  # inferences on the emulated M7 (each compared with tflite-micro)


FULL = Sizes(host_fashion=1000, host_mlperf=20, serial=10)
SMOKE = Sizes(host_fashion=64, host_mlperf=4, serial=2)


@dataclass(frozen=True)
class Candidate:
    """One variant of one model, as int8 .tflite, before it meets the engine."""

    model: str
    variant: str
    tflite: bytes = field(repr=False)
    accuracy: float | None  # int8, on the test set (ai-edge-litert, as bench/compress_fmnist.py measures)
    detail: str
    host_inputs: np.ndarray = field(repr=False)  # int8 inputs for the host comparison
    eval_npz: Path | None = None  # labelled test images for the serial run; None: random inputs


@dataclass(frozen=True)
class Row:
    model: str
    variant: str
    storage: str  # the engine's formats: "sparse x4", "dense x1, clustered x3"
    dense_weight_bytes: int  # the MAC layers' weights as int8
    stored_weight_bytes: int  # the same weights as the engine stores them
    nonzero: float  # fraction of those weights that are not 0
    flash_bytes: int
    sram_bytes: int
    instructions: float  # per inference, median, emulated Cortex-M7
    macs: int
    host_exact: int  # outputs equal to tflite-micro's, of host_samples
    host_samples: int
    serial_exact: int  # of serial_samples, on the emulated M7 over serial
    serial_samples: int
    accuracy: float | None
    detail: str
    layers: tuple = ()  # (op index, op, instructions of one inference, storage format) per op, emulated M7


# --- the models -----------------------------------------------------------------------------------

# bench/compress_fmnist.py's settings of rows this script does not train: not in the cache key
UNUSED_KEYS = ("separable_rank",)


def _cache_key(config: dict) -> str:
    used = {k: v for k, v in config.items() if k not in UNUSED_KEYS}
    return hashlib.sha256(json.dumps(used, sort_keys=True).encode()).hexdigest()[:12]


def fashion_config(config: dict, smoke: bool = False) -> dict:
    """bench/compress_fmnist.py's configuration and the pruned variants' settings (a smoke run's
    pruning fine-tunes as long as its others)."""
    settings = dict(PRUNE_SETTINGS, **({"block_prune_epochs": config["prune_epochs"]} if smoke else {}))
    return dict(config, **settings)


def variant_config(config: dict, variant: str) -> dict:
    """What a variant's training depends on: only the pruned ones on PRUNE_SETTINGS (so that the
    dense and clustered variants keep their cache key)."""
    return config if variant in PRUNED else {k: v for k, v in config.items() if k not in PRUNE_SETTINGS}


def fashion_candidates(config: dict, sizes: Sizes, cache: Path, retrain: bool, work: Path) -> list[Candidate]:
    """The reference CNN trained as bench/compress_fmnist.py does, and its three compressed variants."""
    from compress_fmnist import load_fmnist

    if (config["prune_sparsity"], config["clusters"]) != (SPARSITY, CLUSTERS):
        raise SystemExit(f"bench/compress_fmnist.py's configuration changed: {config}")
    x_train, y_train, x_test, y_test = load_fmnist(config)
    folders = {v: cache / _cache_key(variant_config(config, v)) for v in VARIANTS}
    records = {v: folders[v] / f"{v}.json" for v in VARIANTS}
    missing = [v for v in VARIANTS if retrain or not records[v].is_file()]
    if missing:
        _train_fashion(config, x_train, y_train, x_test, y_test, folders, missing)
    if len(missing) < len(VARIANTS):
        print(f"Fashion-MNIST variants cached: {', '.join(f'{folders[v]}/{v}' for v in VARIANTS if v not in missing)}"
              " (--retrain to train them again)", flush=True)
    from toolchain.compress.measure import quantize_input

    npz = work / "fmnist_eval.npz"
    npz.parent.mkdir(parents=True, exist_ok=True)
    np.savez(npz, x=x_test, y=y_test)
    from toolchain.compress.codebook import share_codebooks
    from toolchain.compress.measure import run_tflite

    result = []
    for variant in VARIANTS:
        record = json.loads(records[variant].read_text())
        # a model cached before the convert pass shared the codebooks: shared as that pass does now,
        # and its accuracy measured again
        tflite, shared = share_codebooks((folders[variant] / f"{variant}.tflite").read_bytes())
        accuracy, detail = record["accuracy"], record["detail"]
        if shared:
            accuracy = float(np.mean(np.argmax(run_tflite(tflite, x_test), axis=-1) == y_test))
            detail += f"; one codebook per tensor for {len(shared)} clustered layers (requantized)"
        result.append(Candidate(FASHION, variant, tflite, accuracy, detail,
                                quantize_input(tflite, x_test[:sizes.host_fashion]), npz))
    return result


def _train_fashion(config, x_train, y_train, x_test, y_test, folders: dict[str, Path], variants: list[str]) -> None:
    """Train `variants` (the base model too: the others are fine-tuned from it) into their folders."""
    from compress_fmnist import technique_recipes, train_base

    from toolchain.compress.data import Dataset
    from toolchain.compress.measure import deploy
    from toolchain.compress.pipeline import compress
    from toolchain.compress.recipe import Recipe

    train, test = Dataset(x_train, y_train, "fmnist-train"), Dataset(x_test, y_test, "fmnist-test")
    calib = x_train[np.random.default_rng(0).choice(len(x_train), min(200, len(x_train)), replace=False)]
    print(f"Fashion-MNIST: {len(train)} training, {len(test)} test images; config {config}; training "
          f"{', '.join(variants)}", flush=True)
    saved = folders["dense"] / "base.keras"  # the float base model, for a later run that trains other variants
    if saved.is_file() and "dense" not in variants:
        import keras

        print(f"base model: {saved}", flush=True)
        base = keras.models.load_model(saved)
    else:
        base = train_base(config, x_train, y_train)
        saved.parent.mkdir(parents=True, exist_ok=True)
        base.save(saved)
    recipes = {key: recipe for (key, _), recipe in technique_recipes(config).items()}
    prune, cluster = recipes["prune"], recipes["cluster"]
    prune = replace(prune, prune=replace(prune.prune, block=config["prune_block"],
                                         epochs=config["block_prune_epochs"]))
    recipes = {"prune": prune, "cluster": cluster,
               "prune_cluster": Recipe(train=prune.train, prune=prune.prune, cluster=cluster.cluster)}
    models = {"dense": (base, "trained int8 baseline")}
    for variant in variants:
        if variant == "dense":
            continue
        print(f"--- {LABELS[variant]}", flush=True)
        result = compress(base, recipes[variant], train, None, log=lambda m: print(m, flush=True))
        models[variant] = (result.model, "; ".join(s.detail for s in result.stages[1:]))
    for variant, (model, detail) in models.items():
        d = deploy(model, calib, test)
        print(f"{LABELS[variant]}: int8 accuracy {d.int8_metric:.4f}", flush=True)
        if variant not in variants:  # the base (trained again or loaded): does it convert to the cached one?
            same = (folders[variant] / f"{variant}.tflite").read_bytes() == d.tflite
            print(f"  the base model's int8 conversion is {'identical to' if same else 'NOT identical to'} the "
                  f"cached {variant} model", flush=True)
            continue
        folders[variant].mkdir(parents=True, exist_ok=True)
        (folders[variant] / f"{variant}.tflite").write_bytes(d.tflite)
        (folders[variant] / f"{variant}.json").write_text(json.dumps({"accuracy": d.int8_metric, "detail": detail}))


def mlperf_candidates(models: Path, names: tuple[str, ...], sizes: Sizes) -> list[Candidate]:
    """Each model as published, and pruned / clustered / both on its int8 weights (no fine-tuning)."""
    from toolchain.benchmark.reference import io_specs, random_samples
    from toolchain.compress.tflite_weights import compress_weights
    from toolchain.base.tflite_reader import read_tflite

    result = []
    for name in names:
        published = (models / name).read_bytes()
        inputs = random_samples(io_specs(read_tflite(published))[0], sizes.host_mlperf, seed=1).inputs
        stem = Path(name).stem
        result.append(Candidate(stem, "dense", published, None, "as published", inputs))
        for variant, sparsity, clusters in (("prune", SPARSITY, None), ("cluster", None, CLUSTERS),
                                            ("prune_cluster", SPARSITY, CLUSTERS)):
            edited = compress_weights(published, sparsity, clusters, block=PRUNE_BLOCK)
            zeros = sum(t.zeros for t in edited.tensors) / max(1, sum(t.size for t in edited.tensors))
            most = max(t.max_values_per_channel for t in edited.tensors)
            codes = max(t.values for t in edited.tensors)
            result.append(Candidate(stem, variant, edited.model, None,
                                    f"int8 weights edited: {zeros:.1%} zeros"
                                    + (f" (blocks of {PRUNE_BLOCK}; depthwise in units of a tap x 4 channels)" if sparsity else "")
                                    + f", at most {most} values a channel"
                                    + (f", {codes} a tensor" if clusters else ""), inputs))
    return result


# --- the device -----------------------------------------------------------------------------------

def measure(candidate: Candidate, out: Path, serial_runs: int) -> Row:
    """Generate the engine ("dense" storage for the dense row, "auto" otherwise), run it on the host and
    on the emulated M7, and compare both with tflite-micro."""
    from device_qemu import build_and_bench

    from firmware_export.cengine.host import compile_host
    from toolchain.benchmark.reference import host_reference

    folder = out / candidate.model / candidate.variant
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{candidate.model}.tflite"
    path.write_bytes(candidate.tflite)
    weights = "dense" if candidate.variant == "dense" else "auto"
    engine, fw, bench = build_and_bench(path, folder, weights=weights, runs=serial_runs, eval_data=candidate.eval_npz)
    host = compile_host(engine, folder / "host").run(candidate.host_inputs)
    reference = host_reference(candidate.tflite, candidate.host_inputs, engine.input_shape)
    host_exact = sum(np.array_equal(h.ravel(), r.ravel()) for h, r in zip(host, reference, strict=True))
    formats = Counter(layer.format for layer in engine.layers)
    storage = {layer.op_index: layer.format for layer in engine.layers}
    cmp = bench.comparison
    return Row(candidate.model, candidate.variant, ", ".join(f"{f} x{n}" for f, n in sorted(formats.items())),
               sum(layer.dense_bytes for layer in engine.layers), sum(layer.stored_bytes for layer in engine.layers),
               sum(layer.density * layer.dense_bytes for layer in engine.layers)
               / max(1, sum(layer.dense_bytes for layer in engine.layers)),
               fw.flash_used_bytes, fw.sram_used_bytes, bench.per_inference.median, bench.macs or 0,
               int(host_exact), len(reference), round(cmp.exact_match_rate * cmp.compared), cmp.compared,
               candidate.accuracy, candidate.detail,
               tuple((row.index, row.op, row.count, storage.get(row.index, "")) for row in bench.layers))


# --- targets and report -------------------------------------------------------------------------

@dataclass(frozen=True)
class Check:
    target: str
    model: str
    met: bool
    figure: str


def checks(rows: list[Row]) -> list[Check]:
    """The issue's targets, each model against its own dense engine."""
    result = []
    by = {(r.model, r.variant): r for r in rows}
    for model in dict.fromkeys(r.model for r in rows):
        dense = by[(model, "dense")]

        def ratio(variant, attr):
            return getattr(by[(model, variant)], attr) / getattr(dense, attr)

        def add(target, met, figure):
            result.append(Check(target, model, bool(met), figure))

        if (model, "prune") in by:
            x = ratio("prune", "stored_weight_bytes")
            add("pruned 75%: stored weight bytes <= 0.40x dense", x <= 0.40, f"{x:.3f}x")
            x = ratio("prune", "instructions")
            add("pruned 75%: instructions <= 0.6x dense", x <= 0.6, f"{x:.3f}x")
        if (model, "cluster") in by:
            c = by[(model, "cluster")]
            x = ratio("cluster", "stored_weight_bytes")
            add("clustered 16: stored weight bytes <= 0.55x dense", x <= 0.55, f"{x:.3f}x")
            add("clustered 16: SRAM <= dense + 1 KiB", c.sram_bytes <= dense.sram_bytes + 1024,
                f"{c.sram_bytes - dense.sram_bytes:+,} B")
            x = ratio("cluster", "instructions")
            add("clustered 16: instructions <= 1.15x dense", x <= 1.15, f"{x:.3f}x")
        if (model, "prune_cluster") in by:
            x = ratio("prune_cluster", "stored_weight_bytes")
            add("pruned 75% + clustered 16: stored weight bytes <= 0.25x dense", x <= 0.25, f"{x:.3f}x")
        mine = [r for r in rows if r.model == model]
        wrong = [LABELS[r.variant] for r in mine if (r.host_exact, r.serial_exact) != (r.host_samples, r.serial_samples)]
        add("every row bit-exact with tflite-micro (host and serial)", not wrong,
            f"{len(mine)} rows, host {sum(r.host_exact for r in mine)}/{sum(r.host_samples for r in mine)}, serial "
            f"{sum(r.serial_exact for r in mine)}/{sum(r.serial_samples for r in mine)}"
            + (f", not exact: {', '.join(wrong)}" if wrong else ""))
        for r in mine:
            if r.accuracy is not None and dense.accuracy is not None and r.variant != "dense":
                points = 100 * (r.accuracy - dense.accuracy)
                add("Fashion-MNIST: no technique more than 1 point below the int8 baseline", points >= -1.0,
                    f"{LABELS[r.variant]} {points:+.2f}")
    return result


def _x(value: float, base: float) -> str:
    return f"{value / base:.3f}x" if base else "-"


def render(rows: list[Row], found: list[Check]) -> str:
    head = ["model", "variant", "storage (layers)", "nonzero", "weights stored B", "x dense", "flash B", "x dense", "SRAM B",
            "vs dense", "instr/inference", "x dense", "exact host", "exact serial", "int8 acc", "vs dense"]
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
    dense = {r.model: r for r in rows if r.variant == "dense"}
    for r in rows:
        d = dense[r.model]
        acc = "-" if r.accuracy is None else f"{100 * r.accuracy:.2f}%"
        points = "-" if r.accuracy is None or d.accuracy is None else f"{100 * (r.accuracy - d.accuracy):+.2f} pt"
        cells = [r.model, LABELS[r.variant], r.storage, f"{r.nonzero:.1%}", f"{r.stored_weight_bytes:,}",
                 _x(r.stored_weight_bytes, d.stored_weight_bytes), f"{r.flash_bytes:,}", _x(r.flash_bytes, d.flash_bytes),
                 f"{r.sram_bytes:,}", f"{r.sram_bytes - d.sram_bytes:+,}", f"{r.instructions:,.0f}",
                 _x(r.instructions, d.instructions), f"{r.host_exact}/{r.host_samples}",
                 f"{r.serial_exact}/{r.serial_samples}", acc, points]
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", "Targets (each model against its own dense int8 engine):"]
    for target in dict.fromkeys(c.target for c in found):
        mine = [c for c in found if c.target == target]
        verdict = "MET" if all(c.met for c in mine) else "MISSED"
        figures = "; ".join(f"{c.model} {c.figure}" + ("" if c.met else " (missed)") for c in mine)
        lines.append(f"- **{verdict}** {target}: {figures}")
    lines += ["", "What each variant is:"] + [f"- {r.model}, {LABELS[r.variant]}: {r.detail}" for r in rows]
    return "\n".join(lines)


def render_layers(rows: list[Row]) -> str:
    """Per op, each variant's instructions against the dense engine's same op (ops that differ)."""
    dense = {r.model: r for r in rows if r.variant == "dense"}
    lines = []
    for r in rows:
        if r.variant == "dense" or not r.layers:
            continue
        base = {i: count for i, _, count, _ in dense[r.model].layers}
        lines.append(f"{r.model}, {LABELS[r.variant]}: op, storage, instructions, x the dense op")
        lines += [f"  {i} {op} {fmt or '-'}: {count:,} ({count / base[i]:.2f}x)" for i, op, count, fmt in r.layers
                  if base.get(i) and count != base[i]]
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true",
                        help="a few hundred images, one epoch each, one MLPerf model: a check that it all runs")
    parser.add_argument("--json", type=Path, default=None,
                        help="results file (default: out/bench/compress_device.json; none in a smoke run)")
    parser.add_argument("--models", type=Path, default=REPO / "tests" / "data" / "mlperf-tiny",
                        help="folder of the MLPerf Tiny .tflite models")
    parser.add_argument("--cache", type=Path, default=None,
                        help="trained variants (default: out/bench/compress_device_cache; the build folder in a "
                             "smoke run)")
    parser.add_argument("--retrain", action="store_true", help="train the Fashion-MNIST variants even if cached")
    parser.add_argument("--out", type=Path, default=None, help="build folder (default: a new temporary one)")
    parser.add_argument("--only", action="append", default=None, metavar="MODEL",
                        help=f"measure only this model ({FASHION} or an MLPerf stem such as ad01_int8); "
                             "repeatable; writes no results file unless --json is given")
    parser.add_argument("--variant", action="append", default=None, choices=VARIANTS[1:],
                        help="measure only this compressed variant (with the dense one it is compared with); "
                             "repeatable; writes no results file unless --json is given")
    parser.add_argument("--layers", action="store_true",
                        help="also print each op's instructions against the dense engine's (firmware per-op counts)")
    args = parser.parse_args(argv)
    import compress_fmnist
    import device_qemu

    config, sizes = (compress_fmnist.SMOKE, SMOKE) if args.smoke else (compress_fmnist.CONFIG, FULL)
    config = fashion_config(config, args.smoke)
    names = device_qemu.SMOKE_MODELS if args.smoke else device_qemu.MODELS
    if args.only:
        known = {FASHION} | {Path(n).stem for n in names}
        unknown = sorted(set(args.only) - known)
        if unknown:
            raise SystemExit(f"--only: unknown model {', '.join(unknown)} (one of {', '.join(sorted(known))})")
        names = tuple(n for n in names if Path(n).stem in args.only)
    missing = [n for n in names if not (args.models / n).is_file()]
    if missing:
        raise SystemExit(f"MLPerf Tiny models missing in {args.models}: {', '.join(missing)} (--models DIR)")
    out = (args.out or Path(tempfile.mkdtemp(prefix="edgec-compress-device-"))).resolve()
    results = args.json or (None if args.smoke or args.only or args.variant
                            else REPO / "out" / "bench" / "compress_device.json")
    cache = args.cache or (out / "trained" if args.smoke else REPO / "out" / "bench" / "compress_device_cache")
    started = time.monotonic()
    fashion = not args.only or FASHION in args.only
    candidates = fashion_candidates(config, sizes, cache, args.retrain, out) if fashion else []
    candidates += mlperf_candidates(args.models, names, sizes)
    if args.variant:
        candidates = [c for c in candidates if c.variant == "dense" or c.variant in args.variant]
    rows = []
    for c in candidates:
        rows.append(measure(c, out, sizes.serial))
        r = rows[-1]
        print(f"{r.model} {LABELS[r.variant]}: {r.storage}; weights {r.stored_weight_bytes:,} B, flash "
              f"{r.flash_bytes:,} B, SRAM {r.sram_bytes:,} B, {r.instructions:,.0f} instructions, exact "
              f"{r.host_exact}/{r.host_samples} host, {r.serial_exact}/{r.serial_samples} serial", flush=True)
    found = checks(rows)
    print()
    print(render(rows, found))
    if args.layers:
        print()
        print(render_layers(rows))
    if results is not None:
        results.parent.mkdir(parents=True, exist_ok=True)
        results.write_text(json.dumps({
            "smoke": args.smoke, "config": config, "sizes": asdict(sizes), "seconds": time.monotonic() - started,
            "rows": [asdict(r) for r in rows], "targets": [asdict(c) for c in found]}, indent=2))
        print(f"\nwritten {results}")
    print(f"builds in {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
