"""One checker for every TOML file of the project: target profiles, the cores file, the QEMU
machines file and compression recipes.

A table is read through a `Table`, key by key, each with the type and range it takes; a missing
key without a default, a value of the wrong type or out of range raises `FieldError` naming the
file and the full key (`memory[1].size_bytes`). `Table.done()` then refuses every key that was not
read (`UnknownKeyError`, with close names): so a typo never passes silently, and the known keys
are the ones the code reads, never a second list kept beside it.
"""
from __future__ import annotations

import difflib
import tomllib
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, NoReturn

from toolchain.base.errors import FieldError, InputFileError, UnknownKeyError
from toolchain.base.files import TEXT_LIMIT_BYTES, read_user_file

MISSING: Any = object()  # the default of a required key


def read_toml(path, what: str) -> dict:
    """The tables of the TOML file at `path` (`what` it is, for the messages)."""
    path = Path(path)
    data = read_user_file(path, what, TEXT_LIMIT_BYTES)
    try:
        return tomllib.loads(data.decode("utf-8"))
    except UnicodeDecodeError:
        raise InputFileError(path, f"not valid TOML: not UTF-8 text") from None
    except tomllib.TOMLDecodeError as exc:
        raise InputFileError(path, f"not valid TOML: {exc}") from None
    except RecursionError:  # tomllib parses nested arrays and inline tables recursively
        raise InputFileError(path, "not valid TOML here: arrays or tables nested too deeply") from None


def _bounds(lo, hi, lo_open: bool, hi_open: bool) -> str:
    parts = []
    if lo is not None:
        parts.append(f"{'>' if lo_open else '>='} {lo}")
    if hi is not None:
        parts.append(f"{'<' if hi_open else '<='} {hi}")
    return " and ".join(parts)


class Checker:
    """Checks the values of one source (a file, or the command line); every failure names the
    source and the key. `kind` says what the source is in messages ("recipe"; "" for profiles)."""

    def __init__(self, source, kind: str = ""):
        self.source, self.kind = str(source), kind

    def fail(self, key: str, expected: str, got=None) -> NoReturn:
        raise FieldError(self.source, key, expected, got, self.kind)

    def unknown(self, key: str, known: Iterable[str]) -> NoReturn:
        raise UnknownKeyError(self.source, key, known, self.kind)

    def number(self, key, value, lo=None, hi=None, lo_open=False, hi_open=False, integer=False,
               what: str = ""):
        what = what or ("an integer" if integer else "a number")
        ok_type = isinstance(value, int) if integer else isinstance(value, (int, float))
        if isinstance(value, bool) or not ok_type:
            self.fail(key, what, value)
        if ((lo is not None and (value < lo or (lo_open and value == lo)))
                or (hi is not None and (value > hi or (hi_open and value == hi)))):
            self.fail(key, f"{what} {_bounds(lo, hi, lo_open, hi_open)}", value)
        return int(value) if integer else float(value)

    def integer(self, key, value, lo=None, hi=None, what: str = "an integer") -> int:
        return self.number(key, value, lo, hi, integer=True, what=what)

    def text(self, key, value, what: str = "text") -> str:
        if not isinstance(value, str):
            self.fail(key, what, value)
        return value

    def boolean(self, key, value) -> bool:
        if not isinstance(value, bool):
            self.fail(key, "true or false", value)
        return value

    def choice(self, key, value, choices):
        if value not in choices:
            self.fail(key, "one of " + ", ".join(repr(c) for c in choices), value)
        return value

    def texts(self, key, value, what: str = "a list of text") -> tuple[str, ...]:
        if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
            self.fail(key, what, value)
        return tuple(value)

    def mapping(self, key, value, check_value: Callable[[str, Any], Any], what: str = "a table of name = value"):
        """A table whose keys are the user's names (layers...), each value checked."""
        if not isinstance(value, dict):
            self.fail(key, what, value)
        return {str(k): check_value(f"{key}.{k}", v) for k, v in value.items()}

    def table(self, data, where: str = "") -> "Table":
        return Table(self, data, where)


class Table:
    """One table of a TOML document, read key by key; `done()` refuses the keys never asked for."""

    def __init__(self, checker: Checker, data, where: str = ""):
        if not isinstance(data, dict):
            checker.fail(where or "(document)", "a table", data)
        self.checker, self.data, self.where = checker, data, where
        self.asked: list[str] = []

    def key(self, key: str) -> str:
        return f"{self.where}.{key}" if self.where else key

    def has(self, key: str) -> bool:
        self.asked.append(key)
        return key in self.data

    def raw(self, key: str, default=MISSING, what: str = "a value"):
        """The value as it is (the typed readers below check it)."""
        if self.has(key):
            return self.data[key]
        if default is MISSING:  # a key the table does not know, close to this one, is likely a typo of it
            close = difflib.get_close_matches(key, [k for k in self.data if k not in self.asked], n=1)
            typo = f"; the table has '{self.key(close[0])}', a typo?" if close else ""
            self.checker.fail(self.key(key), f"{what} (missing{typo})")
        return default

    def _read(self, key, default, what, check):
        value = self.raw(key, default, what)
        return value if key not in self.data else check(self.key(key), value)

    def number(self, key, default=MISSING, lo=None, hi=None, lo_open=False, hi_open=False, what: str = "a number"):
        return self._read(key, default, what, lambda k, v: self.checker.number(k, v, lo, hi, lo_open, hi_open,
                                                                              what=what))

    def integer(self, key, default=MISSING, lo=None, hi=None, what: str = "an integer"):
        return self._read(key, default, what, lambda k, v: self.checker.integer(k, v, lo, hi, what))

    def text(self, key, default=MISSING, what: str = "text"):
        return self._read(key, default, what, lambda k, v: self.checker.text(k, v, what))

    def boolean(self, key, default=MISSING):
        return self._read(key, default, "true or false", self.checker.boolean)

    def choice(self, key, choices, default=MISSING):
        what = "one of " + ", ".join(repr(c) for c in choices)
        return self._read(key, default, what, lambda k, v: self.checker.choice(k, v, choices))

    def texts(self, key, default=MISSING, what: str = "a list of text"):
        return self._read(key, default, what, lambda k, v: self.checker.texts(k, v, what))

    def mapping(self, key, check_value, default=MISSING, what: str = "a table of name = value"):
        return self._read(key, default, what, lambda k, v: self.checker.mapping(k, v, check_value, what))

    def table(self, key, default=MISSING, what: str = "a table") -> "Table":
        """The sub-table `key` (its own keys checked by its own `done()`); a dict default is read
        as the table when the key is absent."""
        value = self._read(key, default, what, lambda k, v: Table(self.checker, v, k))
        return Table(self.checker, value, self.key(key)) if isinstance(value, dict) else value

    def tables(self, key, default=MISSING, what: str = "an array of tables") -> list["Table"]:
        """The array of tables `key` (`[[key]]`), each named `key[i]` in messages."""
        def check(k, v):
            if not isinstance(v, list):
                self.checker.fail(k, what, v)
            return [Table(self.checker, item, f"{k}[{i}]") for i, item in enumerate(v)]
        return self._read(key, default, what, check)

    def done(self) -> None:
        """Refuse the first key of the table that was never read."""
        for key in self.data:
            if key not in self.asked:
                self.checker.unknown(self.key(key), dict.fromkeys(self.asked))
