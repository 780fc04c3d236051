"""`edgec fit` on full Fashion-MNIST: a wider CNN that does not fit a Cortex-M0+ as dense int8, searched
for cortex-m0plus and nucleo-l4r5zi in one search.

    python bench/fit_fmnist.py [--smoke] [--train-samples N] [--trials N] [--epochs N] [--json FILE]

Prints:
  1. the dense int8 model against cortex-m0plus (measured as `edgec build` measures: it does not fit);
  2. the best fit per target: int8 accuracy, points lost against the float model, techniques used;
  3. each technique alone at the smallest ratio that makes it fit cortex-m0plus (measured as trials of
     the same search: same data, epochs, measurement), against the search's fit;
  4. search throughput with 2 Ray workers against 1 (local Ray runtimes, the same trial list, in this
     run): trials per hour and their ratio;
  5. the whole search's wall time.

--smoke: 300 training and 200 test images, 1 epoch, 1 trial, TFLM only, no QAT stage: every step
runs, fast; its figures mean nothing. --throughput-only: step 4 alone, on a fixed list of 6 trials. Wall-clock figures depend on the machine's load: say how loaded it was.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

import numpy as np  # noqa: E402

NEEDS = ("/usr/share/datasets/fashion-mnist",)  # tests/bench/test_smoke.py requires it (bench/README.md)
TARGETS = ("cortex-m0plus", "nucleo-l4r5zi")


def wide_cnn():
    """~430k parameters: its Dense(256) over 5x5x64 features alone is 400 KiB of int8 weights (the
    Cortex-M0+ has 256 KiB of flash); its activations fit 32 KiB of SRAM."""
    import keras

    L = keras.layers
    x = inputs = keras.Input((28, 28, 1), name="image")
    x = L.Conv2D(32, 3, activation="relu", name="conv1")(x)
    x = L.MaxPooling2D(name="pool1")(x)
    x = L.Conv2D(64, 3, activation="relu", name="conv2")(x)
    x = L.MaxPooling2D(name="pool2")(x)
    x = L.Flatten(name="flatten")(x)
    x = L.Dense(256, activation="relu", name="dense1")(x)
    x = L.Dense(10, name="logits")(x)
    return keras.Model(inputs, x, name="fmnist_wide")


def prepare(folder: Path, train_samples: int, test_samples: int, epochs: int) -> tuple[str, str, str, float]:
    import keras

    from compress_fmnist import load_fmnist

    x, y, xt, yt = load_fmnist({"train_samples": train_samples, "test_samples": test_samples})
    keras.utils.set_random_seed(0)
    model = wide_cnn()
    model.compile(keras.optimizers.Adam(1e-3), keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])
    model.fit(x, y, batch_size=128, epochs=epochs, verbose=0)
    float_accuracy = 100 * float(model.evaluate(xt, yt, verbose=0)[1])
    path = folder / "fmnist_wide.keras"
    model.save(path)
    np.savez(folder / "train.npz", x=x, y=y)
    np.savez(folder / "test.npz", x=xt, y=yt)
    return str(path), str(folder / "train.npz"), str(folder / "test.npz"), float_accuracy


def options(targets, args, **changes):
    from toolchain.search.search import SearchOptions

    base = dict(targets=targets, runtimes=("tflm",) if args.smoke else ("tflm", "c"), trials=args.trials,
                time_budget_s=args.time_budget, epochs=args.epochs, workers=args.workers,
                modes=("int8",) if args.smoke else ("int8", "16x8"), distill=not args.smoke,
                qat=not args.smoke)  # the QAT stage is tested in tests/toolchain/search/test_fit.py
    return SearchOptions(**{**base, **changes})


THROUGHPUT_LIST = (  # trials that are all trained (each fits nucleo-l4r5zi), of similar cost
    dict(structured=0.5), dict(sparsity=0.5), dict(structured=0.25), dict(sparsity=0.75),
    dict(structured=0.75), dict(structured=0.5, sparsity=0.5))


def measure_throughput(model, train, test, targets, args, trial_list, folder: Path) -> dict:
    """Trials per hour of the same trial list on 1 and on 2 local Ray workers, in this run.

    Each worker is a Ray task of one CPU whose TensorFlow runs on one thread (toolchain.search.runner
    THREAD_ENV), in both runs; the workers are started and loaded before the clock starts (RayRunner.warm)."""
    from toolchain.search.runner import RayRunner
    from toolchain.search.run import workload_for
    from toolchain.search.search import run_search

    throughput = {}
    for workers in (1, 2):
        run_out = folder / f"throughput-{workers}"
        shutil.rmtree(run_out, ignore_errors=True)  # measured afresh, never resumed
        opts = options(targets, args, configs=trial_list, trials=len(trial_list), fits_per_target=10**6,
                       time_budget_s=10**9, qat=False)
        work, state = workload_for(model, train, test, opts, run_out)
        runner = RayRunner(work, workers)
        load = os.getloadavg()[0]
        runner.warm()
        state = run_search(work, opts, run_out, state, runner=runner)
        done = sum(1 for r in state.records.values() if r["status"] in ("trained", "does-not-fit"))
        busy = sum(r.get("wall_seconds") or 0 for r in state.records.values())
        throughput[workers] = {"trials": done, "seconds": state.wall_seconds, "busy_seconds": round(busy, 1),
                               "per_hour": round(3600 * done / state.wall_seconds, 2), "load_before": load,
                               "trial_seconds": {k: r.get("wall_seconds") for k, r in state.records.items()}}
        print(f"  {workers} Ray worker(s): {done} trials in {state.wall_seconds:.1f} s "
              f"({throughput[workers]['per_hour']:.1f} trials/hour; trials' own time {busy:.0f} s; "
              f"load average before {load:.1f})", flush=True)
    ratio = throughput[2]["per_hour"] / throughput[1]["per_hour"]
    print(f"  throughput 2 workers / 1 worker: {ratio:.2f}x (same {len(trial_list)} trials, this run, "
          f"load average now {os.getloadavg()[0]:.1f})", flush=True)
    throughput["ratio"] = round(ratio, 3)
    return throughput


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true")
    parser.add_argument("--train-samples", type=int, default=60_000)
    parser.add_argument("--test-samples", type=int, default=10_000)
    parser.add_argument("--base-epochs", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=1, help="fine-tuning epochs after each technique")
    parser.add_argument("--trials", type=int, default=12)
    parser.add_argument("--time-budget", type=float, default=1800.0, help="seconds (the product's default, 30 min)")
    parser.add_argument("--workers", type=int, default=None)
    parser.add_argument("--throughput-trials", type=int, default=4)
    parser.add_argument("--throughput-only", action="store_true",
                        help="only the throughput comparison, on a fixed list of trials (THROUGHPUT_LIST)")
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--reuse", type=Path, default=None,
                        help="a folder of an earlier run (fmnist_wide.keras, train.npz, test.npz): no training; "
                             "with the same --out, the search resumes from its stored trials")
    args = parser.parse_args()
    if args.smoke:
        args.train_samples, args.test_samples, args.base_epochs, args.epochs = 300, 200, 1, 1
        args.trials, args.throughput_trials, args.workers = 1, 2, 1

    import targets as profiles
    from toolchain.search.run import fit_model
    from toolchain.search.space import Config

    load = os.getloadavg()[0]
    folder = args.reuse or Path(tempfile.mkdtemp(prefix="edgec-fit-bench-"))
    out = args.out or folder / "fit"
    started = time.monotonic()
    if args.reuse:
        model, train, test = (str(folder / n) for n in ("fmnist_wide.keras", "train.npz", "test.npz"))
        print(f"model: {model} (reused); load average at start {load:.1f} on {os.cpu_count()} cores")
    else:
        model, train, test, float_accuracy = prepare(folder, args.train_samples, args.test_samples,
                                                     args.base_epochs)
        print(f"model: {model} (float accuracy {float_accuracy:.2f} % on {args.test_samples} test images, "
              f"{args.train_samples} training images); load average at start {load:.1f} on {os.cpu_count()} cores")
    targets = tuple(profiles.load_target(n) for n in TARGETS)
    if args.throughput_only:
        trial_list = tuple(Config(**c) for c in THROUGHPUT_LIST[:max(2, args.throughput_trials)])
        results = {"throughput": measure_throughput(model, train, test, targets, args, trial_list, folder),
                   "load_average_at_start": load}
        if args.json:
            args.json.write_text(json.dumps(results, indent=1, default=str) + "\n")
        return 0
    search_started = time.monotonic()
    from toolchain.benchmark.emulated_latency import emulated_latency

    outcome = fit_model(model, train, test, options(targets, args), out, latency_probe=emulated_latency)
    search_wall = time.monotonic() - search_started
    report = outcome.report
    records = {r["key"]: r for r in outcome.records}
    m0 = report["targets"]["cortex-m0plus"]
    results = {"float_accuracy": report["baseline_float_accuracy"], "search_wall_seconds": round(search_wall, 1),
               "load_average_at_start": load, "targets": report["targets"], "counts": report["counts"]}

    # 2. the best fit per target
    from toolchain.search.result import _techniques, describe_miss

    for name, t in report["targets"].items():
        b = t["best"]
        if b:
            print(f"{name}: fit {b['key']} ({_techniques(b['config'])}), int8 {b['accuracy']:.2f} %, "
                  f"{b['drop']:.2f} points lost vs float, {b['runtime']}, flash {b['flash']:,} B, "
                  f"SRAM {b['sram']:,} B, latency {b['latency_ms']:.2f} ms ({b['latency']})"
                  + (f"; its C engine on the emulated board: {b['c_engine_emulated_ms']:.2f} ms"
                     if "c_engine_emulated_ms" in b else ""))
        else:
            c = t["closest"]
            print(f"{name}: nothing fits; closest {c and c['key']}: {c and describe_miss(c['misses'])}")

    # 3. each technique alone at the ratio that makes it fit the M0+: trials of the search itself (it
    # walks each technique alone first, least compression first); measured here only if it did not
    from toolchain.search.space import single_techniques

    walked = {r.get("reference") for r in records.values()} - {None}
    singles = {d: v for d, v in single_techniques(True, ("", "bottleneck", "separable")).items() if d in walked}
    if args.smoke:  # one technique at one level proves the step runs
        singles = {"structured": [Config(structured=0.5)]}
    rows = []
    singles_out = folder / "singles"  # the search's trials, and the single techniques it did not run
    shutil.rmtree(singles_out, ignore_errors=True)
    shutil.copytree(out, singles_out, ignore=shutil.ignore_patterns(*TARGETS, "search.json"))
    m0plus = tuple(t for t in targets if t.name == "cortex-m0plus")  # trained only if they fit the M0+

    def measure_alone(config):
        record = records.get(config.key)
        if record is None or record["status"] in ("failed", "fits-untrained") or (
                record["status"] == "skipped" and record["skip"]["reason"] != "reference found"):
            one = fit_model(model, train, test, options(m0plus, args, configs=(config,), trials=10**6,
                                                        fits_per_target=10**6, workers=1, qat=False),
                            singles_out, build=False)
            record = {r["key"]: r for r in one.records}.get(config.key)
            records[config.key] = record
        return record

    dense = measure_alone(Config())
    if dense is not None:
        t = (dense.get("targets") or dense.get("one_shot") or {}).get("cortex-m0plus")
        if t:
            rt = t["runtime"]
            f = t["runtimes"][rt]
            print(f"dense int8 on cortex-m0plus (best runtime: {rt}): flash {f['flash']['used']:,} of "
                  f"{f['flash']['budget']:,} B, SRAM {f['sram']['used']:,} of {f['sram']['budget']:,} B: "
                  + ("fits" if t["memory_fits"] else "does NOT fit"))
            results["dense_m0plus"] = {"runtime": rt, "flash": f["flash"]["used"], "sram": f["sram"]["used"],
                                       "fits": t["memory_fits"]}
    for dim, configs in singles.items():
        for config in configs:
            record = measure_alone(config)
            if record is None or record["status"] == "skipped":
                continue  # a lower level fits: not reached
            m0rec = (record.get("targets") or record.get("one_shot") or {}).get("cortex-m0plus")
            if m0rec and m0rec["memory_fits"]:
                acc = record.get("accuracy")
                rows.append((dim, config.key, acc))
                print(f"  {dim} alone: {config.key} fits cortex-m0plus, int8 "
                      + ("-" if acc is None else f"{acc:.2f} % ({report['baseline_float_accuracy'] - acc:.2f} lost)"))
                break
        else:
            print(f"  {dim} alone: no level of the space fits cortex-m0plus")
    results["single_techniques"] = [{"technique": d, "key": k, "accuracy": a} for d, k, a in rows]
    if m0["best"] and rows:
        best_single = max((a for _, _, a in rows if a is not None), default=None)
        results["best_single_accuracy"] = best_single
        if best_single is not None:
            print(f"  search fit {m0['best']['accuracy']:.2f} % vs best single technique {best_single:.2f} %: "
                  + ("at least as accurate" if m0["best"]["accuracy"] >= best_single else "LESS accurate"))

    # 4. throughput: the same trial list on 1 and on 2 local Ray workers, in this run
    measured = [Config.from_dict(r["config"]) for r in records.values()
                if r and r.get("status") in ("trained", "does-not-fit")]
    trial_list = tuple(sorted(measured, key=lambda c: c.key)[:args.throughput_trials])
    throughput = measure_throughput(model, train, test, targets, args, trial_list, folder) if trial_list else {}
    results["throughput"] = throughput

    print(f"whole search (both targets, {report['counts']}): {search_wall:.0f} s wall; "
          f"script {time.monotonic() - started:.0f} s")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=1, default=str) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
