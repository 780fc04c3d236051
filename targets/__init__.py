"""Target profiles: one TOML file per target, read into frozen dataclasses.

The registry maps user-facing names to profile files. It is built by reading folders, in order:
the built-in `targets/profiles/`, then each folder in EDGEC_TARGETS_PATH (os.pathsep-separated);
a later folder's profile replaces an earlier one of the same name. `--target-file FILE` loads one
file directly. A profile may `extends = "other-name"` to copy another profile and override fields.
"""
from __future__ import annotations

import os
import tomllib
from pathlib import Path

from targets.schema import MemoryRegion, Reserves, TargetProfile, parse_profile  # noqa: F401
from toolchain.errors import InputFileError, ProfileError, UnknownNameError

BUILTIN_DIR = Path(__file__).resolve().parent / "profiles"
ENV_VAR = "EDGEC_TARGETS_PATH"


def _search_dirs() -> list[Path]:
    dirs = [BUILTIN_DIR]
    for entry in os.environ.get(ENV_VAR, "").split(os.pathsep):
        if entry.strip():
            dirs.append(Path(entry))
    return dirs


def registry() -> dict[str, Path]:
    """Map every known target name to its profile file."""
    names: dict[str, Path] = {}
    for folder in _search_dirs():
        if not folder.is_dir():
            continue
        for path in sorted(folder.glob("*.toml")):
            names[path.stem] = path
    return names


def _read_toml(path: Path) -> dict:
    try:
        with open(path, "rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise InputFileError(path, "no such target profile file") from None
    except tomllib.TOMLDecodeError as exc:
        raise InputFileError(path, f"not valid TOML: {exc}") from None


def _merge(base: dict, over: dict) -> dict:
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def _resolve(path: Path, seen: tuple[str, ...] = ()) -> dict:
    data = _read_toml(path)
    parent = data.pop("extends", None)
    if parent is None:
        return data
    if not isinstance(parent, str):
        raise ProfileError(path, "extends", "the name of another target", parent)
    if parent in seen:
        raise ProfileError(path, "extends", "a chain without cycles", parent)
    known = registry()
    if parent not in known:
        raise UnknownNameError("target (in 'extends')", parent, known)
    base = _resolve(known[parent], seen + (parent,))
    base.pop("description", None)
    return _merge(base, data)


def load_target_file(path: str | Path) -> TargetProfile:
    path = Path(path)
    data = _resolve(path)
    data.setdefault("name", path.stem)
    return parse_profile(data, str(path))


def load_target(name: str) -> TargetProfile:
    known = registry()
    if name not in known:
        raise UnknownNameError("target", name, known)
    return load_target_file(known[name])


def all_targets() -> list[TargetProfile]:
    return [load_target_file(p) for _, p in sorted(registry().items())]
