"""Fuzz target: a target profile TOML file (`--target-file`): the TOML parse, `extends`, and every
field's check (targets.load_target_file).

Property: a clean EdgecError or success; never another exception, signal or hang.
"""
from __future__ import annotations

INSTRUMENT = ("targets", "targets.schema", "targets.hardware", "toolchain.base.tomlcheck")


def check(data: bytes) -> None:
    from fuzz._harness import scratch_file
    from targets import load_target_file
    from toolchain.base.errors import EdgecError

    try:
        load_target_file(scratch_file(data, ".toml"))
    except EdgecError:
        return


def seeds() -> dict[str, bytes]:
    from fuzz._harness import REPO

    folder = REPO / "targets/profiles"
    return {p.name: p.read_bytes() for p in sorted([*folder.glob("*.toml"), *(folder / "bases").glob("*.toml")])}


if __name__ == "__main__":
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from fuzz._harness import run_as_script

    run_as_script("fuzz.target_profile")
