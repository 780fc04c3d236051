"""Malformed models against the commands (targets: 0 deaths by a signal, 0 internal errors, 0 FITS
verdicts on a model that crashes TFLM, 0 files left outside -o).

Mutates the MLPerf Tiny models (and, with --example, the bundled example converted to int8) with a
seeded mix of edits: bit flips, truncations, appended bytes, and field edits through the TFLite
schema's object API (tensor shapes, types and scales, operator indices and window options). Each
mutated file goes through `edgec check`, `inspect`, `build` and `validate --runtime c` as fresh
processes under a timeout; the table counts each command's exit codes.

    .venv/bin/python bench/malformed_models.py [--count 1000] [--seed 0] [--example] [--smoke]

--smoke: a few mutations of one model, through check and inspect.
"""
from __future__ import annotations

import argparse
import collections
import math
import os
import random
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
MODELS = REPO / "tests" / "data" / "mlperf-tiny"
NEEDS = ()  # what tests/bench/test_smoke.py requires before running --smoke (bench/README.md)
TIMEOUT_S = 300
COMMANDS = {
    "check": ["check", "{model}", "-t", "cortex-m7"],
    "inspect": ["inspect", "{model}"],
    "build": ["build", "{model}", "-t", "cortex-m7", "-o", "{out}"],
    "validate": ["validate", "{model}", "--runtime", "c", "--count", "2"],
}
_VALUES = (0, 1, -1, 2, 3, 7, 255, 65535, -(2 ** 31), 2 ** 31 - 1, 10 ** 6)
_SCALES = (math.inf, -math.inf, math.nan, 0.0, -0.5, 1e-38, 1e38, 3.0)


def _schema():
    from toolchain.base.tflite_reader import _schema as schema

    return schema()


def _unpack(data: bytes):
    from toolchain.base.tflite_reader import unpack_model

    return unpack_model(data)


def _pack(model_t) -> bytes:
    from toolchain.base.tflite_reader import pack_model

    return pack_model(model_t)


def _edit_fields(data: bytes, rng: random.Random) -> bytes:
    m = _unpack(data)
    sg = m.subgraphs[0]
    kind = rng.choice(("shape", "rank", "input", "output", "scale", "zero_point", "type", "options", "opcode"))
    tensor = rng.choice(sg.tensors)
    op = rng.choice(sg.operators)
    if kind == "shape":
        shape = [int(d) for d in (tensor.shape if tensor.shape is not None else [1])] or [1]
        shape[rng.randrange(len(shape))] = rng.choice(_VALUES)
        tensor.shape = np.array(shape, np.int32)
    elif kind == "rank":
        shape = [int(d) for d in (tensor.shape if tensor.shape is not None else [])]
        shape = shape[:-1] if shape and rng.random() < 0.5 else shape + [rng.choice((1, 2, 3))]
        tensor.shape, tensor.shapeSignature = np.array(shape, np.int32), None
    elif kind in ("input", "output"):
        values = [int(x) for x in (op.inputs if kind == "input" else op.outputs)]
        if values:
            values[rng.randrange(len(values))] = rng.choice(_VALUES + (rng.randrange(len(sg.tensors)),))
            setattr(op, kind + "s", np.array(values, np.int32))
    elif kind in ("scale", "zero_point"):
        q = tensor.quantization
        if q is not None and q.scale is not None and len(q.scale):
            if kind == "scale":
                scales = np.array(q.scale, np.float32)
                scales[rng.randrange(len(scales))] = rng.choice(_SCALES)
                q.scale = scales
            else:
                q.zeroPoint = np.array([rng.choice((-1000, 1000, 2 ** 40, 127))] * len(q.scale), np.int64)
    elif kind == "type":
        tensor.type = rng.choice((0, 1, 2, 3, 4, 6, 7, 9, 17, 99))
    elif kind == "options" and op.builtinOptions is not None:
        keys = [k for k, v in vars(op.builtinOptions).items() if isinstance(v, int) and not isinstance(v, bool)]
        if keys:
            setattr(op.builtinOptions, rng.choice(keys), rng.choice(_VALUES[:7]))
    elif kind == "opcode":
        op.opcodeIndex = rng.choice((len(m.operatorCodes), 255, rng.randrange(len(m.operatorCodes))))
    return _pack(m)


def mutate(data: bytes, rng: random.Random) -> tuple[str, bytes]:
    """One seeded mutation of a .tflite file: (what was done, the new bytes)."""
    kind = rng.choice(("flip", "truncate", "append", "fields", "fields", "fields"))
    if kind == "flip":
        out = bytearray(data)
        for _ in range(rng.randint(1, 8)):
            pos = rng.randrange(len(out))
            out[pos] ^= 1 << rng.randrange(8)
        return kind, bytes(out)
    if kind == "truncate":
        return kind, data[:rng.randrange(len(data))]
    if kind == "append":
        return kind, data + rng.randbytes(rng.randint(1, 256))
    try:
        return kind, _edit_fields(data, rng)
    except (TypeError, ValueError, OverflowError, AttributeError):  # a value the writer refuses: flip instead
        return mutate(data, rng)


def _crashes_tflm(model: Path) -> bool:
    """Whether the tflite-micro interpreter dies on one inference of the model (in a forked child)."""
    from toolchain.base.errors import EdgecError, ModelCrashError
    from toolchain.base.tflite_reader import read_tflite
    from toolchain.oracle import try_inference

    try:
        tflite = read_tflite(model.read_bytes())
        specs = [(tflite.main.tensors[i].shape, tflite.main.tensors[i].dtype) for i in tflite.main.inputs]
        try_inference(model.read_bytes(), specs, 1 << 24, str(model), timeout_s=60)
    except ModelCrashError:
        return True
    except EdgecError:
        return False
    return False


def run_command(name: str, model: Path, work: Path) -> tuple[int, str, list[str]]:
    """(exit code, negative for a signal; its output; files left in `work` beside the model and -o)."""
    out = work / "out"
    tmp = work / "tmp"
    tmp.mkdir()
    args = [a.format(model=model, out=out) for a in COMMANDS[name]]
    env = {**os.environ, "PYTHONPATH": str(REPO), "TMPDIR": str(tmp), "TF_CPP_MIN_LOG_LEVEL": "3"}
    try:
        proc = subprocess.run([sys.executable, "-m", "toolchain.cli", *args], cwd=work, env=env,
                              capture_output=True, text=True, timeout=TIMEOUT_S, stdin=subprocess.DEVNULL)
        code, text = proc.returncode, proc.stdout + proc.stderr
    except subprocess.TimeoutExpired:
        code, text = -999, "timeout"
    stray = [p.name for p in work.iterdir() if p.name not in (model.name, "out", "tmp")]
    stray += [f"$TMPDIR/{p.name}" for p in tmp.iterdir()]
    shutil.rmtree(tmp, ignore_errors=True)
    shutil.rmtree(out, ignore_errors=True)
    return code, text, stray


def _example_tflite(folder: Path) -> Path:
    path = folder / "example.tflite"
    proc = subprocess.run([sys.executable, "-m", "toolchain.cli", "build", str(REPO / "examples" / "fashion_cnn.keras"),
                           "-t", "cortex-m7", "--calib", str(REPO / "examples" / "fashion_calib.npz"), "-o",
                           str(folder / "example")], capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(REPO)})
    if proc.returncode != 0:
        raise SystemExit(f"building the example failed:\n{proc.stderr}")
    shutil.copy(folder / "example" / "model.tflite", path)
    return path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1000, help="mutated models (spread over the seed models)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--example", action="store_true", help="also mutate the bundled example (needs TensorFlow)")
    parser.add_argument("--commands", default=",".join(COMMANDS), help="comma-separated: " + ", ".join(COMMANDS))
    parser.add_argument("--smoke", action="store_true", help="5 mutations of one model, check and inspect")
    args = parser.parse_args()
    commands = args.commands.split(",")
    seeds = sorted(MODELS.glob("*.tflite"))
    if args.smoke:
        args.count, seeds, commands = 5, [MODELS / "kws_ref_model.tflite"], ["check", "inspect"]
    rng = random.Random(args.seed)
    codes: dict[str, collections.Counter] = {c: collections.Counter() for c in commands}
    problems: list[str] = []
    with tempfile.TemporaryDirectory(prefix="edgec_malformed_") as scratch:
        scratch = Path(scratch)
        if args.example:
            seeds.append(_example_tflite(scratch))
        sources = {p: p.read_bytes() for p in seeds}
        for n in range(args.count):
            seed_path = seeds[n % len(seeds)]
            kind, data = mutate(sources[seed_path], rng)
            for command in commands:
                work = scratch / f"m{n}-{command}"
                work.mkdir()
                model = work / f"{seed_path.stem}-m{n}.tflite"
                model.write_bytes(data)
                code, text, stray = run_command(command, model, work)
                codes[command][code] += 1
                label = f"{model.name} ({kind}) {command}"
                if code < 0:
                    problems.append(f"{label}: {'timeout' if code == -999 else f'signal {-code}'}")
                elif code == 1:
                    problems.append(f"{label}: exit 1: {text.strip().splitlines()[-1:]}")
                if stray:
                    problems.append(f"{label}: files left outside -o: {stray}")
                if command == "check" and code == 0 and _crashes_tflm(model):
                    problems.append(f"{label}: FITS, but TFLM crashes on the model")
                if code < 0 or code == 1:  # keep the input that broke a target
                    keep = Path.cwd() / "malformed-failures"
                    keep.mkdir(exist_ok=True)
                    shutil.copy(model, keep / model.name)
                shutil.rmtree(work, ignore_errors=True)
    print(f"{args.count} mutated models from {len(seeds)} seed models (seed {args.seed})")
    print(f"{'command':<10}" + "".join(f"{'exit ' + str(c):>10}" for c in sorted({c for v in codes.values() for c in v})))
    all_codes = sorted({c for v in codes.values() for c in v})
    for command in commands:
        print(f"{command:<10}" + "".join(f"{codes[command][c]:>10}" for c in all_codes))
    print("(exit -N: killed by signal N; -999: timeout)")
    for line in problems:
        print("MISSED:", line)
    print(f"targets: {'all met' if not problems else f'{len(problems)} missed'}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
