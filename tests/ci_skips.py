"""Under CI=true a skipped test is a failed test.

A developer's machine may lack an emulator or a browser, and the tests that need one skip with
the reason; CI installs everything, so a skip there means a test that silently stopped testing.
This plugin (loaded by tests/conftest.py) turns every skip into a failure when CI=true, whatever
asked for it: `pytest.skip` in a test or fixture, a `skip`/`skipif` mark, `pytest.importorskip`
or a module-level skip at collection. Expected failures (`xfail`) are left alone.
"""
from __future__ import annotations

import os

import pytest


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() == "true"


def _reason(longrepr) -> str:
    if isinstance(longrepr, tuple) and len(longrepr) == 3:  # (path, line, "Skipped: reason")
        return str(longrepr[2])
    return str(longrepr)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if in_ci() and report.skipped and not hasattr(report, "wasxfail"):
        report.outcome = "failed"
        report.longrepr = f"skipped under CI=true, where every test must run: {_reason(report.longrepr)}"


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector):
    outcome = yield
    report = outcome.get_result()
    if in_ci() and report.skipped:
        report.outcome = "failed"
        report.longrepr = f"skipped under CI=true, where every test must run: {_reason(report.longrepr)}"
