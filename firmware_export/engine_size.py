"""The generated engine's flash and SRAM, read from its compiled objects (not estimated).

Each engine source is compiled for the target with the target's own flags; the allocated
sections of the objects are summed by kind: code (executable), constants (read-only data:
weights, biases, multipliers, tables), initialised data, and zero-initialised data (the
activation arena).
"""
from __future__ import annotations

import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from elftools.elf.constants import SH_FLAGS
from elftools.elf.elffile import ELFFile

from toolchain.base.errors import ToolchainError

CROSS_CC = "arm-none-eabi-gcc"


@dataclass(frozen=True)
class EngineSize:
    code_bytes: int
    const_bytes: int
    data_bytes: int
    bss_bytes: int
    compiler: str  # what the objects were compiled with, e.g. "arm-none-eabi-gcc -mcpu=cortex-m7 ..."
    commands: tuple[tuple[str, ...], ...] = ()  # each compile command exactly, run in the engine's folder

    @property
    def flash_bytes(self) -> int:
        return self.code_bytes + self.const_bytes + self.data_bytes

    @property
    def sram_bytes(self) -> int:
        return self.data_bytes + self.bss_bytes


def _section_sizes(obj: Path) -> tuple[int, int, int, int]:
    code = const = data = bss = 0
    with open(obj, "rb") as fh:
        for sec in ELFFile(fh).iter_sections():
            flags = sec["sh_flags"]
            if not flags & SH_FLAGS.SHF_ALLOC:
                continue
            size = sec["sh_size"]
            if flags & SH_FLAGS.SHF_EXECINSTR:
                code += size
            elif not flags & SH_FLAGS.SHF_WRITE:
                const += size
            elif sec["sh_type"] == "SHT_NOBITS":
                bss += size
            else:
                data += size
    return code, const, data, bss


def compiler_for(target) -> list[str]:
    """The compiler command for the target's core: the Arm cross compiler for Cortex-M."""
    if not target.is_cortex_m:
        raise ToolchainError(target.core, "the generated engine's size is measured with arm-none-eabi-gcc, "
                                          "which builds for Cortex-M cores only; use --runtime tflm for this target")
    cc = shutil.which(CROSS_CC)
    if cc is None:
        raise ToolchainError(CROSS_CC, "not found: install the Debian packages gcc-arm-none-eabi and "
                                       "libnewlib-arm-none-eabi to size the C engine for the target")
    return [cc, *target.cflags, "-O2", "-std=c99", "-ffunction-sections", "-fdata-sections"]


def measure_engine(engine, target) -> EngineSize:
    """Compile every .c file of `engine` for `target` and sum the objects' sections."""
    cmd = compiler_for(target)
    totals = [0, 0, 0, 0]
    commands = []
    with tempfile.TemporaryDirectory(prefix="edgec-size-") as tmp:
        folder = Path(tmp)
        engine.write(folder)
        for source in sorted(folder.glob("*.c")):
            obj = source.with_suffix(".o")
            args = [*cmd, "-c", source.name, "-o", obj.name]
            commands.append((CROSS_CC, *args[1:]))
            proc = subprocess.run(args, cwd=folder, capture_output=True, text=True)
            if proc.returncode != 0:
                raise ToolchainError(CROSS_CC, f"cannot compile the generated {source.name}", proc.stderr)
            totals = [a + b for a, b in zip(totals, _section_sizes(obj))]
    return EngineSize(*totals, compiler=" ".join([CROSS_CC, *cmd[1:]]), commands=tuple(commands))
