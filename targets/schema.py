"""The target profile schema: what hardware a target is (never how to build for it).

A profile is a TOML file. Units live in field names (`_bytes`, `_hz`, `_baud`). Memory is a list
of typed regions; the model's arena is placed in the region marked `arena = true`.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from toolchain.errors import ProfileError

CORES = ("cortex-m0plus", "cortex-m3", "cortex-m4", "cortex-m7", "cortex-m33", "cortex-m55",
         "cortex-m85", "xtensa-lx6", "xtensa-lx7", "riscv32")
FLASHERS = ("qemu", "pyocd", "esptool", "mass-storage", "command", "none")
REGION_KINDS = ("flash", "ram")


@dataclass(frozen=True)
class MemoryRegion:
    name: str
    kind: str
    start: int
    size_bytes: int
    arena: bool = False  # the model's tensor arena goes here

    @property
    def end(self) -> int:
        return self.start + self.size_bytes

    def contains(self, address: int, length: int = 1) -> bool:
        return self.start <= address and address + length <= self.end

    def overlaps(self, other: "MemoryRegion") -> bool:
        return self.start < other.end and other.start < self.end


@dataclass(frozen=True)
class Reserves:
    """Bytes taken by what is not the model (datasheet-free estimates a user may override)."""
    runtime_flash_bytes: int  # TFLM interpreter + kernels code
    app_flash_bytes: int  # the user's application, startup, drivers
    runtime_sram_bytes: int  # interpreter objects outside the arena
    app_sram_bytes: int  # application data, buffers, heap
    stack_bytes: int


@dataclass(frozen=True)
class Serial:
    baud: int = 115200
    port_hint: str = ""  # e.g. /dev/ttyACM0


@dataclass(frozen=True)
class Emulator:
    machine: str
    cpu: str = ""
    uart: str = ""  # UART driver the firmware uses on this machine


@dataclass(frozen=True)
class TargetProfile:
    name: str
    description: str
    core: str
    cflags: tuple[str, ...]
    clock_hz: int
    memory: tuple[MemoryRegion, ...]
    reserves: Reserves
    flasher: str
    serial: Serial
    emulator: Emulator | None = None
    uart: str = ""  # UART driver of the real board (e.g. "stm32-usart", "cmsdk-uart", "nrf-uarte")
    uart_base: int = 0
    flasher_options: dict[str, Any] = field(default_factory=dict, compare=False)
    source: str = ""

    @property
    def flash_regions(self) -> tuple[MemoryRegion, ...]:
        return tuple(r for r in self.memory if r.kind == "flash")

    @property
    def ram_regions(self) -> tuple[MemoryRegion, ...]:
        return tuple(r for r in self.memory if r.kind == "ram")

    @property
    def flash_bytes(self) -> int:
        return sum(r.size_bytes for r in self.flash_regions)

    @property
    def sram_bytes(self) -> int:
        return sum(r.size_bytes for r in self.ram_regions)

    @property
    def arena_region(self) -> MemoryRegion:
        return next(r for r in self.ram_regions if r.arena)

    @property
    def is_cortex_m(self) -> bool:
        return self.core.startswith("cortex-m")


def _req(data: dict, key: str, path: str, where: str, kind, expected: str):
    full = f"{where}{key}"
    if key not in data:
        raise ProfileError(path, full, expected + " (missing)")
    value = data[key]
    if kind is int and (isinstance(value, bool) or not isinstance(value, int)):
        raise ProfileError(path, full, expected, value)
    if kind is not int and not isinstance(value, kind):
        raise ProfileError(path, full, expected, value)
    return value


def _size(data: dict, key: str, path: str, where: str = "", positive: bool = False) -> int:
    expected = "a positive whole number of bytes" if positive else "a whole number of bytes >= 0"
    value = _req(data, key, path, where, int, expected)
    if value < 0 or (positive and value == 0):
        raise ProfileError(path, f"{where}{key}", expected, value)
    return value


def _choice(data: dict, key: str, path: str, choices, where: str = "") -> str:
    value = _req(data, key, path, where, str, "one of " + ", ".join(choices))
    if value not in choices:
        raise ProfileError(path, f"{where}{key}", "one of " + ", ".join(choices), value)
    return value


_TOP_KEYS = {"name", "description", "core", "cflags", "clock_hz", "memory", "reserves", "flasher",
             "flasher_options", "serial", "emulator", "uart", "uart_base", "extends"}


def parse_profile(data: dict, path: str) -> TargetProfile:
    """Validate a profile's TOML table and return it as a frozen TargetProfile."""
    unknown = sorted(set(data) - _TOP_KEYS)
    if unknown:
        raise ProfileError(path, unknown[0], "one of the known fields: " + ", ".join(sorted(_TOP_KEYS)))
    name = _req(data, "name", path, "", str, "a target name (text)")
    core = _choice(data, "core", path, CORES)
    cflags = _req(data, "cflags", path, "", list, "a list of compiler flags")
    if not all(isinstance(f, str) for f in cflags):
        raise ProfileError(path, "cflags", "a list of text flags", cflags)
    clock_hz = _size(data, "clock_hz", path, positive=True)
    regions_data = _req(data, "memory", path, "", list, "a list of [[memory]] regions")
    regions = []
    for i, r in enumerate(regions_data):
        where = f"memory[{i}]."
        if not isinstance(r, dict):
            raise ProfileError(path, f"memory[{i}]", "a table with name, kind, start, size_bytes", r)
        regions.append(MemoryRegion(
            name=_req(r, "name", path, where, str, "a region name"),
            kind=_choice(r, "kind", path, REGION_KINDS, where),
            start=_size(r, "start", path, where),
            size_bytes=_size(r, "size_bytes", path, where, positive=True),
            arena=bool(r.get("arena", False)),
        ))
    if not any(r.kind == "flash" for r in regions):
        raise ProfileError(path, "memory", "at least one region of kind 'flash'")
    rams = [r for r in regions if r.kind == "ram"]
    if not rams:
        raise ProfileError(path, "memory", "at least one region of kind 'ram'")
    arenas = [r for r in rams if r.arena]
    if len(arenas) > 1:
        raise ProfileError(path, "memory", "at most one ram region with arena = true")
    if not arenas:  # default: the largest RAM region holds the arena
        largest = max(rams, key=lambda r: r.size_bytes)
        regions = [MemoryRegion(r.name, r.kind, r.start, r.size_bytes, r is largest) for r in regions]
    for a in regions:
        for b in regions:
            if a is not b and a.overlaps(b) and a.name < b.name:
                raise ProfileError(path, "memory", f"regions that do not overlap ('{a.name}' and '{b.name}' do)")
    res = _req(data, "reserves", path, "", dict, "a [reserves] table")
    reserves = Reserves(**{k: _size(res, k, path, "reserves.") for k in
                           ("runtime_flash_bytes", "app_flash_bytes", "runtime_sram_bytes",
                            "app_sram_bytes", "stack_bytes")})
    ser = data.get("serial", {})
    serial = Serial(baud=_size(ser, "baud", path, "serial.", positive=True) if "baud" in ser else 115200,
                    port_hint=str(ser.get("port_hint", "")))
    emulator = None
    if "emulator" in data:
        emu = data["emulator"]
        emulator = Emulator(machine=_req(emu, "machine", path, "emulator.", str, "a QEMU machine name"),
                            cpu=str(emu.get("cpu", "")), uart=str(emu.get("uart", "")))
    return TargetProfile(
        name=name,
        description=str(data.get("description", "")),
        core=core,
        cflags=tuple(cflags),
        clock_hz=clock_hz,
        memory=tuple(regions),
        reserves=reserves,
        flasher=_choice(data, "flasher", path, FLASHERS),
        serial=serial,
        emulator=emulator,
        uart=str(data.get("uart", "")),
        uart_base=_size(data, "uart_base", path) if "uart_base" in data else 0,
        flasher_options=dict(data.get("flasher_options", {})),
        source=path,
    )
