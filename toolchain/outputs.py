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
        self.path(name).write_bytes(data)

    def write_text(self, name: str, text: str) -> None:
        self.path(name).write_text(text, encoding="utf-8", newline="\n")


@contextlib.contextmanager
def staged_output(out_dir: str | Path, last: tuple[str, ...] = ("report.json", "report.html")):
    out_dir = Path(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.edgec-", dir=out_dir.parent)).resolve()
    try:
        stage = Stage(staging)
        yield stage
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
