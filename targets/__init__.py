"""Target profiles: one TOML file per target, read into frozen dataclasses.

The registry maps user-facing names to profile files. It is built by reading folders, in order:
the built-in `targets/profiles/`, then each folder in EDGEC_TARGETS_PATH (os.pathsep-separated);
a later folder's profile replaces an earlier one of the same name. `--target-file FILE` loads one
file directly.

A profile may `extends = "name"` to start from another profile, or from a base profile: a partial
profile in a `bases/` folder beside the profiles (e.g. the [reserves] many parts share), which is
not a target itself. Tables merge key by key; arrays ([[memory]]) and values replace. An error in
a field names the file that wrote that field.
"""
from __future__ import annotations

import os
import re
from pathlib import Path

from toolchain.base.errors import FieldError, UnknownKeyError, UnknownNameError
from toolchain.base.tomlcheck import read_toml
from targets.flasher_options import (CommandOptions, EsptoolOptions, MassStorageOptions,  # noqa: F401
                                     NoOptions, PyocdOptions)
from targets.hardware import Core, QemuMachine, cores, qemu_machines  # noqa: F401
from targets.schema import Board, MemoryRegion, Reserves, TargetProfile, parse_profile  # noqa: F401

BUILTIN_DIR = Path(__file__).resolve().parent / "profiles"
BASES = "bases"
ENV_VAR = "EDGEC_TARGETS_PATH"


def _search_dirs() -> list[Path]:
    dirs = [BUILTIN_DIR]
    for entry in os.environ.get(ENV_VAR, "").split(os.pathsep):
        if entry.strip():
            dirs.append(Path(entry))
    return dirs


def _files(sub: str = "") -> dict[str, Path]:
    names: dict[str, Path] = {}
    for folder in _search_dirs():
        folder = folder / sub if sub else folder
        if folder.is_dir():
            for path in sorted(folder.glob("*.toml")):
                names[path.stem] = path
    return names


def registry() -> dict[str, Path]:
    """Map every known target name to its profile file."""
    return _files()


def bases() -> dict[str, Path]:
    """Map every base profile name (the `bases/` folders: partial profiles, not targets) to its file."""
    return _files(BASES)


def _merge(base: dict, over: dict, over_path: str, origins: dict[str, str], prefix: str = "") -> dict:
    """`over` laid over `base`; `origins` gets the file of each key path that `over` writes."""
    out = dict(base)
    for key, value in over.items():
        origins[prefix + key] = over_path
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value, over_path, origins, f"{prefix}{key}.")
        else:
            if isinstance(value, dict):
                _record(value, over_path, origins, f"{prefix}{key}.")
            out[key] = value
    return out


def _record(table: dict, path: str, origins: dict[str, str], prefix: str) -> None:
    for key, value in table.items():
        origins[prefix + key] = path
        if isinstance(value, dict):
            _record(value, path, origins, f"{prefix}{key}.")


def _resolve(path: Path, origins: dict[str, str], seen: tuple[str, ...] = ()) -> dict:
    data = read_toml(path, "target profile")
    parent = data.pop("extends", None)
    if parent is None:
        _record(data, str(path), origins, "")
        return data
    if not isinstance(parent, str):
        raise FieldError(path, "extends", "the name of another target or of a base profile", parent)
    if parent in seen:
        raise FieldError(path, "extends", "a chain without cycles", parent)
    known = {**bases(), **registry()}
    if parent not in known:
        raise UnknownNameError("target or base profile (in 'extends')", parent, known)
    base = _resolve(known[parent], origins, seen + (parent,))
    for own in ("name", "description"):  # a profile's own: never inherited
        base.pop(own, None)
        origins.pop(own, None)
    return _merge(base, data, str(path), origins)


def _origin(field: str, origins: dict[str, str]) -> str | None:
    parts = re.sub(r"\[\d+\]", "", field).split(".")
    for n in range(len(parts), 0, -1):
        if ".".join(parts[:n]) in origins:
            return origins[".".join(parts[:n])]
    return None


def load_target_file(path: str | Path) -> TargetProfile:
    path = Path(path)
    origins: dict[str, str] = {}
    data = _resolve(path, origins)
    data.setdefault("name", path.stem)
    try:
        return parse_profile(data, str(path))
    except FieldError as exc:  # name the file that wrote the field (a base, or the profile)
        where = _origin(exc.field, origins)
        if where is None or where == str(path):
            raise
        if isinstance(exc, UnknownKeyError):
            raise UnknownKeyError(where, exc.field, exc.known, exc.kind) from None
        raise FieldError(where, exc.field, exc.expected, exc.got, exc.kind) from None


def load_target(name: str) -> TargetProfile:
    known = registry()
    if name not in known:
        raise UnknownNameError("target", name, known)
    return load_target_file(known[name])


def all_targets() -> list[TargetProfile]:
    return [load_target_file(p) for _, p in sorted(registry().items())]
