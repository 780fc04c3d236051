"""The `edgec` command line: a thin layer that parses, calls the library, and prints.

Commands are imported only when they run, so `edgec --help` and `edgec targets` answer without
importing TensorFlow. Errors a user can cause are EdgecError; they are printed in one place.
"""
from __future__ import annotations

import contextlib
import importlib
import io
import os
import shutil
import signal
import sys
import tempfile
from pathlib import Path

import click

from toolchain import __version__
from toolchain.base.errors import EXIT_INTERNAL, EXIT_INTERRUPTED, EXIT_TERMINATED

# name -> "module:attribute"; the order is the order of `edgec --help`.
COMMANDS = {
    "build": "toolchain.cli.build:build",
    "check": "toolchain.cli.check:check",
    "compress": "toolchain.cli.compress:compress",
    "fit": "toolchain.cli.fit:fit",
    "inspect": "toolchain.cli.inspect_cmd:inspect_model",
    "targets": "toolchain.cli.targets_cmd:targets",
    "validate": "toolchain.cli.validate:validate",
    "flash": "toolchain.cli.flash:flash",
    "bench": "toolchain.cli.bench:bench",
}

HELP = {
    "build": "Quantize a model to int8, check it fits a target, export it.",
    "check": "Check that a .tflite model fits a target (no conversion).",
    "compress": "Prune, cluster, factorize, compact filters, distill or QAT-train a Keras model; save it as Keras 3.",
    "fit": "Search the compressions of a model for the most accurate one that fits a target.",
    "inspect": "Print a model's ops, tensors, parameters, MACs and sizes.",
    "targets": "List the target profiles, or show one.",
    "validate": "Check the generated C engine against the tflite-micro interpreter, byte for byte.",
    "flash": "Write a built firmware to a board (pyOCD, esptool, USB drive, command) or run it on QEMU.",
    "bench": "Run a model on a device or QEMU over serial; latency and outputs against the host.",
}


class LazyGroup(click.Group):
    def list_commands(self, ctx):
        return list(COMMANDS)

    def get_command(self, ctx, name):
        if name not in COMMANDS:
            return None
        module, attr = COMMANDS[name].split(":")
        return getattr(importlib.import_module(module), attr)

    def format_commands(self, ctx, formatter):
        rows = [(name, HELP.get(name, "")) for name in COMMANDS]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="edgec")
def cli():
    """edgec: take a trained Keras model to a microcontroller.

    \b
    Example:
      edgec build examples/fashion_cnn.keras --target cortex-m7 \\
          --calib examples/fashion_calib.npz -o out/

    \b
    Exit codes: 0 success (the model fits), 1 internal error, 2 bad input or
    usage, 3 the model does not fit, 4 device/toolchain failure, 130 interrupted.
    """


class _PipeSafeWriter(io.RawIOBase):
    """Standard output whose reader may go away (`edgec inspect m.tflite | head`): once the pipe
    is closed, what is written is dropped, and the command finishes with its own exit code."""

    def __init__(self, fd: int):
        self._fd, self.closed_by_reader = fd, False

    def writable(self) -> bool:
        return True

    def fileno(self) -> int:
        return self._fd

    def isatty(self) -> bool:
        return os.isatty(self._fd)

    def write(self, data) -> int:
        if not self.closed_by_reader:
            try:
                return os.write(self._fd, data)
            except BrokenPipeError:
                self.closed_by_reader = True
        return len(data)


def _pipe_safe_stdout() -> None:
    out = sys.stdout
    if out is None or not hasattr(out, "fileno"):
        return
    try:
        out.flush()
        fd = out.fileno()
    except (OSError, ValueError):
        return
    sys.stdout = io.TextIOWrapper(io.BufferedWriter(_PipeSafeWriter(fd)), encoding=out.encoding,
                                  errors=out.errors, line_buffering=True)


class Terminated(BaseException):
    """SIGTERM, raised where the command is so that its clean-up (staged outputs, probes) runs."""


def _terminate(signum, frame):
    raise Terminated()


def main(argv=None):
    _pipe_safe_stdout()
    signal.signal(signal.SIGTERM, _terminate)
    code = run(argv)
    if argv is None and "tensorflow" in sys.modules:
        # Every output is written and closed by now. TensorFlow's interpreter-exit teardown takes
        # about a second and does nothing a finished command needs: skip it.
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    sys.exit(code)


@contextlib.contextmanager
def private_tempdir():
    """A temporary folder of the command's own, for Python (TensorFlow's autograph files) and, by
    TMPDIR, for the compilers and tools it starts; removed when the command ends, however it ends
    (an error, SIGINT, SIGTERM)."""
    folder = tempfile.mkdtemp(prefix="edgec-tmp-")
    saved_env, saved_dir = os.environ.get("TMPDIR"), tempfile.tempdir
    os.environ["TMPDIR"], tempfile.tempdir = folder, folder
    try:
        yield Path(folder)
    finally:
        tempfile.tempdir = saved_dir
        if saved_env is None:
            os.environ.pop("TMPDIR", None)
        else:
            os.environ["TMPDIR"] = saved_env
        shutil.rmtree(folder, ignore_errors=True)


def run(argv=None) -> int:
    """Run one command; return its exit code. Errors a user can cause print one line."""
    with private_tempdir():
        return _run(argv)


def _run(argv=None) -> int:
    try:
        rv = cli.main(args=argv, prog_name="edgec", standalone_mode=False)
    except click.ClickException as exc:  # every EdgecError, and click's usage errors
        exc.show()
        return exc.exit_code
    except Terminated:
        click.echo("terminated; nothing was written", err=True)
        return EXIT_TERMINATED
    except (KeyboardInterrupt, click.Abort):
        click.echo("interrupted; nothing was written", err=True)
        return EXIT_INTERRUPTED
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except Exception as exc:  # a bug in edgec, not the user's mistake
        import traceback

        if os.environ.get("EDGEC_DEBUG"):
            traceback.print_exc()
        click.echo(f"edgec: internal error: {type(exc).__name__}: {exc} "
                   "(set EDGEC_DEBUG=1 for the traceback, and please report it)", err=True)
        return EXIT_INTERNAL
    return rv if isinstance(rv, int) else 0
