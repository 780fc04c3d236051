"""User-facing errors.

Every failure that is the user's to fix is an `EdgecError`; the CLI catches them in one place and
prints a one-line message, never a traceback. Subclasses take structured fields and format their
own message, so the same failure always reads the same way.

Exit codes (documented in the README):
  0  success (and, for build/check, the model fits)
  1  internal error (a bug: please report it)
  2  bad input or usage (files, options, data, profiles)
  3  the model does not fit the target
  4  device, emulator or toolchain failure (flash, serial, compiler)
  130 interrupted (Ctrl-C)
  143 terminated (SIGTERM)
"""
from __future__ import annotations

import difflib
from collections.abc import Iterable

import click

EXIT_OK = 0
EXIT_INTERNAL = 1
EXIT_BAD_INPUT = 2
EXIT_DOES_NOT_FIT = 3
EXIT_DEVICE = 4
EXIT_INTERRUPTED = 130
EXIT_TERMINATED = 143  # SIGTERM: 128 + 15, as a shell reports a process it ended


class EdgecError(click.ClickException):
    """Base class of every error a user can cause and fix."""

    exit_code = EXIT_BAD_INPUT

    def __init__(self, message: str):
        super().__init__(message)


class InputFileError(EdgecError):
    """A file the user gave cannot be used."""

    def __init__(self, path, problem: str, hint: str = ""):
        self.path = str(path)
        self.problem = problem
        self.hint = hint
        msg = f"{self.path}: {problem}"
        if hint:
            msg += f" ({hint})"
        super().__init__(msg)


class OutputPathError(InputFileError):
    """An output path edgec cannot write: a read-only folder, a path through a file, a name too long."""

    def __init__(self, path, problem: str):
        super().__init__(path, f"cannot write the output here: {problem}")


class ModelLoadError(InputFileError):
    """A model file exists but cannot be loaded."""


class ModelFieldError(ModelLoadError):
    """A field of a model file that is inconsistent (a tensor's shape against its buffer, an index
    out of range, a scale that is not a positive finite number): named with where it is."""

    def __init__(self, path, where: str, field: str, problem: str):
        self.where, self.field = where, field
        super().__init__(path, f"{where}: field '{field}': {problem}")


class ModelCrashError(ModelLoadError):
    """The tflite-micro interpreter crashed (or hung) on a model: it is malformed, or uses an op
    in a form TFLM's kernels do not handle. Caught in a forked child (toolchain.probe)."""

    def __init__(self, path, doing: str, what: str):
        self.doing, self.what = doing, what
        super().__init__(path, f"tflite-micro {what} while {doing}",
                         "the model is malformed or uses an op in a form TFLM cannot run")


class UnsupportedLayerError(EdgecError):
    """Layers of a model file that cannot be built: custom classes, Python lambdas."""

    def __init__(self, path, layers: Iterable[tuple[str, str]], reason: str):
        self.path, self.layers, self.reason = str(path), list(layers), reason
        names = ", ".join(f"'{name}' (class {cls})" for name, cls in self.layers)
        plural = "layers" if len(self.layers) > 1 else "layer"
        super().__init__(
            f"{self.path}: {plural} {names} cannot be loaded: {reason}. "
            "Pass its code with --custom-objects MODULE.py (a module defining the class or "
            "function under that name), or rebuild the model without it."
        )


class DataError(EdgecError):
    """Calibration, training or evaluation data that does not match the model."""

    def __init__(self, path, problem: str):
        self.path, self.problem = str(path), problem
        super().__init__(f"{self.path}: {problem}")


class FieldError(EdgecError):
    """A field of a TOML file (target profile, core, QEMU machine, compression recipe) that is
    missing, of the wrong type or out of range: the one error of `base.tomlcheck`."""

    def __init__(self, path, field: str, expected: str, got=None, kind: str = ""):
        self.path, self.field, self.expected, self.got, self.kind = str(path), field, expected, got, kind
        got_text = "" if got is None else f", got {got!r}"
        what = f"{kind} field" if kind else "field"
        super().__init__(f"{self.path}: {what} '{field}': expected {expected}{got_text}")


class UnknownKeyError(FieldError):
    """A key that the table it is in does not have (a typo, most often): named with its file."""

    def __init__(self, path, field: str, known: Iterable[str], kind: str = ""):
        self.path, self.field, self.kind, self.got = str(path), field, kind, None
        self.known = sorted(known)
        close = difflib.get_close_matches(field.rsplit(".", 1)[-1], self.known, n=3, cutoff=0.5)
        hint = ("did you mean " + ", ".join(f"'{c}'" for c in close) + "? ") if close else ""
        self.expected = f"a known key ({', '.join(self.known) or 'none'})"
        what = f"{kind} field" if kind else "field"
        EdgecError.__init__(self, f"{self.path}: {what} '{field}': unknown key; {hint}"
                                  f"known here: {', '.join(self.known) or 'none'}")


class CapabilityError(EdgecError):
    """A device back end asked for something it does not declare it can do."""

    def __init__(self, backend: str, capability: str, problem: str):
        self.backend, self.capability, self.problem = backend, capability, problem
        super().__init__(f"{backend}: {problem} (capability '{capability}')")


class UnknownNameError(EdgecError):
    """A name (target, layer, technique...) that is not one of the known ones."""

    def __init__(self, kind: str, name: str, known: Iterable[str]):
        known = sorted(known)
        self.kind, self.name, self.known = kind, name, known
        close = difflib.get_close_matches(name, known, n=3, cutoff=0.5)
        if close:
            hint = "did you mean " + ", ".join(f"'{c}'" for c in close) + "?"
        else:
            hint = "known: " + ", ".join(known)
        super().__init__(f"unknown {kind} '{name}'; {hint}")


class OptionError(EdgecError):
    """An option value that is not valid (Vela's ConfigOptionError)."""

    def __init__(self, option: str, value, expected: str):
        self.option, self.value, self.expected = option, value, expected
        super().__init__(f"{option} {value!r}: expected {expected}")


class ConversionError(EdgecError):
    """The converter produced (or would produce) something the target cannot run."""

    def __init__(self, problem: str, ops: Iterable[tuple[str, str]] = ()):
        self.problem = problem
        self.ops = list(ops)
        detail = "; ".join(f"{op} (from layer '{layer}')" for op, layer in self.ops)
        super().__init__(problem + (": " + detail if detail else ""))


class DoesNotFitError(EdgecError):
    """Raised only where a command must stop because the model does not fit."""

    exit_code = EXIT_DOES_NOT_FIT


class ToolchainError(EdgecError):
    """An external tool (compiler, emulator, flasher) failed or is missing."""

    exit_code = EXIT_DEVICE

    def __init__(self, tool: str, problem: str, output: str = ""):
        self.tool, self.problem, self.output = tool, problem, output
        tail = ""
        if output:
            lines = [line for line in output.strip().splitlines() if line.strip()][-8:]
            tail = "\n" + "\n".join("  " + line for line in lines)
        super().__init__(f"{tool}: {problem}{tail}")


class DeviceError(EdgecError):
    """A device or emulator that does not answer as expected."""

    exit_code = EXIT_DEVICE

    def __init__(self, problem: str, last_lines: Iterable[str] = ()):
        self.problem = problem
        self.last_lines = list(last_lines)
        tail = ""
        if self.last_lines:
            tail = "\nlast lines from the device:\n" + "\n".join("  " + line for line in self.last_lines[-8:])
        super().__init__(problem + tail)


class UnsupportedOpsError(EdgecError):
    """A model holds ops (or op variants) that the generated C engine cannot compute.

    `ops` lists every one of them as (op index, op name, reason), so one run tells the user all
    that stands in the way; a build falls back to the TFLM export on this error.
    """

    def __init__(self, model: str, ops: Iterable[tuple[int, str, str]]):
        self.model = str(model)
        self.ops = list(ops)
        detail = "; ".join(f"op {index} {name}: {reason}" for index, name, reason in self.ops)
        names = sorted({name for _, name, _ in self.ops})
        super().__init__(
            f"{self.model}: the C engine does not support {len(self.ops)} op(s) "
            f"({', '.join(names)}): {detail}"
        )
