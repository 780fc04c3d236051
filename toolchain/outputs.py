"""Atomic outputs: files are written into a staging folder beside the output folder and moved
into place (one `os.replace` per file, the report last) only when the whole command succeeded.

A failed or interrupted command leaves no half-written file and never replaces a previous good
result with a partial one.
"""
from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from pathlib import Path

from toolchain.base.errors import OutputPathError


STAGING_PREFIX = ".edgec-stage-"  # a hidden sibling of the output folder, removed on the way out


class Stage:
    def __init__(self, root: Path):
        self.root = root
        self.files: list[str] = []

    def path(self, name: str) -> Path:
        """A path inside the staging folder for a tool that writes its own file."""
        target = self.root / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if name not in self.files:
            self.files.append(name)
        return target

    def folder(self, name: str) -> Path:
        """A folder inside the staging area for a tool that writes many files; `adopt` them after."""
        target = self.root / name
        target.mkdir(parents=True, exist_ok=True)
        return target

    def adopt(self, name: str) -> None:
        """Take every file a tool wrote under folder `name` into the output."""
        for path in sorted((self.root / name).rglob("*")):
            rel = path.relative_to(self.root).as_posix()
            if path.is_file() and rel not in self.files:
                self.files.append(rel)

    def write_bytes(self, name: str, data: bytes) -> None:
        with _writing(self.root):
            self.path(name).write_bytes(data)

    def write_text(self, name: str, text: str) -> None:
        with _writing(self.root):
            self.path(name).write_text(text, encoding="utf-8", newline="\n")


@contextlib.contextmanager
def _writing(out_dir: Path):
    """An OSError of the output folder's own file operations is the user's path to fix."""
    try:
        yield
    except (FileExistsError, NotADirectoryError) as exc:
        blocker = next((p for p in (out_dir, *out_dir.parents) if p.exists() and not p.is_dir()), None)
        if blocker is None:
            raise OutputPathError(exc.filename or out_dir, exc.strerror or str(exc)) from None
        raise OutputPathError(out_dir, f"{blocker} is a file, not a folder") from None
    except OSError as exc:
        named = exc.filename if exc.filename and STAGING_PREFIX not in str(exc.filename) else out_dir
        raise OutputPathError(named, exc.strerror or str(exc)) from None


@contextlib.contextmanager
def staged_output(out_dir: str | Path, last: tuple[str, ...] = ("report.json", "report.html")):
    out_dir = Path(out_dir)
    with _writing(out_dir):
        if out_dir.exists() and not out_dir.is_dir():
            raise OutputPathError(out_dir, "it is a file, not a folder")
        out_dir.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=STAGING_PREFIX, dir=out_dir.parent)).resolve()
    try:
        stage = Stage(staging)
        yield stage
        with _writing(out_dir):
            out_dir.mkdir(parents=True, exist_ok=True)
            order = sorted(stage.files, key=lambda n: (n in last, last.index(n) if n in last else 0, n))
            for name in order:
                src = staging / name
                if not src.exists():
                    continue
                dst = out_dir / name
                dst.parent.mkdir(parents=True, exist_ok=True)
                os.replace(src, dst)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
