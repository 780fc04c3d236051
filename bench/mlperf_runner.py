"""MLPerf Tiny's official host runner (mlcommons/tiny, benchmark/runner) driving edgec's firmware on
an emulated board: its main.py in performance and accuracy modes for ic01, kws01, vww01 and ad01,
its results printed beside edgec's own for the same firmware and inputs.

Run: EDGEC_MLPERF_RUNNER=/path/to/tiny/benchmark/runner PYTHONPATH=. python bench/mlperf_runner.py
     [--benchmarks ic01,kws01,vww01,ad01] [--modes p,a] [--files 5] [--smoke]

EDGEC_MLPERF_RUNNER names a checkout of the runner (the folder holding main.py, or the repository's
root); without it the script says so and exits 0. The runner needs PyYAML, pyserial, pyusb,
matplotlib and scikit-learn (`pip install -e '.[mlperf-runner]'`).

Each benchmark's reference model (tests/data/mlperf-tiny) is built by `edgec build --firmware
--mlperf ID`'s passes for the cortex-m7 profile and run on QEMU's mps2-an500 with its UART on a
pseudo-terminal; bench/_mlperf_runner_launch.py shows that pty to the runner as the USB serial port
its own devices file names, and the runner runs unchanged, with its own devices and tests files.

The runner's datasets cannot be fetched here, and the repository ships no samples of these four
tasks (its calibration samples are streaming wake word's), so each dataset is made in the runner's
layout (`ID/y_labels.csv` and one .bin file per input, encoded as that benchmark's reference
firmware decodes it) from seeded pseudo-random int8 input tensors. Labels: ic01, kws01 and vww01
cycle through the classes (the runner's AUC needs every class present), so their Top-1 and AUC say
nothing of the model; ad01's are 1 for the files whose mean reconstruction error (host reference) is
above the median, so its AUC is 1.0 when the device agrees with the host. What the runner received is
checked against the host reference (tflite-micro) inference by inference, from its results.json. Its
throughput is the instruction count at the profile's clock (m-lap-us on QEMU).

--smoke: ad01 in accuracy mode on two files.
"""
from __future__ import annotations

import argparse
import csv
import os
import re
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

NEEDS = ("arm-none-eabi-gcc", "qemu-system-arm")  # what tests/bench/test_smoke.py requires (bench/README.md)
ENV = "EDGEC_MLPERF_RUNNER"
TARGET = "cortex-m7"
MODELS = {"ic01": "pretrainedResnet_quant.tflite", "kws01": "kws_ref_model.tflite", "vww01": "vww_96_int8.tflite",
          "ad01": "ad01_int8.tflite"}
DEVICES = {"ad01": "devices_ad.yaml"}  # the runner's own devices file per benchmark
DEVICES_DEFAULT = "devices_kws_ic_vww.yaml"
TESTS = {"p": "tests_performance.yaml", "a": "tests_accuracy.yaml"}
AD01_FRAME = 128  # features per spectrogram frame; a window is 5 frames (the reference's 2560 bytes)
AD01_FRAMES_PER_FILE = 7  # three windows per file at a one-frame stride
CLASSES = {"ic01": 10, "kws01": 12, "vww01": 2, "ad01": 2}
RUNNER_TIMEOUT_S = 1800


def runner_dir() -> Path | None:
    given = os.environ.get(ENV)
    if not given:
        return None
    path = Path(given)
    for candidate in (path, path / "benchmark" / "runner"):
        if (candidate / "main.py").is_file():
            return candidate
    raise SystemExit(f"{ENV}={given}: no main.py there nor in benchmark/runner")


@dataclass
class Dataset:
    x: object  # the int8 input tensors (ad01: each file's first window), for edgec bench
    labels: object
    expected: dict  # file name -> the m-results-[...] numbers the host reference computes, per window


def _printed_outputs(values, quant) -> tuple[float, ...]:
    """Dequantized outputs as the firmware prints them (float32, 3 decimals)."""
    import numpy as np

    from toolchain import mlperf

    real = (np.asarray(values).astype(np.float32) - np.float32(quant[1])) * np.float32(quant[0])
    return tuple(mlperf.printed_fixed3(v) for v in real.reshape(-1))


def make_dataset(benchmark: str, model_bytes: bytes, engine, folder: Path, files: int, seed: int = 0) -> Dataset:
    """`files` inputs in the runner's layout under folder/benchmark (ID/y_labels.csv, one .bin each)."""
    import numpy as np

    from toolchain import mlperf
    from toolchain.oracle import run_tflm

    rng = np.random.default_rng(seed)
    shape = tuple(engine.input_shape)
    quant = tuple(engine.input_quant)
    out = folder / benchmark
    out.mkdir(parents=True, exist_ok=True)
    rows, expected = [], {}
    if benchmark == "ad01":
        width = int(np.prod(shape)) // AD01_FRAME
        errors, firsts = [], []
        for i in range(files):
            name = f"synthetic_{i:03d}.bin"
            frames = rng.integers(-128, 128, (AD01_FRAMES_PER_FILE, AD01_FRAME), dtype=np.int8)
            windows = [frames[s:s + width].reshape(shape) for s in range(AD01_FRAMES_PER_FILE - width + 1)]
            host = run_tflm(model_bytes, np.stack(windows))
            mse = [mlperf.reconstruction_error(np.frombuffer(mlperf.encode(benchmark, w, quant), "<f4"), h,
                                               engine.output_quant) for w, h in zip(windows, host)]
            expected[name] = [(mlperf.printed_fixed3(e),) for e in mse]
            errors.append(float(np.mean(mse)))
            (out / name).write_bytes(mlperf.encode(benchmark, frames, quant))
            firsts.append(windows[0])
        # normal (0) below the median reconstruction error, anomalous (1) above: both classes present
        labels = np.array([int(e > np.median(errors)) for e in errors])
        rows = [(name, 2, int(label), width * AD01_FRAME * 4, AD01_FRAME * 4)
                for name, label in zip(expected, labels)]
        x = np.stack(firsts)
    else:
        x = rng.integers(-128, 128, (files, *shape), dtype=np.int8)
        host = run_tflm(model_bytes, x).reshape(files, -1)
        classes = host.shape[1]
        labels = np.arange(files) % classes  # every class present, as the runner's AUC requires
        for i in range(files):
            name = f"synthetic_{i:03d}.bin"
            (out / name).write_bytes(mlperf.encode(benchmark, x[i], quant))
            rows.append((name, classes, int(labels[i])))
            expected[name] = [_printed_outputs(host[i], engine.output_quant)]
    with open(out / "y_labels.csv", "w", newline="") as fh:
        csv.writer(fh).writerows(rows)
    return Dataset(x=x, labels=labels, expected=expected)


def received_equal_host(session: Path, data: Dataset) -> tuple[int, int]:
    """(inferences whose results the runner received equal to the host reference's, inferences):
    from the runner's results.json, window by window."""
    import json

    seen: dict[str, int] = {}
    same = total = 0
    for r in json.loads((session / "results.json").read_text()):
        if "file" not in r or "infer" not in r:
            continue
        k = seen.get(r["file"], 0)
        seen[r["file"]] = k + 1
        want = data.expected[r["file"]]
        total += 1
        same += tuple(r["infer"].get("results", ())) == tuple(want[k % len(want)])
    return same, total


def run_runner(runner: Path, benchmark: str, mode: str, elf: Path, datasets: Path, work: Path) -> Path:
    """The runner's session folder (log.txt, results.txt, results.json) for one benchmark in one mode."""
    from toolchain.device.emulator import QemuRunner

    work.mkdir(parents=True, exist_ok=True)
    launch = ROOT / "bench" / "_mlperf_runner_launch.py"
    with QemuRunner("mps2-an500", elf, serial="pty") as q:
        cmd = [sys.executable, str(launch), q.url, str(runner), "--", "--device_list",
               str(runner / DEVICES.get(benchmark, DEVICES_DEFAULT)), "--test_script", str(runner / TESTS[mode]),
               "--dataset_path", str(datasets), "--mode", mode]
        proc = subprocess.run(cmd, cwd=work, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                              timeout=RUNNER_TIMEOUT_S)
    sessions = sorted(p.parent for p in work.glob("sessions/*/results.txt"))
    if proc.returncode != 0 or not sessions:
        console = proc.stdout + proc.stderr
        raise SystemExit(f"the runner failed ({benchmark}, mode {mode}, status {proc.returncode}):\n{console[-4000:]}")
    return sessions[-1]


def edgec_side(model: Path, fw_dir: Path, data: Dataset, work: Path):
    """`edgec bench --emulate` of the same firmware with the same inputs: instructions, latency at
    the profile's clock, device/host agreement."""
    import numpy as np

    import targets
    from toolchain.benchmark import BenchOptions, run_bench

    eval_path = work / "eval.npz"
    np.savez(eval_path, x=data.x, y=data.labels)
    n = len(data.x)
    return run_bench(BenchOptions(target=targets.load_target(TARGET), emulate=True, model=model, firmware=fw_dir,
                                  eval_data=eval_path, runs=n, warmup=0, limit=n, out_dir=work / "bench"))


def summary(results_txt: str) -> str:
    keep = re.compile(r"Median throughput|Top 1%|AUC|ERROR")
    lines = [ln.split("ulp-mlperf: ")[-1].strip() for ln in results_txt.splitlines() if keep.search(ln)]
    return "; ".join(ln for ln in lines if not set(ln) <= set("-"))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--benchmarks", default="ic01,kws01,vww01,ad01")
    parser.add_argument("--modes", default="p,a", help="p (performance), a (accuracy)")
    parser.add_argument("--files", type=int, default=5, help="inputs per dataset (at least 5, the performance "
                        "loop's count, and one per class)")
    parser.add_argument("--models", type=Path, default=ROOT / "tests" / "data" / "mlperf-tiny")
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--smoke", action="store_true", help="ad01, accuracy mode, two files")
    args = parser.parse_args(argv)
    runner = runner_dir()
    if runner is None:
        print(f"skipped: set {ENV} to a checkout of mlcommons/tiny's benchmark/runner (the folder of main.py) "
              "to run the official runner against the emulated board")
        return 0
    benchmarks = ["ad01"] if args.smoke else args.benchmarks.split(",")
    modes = ["a"] if args.smoke else args.modes.split(",")
    out = args.out or Path(tempfile.mkdtemp(prefix="edgec-mlperf-runner-"))
    import targets
    from toolchain.base.tflite_reader import read_tflite_bytes
    from toolchain.benchmark.run import build_for_model

    target = targets.load_target(TARGET)
    table = []
    for bid in benchmarks:
        model = args.models / MODELS[bid]
        files = 2 if args.smoke else max(args.files, CLASSES[bid])
        built = build_for_model(model, target, out / bid / "firmware", mlperf=bid)
        data = make_dataset(bid, read_tflite_bytes(model), built.engine.engine, out / "datasets", files)
        ours = edgec_side(model, built.firmware.elf.parent, data, out / bid)
        for mode in modes:
            session = run_runner(runner, bid, mode, built.firmware.elf, out / "datasets", out / bid / f"runner-{mode}")
            results = (session / "results.txt").read_text()
            print(f"==== {bid} ({MODELS[bid]}, {files} files), runner mode {mode}: its results.txt")
            print(results.rstrip())
            table.append((bid, mode, summary(results), received_equal_host(session, data), ours))
    print()
    print("the official runner (main.py, unchanged) beside edgec bench, same firmware (cortex-m7 on QEMU "
          "mps2-an500), same inputs")
    for bid, mode, runner_says, (same, total), ours in table:
        c = ours.comparison
        if mode == "p":
            edgec = (f"{ours.per_inference.median:,.0f} instructions = {ours.latency_ms.median:.3f} ms at "
                     f"{ours.clock_hz / 1e6:.0f} MHz = {1e3 / ours.latency_ms.median:.3f} inf./sec.")
        else:
            edgec = f"device outputs = host's on {c.exact_match_rate:.0%} of {c.compared} inputs"
        print(f"{bid:6} {'performance' if mode == 'p' else 'accuracy':11} runner: {runner_says}")
        print(f"{'':18} runner received the host reference's results on {same}/{total} inferences")
        print(f"{'':18} edgec bench: {edgec}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
