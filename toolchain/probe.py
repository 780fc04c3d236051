"""Run the tflite-micro interpreter where its crashes are caught: in a forked child process.

TFLM trusts the model it is given: a corrupted flatbuffer, a tensor larger than its buffer or an
op in a form its kernels never expect ends in SIGSEGV or SIGFPE, which no Python `except` can
catch. Every TFLM call on bytes that came from a user (the arena measurement, the host reference
of `validate` and `bench`, the build's test inference) runs through `run_in_child`: a child that
dies by a signal, or outlives its deadline, is a result the parent turns into a clear error.

The child reports by its exit status, its captured stdout/stderr, and (for `call_in_child`) an
array written with `np.save(allow_pickle=False)`: nothing is unpickled.
"""
from __future__ import annotations

import faulthandler
import os
import select
import signal
import tempfile
import time
from dataclasses import dataclass
from typing import Callable

import numpy as np

from toolchain.base.errors import ModelCrashError, ModelLoadError

DEFAULT_TIMEOUT_S = 600.0
_FAILED = 3  # the child's exit status when its body raised


@dataclass(frozen=True)
class ChildExit:
    code: int | None  # exit status, or None if a signal ended the child
    signal: int | None  # the signal that ended it
    timed_out: bool
    log: str  # what the child printed on stdout and stderr

    @property
    def ok(self) -> bool:
        return self.code == 0

    @property
    def signal_name(self) -> str:
        try:
            return signal.Signals(self.signal).name
        except (TypeError, ValueError):
            return f"signal {self.signal}"


def _wait(pid: int, timeout_s: float | None) -> tuple[int, bool]:
    """Wait for the child; kill it at the deadline. Returns (wait status, timed out)."""
    if timeout_s is None:
        return os.waitpid(pid, 0)[1], False
    deadline = time.monotonic() + timeout_s
    try:
        fd = os.pidfd_open(pid)
    except (AttributeError, OSError):
        fd = None
    try:
        delay = 0.001
        while True:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                return status, False
            left = deadline - time.monotonic()
            if left <= 0:
                os.kill(pid, signal.SIGKILL)
                return os.waitpid(pid, 0)[1], True
            if fd is not None:
                select.select([fd], [], [], left)
            else:
                time.sleep(min(delay, left))
                delay = min(delay * 2, 0.05)
    finally:
        if fd is not None:
            os.close(fd)


def run_in_child(body: Callable[[], int], timeout_s: float | None = DEFAULT_TIMEOUT_S) -> ChildExit:
    """Run `body` in a forked child with its stdout and stderr captured; it returns the exit
    status. An exception in `body` is printed to the log and exits with status 3."""
    with tempfile.TemporaryFile() as log:
        pid = os.fork()
        if pid == 0:  # the child: never returns
            status = _FAILED
            try:
                signal.signal(signal.SIGTERM, signal.SIG_DFL)  # the parent's clean-up handlers are not ours
                signal.signal(signal.SIGINT, signal.SIG_DFL)
                faulthandler.disable()  # a crash is the parent's to report, not a traceback's
                for crash in (signal.SIGSEGV, signal.SIGBUS, signal.SIGFPE, signal.SIGILL, signal.SIGABRT):
                    signal.signal(crash, signal.SIG_DFL)  # nor a fuzzer's (libFuzzer's handlers are inherited)
                os.dup2(log.fileno(), 1)
                os.dup2(log.fileno(), 2)
                status = int(body())
            except BaseException as exc:  # noqa: BLE001 - reported through the log
                try:
                    os.write(2, f"\n{type(exc).__name__}: {exc}\n".encode("utf-8", "replace"))
                except BaseException:  # noqa: BLE001
                    pass
            finally:
                os._exit(status)
        try:
            wait_status, timed_out = _wait(pid, timeout_s)
        except BaseException:  # interrupted or terminated while waiting: the child goes too
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            raise
        log.seek(0)
        text = log.read().decode("utf-8", "replace")
    if os.WIFSIGNALED(wait_status):
        return ChildExit(None, os.WTERMSIG(wait_status), timed_out, text)
    return ChildExit(os.WEXITSTATUS(wait_status), None, timed_out, text)


def _last_line(log: str) -> str:
    lines = [line.strip() for line in log.splitlines() if line.strip()]
    return lines[-1] if lines else ""


def call_in_child(body: Callable[[], np.ndarray], source: str, doing: str,
                  timeout_s: float | None = DEFAULT_TIMEOUT_S) -> np.ndarray:
    """Run `body` (TFLM work returning one array) in a forked child and return its array.

    A crash is a ModelCrashError naming the signal and `doing` ("running an inference"); an
    exception in the child (TFLM refusing the model) a ModelLoadError with TFLM's message."""
    with tempfile.NamedTemporaryFile(suffix=".npy") as result:
        def child() -> int:
            out = np.asarray(body())
            with open(result.name, "wb") as f:
                np.save(f, out, allow_pickle=False)
            return 0

        exit_ = run_in_child(child, timeout_s)
        if exit_.ok:
            with open(result.name, "rb") as f:
                return np.load(f, allow_pickle=False)
    if exit_.timed_out:
        raise ModelCrashError(source, doing, f"did not finish within {timeout_s:g} s")
    if exit_.signal is not None:
        raise ModelCrashError(source, doing, f"crashed ({exit_.signal_name})")
    raise ModelLoadError(source, f"tflite-micro failed while {doing}: "
                                 f"{_last_line(exit_.log) or f'exit status {exit_.code}'}")
