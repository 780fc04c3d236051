"""The generated engine's flash and SRAM, read from its compiled code (not estimated).

Each engine source is compiled for the target with the target's own flags, each function and
array in its own section, and the objects are linked as a firmware links them (--gc-sections,
from the model's own functions and data: a kernel's functions that no layer calls are left out);
the allocated sections of the linked engine are summed by kind: code (executable), constants
(read-only data: weights, biases, multipliers, tables), initialised data, and zero-initialised
data (the activation arena). The C library the kernels call (memcpy, memset) is not counted.
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


def _defined_globals(obj: Path) -> list[str]:
    """The global functions and data an object defines: the model's API, kept by the link."""
    with open(obj, "rb") as fh:
        table = ELFFile(fh).get_section_by_name(".symtab")
        return sorted(sym.name for sym in table.iter_symbols()
                      if sym["st_info"]["bind"] == "STB_GLOBAL" and sym["st_shndx"] != "SHN_UNDEF"
                      and sym["st_info"]["type"] in ("STT_FUNC", "STT_OBJECT"))


def _run(args: list[str], folder: Path, what: str) -> None:
    proc = subprocess.run(args, cwd=folder, capture_output=True, text=True)
    if proc.returncode != 0:
        raise ToolchainError(CROSS_CC, what, proc.stderr)


def measure_engine(engine, target) -> EngineSize:
    """Compile every .c file of `engine` for `target`, link what the model's own functions and data
    reach, and sum the linked sections."""
    cmd = compiler_for(target)
    commands = []
    with tempfile.TemporaryDirectory(prefix="edgec-size-") as tmp:
        folder = Path(tmp)
        engine.write(folder)
        objects = []
        for source in sorted(folder.glob("*.c")):
            obj = source.with_suffix(".o")
            args = [*cmd, "-c", source.name, "-o", obj.name]
            commands.append((CROSS_CC, *args[1:]))
            _run(args, folder, f"cannot compile the generated {source.name}")
            objects.append(obj.name)
        keep = _defined_globals(folder / f"{engine.name}.o")
        args = [*cmd, "-nostdlib", "-Wl,--gc-sections", "-Wl,--unresolved-symbols=ignore-all",
                "-Wl,--no-warn-rwx-segments", f"-Wl,--entry={engine.name}_invoke",
                *(f"-Wl,--undefined={name}" for name in keep), *objects, "-o", "engine.elf"]
        commands.append((CROSS_CC, *args[1:]))
        _run(args, folder, "cannot link the generated engine")
        totals = _section_sizes(folder / "engine.elf")
    return EngineSize(*totals, compiler=" ".join([CROSS_CC, *cmd[1:]]), commands=tuple(commands))
