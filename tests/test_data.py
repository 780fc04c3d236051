"""The test data shipped with the repository: every file listed in SHA256SUMS, unchanged, and
nothing unlisted beside it (so a file added later is either checked or noticed)."""
from __future__ import annotations

import hashlib

from tests.conftest import MLPERF_TINY

NOTICES = {"README.md", "LICENSE", "SHA256SUMS"}


def _listed() -> dict[str, str]:
    sums = {}
    for line in (MLPERF_TINY / "SHA256SUMS").read_text().splitlines():
        digest, name = line.split("  ", 1)
        sums[name] = digest
    return sums


def test_every_mlperf_file_matches_its_checksum():
    sums = _listed()
    actual = {name: hashlib.sha256((MLPERF_TINY / name).read_bytes()).hexdigest() for name in sums}
    assert actual == sums


def test_every_mlperf_file_is_listed():
    present = {p.relative_to(MLPERF_TINY).as_posix() for p in MLPERF_TINY.rglob("*") if p.is_file()}
    assert present - NOTICES == set(_listed())


def test_the_licence_notice_ships_with_the_models():
    assert "Apache License" in (MLPERF_TINY / "LICENSE").read_text()
    assert "Apache License 2.0" in (MLPERF_TINY / "README.md").read_text()
