"""Silence the chatter of TensorFlow and of native libraries that write to the C-level streams."""
from __future__ import annotations

import contextlib
import os
import sys
import tempfile


def quiet_tensorflow_env() -> None:
    """Set before TensorFlow is imported: no C++ INFO/WARNING logs, no oneDNN banner."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
    os.environ.setdefault("ABSL_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")


@contextlib.contextmanager
def captured_fds(*fds: int):
    """Redirect the given OS file descriptors (1 = stdout, 2 = stderr) into a buffer.

    Yields a list that receives the captured text (one string) when the block ends. Native code
    (TFLM's interpreter, the TFLite converter) writes straight to these descriptors, below Python.
    """
    fds = fds or (2,)
    result: list[str] = []
    sys.stdout.flush()
    sys.stderr.flush()
    saved = {fd: os.dup(fd) for fd in fds}
    with tempfile.TemporaryFile(mode="w+b") as tmp:
        try:
            for fd in fds:
                os.dup2(tmp.fileno(), fd)
            yield result
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            for fd, copy in saved.items():
                os.dup2(copy, fd)
                os.close(copy)
            tmp.seek(0)
            result.append(tmp.read().decode("utf-8", "replace"))


def import_tensorflow():
    """Import TensorFlow quietly (only where a command really needs it)."""
    quiet_tensorflow_env()
    import logging

    with captured_fds(2):
        import tensorflow as tf  # noqa: F401
    logging.getLogger("tensorflow").setLevel(logging.ERROR)
    tf.get_logger().setLevel("ERROR")
    try:
        import absl.logging

        absl.logging.set_verbosity(absl.logging.ERROR)
    except ImportError:  # pragma: no cover
        pass
    return tf
