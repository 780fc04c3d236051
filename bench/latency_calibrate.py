"""Calibrates the C engine's latency model per core from emulated per-layer instruction counts, writes
targets/latency/<core>.toml, then checks the estimates against the five MLPerf Tiny models.

Calibration: small int8 models built here (seeded random weights, several shapes: depthwise-heavy,
1-channel input, fully-connected-heavy, pooling, residual ADD/MUL, pruned weights the engine stores
sparse; none of them an MLPerf Tiny model) are built into the benchmark firmware of each emulated
core and run on its QEMU board (-icount: instruction counts are deterministic); the firmware reports
the instructions of every layer (edgec-layers). Per op kind, the costs (instructions per call, per
MAC, per output element, ...: targets/latency.py KINDS) are fitted by least squares on the relative
error, with no negative cost. A model that does not fit a board (the micro:bit's 16 KiB) is left out
of that core's fit. TFLM's reference figure: x86-64 instructions per MAC of the tflite-micro host
interpreter over the calibration models (callgrind; needs valgrind; --no-tflm skips it).

Validation: the five MLPerf Tiny models, built as `edgec build` builds them (weights auto), run on each
core's board; their estimate (from the files just written, per-layer sums) against the measurement.
Target (issue 15): within 15 % on the five, on the emulated Cortex-M4 and M7.

When the engine's C kernels change, run this again: it recalibrates every core.

Run: PYTHONPATH=. python bench/latency_calibrate.py [--cores M4 M7 ...] [--out DIR] [--no-tflm] [--smoke]
     [--work DIR [--reuse]]   (--reuse: refit from the models and measurements of an earlier run in DIR)

--smoke calibrates the M7 from one small model into a temporary folder (the data files are not
touched) and prints the estimate of that model beside its measurement (the same run: no target).
"""
from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))  # cengine_callgrind's helpers

NEEDS = ("arm-none-eabi-gcc", "qemu-system-arm")  # what tests/bench/test_smoke.py requires (bench/README.md)
MLPERF = ROOT / "tests" / "data" / "mlperf-tiny"
MODELS = ("pretrainedResnet_quant.tflite", "kws_ref_model.tflite", "vww_96_int8.tflite", "ad01_int8.tflite",
          "str_ww_ref_model.tflite")
# (label, target profile): each emulated core on its QEMU board
CORES = (("M0", "cortex-m0plus"), ("M3", "lm3s6965evb"), ("M4", "cortex-m4"), ("M7", "cortex-m7"),
         ("M33", "cortex-m33"), ("M55", "cortex-m55"))
JUDGED = ("M4", "M7")
MAX_ERROR = 0.15


@dataclass(frozen=True)
class CalModel:
    name: str
    input_shape: tuple[int, ...]
    build: object  # (keras, x, sparse) -> output; sparse(layer, density) prunes a layer's weights


def _dw_small(k, x, sp):
    L = k.layers
    x = L.Conv2D(16, 3, padding="same", activation="relu")(x)
    x = L.DepthwiseConv2D(3, padding="same", activation="relu")(x)
    x = L.Conv2D(24, 1, activation="relu")(x)
    x = L.DepthwiseConv2D(3, strides=2, padding="same", activation="relu")(x)
    x = L.Conv2D(32, 1, activation="relu")(x)
    x = L.DepthwiseConv2D(3, padding="same", activation="relu")(x)
    x = L.Conv2D(20, 1, activation="relu")(x)
    x = L.DepthwiseConv2D((5, 3), padding="valid")(x)
    x = L.GlobalAveragePooling2D()(x)
    return L.Softmax()(L.Dense(10)(x))


def _one_channel(k, x, sp):
    L = k.layers
    x = L.Conv2D(12, (7, 3), strides=2, padding="same", activation="relu")(x)
    x = L.DepthwiseConv2D(3, padding="same", activation="relu")(x)
    x = L.Conv2D(16, 1, activation="relu")(x)
    x = L.MaxPooling2D(2)(x)
    x = L.Conv2D(20, 3, padding="same", activation="relu")(x)
    x = L.AveragePooling2D(2)(x)
    x = L.Flatten()(x)
    return L.Softmax()(L.Dense(12)(x))


def _one_channel_1d(k, x, sp):  # a 1-D signal as (time, 1, features), depthwise along time
    L = k.layers
    x = L.DepthwiseConv2D((5, 1), activation="relu")(x)
    x = L.Conv2D(48, 1, activation="relu")(x)
    x = L.DepthwiseConv2D((7, 1), activation="relu")(x)
    x = L.Conv2D(48, 1, activation="relu")(x)
    x = L.DepthwiseConv2D((x.shape[1], 1))(x)
    x = L.Conv2D(16, 1, activation="relu")(x)
    x = L.Flatten()(x)
    return L.Softmax()(L.Dense(4)(x))


def _fc(k, x, sp):
    L = k.layers
    x = L.Dense(96, activation="relu")(x)
    x = L.Dense(40, activation="relu")(x)
    x = L.Dense(8, activation="relu")(x)
    x = L.Dense(72, activation="relu")(x)
    x = L.Dense(120, activation="relu")(x)
    return L.Dense(48)(x)


def _pool(k, x, sp):
    L = k.layers
    x = L.MaxPooling2D(2)(x)
    x = L.Conv2D(10, 3, padding="same", activation="relu")(x)
    x = L.AveragePooling2D(3, strides=2, padding="same")(x)
    x = L.MaxPooling2D(3, strides=1, padding="same")(x)
    x = L.Conv2D(24, 3, padding="valid", activation="relu")(x)
    x = L.AveragePooling2D((x.shape[1], x.shape[2]))(x)
    x = L.Flatten()(x)
    return L.Dense(6)(x)


def _residual(k, x, sp):
    L = k.layers
    x = L.Conv2D(12, 3, padding="same", activation="relu")(x)
    y = L.Conv2D(12, 3, padding="same", activation="relu")(x)
    y = L.Conv2D(12, 3, padding="same")(y)
    x = L.ReLU()(L.Add()([x, y]))
    y = L.Conv2D(24, 3, strides=2, padding="same", activation="relu")(x)
    y = L.Conv2D(24, 3, padding="same")(y)
    s = L.Conv2D(24, 1, strides=2)(x)
    x = L.ReLU()(L.Add()([s, y]))
    x = L.Multiply()([x, L.Conv2D(24, 1, activation="sigmoid")(x)])
    x = L.GlobalAveragePooling2D()(x)
    return L.Softmax()(L.Dense(10)(x))


def _sparse(k, x, sp):
    L = k.layers
    x = sp(L.Conv2D(96, 1, activation="relu"), 0.3)(x)
    x = sp(L.Conv2D(96, 1, activation="relu"), 0.05)(x)
    x = sp(L.Conv2D(96, 1, activation="relu"), 0.015)(x)
    x = sp(L.Conv2D(64, 1, activation="relu"), 0.6)(x)
    x = sp(L.Conv2D(48, 3, padding="same", activation="relu"), 0.15)(x)
    x = L.Flatten()(x)
    x = sp(L.Dense(64, activation="relu"), 0.5)(x)
    x = sp(L.Dense(96, activation="relu"), 0.2)(x)
    return sp(L.Dense(32), 0.7)(x)


def _dw_odd(k, x, sp):  # channel counts on and off the depthwise kernel's block of 16, strides 1 and 2
    L = k.layers
    x = L.DepthwiseConv2D(3, padding="same", activation="relu")(x)
    x = L.Conv2D(12, 1, activation="relu")(x)
    x = L.DepthwiseConv2D(3, strides=2, padding="same", activation="relu")(x)
    x = L.Conv2D(40, 1, activation="relu")(x)
    x = L.DepthwiseConv2D(3, padding="same", activation="relu")(x)
    x = L.Conv2D(64, 1, activation="relu")(x)
    x = L.DepthwiseConv2D(3, padding="valid", activation="relu")(x)
    x = L.DepthwiseConv2D(3, strides=2, padding="same", activation="relu")(x)
    x = L.GlobalAveragePooling2D()(x)
    return L.Dense(5)(x)


def _sparse_conv(k, x, sp):
    L = k.layers
    x = sp(L.Conv2D(64, 1, activation="relu"), 0.1)(x)
    x = sp(L.Conv2D(64, 3, padding="same", activation="relu"), 0.05)(x)
    x = sp(L.Conv2D(96, 1, activation="relu"), 0.25)(x)
    x = sp(L.Conv2D(64, 3, strides=2, padding="same", activation="relu"), 0.1)(x)
    x = sp(L.Conv2D(128, 1, activation="relu"), 0.02)(x)
    x = L.GlobalAveragePooling2D()(x)
    return L.Dense(4)(x)


def _big_conv(k, x, sp):
    L = k.layers
    x = L.Conv2D(16, 3, padding="same", activation="relu")(x)
    y = L.Conv2D(16, 3, padding="same", activation="relu")(x)
    x = L.Add()([x, y])
    x = L.Conv2D(32, 3, strides=2, padding="same", activation="relu")(x)
    x = L.Conv2D(32, 3, padding="same", activation="relu")(x)
    x = L.Conv2D(48, 1, activation="relu")(x)
    x = L.Conv2D(64, 3, strides=2, padding="same", activation="relu")(x)
    x = L.Conv2D(40, 3, padding="same", activation="relu")(x)
    x = L.AveragePooling2D(x.shape[1])(x)
    x = L.Flatten()(x)
    return L.Softmax()(L.Dense(10)(x))


def _big_dw(k, x, sp):
    L = k.layers
    x = L.Conv2D(8, 3, strides=2, padding="same", activation="relu")(x)
    for channels, stride in ((16, 1), (24, 2), (24, 1), (48, 2), (48, 1), (96, 2), (96, 1), (160, 1)):
        x = L.DepthwiseConv2D(3, strides=stride, padding="same", activation="relu")(x)
        x = L.Conv2D(channels, 1, activation="relu")(x)
    x = L.AveragePooling2D(x.shape[1])(x)
    x = L.Flatten()(x)
    return L.Softmax()(L.Dense(3)(x))


CAL_MODELS = (
    CalModel("cal_dw_small", (12, 12, 8), _dw_small),
    CalModel("cal_one_channel", (40, 12, 1), _one_channel),
    CalModel("cal_one_channel_1d", (40, 1, 24), _one_channel_1d),
    CalModel("cal_fc", (200,), _fc),
    CalModel("cal_pool", (16, 16, 6), _pool),
    CalModel("cal_residual", (12, 12, 6), _residual),
    CalModel("cal_sparse", (6, 6, 96), _sparse),
    CalModel("cal_dw_odd", (16, 16, 8), _dw_odd),
    CalModel("cal_sparse_conv", (10, 10, 48), _sparse_conv),
    CalModel("cal_big_conv", (24, 24, 3), _big_conv),
    CalModel("cal_big_dw", (64, 64, 3), _big_dw),
)
SMOKE_MODELS = ("cal_dw_small",)


def convert(cal: CalModel, seed: int = 0) -> bytes:
    """The calibration model with seeded random weights (pruned layers keep `density` of theirs),
    fully int8-quantized from a seeded representative dataset."""
    from toolchain.quiet import captured_fds, quiet_tensorflow_env

    quiet_tensorflow_env()
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(seed)
    rng = np.random.default_rng(seed)
    pruned = []

    def sparse(layer, density):
        pruned.append((layer, density))
        return layer

    x = keras.Input(cal.input_shape, batch_size=1)
    model = keras.Model(x, cal.build(keras, x, sparse))
    for layer in model.layers:
        weights = layer.get_weights()
        if weights:
            layer.set_weights([rng.normal(0.0, 0.5, w.shape).astype(np.float32) for w in weights])
    for layer, density in pruned:
        kernel, *rest = layer.get_weights()
        layer.set_weights([kernel * (rng.random(kernel.shape) < density), *rest])
    samples = [rng.normal(0.0, 1.0, (1,) + cal.input_shape).astype(np.float32) for _ in range(16)]
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = lambda: ([s] for s in samples)
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter.inference_input_type = tf.int8
    converter.inference_output_type = tf.int8
    with captured_fds(1, 2):
        return converter.convert()


@dataclass(frozen=True)
class Measured:
    model: str
    core: str
    instructions: float  # per inference
    layers: dict[int, int]  # op index -> instructions
    storage: dict[int, tuple[str, float, int]]  # op index -> (weights format, density, tile): toolchain.latency
    macs: int


def measure(model_path: Path, label: str, out: Path, reuse: bool = False) -> Measured | str:
    """The model's engine (as `edgec build` generates it) in the benchmark firmware of the core's
    profile, one inference on its QEMU board; the reason when it does not fit the board. With
    `reuse`, an earlier measurement of the same model bytes in `out` is taken as it is."""
    import targets
    from firmware_export.firmware import FirmwareOptions, build_firmware
    from toolchain.base.errors import DoesNotFitError
    from toolchain.base.tflite_reader import read_tflite_file
    from toolchain.benchmark import BenchOptions, run_bench
    from toolchain.build import generate
    from toolchain.latency import storage_of

    target = targets.load_target(dict(CORES)[label])
    folder = out / label / model_path.stem
    sha = hashlib.sha256(model_path.read_bytes()).hexdigest()
    cached = folder / "measured.json"
    if reuse and cached.is_file():
        d = json.loads(cached.read_text())
        if d["sha256"] == sha:
            return Measured(d["model"], label, d["instructions"], {int(k): v for k, v in d["layers"].items()},
                            {int(k): tuple(v) for k, v in d["storage"].items()}, d["macs"])
    try:
        engine = generate(read_tflite_file(model_path), model_path.stem.lower(), str(model_path), target).engine
        fw = build_firmware(engine, target, folder, FirmwareOptions(model_label=model_path.name))
        result = run_bench(BenchOptions(target=target, emulate=True, model=model_path, firmware=fw.elf.parent,
                                        runs=1, warmup=0, limit=1, out_dir=folder))
    except DoesNotFitError as exc:
        return str(exc)
    storage = storage_of(engine)
    m = Measured(model_path.name, label, result.per_inference.median, {r.index: r.count for r in result.layers},
                 storage, result.macs)
    cached.write_text(json.dumps({"sha256": sha, "model": m.model, "instructions": m.instructions, "layers": m.layers,
                                  "storage": m.storage, "macs": m.macs}))
    return m


def nonnegative_lstsq(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Least squares with every coefficient >= 0: the most negative one is fixed at 0 and the rest
    refitted, until none is negative (deterministic; a handful of columns)."""
    free = list(range(a.shape[1]))
    x = np.zeros(a.shape[1])
    while free:
        sol, *_ = np.linalg.lstsq(a[:, free], b, rcond=None)
        if (sol >= 0).all():
            x[free] = sol
            break
        free.pop(int(np.argmin(sol)))
    return x


def fit_core(core: str, runs: list[Measured], counts_of) -> tuple[dict, float, dict]:
    """Per kind: the costs (per call first, then KINDS' units), the layers fitted and the RMS relative
    error; and the per-inference overhead."""
    from targets.latency import KINDS

    rows: dict[str, list[tuple[list[float], float]]] = {}
    overhead = []
    for m in runs:
        layers = counts_of(m)
        for la in layers:
            y = m.layers.get(la.index)
            if y:
                rows.setdefault(la.kind, []).append(([1.0] + [float(la.counts.get(u, 0)) for u in KINDS[la.kind]],
                                                     float(y)))
        overhead.append(m.instructions - sum(m.layers.values()))
    fitted = {}
    for kind in KINDS:
        if kind not in rows:
            continue
        a = np.array([r for r, _ in rows[kind]])
        y = np.array([v for _, v in rows[kind]])
        coef = nonnegative_lstsq(a / y[:, None], np.ones_like(y))  # relative error: every layer weighs alike
        rel = a @ coef / y - 1.0
        fitted[kind] = {"coef": coef, "layers": len(y), "rms": float(np.sqrt(np.mean(rel ** 2))),
                        "worst": float(np.max(np.abs(rel)))}
    return fitted, max(0.0, float(np.mean(overhead))), rows


def keep_underdetermined(fitted: dict, earlier) -> dict:
    """A kind this run fitted from fewer layers than it has costs (its fit is not determined: the
    old depthwise kernel, which the calibration models now reach once) keeps the earlier file's
    costs for it, when that file fitted it from enough layers."""
    from targets.latency import KINDS

    out = dict(fitted)
    for kind, f in fitted.items():
        old = earlier.kinds.get(kind) if earlier is not None else None
        needed = 1 + len(KINDS[kind])
        if f["layers"] < needed and old is not None and old.layers_fitted >= needed:
            out[kind] = {"coef": [old.per_call] + [old.per_unit[u] for u in KINDS[kind]], "layers": old.layers_fitted,
                         "note": f"kept from the earlier fit ({old.note}): this run reached {f['layers']} layer(s)"}
    return out


def core_toml(core: str, machine: str, fitted: dict, overhead: float, models: list[str]) -> str:
    from targets.latency import KINDS

    lines = [f"# The C engine's cost on {core}, per op kind, in instructions (QEMU {machine}, -icount).",
             "# Written by bench/latency_calibrate.py: do not edit; run it again when the engine's kernels change.",
             "# A layer costs instructions_per_call + the sum of instructions_per_<unit> x its count of <unit>",
             "# (targets/latency.py says what each unit counts). layers_fitted: calibration layers of the kind;",
             "# note: the RMS and worst relative error of the fitted layer counts against the measured ones.",
             f'core = "{core}"',
             f'machine = "{machine}"',
             f'source = "bench/latency_calibrate.py: {len(models)} calibration models on QEMU {machine}"',
             "",
             "[inference]",
             f"instructions_per_call = {overhead:.1f}"]
    for kind, f in fitted.items():
        lines += ["", f"[{kind}]", f"instructions_per_call = {f['coef'][0]:.1f}"]
        lines += [f"instructions_per_{u} = {c:.4f}" for u, c in zip(KINDS[kind], f["coef"][1:])]
        note = f.get("note") or f"rms relative error {f['rms']:.3f}, worst {f['worst']:.3f}"
        lines += [f"layers_fitted = {f['layers']}", f'note = "{note}"']
    return "\n".join(lines) + "\n"


def tflm_reference(models: list[tuple[Path, int]], folder: Path) -> tuple[float, str]:
    """x86-64 instructions per MAC of tflite-micro's host interpreter (its reference kernels) over the
    models, by callgrind (only MicroInterpreter::Invoke is counted)."""
    from cengine_callgrind import TFLM_SCRIPT, callgrind, tflm_invoke_symbol

    from toolchain.base.tflite_reader import read_tflite_file

    symbol = tflm_invoke_symbol()
    (folder / "tflm.py").write_text(TFLM_SCRIPT)
    total, macs = 0, 0
    for path, n_macs in models:
        from firmware_export.cengine import generate_engine

        engine = generate_engine(read_tflite_file(path), path.stem, str(path))
        np.random.default_rng(0).integers(-128, 128, engine.input_bytes).astype(np.int8).tofile(folder / "input.bin")
        total += callgrind([sys.executable, str(folder / "tflm.py"), str(path), str(folder / "input.bin")], symbol,
                           folder)
        macs += n_macs
    return total / macs, f"callgrind of tflite-micro's host interpreter (x86-64) over {len(models)} calibration models"


def main(argv=None) -> int:
    import targets
    from targets.latency import read_core_latency
    from toolchain.base.tflite_reader import read_tflite_file
    from toolchain.latency import estimate_with, model_counts

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cores", nargs="+", default=[c for c, _ in CORES], choices=[c for c, _ in CORES])
    parser.add_argument("--out", type=Path, default=None, help="where the data files go (default targets/latency)")
    parser.add_argument("--work", type=Path, default=None, help="build folder (default: a temporary one)")
    parser.add_argument("--reuse", action="store_true", help="reuse the models of an earlier run into the same "
                        "--work folder (not converted again); a model's measurements are reused while its bytes match")
    parser.add_argument("--no-tflm", action="store_true", help="leave the TFLM reference file as it is")
    parser.add_argument("--smoke", action="store_true", help="M7 from one small model, into a temporary folder")
    args = parser.parse_args(argv)
    work = args.work or Path(tempfile.mkdtemp(prefix="edgec-latency-"))
    cores = ["M7"] if args.smoke else args.cores
    names = SMOKE_MODELS if args.smoke else tuple(c.name for c in CAL_MODELS)
    out = args.out or (work / "latency" if args.smoke else ROOT / "targets" / "latency")
    out.mkdir(parents=True, exist_ok=True)

    cal_paths = []
    for cal in CAL_MODELS:
        if cal.name in names:
            path = work / "models" / f"{cal.name}.tflite"
            path.parent.mkdir(parents=True, exist_ok=True)
            if not (args.reuse and path.is_file()):
                path.write_bytes(convert(cal))
            cal_paths.append(path)
    counts_of = lambda m: model_counts(read_tflite_file(work / "models" / m.model), m.storage)  # noqa: E731

    validate = cal_paths if args.smoke else [MLPERF / name for name in MODELS]
    seen: dict[tuple[str, Path], Measured] = {}
    written = {}
    for label in cores:
        profile = dict(CORES)[label]
        target = targets.load_target(profile)
        runs = []
        for path in cal_paths:
            m = measure(path, label, work / "cal", args.reuse)
            if isinstance(m, str):
                print(f"{label} {path.stem}: left out ({m})")
                continue
            runs.append(m)
            seen[(label, path)] = m
        if not runs:
            print(f"{label}: no calibration model fits {target.emulator.machine}")
            continue
        fitted, overhead, _ = fit_core(target.core, runs, counts_of)
        file = out / f"{target.core}.toml"
        fitted = keep_underdetermined(fitted, read_core_latency(file) if file.is_file() else None)
        file.write_text(core_toml(target.core, target.emulator.machine, fitted, overhead, [m.model for m in runs]))
        written[label] = read_core_latency(file)
        print(f"{label} ({target.core} on {target.emulator.machine}): {len(runs)} models -> {file}")
        for kind, f in fitted.items():
            fit = f["note"] if "note" in f else f"rms {f['rms']:.3f}  worst {f['worst']:.3f}"
            print(f"  {kind:24} {f['layers']:3} layers  {fit}  " + " ".join(f"{c:.4g}" for c in f["coef"]))

    if not args.smoke and not args.no_tflm and shutil.which("valgrind"):
        macs = [(p, sum(c.counts.get("mac", 0) for c in model_counts(read_tflite_file(p)))) for p in cal_paths]
        per_mac, source = tflm_reference(macs, work)
        (out / "tflm-reference.toml").write_text(
            "# TFLM's reference kernels: x86-64 instructions per MAC of the tflite-micro host interpreter, not an Arm\n"
            "# figure. Written by bench/latency_calibrate.py; an order of magnitude for TFLM builds, labelled so.\n"
            f"x86_instructions_per_mac = {per_mac:.3f}\nsource = \"{source}\"\n")
        print(f"TFLM reference: {per_mac:.3f} x86-64 instructions per MAC")

    print(f"\n{'core':4} {'model':30} {'estimated':>12} {'measured':>12} {'error':>7}")
    verdicts = []
    for label, data in written.items():
        target = targets.load_target(dict(CORES)[label])
        for path in validate:
            name = path.name
            m = seen.get((label, path)) or measure(path, label, work / "val", args.reuse)
            if isinstance(m, str):
                print(f"{label:4} {name:30} does not fit {target.emulator.machine}")
                continue
            est = estimate_with(read_tflite_file(path), data, target.clock_hz, m.storage)
            err = est.instructions / m.instructions - 1.0
            print(f"{label:4} {name:30} {est.instructions:>12,.0f} {m.instructions:>12,.0f} {err:>+7.1%}")
            if label in JUDGED and not args.smoke:
                verdicts.append((f"{label} {name}: estimate within {MAX_ERROR:.0%} ({err:+.1%})", abs(err) <= MAX_ERROR))
    for text, ok in verdicts:
        print(("PASS " if ok else "MISS ") + text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
