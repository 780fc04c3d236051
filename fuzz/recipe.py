"""Fuzz target: a compression recipe TOML file (toolchain.compress.recipe.load_recipe).

Property: a clean EdgecError or success; never another exception, signal or hang.
"""
from __future__ import annotations

INSTRUMENT = ("toolchain.compress.recipe", "toolchain.base.tomlcheck")

FULL = b"""[train]
epochs = 2
batch_size = 32
learning_rate = 0.001
learning_rate_decay = "cosine"

[prune]
sparsity = 0.5
schedule = "polynomial"
begin_step = 0
end_step = -1
frequency = 10
m_by_n = [2, 4]
exclude = ["head"]
per_layer = { conv1 = 0.25 }
epochs = 1

[prune_structured]
sparsity = 0.25
round_to = 4

[cluster]
clusters = 16
preserve_sparsity = true
per_layer = { dense = 8 }

[factorize]
rank = 4

[distill]
temperature = 4.0
alpha = 0.5

[storage]
weights = "auto"
"""


def check(data: bytes) -> None:
    from fuzz._harness import scratch_file
    from toolchain.base.errors import EdgecError
    from toolchain.compress.recipe import load_recipe

    try:
        load_recipe(scratch_file(data, ".toml"))
    except EdgecError:
        return


def seeds() -> dict[str, bytes]:
    return {"full.toml": FULL, "factorize_energy.toml": b"[factorize]\nenergy = 0.9\nlayers = [\"fc\"]\n"}


if __name__ == "__main__":
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from fuzz._harness import run_as_script

    run_as_script("fuzz.recipe")
