"""The output folder is all old or all new: the staged folder takes its place in one move, and a
failure in the middle of the move leaves the previous output exactly as it was."""
from __future__ import annotations

import os

import pytest

import toolchain.outputs as outputs
from toolchain.base.errors import OutputPathError
from toolchain.outputs import MARKER, staged_output


def _write(out, files: dict[str, str]) -> None:
    with staged_output(out) as stage:
        for name, text in files.items():
            stage.write_text(name, text)


def _contents(folder) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): p.read_text() for p in sorted(folder.rglob("*")) if p.is_file()}


OLD = {"model.tflite": "old model", "engine/model.c": "old engine", "report.json": "old report"}
NEW = {"model.tflite": "new model", "report.json": "new report"}


def test_a_new_output_replaces_the_previous_one_whole(tmp_path):
    out = tmp_path / "out"
    _write(out, OLD)
    assert set(_contents(out)) == {*OLD, MARKER}
    _write(out, NEW)  # the previous run's engine/ is not left beside the new model
    assert {k: v for k, v in _contents(out).items() if k != MARKER} == NEW
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]  # no staging or old folder left
    assert oct(out.stat().st_mode & 0o777) == oct(0o777 & ~_umask())


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@pytest.mark.parametrize("exchange", [True, False], ids=["renameat2-exchange", "through-a-sibling"])
def test_a_failure_in_the_middle_of_the_move_leaves_all_old(tmp_path, monkeypatch, exchange):
    out = tmp_path / "out"
    _write(out, OLD)
    before = _contents(out)
    if exchange:  # the one system call fails: nothing moved
        def failing_exchange(a, b):
            raise OSError(5, "Input/output error", str(b))
        monkeypatch.setattr(outputs, "_exchange", failing_exchange)
    else:  # the old folder is moved aside, then moving the new one in fails: the old one comes back
        monkeypatch.setattr(outputs, "_exchange", lambda a, b: False)
        real_rename, calls = os.rename, []

        def rename(src, dst):
            calls.append((src, dst))
            if len(calls) == 2:
                raise OSError(28, "No space left on device", str(dst))
            real_rename(src, dst)
        monkeypatch.setattr(outputs.os, "rename", rename)
    with pytest.raises(OutputPathError):
        _write(out, NEW)
    assert _contents(out) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]
    if not exchange:
        assert len(calls) == 3  # aside, in (failed), back


def test_the_swap_puts_the_staged_folder_in_place(tmp_path):
    """Through renameat2's exchange where the kernel and file system have it, else through a sibling."""
    staged, out = tmp_path / "staged", tmp_path / "out"
    staged.mkdir()
    out.mkdir()
    (staged / "f").write_text("new")
    (out / "f").write_text("old")
    old = outputs._swap_in(staged, out)
    assert ((out / "f").read_text(), (old / "f").read_text()) == ("new", "old")


def test_a_folder_edgec_did_not_make_keeps_its_files(tmp_path):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("the user's")
    _write(out, NEW)
    assert _contents(out) == {"notes.txt": "the user's", **NEW}
