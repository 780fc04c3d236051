"""Output paths edgec cannot write are the user's to fix (exit 2, the path named), never an
internal error; nothing is written where the user did not ask."""
from __future__ import annotations

import os

from click.testing import CliRunner

from tests.conftest import MLPERF_TINY
from toolchain.cli import cli

KWS = MLPERF_TINY / "kws_ref_model.tflite"


def _build(*args, cwd):
    previous = os.getcwd()
    os.chdir(cwd)  # where `-o ""` would have written
    try:
        return CliRunner().invoke(cli, ["build", str(KWS), "-t", "cortex-m7", *map(str, args)])
    finally:
        os.chdir(previous)


def test_a_path_through_a_file(tmp_path):
    (tmp_path / "afile").write_text("x")
    result = _build("-o", tmp_path / "afile" / "out", cwd=tmp_path)
    assert result.exit_code == 2, result.output
    assert (f"Error: {tmp_path / 'afile' / 'out'}: cannot write the output here: {tmp_path / 'afile'} is a file, "
            "not a folder") in result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["afile"]


def test_a_folder_that_cannot_be_written(tmp_path):
    result = _build("-o", "/proc/edgec-out", cwd=tmp_path)  # refused even to root
    assert result.exit_code == 2, result.output
    assert "Error: /proc/edgec-out: cannot write the output here: " in result.output


def test_a_name_too_long_for_the_file_system(tmp_path):
    out = tmp_path / ("n" * 300)
    result = _build("-o", out, cwd=tmp_path)
    assert result.exit_code == 2, result.output
    assert f"Error: {out}: cannot write the output here: File name too long" in result.output


def test_an_empty_output_path_is_refused(tmp_path):
    result = _build("-o", "", cwd=tmp_path)
    assert result.exit_code == 2
    assert "Invalid value for '--out' / '-o': an empty path; give a folder (`.` for the current one)" in result.output
    assert not [p for p in tmp_path.rglob("*") if p.is_file()]


def test_a_symbol_name_too_long_is_refused(tmp_path):
    result = _build("--name", "n" * 10000, "--firmware", "-o", tmp_path / "out", cwd=tmp_path)
    assert result.exit_code == 2
    assert "Invalid value for '--name': 10,000 characters; expected 1 to 63" in result.output
    assert not (tmp_path / "out").exists()
