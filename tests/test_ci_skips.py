"""The CI=true rule, on a small suite of its own run by a real pytest: every kind of skip fails."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.conftest import REPO

SUITE = '''
import pytest

pytest.importorskip("a_module_that_does_not_exist")
'''
TESTS = '''
import pytest


@pytest.fixture
def needs_something():
    pytest.skip("no such tool")


def test_skip_in_the_test():
    pytest.skip("not here")


def test_skip_in_a_fixture(needs_something):
    pass


@pytest.mark.skipif(True, reason="never on this machine")
def test_skipif_mark():
    pass


@pytest.mark.skip(reason="switched off")
def test_skip_mark():
    pass


@pytest.mark.xfail(reason="known bug", strict=True)
def test_expected_failure():
    assert False


def test_that_runs():
    pass
'''


def _run(tmp_path, ci: str) -> subprocess.CompletedProcess:
    (tmp_path / "test_skips.py").write_text(TESTS)
    (tmp_path / "test_collection_skip.py").write_text(SUITE)
    env = {**os.environ, "CI": ci, "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "tests.ci_skips", "-q", "-rA", "-p", "no:cacheprovider",
                           "--continue-on-collection-errors",
                           "--rootdir", str(tmp_path), str(tmp_path)],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)


def _summary(result) -> str:
    return result.stdout.strip().splitlines()[-1]


@pytest.mark.parametrize("ci", ["true", "TRUE"])
def test_every_skip_fails_under_ci(tmp_path, ci):
    result = _run(tmp_path, ci)
    assert result.returncode == 1, result.stdout  # a skip in a fixture or a mark fails at setup: an error
    assert " 1 failed, 1 passed, 1 xfailed, 4 errors " in f" {_summary(result)} ", result.stdout
    for reason in ("no such tool", "not here", "never on this machine", "switched off",
                   "could not import 'a_module_that_does_not_exist'"):
        assert f"skipped under CI=true, where every test must run: Skipped: {reason}" in result.stdout, reason


def test_skips_stay_skips_on_a_developers_machine(tmp_path):
    result = _run(tmp_path, "")
    assert result.returncode == 0, result.stdout
    assert " 1 passed, 5 skipped, 1 xfailed " in f" {_summary(result)} ", result.stdout
