"""What the firmware's flash and SRAM bytes are for, read from the linker map (firmware.map).

Passes: parse_map (the map's text -> output sections, each with the input sections and fills the
linker placed in it) -> category (object file and input section -> weights, engine, harness,
start-up, C library, stack, padding) -> split_usage (per memory kind, bytes per category; the gaps
between output sections count as padding).

Each region's bytes are counted as `elfsize.read_usage` counts them (the span from its lowest to its
highest placed byte, the .data image included in flash), so the flash and SRAM splits add up to the
firmware's `flash_used_bytes` and `sram_used_bytes` exactly. The ELF says which output sections
are allocated and which hold an image to load (the map shows debug sections at address 0 too, and
does not say which sections are NOLOAD).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from elftools.elf.constants import SH_FLAGS
from elftools.elf.elffile import ELFFile

from targets import TargetProfile

CATEGORIES = ("weights", "engine", "harness", "start-up", "C library", "stack", "padding", "other")
LABELS = {  # what each category holds, as the reports name it
    "weights": "weights (model constants)",
    "engine": "engine (kernels, invoke)",
    "harness": "harness (protocol, UART, timer, board)",
    "start-up": "start-up (vectors, reset, faults)",
    "C library": "C library (libgcc, libc)",
    "stack": "stack (reserved)",
    "padding": "alignment padding",
    "other": "other",
}
SRAM_LABELS = {**LABELS,  # the same categories as RAM holds them
               "engine": "engine buffers (activation arena + im2col scratch)",
               "harness": "harness (input/output buffers, serial line, timing)"}
STARTUP_OBJECTS = ("fw/startup.o", "fw/boot2_image.o")
_WEIGHTS = re.compile(r"\.rodata\.op\d+_")  # the generated engine's per-op constant arrays

_OUT = re.compile(r"^(\S+)?\s+0x([0-9a-fA-F]+)\s+0x([0-9a-fA-F]+)(?:\s+load address 0x([0-9a-fA-F]+))?\s*$")
_IN = re.compile(r"^ (\S+)?\s+0x([0-9a-fA-F]+)\s+0x([0-9a-fA-F]+)\s+(\S.*)$")
_FILL = re.compile(r"^ \*fill\*\s+0x([0-9a-fA-F]+)\s+0x([0-9a-fA-F]+)")


@dataclass(frozen=True)
class Piece:
    section: str  # input section name, or "*fill*"
    address: int
    size: int
    obj: str  # object file as the linker named it; "" for a fill


@dataclass(frozen=True)
class OutputSection:
    name: str
    address: int
    size: int
    load_address: int | None
    pieces: tuple[Piece, ...]


@dataclass(frozen=True)
class MemorySplit:
    """Bytes per category (in CATEGORIES order, zero categories left out) of flash and of SRAM."""
    flash: tuple[tuple[str, int], ...]
    sram: tuple[tuple[str, int], ...]


def parse_map(text: str) -> tuple[OutputSection, ...]:
    """The output sections of a GNU ld map, with their non-empty input sections and fills."""
    lines = text.splitlines()
    try:
        start = lines.index("Linker script and memory map")
    except ValueError:
        raise ValueError("not a GNU ld map: no 'Linker script and memory map' part") from None
    sections: list[OutputSection] = []
    current: dict | None = None
    pending_out = pending_in = None  # a name on its own line; its figures follow on the next

    def close():
        if current is not None:
            sections.append(OutputSection(current["name"], current["address"], current["size"],
                                          current["load"], tuple(current["pieces"])))

    for line in lines[start + 1:]:
        if line and not line[0].isspace() and " " not in line.strip():  # an output section's name alone
            if line.startswith((".", "/")) or line[0].isalpha() or line[0] == "_":
                pending_out, pending_in = line.strip(), None
                continue
        m = _OUT.match(line)
        if m and (m.group(1) or pending_out) and (m.group(1) is None or not line[0].isspace()):
            close()
            name = m.group(1) or pending_out
            current = {"name": name, "address": int(m.group(2), 16), "size": int(m.group(3), 16),
                       "load": int(m.group(4), 16) if m.group(4) else None, "pieces": []}
            pending_out = pending_in = None
            continue
        pending_out = None
        if current is None:
            continue
        fill = _FILL.match(line)
        if fill:
            size = int(fill.group(2), 16)
            if size:
                current["pieces"].append(Piece("*fill*", int(fill.group(1), 16), size, ""))
            pending_in = None
            continue
        if line.startswith(" ") and not line.startswith("  ") and line.strip() and " " not in line.strip():
            pending_in = line.strip()  # an input section's name alone; its figures on the next line
            continue
        m = _IN.match(line)
        if m and (m.group(1) or pending_in):
            size = int(m.group(3), 16)
            if size and not m.group(4).startswith(("load address", "0x")):
                current["pieces"].append(Piece(m.group(1) or pending_in, int(m.group(2), 16), size,
                                               m.group(4).strip()))
        pending_in = None
    close()
    return tuple(sections)


def category(obj: str, section: str, output: str) -> str:
    """What an input section is for, from the object that holds it and its name."""
    if not obj:
        return "stack" if output == ".stack" else "padding"
    if obj.endswith(")") or obj.endswith(".a"):  # an archive member: libgcc, libc_nano, libm
        return "C library"
    if obj.startswith("engine/"):
        return "weights" if _WEIGHTS.match(section) else "engine"
    if obj in STARTUP_OBJECTS:
        return "start-up"
    if obj.startswith("fw/"):
        return "harness"
    return "other"


def _counts(out: OutputSection) -> dict[str, int]:
    counts = dict.fromkeys(CATEGORIES, 0)
    for p in out.pieces:
        counts[category(p.obj, p.section, out.name)] += p.size
    rest = out.size - sum(p.size for p in out.pieces)
    if rest < 0:
        raise ValueError(f"the map's {out.name} holds {sum(p.size for p in out.pieces)} bytes in {out.size}")
    counts["stack" if out.name == ".stack" else "padding"] += rest  # e.g. a closing `. = ALIGN(4)`
    return counts


def allocated_sections(elf_path: Path) -> dict[str, bool]:
    """The ELF's allocated, non-empty sections: name -> whether it holds bytes to load (not NOBITS)."""
    with open(elf_path, "rb") as fh:
        return {s.name: s["sh_type"] != "SHT_NOBITS" for s in ELFFile(fh).iter_sections()
                if s["sh_flags"] & SH_FLAGS.SHF_ALLOC and s["sh_size"]}


def split_usage(sections: tuple[OutputSection, ...], allocated: dict[str, bool],
                target: TargetProfile) -> MemorySplit:
    """Bytes per category in the target's flash regions and in its RAM regions."""
    placed: dict[str, list[tuple[int, int, dict[str, int]]]] = {r.name: [] for r in target.memory}

    def place(address: int, size: int, counts: dict[str, int], kind: str | None = None) -> None:
        for r in target.memory:
            if r.contains(address) and (kind is None or r.kind == kind):
                placed[r.name].append((address, address + size, counts))
                return

    for out in sections:
        if out.name not in allocated or not out.size:
            continue
        counts = _counts(out)
        place(out.address, out.size, counts)
        if allocated[out.name] and out.load_address is not None and out.load_address != out.address:
            place(out.load_address, out.size, counts, "flash")  # the .data image, copied at start-up
    totals = {"flash": dict.fromkeys(CATEGORIES, 0), "ram": dict.fromkeys(CATEGORIES, 0)}
    for r in target.memory:
        end = None
        for lo, hi, counts in sorted(placed[r.name], key=lambda t: t[0]):
            if end is not None:
                if lo < end:
                    raise ValueError(f"sections overlap in region '{r.name}' at 0x{lo:08x}")
                totals[r.kind]["padding"] += lo - end
            for k, n in counts.items():
                totals[r.kind][k] += n
            end = hi

    def ordered(d: dict[str, int]) -> tuple[tuple[str, int], ...]:
        return tuple((k, d[k]) for k in CATEGORIES if d[k])

    return MemorySplit(flash=ordered(totals["flash"]), sram=ordered(totals["ram"]))


def read_split(map_path: Path, elf_path: Path, target: TargetProfile) -> MemorySplit:
    """The split of a linked firmware: its map and its ELF."""
    return split_usage(parse_map(Path(map_path).read_text()), allocated_sections(elf_path), target)
