"""The target profile schema: what hardware a target is (never how to build for it).

A profile is a TOML file. Units live in field names (`_bytes`, `_hz`, `_baud`). Memory is a list
of typed regions; the model's arena is placed in the region marked `arena = true`.
"""
from __future__ import annotations

from dataclasses import dataclass

from toolchain.base.tomlcheck import MISSING, Checker, Table
from targets.flasher_options import FLASHERS, FlasherOptions, NoOptions, parse_flasher_options
from targets.hardware import Core, QemuMachine, cores, qemu_machines

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
class Board:
    """What the benchmark firmware sets up on a real board at start-up: the clock it runs the core
    at (which may be below the part's full speed, `clock_hz`) and the UART's clock and pins."""
    setup: str  # the start-up code that does it (firmware_export.firmware.boards), e.g. "stm32l4plus"
    core_clock_hz: int  # the clock the firmware runs the core at: latency = cycles / core_clock_hz
    uart_clock_hz: int  # the UART's kernel clock under that set-up
    uart_tx_pin: str  # the vendor's pin name: "PG7" (STM32), "P0.06" (nRF), "GP0" (RP2040)
    uart_rx_pin: str
    uart_pin_function: int = 0  # the pins' alternate function: STM32 AFn, RP2040 FUNCSEL; 0: none


@dataclass(frozen=True)
class TargetProfile:
    name: str
    description: str
    core: str
    cflags: tuple[str, ...]
    clock_hz: int
    memory: tuple[MemoryRegion, ...]
    reserves: Reserves
    flasher: str  # how it is written: one of targets.flasher_options.FLASHERS
    serial: Serial
    emulator: QemuMachine | None = None  # the QEMU machine that emulates this board
    uart: str = ""  # the firmware's UART driver (e.g. "stm32-usart", "cmsdk-uart", "nrf-uarte")
    uart_base: int = 0
    board: Board | None = None  # start-up of a real board (clock, UART pins); None on an emulator
    flasher_options: FlasherOptions = NoOptions()
    source: str = ""

    @property
    def core_spec(self) -> Core:
        """What the core is (targets/cores.toml): DSP, FPU, CPUID, DWT..."""
        return cores()[self.core]

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
        return self.core_spec.is_cortex_m


def _bytes(t: Table, key: str, positive: bool = False) -> int:
    return t.integer(key, MISSING, 1 if positive else 0, what="a whole number of bytes")


def _memory(c: Checker, tables: list[Table]) -> tuple[MemoryRegion, ...]:
    regions = []
    for r in tables:
        regions.append(MemoryRegion(name=r.text("name", what="a region name"), kind=r.choice("kind", REGION_KINDS),
                                    start=r.integer("start", lo=0, what="an address"),
                                    size_bytes=_bytes(r, "size_bytes", positive=True),
                                    arena=r.boolean("arena", False)))
        r.done()
    if not any(r.kind == "flash" for r in regions):
        c.fail("memory", "at least one region of kind 'flash'")
    rams = [r for r in regions if r.kind == "ram"]
    if not rams:
        c.fail("memory", "at least one region of kind 'ram'")
    arenas = [r for r in rams if r.arena]
    if len(arenas) > 1:
        c.fail("memory", "at most one ram region with arena = true")
    if not arenas:  # default: the largest RAM region holds the arena
        largest = max(rams, key=lambda r: r.size_bytes)
        regions = [MemoryRegion(r.name, r.kind, r.start, r.size_bytes, r is largest) for r in regions]
    for a in regions:
        for b in regions:
            if a is not b and a.overlaps(b) and a.name < b.name:
                c.fail("memory", f"regions that do not overlap ('{a.name}' and '{b.name}' do)")
    return tuple(regions)


def _reserves(t: Table) -> Reserves:
    reserves = Reserves(**{k: _bytes(t, k) for k in ("runtime_flash_bytes", "app_flash_bytes",
                                                      "runtime_sram_bytes", "app_sram_bytes", "stack_bytes")})
    t.done()
    return reserves


def _serial(t: Table) -> Serial:
    serial = Serial(baud=t.integer("baud", 115_200, 1, what="a baud rate"),
                    port_hint=t.text("port_hint", "", "a serial port name"))
    t.done()
    return serial


def _emulator(t: Table | None, core: str) -> QemuMachine | None:
    if t is None:
        return None
    machines = qemu_machines()
    machine = machines[t.choice("machine", tuple(machines))]
    t.done()
    if not cores()[machine.cpu].runs_code_for(cores()[core]):
        t.checker.fail("emulator.machine", f"a QEMU machine with a {core} core, or one of the same architecture "
                       f"and extensions ({machine.machine} has a {machine.cpu})", machine.machine)
    return machine


def _board(t: Table | None) -> Board | None:
    if t is None:
        return None
    board = Board(setup=t.text("setup", what="the name of the board's start-up code"),
                  core_clock_hz=t.integer("core_clock_hz", lo=1, what="a clock in Hz"),
                  uart_clock_hz=t.integer("uart_clock_hz", lo=1, what="a clock in Hz"),
                  uart_tx_pin=t.text("uart_tx_pin", what="a pin name"),
                  uart_rx_pin=t.text("uart_rx_pin", what="a pin name"),
                  uart_pin_function=t.integer("uart_pin_function", 0, 0, what="an alternate function number"))
    t.done()
    return board


def parse_profile(data: dict, path: str) -> TargetProfile:
    """Validate a profile's TOML tables (after `extends`) and return it as a frozen TargetProfile.
    Every table's unknown keys are refused, naming the file and the key."""
    c = Checker(path)
    t = c.table(data)
    name = t.text("name", what="a target name (text)")
    description = t.text("description", "")
    core = t.choice("core", tuple(cores()))
    cflags = t.texts("cflags", cores()[core].cflags, "a list of compiler flags")
    clock_hz = t.integer("clock_hz", lo=1, what="a clock in Hz")
    memory = _memory(c, t.tables("memory", what="a list of [[memory]] regions"))
    reserves = _reserves(t.table("reserves", what="a [reserves] table"))
    flasher = t.choice("flasher", FLASHERS)
    flasher_options = parse_flasher_options(flasher, t.table("flasher_options", {}))
    serial = _serial(t.table("serial", {}))
    emulator = _emulator(t.table("emulator", None), core)
    if flasher == "qemu" and emulator is None:
        c.fail("emulator", "an [emulator] table with the QEMU machine (flasher = \"qemu\") (missing)")
    uart = t.text("uart", emulator.uart if emulator else "", "a UART driver name")
    uart_base = t.integer("uart_base", emulator.uart_base if emulator else 0, 0, what="an address")
    if emulator is not None and (uart, uart_base) != (emulator.uart, emulator.uart_base):
        c.fail("uart", f"the machine's UART ({emulator.uart} at 0x{emulator.uart_base:08X}) or none",
               f"{uart} at 0x{uart_base:08X}")
    board = _board(t.table("board", None))
    t.done()
    return TargetProfile(name=name, description=description, core=core, cflags=cflags, clock_hz=clock_hz,
                         memory=memory, reserves=reserves, flasher=flasher, serial=serial, emulator=emulator,
                         uart=uart, uart_base=uart_base, board=board, flasher_options=flasher_options,
                         source=path)
