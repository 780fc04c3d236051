"""Malformed models against the commands (targets: 0 deaths by a signal, 0 internal errors, 0 FITS
verdicts on a model that crashes TFLM, 0 files left outside -o).

Mutates the MLPerf Tiny models (and, with --example, the bundled example converted to int8) with a
seeded mix of edits: bit flips, truncations, appended bytes, and field edits through the TFLite
schema's object API (tensor shapes, types and scales, operator indices and window options). Each
mutated file goes through `edgec check`, `inspect`, `build` and `validate --runtime c`, each in a
process of its own under a timeout, in its own folder with a private TMPDIR; the table counts each
command's exit codes (a death by a signal is a negative code, as the process's wait status says).

Each command runs in a child forked from this process, which has imported what the commands import
(found by running each once on an unmutated model; never TensorFlow), so a run costs the command's
work, not Python's start-up: the child changes to its folder, sets TMPDIR, sends its output to a
file and calls the CLI's `main` with the arguments. `--fresh-processes` execs a new Python process
in that child instead (`python -m toolchain.cli ...`, about 3 s more per run). `--jobs` children
run at once.

    .venv/bin/python bench/malformed_models.py [--count 1000] [--seed 0] [--example] [--jobs 2]
        [--fresh-processes] [--codes-out codes.json] [--smoke]

--smoke: a few mutations of one model, through check and inspect.
"""
from __future__ import annotations

import argparse
import collections
import importlib
import json
import math
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path

# One thread per BLAS/OpenMP library (for the forked children as for new processes): a pool started
# at import would be copied into each fork without its threads.
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
MODELS = REPO / "tests" / "data" / "mlperf-tiny"
NEEDS = ()  # what tests/bench/test_smoke.py requires before running --smoke (bench/README.md)
TIMEOUT_S = 300
TIMEOUT = -999  # the exit code recorded for a run killed at its deadline
_NOT_PRELOADED = {"tensorflow", "keras", "tf_keras", "tensorboard", "jax", "torch"}  # no .tflite command needs them
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


@dataclass
class Run:
    """One command on one mutated model, in a folder of its own (`work`: the model, `out` for -o and
    `tmp` for TMPDIR); its output goes to `log`, outside `work`."""
    n: int
    command: str
    kind: str
    model: Path
    log: Path
    code: int | None = None  # exit status; -N killed by signal N; TIMEOUT past the deadline
    stray: list[str] = field(default_factory=list)

    @property
    def work(self) -> Path:
        return self.model.parent

    def argv(self) -> list[str]:
        return [a.format(model=self.model, out=self.work / "out") for a in COMMANDS[self.command]]

    def env(self) -> dict[str, str]:
        return {**os.environ, "PYTHONPATH": str(REPO), "TMPDIR": str(self.work / "tmp"), "TF_CPP_MIN_LOG_LEVEL": "3"}


def _threads() -> list[str]:
    names = []
    for task in sorted(os.listdir("/proc/self/task")):
        try:
            names.append(Path(f"/proc/self/task/{task}/comm").read_text().strip())
        except OSError:
            pass
    return names


def _exit_code(exc: SystemExit) -> int:
    return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)


def _child(run: Run, fresh: bool, modules_out: Path | None) -> None:
    """In the forked child: become the command. Never returns."""
    code = 1
    try:
        os.setpgid(0, 0)  # a timeout kills the command with the compilers and probes it started
        log = os.open(run.log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.dup2(log, 1)
        os.dup2(log, 2)
        os.chdir(run.work)
        env = run.env()
        if fresh:  # today's behaviour: a new Python process
            os.execve(sys.executable, [sys.executable, "-m", "toolchain.cli", *run.argv()], env)
        os.environ.clear()
        os.environ.update(env)
        tempfile.tempdir = None  # read TMPDIR again, as a fresh process does
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        from toolchain.cli import main as edgec

        try:
            edgec(run.argv())
        except SystemExit as exc:
            code = _exit_code(exc)
        else:
            code = 0
        if modules_out is not None:
            modules_out.write_text("\n".join(sys.modules))
    except SystemExit as exc:
        code = _exit_code(exc)
    except BaseException:  # noqa: BLE001 - what escapes a fresh process's main is a traceback and exit 1
        traceback.print_exc()
        code = 1
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code)


def _spawn(run: Run, fresh: bool, modules_out: Path | None = None) -> int:
    if not fresh and len(_threads()) > 1:  # a fork copies one thread: a pool's locks could be held
        raise SystemExit(f"threads running before fork: {_threads()}")
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:
        _child(run, fresh, modules_out)
    try:
        os.setpgid(pid, pid)
    except OSError:  # the child did it first, or has already exec'd
        pass
    return pid


def _status(status: int) -> int:
    return -os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)


def _finish(run: Run, repo_listing: set[str]) -> None:
    """The files the run left in its folder, its TMPDIR and the repository; then its folder goes."""
    tmp = run.work / "tmp"
    run.stray = [p.name for p in run.work.iterdir() if p.name not in (run.model.name, "out", "tmp")]
    run.stray += [f"$TMPDIR/{p.name}" for p in tmp.iterdir()] if tmp.is_dir() else ["$TMPDIR removed"]
    run.stray += [f"{REPO.name}/{name}" for name in sorted(set(os.listdir(REPO)) - repo_listing)]


def run_all(runs, jobs: int, fresh: bool, on_done) -> None:
    """Run each command (`runs` yields (Run, the model's bytes)) as a child (a fork of this process,
    or with --fresh-processes a new Python process), `jobs` at a time, each under TIMEOUT_S;
    `on_done(run)` as each one ends."""
    repo_listing = set(os.listdir(REPO))
    pending = iter(runs)
    running: dict[int, tuple[Run, float]] = {}
    try:
        while True:
            while len(running) < jobs:
                run, data = next(pending, (None, None))
                if run is None:
                    break
                (run.work / "tmp").mkdir(parents=True)
                run.model.write_bytes(data)
                running[_spawn(run, fresh)] = (run, time.monotonic() + TIMEOUT_S)
            if not running:
                break
            pid, status = os.waitpid(-1, os.WNOHANG)
            if pid == 0:
                now = time.monotonic()
                for pid, (run, deadline) in list(running.items()):
                    if now > deadline:
                        _kill(pid)
                        os.waitpid(pid, 0)
                        run.code = TIMEOUT
                        del running[pid]
                        _done(run, repo_listing, on_done)
                time.sleep(0.02)
                continue
            run, _ = running.pop(pid)
            run.code = _status(status)
            _done(run, repo_listing, on_done)
    finally:
        for pid in running:
            _kill(pid)
            os.waitpid(pid, 0)


def _kill(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except OSError:
        os.kill(pid, signal.SIGKILL)


def _done(run: Run, repo_listing: set[str], on_done) -> None:
    _finish(run, repo_listing)
    on_done(run)
    shutil.rmtree(run.work, ignore_errors=True)


def preload(commands: list[str], seed: Path, scratch: Path) -> list[str]:
    """Import here what the commands import, so that each forked child starts with it: each command
    runs once on an unmutated seed model in a child that lists its modules. TensorFlow is not
    imported (no .tflite command needs it); returns the modules a command imported that were left out."""
    data = seed.read_bytes()
    wanted: list[str] = []
    for i, command in enumerate(commands):
        run = Run(-1 - i, command, "none", scratch / f"warm-{command}" / seed.name, scratch / f"warm-{command}.log")
        (run.work / "tmp").mkdir(parents=True)
        run.model.write_bytes(data)
        listing = scratch / f"warm-{command}.modules"
        pid = _spawn(run, False, listing)
        code = _status(os.waitpid(pid, 0)[1])
        if code not in (0, 3) or not listing.exists():
            raise SystemExit(f"{command} on {seed.name} failed (exit {code}):\n{run.log.read_text()[-3000:]}")
        wanted += [m for m in listing.read_text().split("\n") if m not in wanted]
        shutil.rmtree(run.work)
    skipped = []
    for name in wanted:
        if name in sys.modules or name == "__main__":
            continue
        if name.split(".")[0] in _NOT_PRELOADED:
            skipped.append(name)
            continue
        try:
            importlib.import_module(name)
        except Exception:  # noqa: BLE001 - a module that only imports inside its package's import
            pass
    if len(_threads()) > 1:
        raise SystemExit(f"importing the commands' modules started threads: {_threads()}")
    return skipped


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
    parser.add_argument("--count", type=int, help="mutated models, spread over the seed models (1000; 5 with --smoke)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--example", action="store_true", help="also mutate the bundled example (needs TensorFlow)")
    parser.add_argument("--commands", default=",".join(COMMANDS), help="comma-separated: " + ", ".join(COMMANDS))
    parser.add_argument("--jobs", type=int, default=2, help="commands running at once")
    parser.add_argument("--fresh-processes", action="store_true",
                        help="each command a new Python process (slower) instead of a fork of this one")
    parser.add_argument("--codes-out", type=Path, help="write each run's exit code here (JSON)")
    parser.add_argument("--smoke", action="store_true", help="5 mutations of one model, check and inspect")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # the children killed, the scratch folder removed
    commands = args.commands.split(",")
    seeds = sorted(MODELS.glob("*.tflite"))
    if args.smoke:
        seeds, commands = [MODELS / "kws_ref_model.tflite"], ["check", "inspect"]
    args.count = args.count if args.count is not None else 5 if args.smoke else 1000
    rng = random.Random(args.seed)
    codes: dict[str, collections.Counter] = {c: collections.Counter() for c in commands}
    problems: list[str] = []
    per_run: list[dict] = []
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="edgec_malformed_") as scratch:
        scratch = Path(scratch)
        if args.example:
            seeds.append(_example_tflite(scratch))
        if not args.fresh_processes:
            skipped = preload(commands, seeds[0], scratch)
            if skipped:
                print(f"not preloaded (imported by a command): {sorted({m.split('.')[0] for m in skipped})}")
        sources = {p: p.read_bytes() for p in seeds}

        def runs():  # the mutations in order, one after the other: the models do not depend on --jobs
            for n in range(args.count):
                seed_path = seeds[n % len(seeds)]
                kind, data = mutate(sources[seed_path], rng)
                for command in commands:
                    yield Run(n, command, kind, scratch / f"m{n}-{command}" / f"{seed_path.stem}-m{n}.tflite",
                              scratch / f"m{n}-{command}.log"), data

        left = {n: len(commands) for n in range(args.count)}
        crashes: dict[int, bool] = {}

        def missed(line: str) -> None:
            problems.append(line)
            print("MISSED:", line, flush=True)

        def on_done(run: Run) -> None:
            codes[run.command][run.code] += 1
            text = run.log.read_text(errors="replace")
            label = f"{run.model.name} ({run.kind}) {run.command}"
            per_run.append({"model": run.model.name, "kind": run.kind, "command": run.command, "code": run.code})
            if run.code < 0:
                missed(f"{label}: {'timeout' if run.code == TIMEOUT else f'signal {-run.code}'}")
            elif run.code == 1:
                missed(f"{label}: exit 1: {text.strip().splitlines()[-1:]}")
            if run.stray:
                missed(f"{label}: files left outside -o: {run.stray}")
            if run.command in ("check", "build") and run.code == 0:
                if run.n not in crashes:
                    crashes[run.n] = _crashes_tflm(run.model)
                if crashes[run.n]:
                    missed(f"{label}: FITS, but TFLM crashes on the model")
            if run.code < 0 or run.code == 1:  # keep the input that broke a target
                keep = Path.cwd() / "malformed-failures"
                keep.mkdir(exist_ok=True)
                shutil.copy(run.model, keep / run.model.name)
            run.log.unlink()
            left[run.n] -= 1
            if not left[run.n]:
                finished = sum(1 for v in left.values() if not v)
                if finished % 50 == 0:
                    print(f"[{time.monotonic() - started:5.0f} s] {finished} models, "
                          f"{sum(sum(c.values()) for c in codes.values())} runs, {len(problems)} missed", flush=True)

        run_all(runs(), max(1, args.jobs), args.fresh_processes, on_done)
    wall = time.monotonic() - started
    all_codes = sorted({c for v in codes.values() for c in v})
    print(f"{args.count} mutated models from {len(seeds)} seed models (seed {args.seed}), "
          f"{sum(sum(c.values()) for c in codes.values())} runs, {'fresh processes' if args.fresh_processes else 'forked'}, "
          f"{args.jobs} at a time, {wall:.0f} s")
    print(f"{'command':<10}" + "".join(f"{'exit ' + str(c):>10}" for c in all_codes))
    for command in commands:
        print(f"{command:<10}" + "".join(f"{codes[command][c]:>10}" for c in all_codes))
    print(f"(exit -N: killed by signal N; {TIMEOUT}: timeout)")
    deaths = sum(n for v in codes.values() for c, n in v.items() if c < 0 and c != TIMEOUT)
    print(f"deaths by signal {deaths}, timeouts {sum(v[TIMEOUT] for v in codes.values())}, "
          f"exit 1 {sum(v[1] for v in codes.values())}, FITS on a model TFLM crashes on "
          f"{sum('FITS, but' in p for p in problems)}, runs leaving files outside -o "
          f"{sum('files left outside' in p for p in problems)}")
    if args.codes_out:
        per_run.sort(key=lambda r: (int(r["model"].rsplit("-m", 1)[1].split(".")[0]), r["command"]))
        args.codes_out.write_text(json.dumps(per_run, indent=0))
    print(f"targets: {'all met' if not problems else f'{len(problems)} missed'}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
