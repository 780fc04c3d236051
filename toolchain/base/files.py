"""Reading a file the user named: only a regular file, and never more than a limit.

`/dev/zero`, a FIFO or a terminal given as a model or a profile would otherwise hang edgec or read
until memory runs out; a file larger than anything of its kind is refused before it is read.
"""
from __future__ import annotations

import os
import stat
from pathlib import Path

from toolchain.base.errors import InputFileError

MODEL_LIMIT_BYTES = 512 * 1024 * 1024  # a .tflite for a microcontroller is far below this
TEXT_LIMIT_BYTES = 4 * 1024 * 1024  # a TOML profile or recipe


def read_user_file(path: str | Path, what: str, limit: int) -> bytes:
    """The bytes of the regular file at `path`; InputFileError naming `what` it should be otherwise."""
    path = Path(path)
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except FileNotFoundError:
        raise InputFileError(path, f"cannot read the {what}: no such file") from None
    except OSError as exc:
        raise InputFileError(path, f"cannot read the {what}: {exc.strerror or exc}") from None
    try:
        info = os.fstat(fd)
        if stat.S_ISDIR(info.st_mode):
            raise InputFileError(path, f"is a folder, expected the {what}")
        if not stat.S_ISREG(info.st_mode):
            raise InputFileError(path, f"is not a regular file (a device, FIFO or socket), expected the {what}")
        if info.st_size > limit:
            raise InputFileError(path, f"{info.st_size:,} B is larger than any {what} edgec reads "
                                       f"(at most {limit:,} B)")
        chunks, total = [], 0
        while True:
            chunk = os.read(fd, min(1 << 20, limit + 1 - total))
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
            if total > limit:
                raise InputFileError(path, f"grew past {limit:,} B while being read, expected the {what}")
        return b"".join(chunks)
    except OSError as exc:
        raise InputFileError(path, f"cannot read the {what}: {exc.strerror or exc}") from None
    finally:
        os.close(fd)
