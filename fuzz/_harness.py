"""What every fuzz target shares: its command line, its seeds, and a scratch file for the bytes.

    python fuzz/<target>.py CORPUS_DIR [libFuzzer flags]   fuzz (atheris)
    python fuzz/<target>.py --write-seeds DIR              write the target's seed inputs into DIR

A target module defines check(data) (the property: a clean EdgecError or success; anything else
escapes as a crash), seeds() (name -> bytes) and INSTRUMENT (the modules to instrument).
"""
from __future__ import annotations

import atexit
import os
import shutil
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
_SCRATCH: Path | None = None


def scratch_file(data: bytes, suffix: str) -> Path:
    """`data` in a file with `suffix` (the readers choose by it), in this process's scratch folder."""
    global _SCRATCH
    if _SCRATCH is None:
        _SCRATCH = Path(tempfile.mkdtemp(prefix="edgec-fuzz-"))
        atexit.register(shutil.rmtree, _SCRATCH, True)
    path = _SCRATCH / f"input{suffix}"
    path.write_bytes(data)
    return path


def main(module) -> None:
    argv = sys.argv
    if len(argv) == 3 and argv[1] == "--write-seeds":
        folder = Path(argv[2])
        folder.mkdir(parents=True, exist_ok=True)
        for name, data in module.seeds().items():
            (folder / name).write_bytes(data)
        return
    import importlib

    import atheris

    with atheris.instrument_imports():  # the code under test, imported here to be instrumented
        for name in module.INSTRUMENT:
            importlib.import_module(name)
    atheris.Setup(argv, module.check)
    atheris.Fuzz()


def run_as_script(module_name: str) -> None:
    sys.path.insert(0, str(REPO))
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    main(__import__(module_name, fromlist=["check"]))
