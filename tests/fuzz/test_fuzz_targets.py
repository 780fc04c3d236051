"""Every fuzz target (fuzz/*.py): its seeds and every input that once broke its property replayed
(tests/data/fuzz-regressions/<target>/), and a short seeded run of byte mutations in-process; the
property: a clean EdgecError or success, never another exception (a signal or a hang would end
or stall the test run)."""
from __future__ import annotations

import importlib
import random

import pytest

from tests.conftest import REPO, TEST_DATA

TARGETS = sorted(p.stem for p in (REPO / "fuzz").glob("[!_]*.py"))
REGRESSIONS = TEST_DATA / "fuzz-regressions"
MUTATIONS = {"keras_config": 15, "eembc_lines": 60}  # keras_config forks a child per .h5 read  # the others: 150 (each check is a few ms)


def _target(name: str):
    return importlib.import_module(f"fuzz.{name}")


def test_the_six_targets_are_there():
    assert TARGETS == ["calib_data", "eembc_lines", "keras_config", "recipe", "target_profile", "tflite_reader"]


@pytest.mark.parametrize("path", sorted(p for p in REGRESSIONS.glob("*/*") if p.parent.name in TARGETS),
                         ids=lambda p: f"{p.parent.name}/{p.name}")
def test_regressions_keep_the_property(path):
    _target(path.parent.name).check(path.read_bytes())


def _mutate(data: bytes, rng: random.Random) -> bytes:
    b = bytearray(data)
    kind = rng.randrange(4)
    if kind == 0:
        for _ in range(rng.randint(1, 8)):
            b[rng.randrange(len(b))] = rng.randrange(256)
    elif kind == 1:
        del b[rng.randrange(len(b)):]
    elif kind == 2:
        at = rng.randrange(len(b))
        b[at:at] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 16)))
    else:
        src, dst = rng.randrange(len(b)), rng.randrange(len(b))
        b[dst:dst + rng.randint(1, 32)] = b[src:src + rng.randint(1, 32)]
    return bytes(b)


@pytest.mark.parametrize("name", [t for t in TARGETS if t != "tflite_reader"])  # its own atheris run: test_fuzz_reader
def test_seeds_and_mutations_keep_the_property(name):
    target = _target(name)
    seeds = list(target.seeds().values())
    rng = random.Random(f"edgec-{name}")
    for data in seeds:
        target.check(data)
    for _ in range(MUTATIONS.get(name, 150)):
        target.check(_mutate(rng.choice(seeds), rng))


def test_make_fuzz_writes_each_targets_seeds(tmp_path):
    """`make fuzz` starts each target from `python fuzz/<target>.py --write-seeds DIR`."""
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, str(REPO / "fuzz" / "recipe.py"), "--write-seeds", str(tmp_path)],
                          capture_output=True, text=True, timeout=120, env={"PYTHONPATH": str(REPO), "PATH": ""})
    assert proc.returncode == 0, proc.stderr
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == _target("recipe").seeds()
