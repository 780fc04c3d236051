"""The MLPerf Tiny / EEMBC device protocol, host side.

Commands end in '%'; the device answers lines `m-...` (messages) and `e-[...]` (errors) and ends
every command with `m-ready`. Every read has a deadline. After garbage, a lost line or a device
reset the client re-synchronises (terminates any half-received command with '%', waits for
quiet, then `name` until it answers) and retries the command; a device that stays silent, keeps
failing or answers `e-[...]` raises DeviceError with the last lines it said.

This module moves bytes and lines: it knows nothing of models.
"""
from __future__ import annotations

import re
import time
from collections import deque
from dataclasses import dataclass

from toolchain.base.errors import DeviceError

READY = "m-ready"
INIT_DONE = "m-init-done"
HEX_CHUNK_BYTES = 32  # "db " + 64 hex digits: fits the reference firmware's 80-character buffer


class DeviceTimeout(DeviceError):
    """The device did not finish its answer in time."""

    def __init__(self, command: str, timeout_s: float, last_lines):
        self.command, self.timeout_s = command, timeout_s
        super().__init__(f"the device did not answer '{command}' within {timeout_s:g} s", last_lines)


class DeviceReset(DeviceError):
    """The device restarted (said m-init-done) in the middle of a command."""

    def __init__(self, command: str, last_lines):
        self.command = command
        super().__init__(f"the device restarted during '{command}'", last_lines)


class DeviceAnswerError(DeviceError):
    """The device answered e-[...]."""

    def __init__(self, command: str, answer: str, last_lines):
        self.command, self.answer = command, answer
        super().__init__(f"the device answered {answer} to '{command}'", last_lines)


@dataclass(frozen=True)
class DeviceInfo:
    name: str  # what m-name-dut-[...] says
    firmware: str  # m-profile-[...]
    model: str  # m-model-[...]


@dataclass(frozen=True)
class InferAnswer:
    runs: int
    warmup: int
    lap_us: tuple[int, ...]  # the m-lap-us timestamps around the timed runs
    results: tuple[float, ...]  # m-results-[...]

    @property
    def elapsed_us(self) -> int | None:
        return self.lap_us[-1] - self.lap_us[0] if len(self.lap_us) >= 2 else None


_BRACKET = re.compile(r"\[(.*)\]")


def bracket(line: str) -> str:
    m = _BRACKET.search(line)
    return m.group(1) if m else ""


class EembcClient:
    """Drives one device through a pyserial-like port (read(n), write(b), close())."""

    def __init__(self, port, *, timeout_s: float = 5.0, retries: int = 3, history: int = 20):
        self.port = port
        self.timeout_s = timeout_s
        self.retries = retries
        self.lines: deque[str] = deque(maxlen=history)
        self._buf = b""

    # ---- lines ----

    def _read_line(self, deadline: float) -> str | None:
        while b"\n" not in self._buf:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            self.port.timeout = min(remaining, 0.2)
            chunk = self.port.read(max(1, getattr(self.port, "in_waiting", 0)))
            if chunk:
                self._buf += chunk
                if len(self._buf) > 1 << 16 and b"\n" not in self._buf:
                    self._buf = self._buf[-4096:]  # a flood of garbage without line ends
        raw, self._buf = self._buf.split(b"\n", 1)
        line = raw.decode("ascii", errors="replace").strip("\r\x00 ")
        if line:
            self.lines.append(line)
        return line

    def _drain(self, quiet_s: float = 0.1, limit_s: float = 2.0) -> None:
        """Read and drop everything until the line has been quiet for quiet_s."""
        end = time.monotonic() + limit_s
        self.port.timeout = quiet_s
        while time.monotonic() < end:
            chunk = self.port.read(max(1, getattr(self.port, "in_waiting", 0)))
            if not chunk:
                break
            self.lines.extend(ln for ln in chunk.decode("ascii", "replace").split("\n")[-3:] if ln.strip())
        self._buf = b""

    # ---- commands ----

    def _exchange(self, command: str, expect: str | None, timeout_s: float) -> list[str]:
        self.port.write(command.encode("ascii") + b"%")
        flush = getattr(self.port, "flush", None)
        if flush:
            flush()
        deadline = time.monotonic() + timeout_s
        answer: list[str] = []
        error = None
        while True:
            line = self._read_line(deadline)
            if line is None:
                raise DeviceTimeout(command, timeout_s, self.lines)
            if line.startswith(INIT_DONE):
                raise DeviceReset(command, self.lines)
            if line.startswith("e-"):
                error = error or line
            elif line.startswith(READY):
                if error:
                    raise DeviceAnswerError(command, error, self.lines)
                if expect is None or any(a.startswith(expect) for a in answer):
                    return answer
                # a stale or duplicated m-ready: the answer is still to come
            elif line.startswith("m-"):
                answer.append(line)
            # anything else is noise on the line

    def command(self, command: str, *, expect: str | None = None, timeout_s: float | None = None,
                retry: bool = True) -> list[str]:
        """Send `command`, return the m- lines of its answer (without m-ready)."""
        timeout_s = self.timeout_s if timeout_s is None else timeout_s
        attempts = self.retries + 1 if retry else 1
        for attempt in range(attempts):
            try:
                return self._exchange(command, expect, timeout_s)
            except DeviceAnswerError as exc:
                # line noise mangled the command (we never send one that is too long)
                garbled = ("Unknown command" in exc.answer and command.split()[0] not in exc.answer) \
                    or "too long" in exc.answer
                if not garbled or attempt + 1 == attempts:
                    raise
            except (DeviceTimeout, DeviceReset):
                if attempt + 1 == attempts:
                    raise
            self.resync()
        raise AssertionError("unreachable")

    def resync(self) -> None:
        """Bring the device back to a known state: end any partial command, wait for m-ready."""
        for _ in range(self.retries + 1):
            try:
                self.port.write(b"%")
                self._drain()
                self._exchange("name", "m-name-", self.timeout_s)
                return
            except DeviceError:
                continue
        raise DeviceError(f"the device did not answer after {self.retries + 1} attempts to "
                          "re-synchronise (is it running the benchmark firmware?)", self.lines)

    # ---- the protocol's operations ----

    def connect(self, boot_timeout_s: float = 10.0) -> DeviceInfo:
        """Wait for the device (m-ready after m-init-done, or an answer to `name`), identify it."""
        deadline = time.monotonic() + boot_timeout_s
        while True:
            line = self._read_line(min(deadline, time.monotonic() + 0.5))
            if line is not None and line.startswith(READY):
                break
            if line is None:  # quiet: the device booted before we listened, or is silent
                break
        try:
            self._exchange("name", "m-name-", max(0.5, deadline - time.monotonic()))
        except DeviceError:
            self.resync()
        return self.identify()

    def identify(self) -> DeviceInfo:
        name = self.command("name", expect="m-name-")
        prof = self.command("profile", expect="m-model-")
        name_line = next(ln for ln in name if ln.startswith("m-name-"))
        fw = next((bracket(ln) for ln in prof if ln.startswith("m-profile-")), "")
        model = next((bracket(ln) for ln in prof if ln.startswith("m-model-")), "")
        return DeviceInfo(name=bracket(name_line), firmware=fw, model=model)

    def load(self, data: bytes) -> None:
        """Load `data` into the device's buffer (db load N, then db HEX...), restarting the
        whole load after a reset or a lost chunk."""
        if not data:
            raise ValueError("nothing to load")
        for attempt in range(self.retries + 1):
            try:
                self._load_once(data)
                return
            except (DeviceTimeout, DeviceReset, DeviceAnswerError):
                if attempt == self.retries:
                    raise
                self.resync()

    def _load_once(self, data: bytes) -> None:
        self._exchange(f"db load {len(data)}", "m-[Expecting", self.timeout_s)
        chunks = [data[i:i + HEX_CHUNK_BYTES] for i in range(0, len(data), HEX_CHUNK_BYTES)]
        for i, chunk in enumerate(chunks):
            last = i == len(chunks) - 1
            answer = self._exchange("db " + chunk.hex(), "m-load-done" if last else None, self.timeout_s)
            if not last and any(a.startswith("m-load-done") for a in answer):
                raise DeviceAnswerError("db", "m-load-done before the last chunk (bytes duplicated)", self.lines)

    def read_buffer(self) -> bytes:
        lines = self.command("db print")
        hexes = [ln[len("m-buffer-"):].replace("-", "") for ln in lines if ln.startswith("m-buffer-")]
        return bytes.fromhex("".join(hexes))

    def infer(self, runs: int, warmup: int, timeout_s: float) -> InferAnswer:
        lines = self.command(f"infer {runs} {warmup}", expect="m-results-", timeout_s=timeout_s)
        laps = tuple(int(ln[len("m-lap-us-"):]) for ln in lines if ln.startswith("m-lap-us-"))
        if "m-infer-done" not in lines:
            raise DeviceError(f"the device did not finish 'infer {runs} {warmup}'", self.lines)
        return InferAnswer(runs=runs, warmup=warmup, lap_us=laps, results=self._results(lines))

    @staticmethod
    def _results(lines: list[str]) -> tuple[float, ...]:
        text = next((bracket(ln) for ln in lines if ln.startswith("m-results-")), "")
        try:
            return tuple(float(v) for v in text.split(",") if v.strip())
        except ValueError:
            return ()

    def results(self) -> tuple[float, ...]:
        return self._results(self.command("results", expect="m-results-"))

    def timestamp_us(self) -> int:
        line = self.command("timestamp", expect="m-lap-us-")
        return int(next(ln for ln in line if ln.startswith("m-lap-us-"))[len("m-lap-us-"):])

    # ---- edgec extensions (answered only by edgec firmware) ----

    def raw_outputs(self) -> bytes:
        line = self.command("edgec-raw", expect="m-edgec-raw-")
        return bytes.fromhex(bracket(next(ln for ln in line if ln.startswith("m-edgec-raw-"))))

    def _fields(self, command: str, prefix: str) -> dict[str, str]:
        lines = self.command(command, expect=prefix)
        text = bracket(next(ln for ln in lines if ln.startswith(prefix)))
        return dict(kv.split("=", 1) for kv in text.split(",") if "=" in kv)

    def timing(self) -> dict[str, str]:
        return self._fields("edgec-timing", "m-edgec-timing-")

    def stack(self) -> dict[str, str]:
        return self._fields("edgec-stack", "m-edgec-stack-")

    def arena(self) -> dict[str, str]:
        return self._fields("edgec-arena", "m-edgec-arena-")

    def layers(self) -> list[tuple[int, str, int]]:
        out = []
        for ln in self.command("edgec-layers"):
            if ln.startswith("m-edgec-layer-"):
                idx, rest = bracket(ln).split(",", 1)
                name, ticks = rest.rsplit(",", 1)
                out.append((int(idx), name, int(ticks)))
        return out

    def supports_edgec(self) -> bool:
        try:
            self.command("edgec-arena", expect="m-edgec-arena-", retry=False)
            return True
        except DeviceAnswerError:
            return False

    def close(self) -> None:
        try:
            self.port.close()
        except Exception:  # noqa: BLE001 - closing is best effort
            pass

    def __enter__(self) -> "EembcClient":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def open_port(url: str, baud: int = 115200, timeout_s: float = 0.2):
    """Open a serial port (a device path or a pyserial URL such as socket://host:port)."""
    import serial

    try:
        return serial.serial_for_url(url, baudrate=baud, bytesize=8, parity="N", stopbits=1,
                                     timeout=timeout_s, write_timeout=10)
    except (serial.SerialException, OSError, ValueError) as exc:
        raise DeviceError(f"cannot open serial port {url}: {exc}") from None
