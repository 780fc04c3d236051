"""QEMU as a device: its command line and a runner (the machines it emulates are in targets/).

The command line is built by a pure function (`qemu_args`) so it can be checked without QEMU.
With `-icount shift=0` QEMU's virtual clock advances 1 ns per guest instruction, so a timer read
by the firmware counts instructions, deterministically. `sleep=on`: while the guest sleeps (WFI,
waiting for its UART's interrupt) QEMU sleeps too, and the virtual clock follows real time; while
it runs -- an inference, where the firmware never sleeps -- the clock counts instructions as before.
"""
from __future__ import annotations

import os
import re
import select
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from firmware_export.firmware.elfsize import placed_ranges
from targets.hardware import QEMU_ICOUNT_SHIFT, QemuMachine, qemu_machines
from toolchain.base.errors import DeviceError, DoesNotFitError, ToolchainError, UnknownNameError

QEMU = "qemu-system-arm"


# QEMU's machines are hardware facts: targets/qemu_machines.toml (a copy: tests may patch one).
MACHINES: dict[str, QemuMachine] = dict(qemu_machines())


def machine(name: str) -> QemuMachine:
    if name not in MACHINES:
        raise UnknownNameError("QEMU machine", name, MACHINES)
    return MACHINES[name]


@dataclass(frozen=True)
class EmulatorCaps:
    """What an emulator back end can do (Zephyr's RunnerCaps, for emulators)."""
    machines: tuple[str, ...]
    serial_backends: tuple[str, ...]  # "tcp", "pty"
    deterministic_time: bool  # instruction counting: timings are instruction counts
    cycle_counter: bool  # DWT CYCCNT emulated

    def __post_init__(self):
        unknown = set(self.serial_backends) - {"tcp", "pty"}
        if unknown:
            raise ValueError(f"unknown serial back ends {sorted(unknown)}")


QEMU_CAPS = EmulatorCaps(machines=tuple(sorted(MACHINES)), serial_backends=("tcp", "pty"),
                         deterministic_time=True, cycle_counter=False)

ICOUNT_SHIFT = QEMU_ICOUNT_SHIFT  # 2**shift ns of virtual time per instruction


def qemu_args(machine_name: str, elf: Path | str, serial: str, *, icount_shift: int = ICOUNT_SHIFT,
              qemu: str = QEMU) -> list[str]:
    """The QEMU command line running `elf` on `machine_name` with serial0 on `serial`.

    `serial` is "pty" or "tcp:HOST:PORT" (QEMU listens and waits for the client before starting).
    """
    m = machine(machine_name)
    if serial == "pty":
        serial_arg = "pty"
    elif serial.startswith("tcp:"):
        serial_arg = serial + ",server=on,wait=on,nodelay=on"
    else:
        raise ValueError(f"serial must be 'pty' or 'tcp:HOST:PORT', got {serial!r}")
    return [qemu, "-machine", m.machine, "-cpu", m.cpu, "-nodefaults", "-display", "none",
            "-monitor", "none", "-icount", f"shift={icount_shift},align=off,sleep=on",
            "-serial", serial_arg, "-kernel", str(elf)]


def instructions_from_ticks(ticks: int, machine_name: str, icount_shift: int = ICOUNT_SHIFT) -> int:
    """Instructions executed during `ticks` SysTick ticks under `-icount shift=icount_shift`."""
    sysclk = machine(machine_name).sysclk_hz
    return (ticks * 1_000_000_000) // (sysclk << icount_shift)


def require_fits(machine_name: str, elf: Path | str) -> None:
    """Refuse (DoesNotFitError, naming the bytes) an ELF that does not lie within the machine's
    memory: a profile may have more memory than the machine that emulates it (cortex-m0plus has
    32 KiB of SRAM, QEMU's micro:bit 16 KiB), so a firmware that fits its profile may not fit there."""
    m = machine(machine_name)
    needs: dict[str, tuple[int, str]] = {}  # memory name -> (highest end, the section ending there)
    for name, start, end in placed_ranges(Path(elf)):
        mem = m.memory_at(start)
        if mem is None:
            raise DoesNotFitError(f"the firmware cannot run on QEMU's {m.machine}: its section {name} is at "
                                  f"0x{start:08X}, where the machine has no memory "
                                  f"({_memory_text(m)})")
        if end > needs.get(mem.name, (0, ""))[0]:
            needs[mem.name] = (end, name)
    for mem in m.memory:
        end, name = needs.get(mem.name, (0, ""))
        if end > mem.end:
            raise DoesNotFitError(f"the firmware does not fit QEMU's {m.machine}: it needs {end - mem.start:,} "
                                  f"bytes of the machine's {mem.name} from 0x{mem.start:08X} (to the end of "
                                  f"{name}), which has {mem.size_bytes:,}: {end - mem.end:,} bytes too many")


def _memory_text(m: QemuMachine) -> str:
    return ", ".join(f"{r.name} {r.size_bytes:,} bytes at 0x{r.start:08X}" for r in m.memory)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


_PTY_RE = re.compile(r"char device redirected to (\S+) \(label serial0\)")


class QemuRunner:
    """Runs an ELF under QEMU; `url` is what pyserial opens (serial_for_url) to reach serial0."""

    caps = QEMU_CAPS

    def __init__(self, machine_name: str, elf: Path, *, serial: str = "tcp", qemu: str = QEMU,
                 icount_shift: int = ICOUNT_SHIFT):
        if serial not in self.caps.serial_backends:
            raise ValueError(f"serial back end must be one of {self.caps.serial_backends}")
        self.machine = machine(machine_name)
        self.elf = Path(elf)
        self.serial = serial
        self.qemu = qemu
        self.icount_shift = icount_shift  # a larger shift: a SysTick tick is less than an instruction
        self.proc: subprocess.Popen | None = None
        self.url = ""
        self.command: list[str] | None = None  # a pty command line given whole (from_command)

    @classmethod
    def from_command(cls, command) -> "QemuRunner":
        """A runner that starts exactly `command`, a pty-serial `qemu_args` line (a flash plan's)."""
        args = list(command)
        runner = cls(args[args.index("-machine") + 1], Path(args[args.index("-kernel") + 1]), serial="pty",
                     qemu=args[0])
        runner.command = args
        return runner

    def start(self, timeout_s: float = 10.0) -> str:
        try:
            return self._start(timeout_s)
        except BaseException:
            self.stop()
            raise

    def _start(self, timeout_s: float) -> str:
        exe = shutil.which(self.qemu)
        if exe is None:
            raise ToolchainError(self.qemu, "not found on PATH (install the Debian package "
                                 "qemu-system-arm)")
        if not self.elf.is_file():
            raise DeviceError(f"firmware {self.elf} does not exist")
        require_fits(self.machine.machine, self.elf)
        if self.serial == "tcp":
            port = _free_port()
            args = qemu_args(self.machine.machine, self.elf, f"tcp:127.0.0.1:{port}", qemu=exe,
                             icount_shift=self.icount_shift)
            self.proc = _spawn(args)
            self.url = f"socket://127.0.0.1:{port}"
            self._wait_listening(port, timeout_s)
        else:
            args = self.command or qemu_args(self.machine.machine, self.elf, "pty", qemu=exe,
                                                   icount_shift=self.icount_shift)
            self.proc = _spawn(args)
            self.url = self._read_pty_path(timeout_s)
        return self.url

    def _wait_listening(self, port: int, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                self._died()
            if _port_listening(port):
                return
            time.sleep(0.02)
        self.stop()
        raise DeviceError(f"QEMU did not open its serial port within {timeout_s:.0f} s")

    def _read_pty_path(self, timeout_s: float) -> str:
        fd = self.proc.stdout.fileno()
        deadline = time.monotonic() + timeout_s
        text = ""
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                self._died()
            ready, _, _ = select.select([fd], [], [], 0.05)
            if ready:
                text += os.read(fd, 4096).decode(errors="replace")
            match = _PTY_RE.search(text)
            if match:
                return match.group(1)
        self.stop()
        raise DeviceError("QEMU did not report its pseudo-terminal", text.splitlines())

    def _died(self):
        out = self.proc.stdout.read() if self.proc.stdout else ""
        raise ToolchainError(self.qemu, f"exited with status {self.proc.returncode}", out or "")

    def cpu_seconds(self) -> float:
        """Host CPU time (user + system) QEMU has used so far, from /proc (Linux)."""
        if self.proc is None:
            raise DeviceError("QEMU is not running")
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc is not None and self.proc.stdout:
            self.proc.stdout.close()
        self.proc = None

    def __enter__(self) -> "QemuRunner":
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def _die_with_parent() -> None:
    """In the child: ask Linux to end QEMU when edgec ends, however it ends (SIGKILL included)."""
    try:
        import ctypes
        import signal

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _spawn(args: list[str]) -> subprocess.Popen:
    return subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, preexec_fn=_die_with_parent if sys.platform == "linux" else None)


def _port_listening(port: int) -> bool:
    """True when a socket on this machine listens on 127.0.0.1:port (read from /proc, no connect)."""
    want = f"0100007F:{port:04X}"
    try:
        with open("/proc/net/tcp") as fh:
            for line in fh.readlines()[1:]:
                fields = line.split()
                if fields[1] == want and fields[3] == "0A":  # 0A = LISTEN
                    return True
    except OSError:
        return False
    return False
