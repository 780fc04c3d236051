"""Atomic outputs: files are written into a staging folder beside the output folder, which takes
the output folder's place in one move only when the whole command succeeded.

The move is one rename when the output folder is new (or empty), and otherwise an exchange of the
two folders (Linux renameat2 RENAME_EXCHANGE), or, where the file system has no exchange, two
renames through a hidden sibling, undone if the second fails: the output folder is always all
old or all new. A folder edgec made (it holds the MARKER file) is replaced whole; a non-empty
folder edgec did not make is never deleted: its files are kept, and ours are moved in one by one.
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
MARKER = ".edgec-output"  # in every output folder edgec writes: the folder is edgec's, replaced whole


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


_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths atomically (renameat2 RENAME_EXCHANGE); False where the system cannot."""
    import ctypes
    import errno

    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    renameat2.argtypes = (ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint)
    if renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP, errno.EPERM):
        return False  # not supported by this kernel or file system: the caller swaps through a sibling
    raise OSError(code, os.strerror(code), str(b))


def _swap_in(staging: Path, out_dir: Path) -> Path | None:
    """Put `staging` in the place of `out_dir` (a folder edgec made); return where the old one
    went (to be removed), or None when nothing was there."""
    if not out_dir.exists():
        os.rename(staging, out_dir)
        return None
    if _exchange(staging, out_dir):
        return staging  # the old output now sits where the staging folder was
    old = Path(tempfile.mkdtemp(prefix=STAGING_PREFIX, dir=out_dir.parent))
    old.rmdir()
    os.rename(out_dir, old)
    try:
        os.rename(staging, out_dir)
    except BaseException:
        os.rename(old, out_dir)  # all old again
        raise
    return old


def _keep_only(staging: Path, files: list[str]) -> None:
    """Remove what tools left in the staging folder that is not an output (their scratch files)."""
    keep = set(files) | {MARKER}
    keep_dirs = {p for name in keep for p in Path(name).parents}
    for path in sorted(staging.rglob("*"), key=lambda p: -len(p.parts)):
        rel = Path(path.relative_to(staging).as_posix())
        if rel.as_posix() in keep or rel in keep_dirs:
            continue
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)


def _ours(out_dir: Path) -> bool:
    """The folder is new, empty, or one edgec made; and it is no link, nor the current folder or
    one above it (which a rename would pull from under the shell)."""
    if not out_dir.exists():
        return True
    cwd = Path.cwd().resolve()
    if out_dir.is_symlink() or out_dir.resolve() == cwd or out_dir.resolve() in cwd.parents:
        return False
    return (out_dir / MARKER).is_file() or not any(out_dir.iterdir())


def _commit(stage: "Stage", out_dir: Path, last: tuple[str, ...]) -> None:
    staging = stage.root
    if _ours(out_dir):
        _keep_only(staging, stage.files)
        (staging / MARKER).write_text("This folder is written by edgec and replaced whole by its next run.\n")
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(staging, 0o777 & ~umask)  # mkdtemp made it private; an output folder is not
        old = _swap_in(staging, out_dir)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
        return
    # a folder of the user's (files edgec did not write): never deleted, ours moved in one by one
    order = sorted(stage.files, key=lambda n: (n in last, last.index(n) if n in last else 0, n))
    for name in order:
        src = staging / name
        if not src.exists():
            continue
        dst = out_dir / name
        dst.parent.mkdir(parents=True, exist_ok=True)
        os.replace(src, dst)


@contextlib.contextmanager
def staged_output(out_dir: str | Path, last: tuple[str, ...] = ("report.json", "report.html")):
    out_dir = Path(out_dir)
    where = Path(os.path.abspath(out_dir))  # "out/..", "." resolved by name: the staging folder is a sibling
    with _writing(out_dir):
        if out_dir.exists() and not out_dir.is_dir():
            raise OutputPathError(out_dir, "it is a file, not a folder")
        where.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=STAGING_PREFIX, dir=where.parent))
    try:
        stage = Stage(staging)
        yield stage
        with _writing(out_dir):
            _commit(stage, where, last)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
