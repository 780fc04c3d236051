"""Facts shared by many targets: the cores (targets/cores.toml) and QEMU's emulated boards
(targets/qemu_machines.toml), each read once into frozen dataclasses by the one TOML checker."""
from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

from toolchain.base.tomlcheck import Checker, read_toml

HERE = Path(__file__).resolve().parent
CORES_FILE = HERE / "cores.toml"
MACHINES_FILE = HERE / "qemu_machines.toml"

ARCHS = ("armv6-m", "armv7-m", "armv7e-m", "armv8-m.main", "armv8.1-m.main", "xtensa", "riscv32")
FPUS = ("none", "sp", "dp")
# The architectures whose code an architecture runs unchanged, instruction for instruction: Armv7-M
# is Armv6-M's Thumb subset plus Thumb-2, Armv7E-M adds the DSP extension to Armv7-M.
ARCH_INCLUDES = {"armv7-m": ("armv6-m",), "armv7e-m": ("armv7-m", "armv6-m")}


@dataclass(frozen=True)
class Core:
    name: str
    arch: str
    dsp: bool  # SIMD multiply-accumulate (the Arm DSP extension; the ESP32-S3's PIE)
    fpu: str  # the largest FPU the core may have: none, sp, dp
    helium: bool
    dwt_cycle_counter: bool
    cpuid_partno: int | None  # CPUID.PARTNO; None on a core that is not an Arm Cortex-M
    cycles_per_mac_estimate: float
    cflags: tuple[str, ...]

    @property
    def is_cortex_m(self) -> bool:
        return self.arch.startswith("armv")

    def runs_code_for(self, other: "Core") -> bool:
        """True when this core executes every instruction built for `other`, and only those that
        `other` has: the same core, or one of the same architecture and extensions (a Cortex-M0
        and a Cortex-M0+ are both Armv6-M with nothing added; QEMU models only the first)."""
        return self == other or (self.arch, self.dsp, self.fpu, self.helium) == (other.arch, other.dsp, other.fpu,
                                                                                 other.helium)

    def includes(self, other: "Core") -> bool:
        """True when this core executes every instruction built for `other`, with the same results,
        and maybe more: `runs_code_for`, or a later architecture whose instruction set contains
        `other`'s (a Cortex-M3 runs code built for a Cortex-M0+, not the other way round)."""
        return self.runs_code_for(other) or (other.arch in ARCH_INCLUDES.get(self.arch, ())
                                             and not other.dsp and other.fpu == "none" and not other.helium)


@dataclass(frozen=True)
class MachineMemory:
    """A range of memory a QEMU machine has (read from its `info mtree`)."""
    name: str
    start: int
    size_bytes: int

    @property
    def end(self) -> int:
        return self.start + self.size_bytes


# QEMU runs with `-icount shift=QEMU_ICOUNT_SHIFT`: its virtual clock advances 2**shift ns per guest
# instruction, so a timer the firmware reads counts instructions (toolchain.device.emulator; the
# firmware's m-lap-us turns them back into instructions, then into time at the profile's clock).
QEMU_ICOUNT_SHIFT = 0


@dataclass(frozen=True)
class QemuMachine:
    """An emulated board: QEMU's `-machine`, its core and the clocks and UART the firmware finds."""
    machine: str
    cpu: str  # QEMU's -cpu
    sysclk_hz: int  # what SysTick counts with CLKSOURCE = 1 (QEMU's "cpuclk")
    uart: str  # the firmware's driver of serial0
    uart_base: int
    uart_clock_hz: int
    uart_irq: int  # the NVIC interrupt (IRQn) its receive interrupt raises
    memory: tuple[MachineMemory, ...]  # where the machine has memory: what a firmware may occupy

    def memory_at(self, address: int) -> MachineMemory | None:
        return next((m for m in self.memory if m.start <= address < m.end), None)


@functools.lru_cache(maxsize=1)
def cores() -> dict[str, Core]:
    """Every core a profile may name, from targets/cores.toml."""
    return read_cores(CORES_FILE)


@functools.lru_cache(maxsize=1)
def qemu_machines() -> dict[str, QemuMachine]:
    """Every QEMU machine a profile's [emulator] may name, from targets/qemu_machines.toml."""
    return read_qemu_machines(MACHINES_FILE)


def read_cores(path: Path) -> dict[str, Core]:
    c = Checker(path)
    out = {}
    for name, data in read_toml(path, "cores file").items():
        t = c.table(data, name)
        out[name] = Core(name=name, arch=t.choice("arch", ARCHS), dsp=t.boolean("dsp"),
                         fpu=t.choice("fpu", FPUS), helium=t.boolean("helium"),
                         dwt_cycle_counter=t.boolean("dwt_cycle_counter"),
                         cpuid_partno=t.integer("cpuid_partno", None, 0, 0xFFF),
                         cycles_per_mac_estimate=t.number("cycles_per_mac_estimate", lo=0, lo_open=True),
                         cflags=t.texts("cflags", what="a list of compiler flags"))
        t.done()
    return out


def read_qemu_machines(path: Path) -> dict[str, QemuMachine]:
    c = Checker(path)
    known_cores = tuple(cores())
    out = {}
    for name, data in read_toml(path, "QEMU machines file").items():
        t = c.table(data, name)
        out[name] = QemuMachine(machine=name, cpu=t.choice("cpu", known_cores),
                                sysclk_hz=t.integer("sysclk_hz", lo=1, what="a clock in Hz"),
                                uart=t.text("uart", what="a UART driver name"),
                                uart_base=t.integer("uart_base", lo=0, what="an address"),
                                uart_clock_hz=t.integer("uart_clock_hz", lo=1, what="a clock in Hz"),
                                uart_irq=t.integer("uart_irq", lo=0, hi=479, what="an NVIC interrupt number"),
                                memory=_machine_memory(t.tables("memory", what="a list of [[machine.memory]] ranges")))
        t.done()
    return out


def _machine_memory(tables) -> tuple[MachineMemory, ...]:
    out = []
    for r in tables:
        out.append(MachineMemory(name=r.text("name", what="a memory name"),
                                 start=r.integer("start", lo=0, what="an address"),
                                 size_bytes=r.integer("size_bytes", lo=1, what="a whole number of bytes")))
        r.done()
    return tuple(out)
