"""Generated engines compiled for the host with AddressSanitizer and UndefinedBehaviorSanitizer.

The kernel sources are the same text in every engine: each is compiled once (keyed by its text
and the kernel headers'), and each model adds only its own model file and the harness, so the
whole test suite's models build in seconds. Any sanitizer report aborts the run (no recovery),
which HostEngine.run turns into a ToolchainError holding the report.
"""
from __future__ import annotations

import hashlib
import os
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from firmware_export.cengine import generate_engine
from firmware_export.cengine.generate import host_main
from firmware_export.cengine.host import HostEngine, host_compiler
from toolchain.base.tflite_reader import read_tflite

SANITIZE = ("-fsanitize=address,undefined", "-fno-sanitize-recover=all", "-fno-omit-frame-pointer", "-g", "-O0")
FLAGS = ("-std=c99", "-Wall", "-Wextra")
# A report is a failure; leaks too (the harness frees nothing it does not need: statics only).
ENVIRONMENT = {"ASAN_OPTIONS": "abort_on_error=0:halt_on_error=1:detect_leaks=1:strict_string_checks=1:"
                               "detect_stack_use_after_return=1:check_initialization_order=1",
               "UBSAN_OPTIONS": "halt_on_error=1:print_stacktrace=1"}


class SanitizedBuilder:
    def __init__(self, folder: Path):
        self.folder = folder
        self.objects = folder / "objects"
        self.objects.mkdir(parents=True, exist_ok=True)
        self.compiler = host_compiler()

    def _compile(self, source: Path, obj: Path, include: Path) -> None:
        command = [self.compiler, *SANITIZE, *FLAGS, "-I", str(include), "-c", str(source), "-o", str(obj)]
        result = subprocess.run(command, capture_output=True, text=True)
        assert result.returncode == 0, result.stderr

    def build(self, name: str, model_bytes: bytes, harness=lambda text: text) -> HostEngine:
        """The engine of `model_bytes` and its harness (`harness` may edit the harness's source)."""
        engine = generate_engine(read_tflite(model_bytes, name), name, f"{name}.tflite")
        folder = self.folder / name
        engine.write(folder)
        (folder / "host_main.c").write_text(harness(host_main(engine)), encoding="utf-8")
        own = {f"{engine.name}.c", f"{engine.name}.h"}
        headers = "".join(text for f, text in engine.files.items() if f.endswith(".h") and f not in own)
        jobs, objects = [], []
        for filename, text in engine.files.items():
            if not filename.endswith(".c"):
                continue
            if filename in own:
                obj = folder / f"{Path(filename).stem}.o"
            else:  # a kernel: the same text in every engine, compiled once
                key = hashlib.sha256((filename + text + headers).encode()).hexdigest()[:16]
                obj = self.objects / f"{Path(filename).stem}-{key}.o"
            objects.append(obj)
            if not obj.exists():
                jobs.append((folder / filename, obj))
        jobs.append((folder / "host_main.c", folder / "host_main.o"))
        objects.append(folder / "host_main.o")
        with ThreadPoolExecutor(max_workers=2) as pool:
            list(pool.map(lambda job: self._compile(*job, folder), jobs))
        executable = folder / f"{engine.name}_asan"
        result = subprocess.run([self.compiler, *SANITIZE, "-o", str(executable), *map(str, objects)],
                                capture_output=True, text=True)
        assert result.returncode == 0, result.stderr
        return HostEngine(engine=engine, executable=executable)


def sanitizer_environment() -> dict[str, str]:
    return {**os.environ, **ENVIRONMENT}
