"""Flash and SRAM used, read from the linked ELF (pyelftools) and placed in the profile's regions."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from elftools.elf.constants import SH_FLAGS
from elftools.elf.elffile import ELFFile

from targets import TargetProfile


@dataclass(frozen=True)
class RegionUsage:
    name: str
    kind: str  # flash / ram
    start: int
    size_bytes: int
    used_bytes: int

    @property
    def free_bytes(self) -> int:
        return self.size_bytes - self.used_bytes


@dataclass(frozen=True)
class ElfUsage:
    regions: tuple[RegionUsage, ...]
    stack_bytes: int
    sections: tuple[tuple[str, int, int], ...]  # (name, address, size) of every allocated section

    @property
    def flash_used_bytes(self) -> int:
        return sum(r.used_bytes for r in self.regions if r.kind == "flash")

    @property
    def sram_used_bytes(self) -> int:
        return sum(r.used_bytes for r in self.regions if r.kind == "ram")


def _load_address(elf: ELFFile, addr: int) -> int:
    for seg in elf.iter_segments():
        if seg["p_type"] == "PT_LOAD" and seg["p_vaddr"] <= addr < seg["p_vaddr"] + seg["p_memsz"]:
            return seg["p_paddr"] + (addr - seg["p_vaddr"])
    return addr


def read_usage(elf_path: Path, target: TargetProfile) -> ElfUsage:
    """Bytes each region of `target` holds: code and constants and the .data image in flash,
    .data, .bss and the stack in RAM, measured as the span from the lowest to the highest byte
    placed in the region (alignment gaps are taken). A section outside every region counts nowhere."""
    spans: dict[str, list[tuple[int, int]]] = {r.name: [] for r in target.memory}
    sections = []
    stack = 0
    with open(elf_path, "rb") as fh:
        elf = ELFFile(fh)
        for sec in elf.iter_sections():
            if not sec["sh_flags"] & SH_FLAGS.SHF_ALLOC or sec["sh_size"] == 0:
                continue
            addr, size = sec["sh_addr"], sec["sh_size"]
            sections.append((sec.name, addr, size))
            if sec.name == ".stack":
                stack = size
            for r in target.memory:
                if r.contains(addr):
                    spans[r.name].append((addr, addr + size))
            if sec["sh_type"] != "SHT_NOBITS":
                lma = _load_address(elf, addr)
                if lma != addr:  # initialised data: its image sits in flash too
                    for r in target.memory:
                        if r.kind == "flash" and r.contains(lma):
                            spans[r.name].append((lma, lma + size))
    used = {name: (max(e for _, e in iv) - min(s for s, _ in iv)) if iv else 0 for name, iv in spans.items()}
    regions = tuple(RegionUsage(r.name, r.kind, r.start, r.size_bytes, used[r.name]) for r in target.memory)
    return ElfUsage(regions=regions, stack_bytes=stack, sections=tuple(sorted(sections, key=lambda s: s[1])))


def placed_ranges(elf_path: Path) -> tuple[tuple[str, int, int], ...]:
    """(section, start, end) of every byte range the ELF occupies in memory: each allocated
    section where it runs, and where its image is loaded from when that differs (initialised data)."""
    out = []
    with open(elf_path, "rb") as fh:
        elf = ELFFile(fh)
        for sec in elf.iter_sections():
            if not sec["sh_flags"] & SH_FLAGS.SHF_ALLOC or sec["sh_size"] == 0:
                continue
            addr, size = sec["sh_addr"], sec["sh_size"]
            out.append((sec.name, addr, addr + size))
            if sec["sh_type"] != "SHT_NOBITS":
                lma = _load_address(elf, addr)
                if lma != addr:
                    out.append((f"{sec.name} (load image)", lma, lma + size))
    return tuple(sorted(out, key=lambda r: r[1]))
