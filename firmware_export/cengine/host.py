"""Compile a generated engine with the host C compiler and run it on a batch of inputs.

Used by `edgec validate --runtime c`, the tests and the bench scripts. The harness reads the
inputs from one binary file and writes the raw outputs to another (see templates/host_main.c.tmpl).
"""
from __future__ import annotations

import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from toolchain.base.errors import ToolchainError

from .generate import GeneratedEngine, host_main

WARNING_FLAGS = ("-std=c99", "-Wall", "-Wextra", "-Werror")
_NUMPY_DTYPES = {"int8": np.int8, "float32": np.float32}


def host_compiler() -> str:
    for name in ("cc", "gcc", "clang"):
        path = shutil.which(name)
        if path:
            return path
    raise ToolchainError("cc", "no host C compiler found (install gcc)")


@dataclass(frozen=True)
class HostEngine:
    """A compiled host executable of an engine."""

    engine: GeneratedEngine
    executable: Path

    def run(self, inputs: np.ndarray, repeat: int = 1) -> np.ndarray:
        """Run one inference per row of `inputs` (shape [n, *input_shape]); return [n, *output_shape]."""
        dtype = _NUMPY_DTYPES[self.engine.input_dtype]
        batch = np.ascontiguousarray(inputs, dtype=dtype).reshape(-1, self.engine.input_bytes // dtype().itemsize)
        folder = self.executable.parent
        in_path, out_path = folder / "inputs.bin", folder / "outputs.bin"
        in_path.write_bytes(batch.tobytes())
        result = subprocess.run([str(self.executable), str(in_path), str(out_path), str(repeat)],
                                capture_output=True, text=True)
        if result.returncode != 0:
            raise ToolchainError(self.executable.name, f"exited with code {result.returncode}",
                                 result.stdout + result.stderr)
        out_dtype = _NUMPY_DTYPES[self.engine.output_dtype]
        outputs = np.frombuffer(out_path.read_bytes(), dtype=out_dtype)
        return outputs.reshape((len(batch),) + tuple(self.engine.output_shape))


def compile_host(engine: GeneratedEngine, folder: str | Path | None = None, opt: str = "-O2",
                 defines: tuple[str, ...] = (), compiler: str | None = None) -> HostEngine:
    """Write the engine and its harness to `folder` (a new temporary one if None) and build it."""
    folder = Path(folder) if folder is not None else Path(tempfile.mkdtemp(prefix=f"edgec_{engine.name}_"))
    engine.write(folder)
    (folder / "host_main.c").write_text(host_main(engine), encoding="utf-8")
    sources = sorted(str(folder / f) for f in engine.files if f.endswith(".c")) + [str(folder / "host_main.c")]
    executable = folder / f"{engine.name}_host"
    command = [compiler or host_compiler(), opt, *WARNING_FLAGS, *(f"-D{d}" for d in defines),
               "-I", str(folder), "-o", str(executable), *sources]
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        raise ToolchainError(Path(command[0]).name, "failed to compile the generated engine",
                             result.stdout + result.stderr)
    return HostEngine(engine=engine, executable=executable)
