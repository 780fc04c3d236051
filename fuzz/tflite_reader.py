"""Fuzz target: the .tflite reader and verifier (toolchain.base.tflite_reader), and the analysis
that `inspect` and `check` compute from what it returns.

Property (`check`): any bytes end in a clean EdgecError (ModelLoadError and its subclasses) or in
a model whose analysis completes; never another exception, never a signal, never a hang.

    python fuzz/tflite_reader.py CORPUS_DIR [libFuzzer flags, e.g. -runs=2000 -max_total_time=60]

Seeds (`--write-seeds DIR`): tests/data/mlperf-tiny/*.tflite. Inputs that once broke the property
live in tests/data/fuzz-regressions/tflite_reader/ and are replayed by the tests.
"""
from __future__ import annotations

INSTRUMENT = ("toolchain.analysis", "toolchain.base.tflite_reader")


def check(data: bytes) -> None:
    from toolchain.analysis import analyse
    from toolchain.base.errors import EdgecError
    from toolchain.base.tflite_reader import read_tflite

    try:
        model = read_tflite(data, "fuzz.tflite")
    except EdgecError:
        return
    analyse(model)


def seeds() -> dict[str, bytes]:
    from fuzz._harness import REPO

    return {p.name: p.read_bytes() for p in sorted((REPO / "tests/data/mlperf-tiny").glob("*.tflite"))}


if __name__ == "__main__":
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from fuzz._harness import run_as_script

    run_as_script("fuzz.tflite_reader")
