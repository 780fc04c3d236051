"""The packages import one way: a module imports only from its own layer or the layers below it
(toolchain/base/__init__.py names them). Checked twice: statically over every import statement,
the ones inside functions included, and by importing each layer with the layers above it blocked."""
from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
# (layer name, module prefixes), bottom first; a module belongs to the layer of its longest prefix.
LAYERS = (
    ("base", ("toolchain.base",)),
    ("hardware facts", ("targets",)),
    ("passes and export", ("toolchain", "firmware_export")),
    ("device I/O", ("toolchain.device", "toolchain.benchmark")),
    ("command line", ("toolchain.cli",)),
)
PACKAGES = ("toolchain", "targets", "firmware_export")


def layer_of(module: str) -> int | None:
    """The index of `module`'s layer, or None for a module outside the project."""
    if module == "toolchain":  # the package root holds only its version: part of the base
        return 0
    best = None
    for index, (_, prefixes) in enumerate(LAYERS):
        for prefix in prefixes:
            if module == prefix or module.startswith(prefix + "."):
                if best is None or len(prefix) > len(best[1]):
                    best = (index, prefix)
    return None if best is None else best[0]


def project_modules() -> dict[str, Path]:
    modules = {}
    for package in PACKAGES:
        for path in sorted((REPO / package).rglob("*.py")):
            parts = list(path.relative_to(REPO).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            modules[".".join(parts)] = path
    return modules


def imports_of(module: str, path: Path) -> set[str]:
    """Every module named by an import statement of the file, relative imports resolved."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([node.module] if node.module else []))
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return found


def test_the_layer_table_covers_every_module():
    assert all(layer_of(m) is not None for m in project_modules())


def test_no_import_statement_reaches_a_higher_layer():
    modules = project_modules()
    upward = []
    for module, path in modules.items():
        own = layer_of(module)
        for name in imports_of(module, path):
            target = layer_of(name)
            if target is not None and target > own and name in modules:
                upward.append(f"{module} ({LAYERS[own][0]}) imports {name} ({LAYERS[target][0]})")
    assert upward == []


def test_the_static_check_sees_an_upward_import(tmp_path):
    path = tmp_path / "probe.py"
    path.write_text("def f():\n    from ..cli import main\n")
    assert "toolchain.cli" in imports_of("toolchain.device.probe", path)


BLOCKER = """
import importlib, sys
sys.path.insert(0, {repo!r})
blocked = {blocked!r}
class Block:
    def find_spec(self, name, path=None, target=None):
        if any(name == b or name.startswith(b + ".") for b in blocked):
            raise ImportError(f"{{name}} is in a higher layer")
        return None
sys.meta_path.insert(0, Block())
for module in {modules!r}:
    importlib.import_module(module)
print("ok")
"""


@pytest.mark.parametrize("index", range(len(LAYERS) - 1), ids=[name for name, _ in LAYERS[:-1]])
def test_each_layer_imports_with_the_layers_above_it_blocked(index):
    modules = project_modules()
    own = sorted(m for m in modules if layer_of(m) == index and not m.endswith("__main__"))
    higher = sorted(m for m in modules if layer_of(m) > index)
    # block the higher layers' modules themselves (a prefix such as "toolchain" would block the base too)
    code = BLOCKER.format(repo=str(REPO), blocked=higher, modules=own)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0 and out.stdout.strip().endswith("ok"), out.stderr[-3000:]
