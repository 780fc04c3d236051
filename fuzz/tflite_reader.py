"""Fuzz target: the .tflite reader and verifier (toolchain.base.tflite_reader), and the analysis
that `inspect` and `check` compute from what it returns.

Property (`check`): any bytes end in a clean EdgecError (ModelLoadError and its subclasses) or in
a model whose analysis completes; never another exception, never a signal, never a hang.

    python fuzz/tflite_reader.py CORPUS_DIR [libFuzzer flags, e.g. -runs=2000 -max_total_time=60]

Seeds: tests/data/mlperf-tiny/*.tflite (copy them into a scratch corpus folder: libFuzzer adds
the inputs it finds to the first folder it is given). Inputs that once broke the property live in
tests/data/fuzz-regressions/tflite_reader/ and are replayed by the tests.
"""
from __future__ import annotations

import sys


def check(data: bytes) -> None:
    from toolchain.analysis import analyse
    from toolchain.base.errors import EdgecError
    from toolchain.base.tflite_reader import read_tflite

    try:
        model = read_tflite(data, "fuzz.tflite")
    except EdgecError:
        return
    analyse(model)


def main(argv: list[str]) -> None:
    import atheris

    with atheris.instrument_imports():  # the code under test, imported here to be instrumented
        import toolchain.analysis  # noqa: F401
        import toolchain.base.tflite_reader  # noqa: F401
    atheris.Setup(argv, check)
    atheris.Fuzz()


if __name__ == "__main__":
    sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parent.parent))
    main(sys.argv)
