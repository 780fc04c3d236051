"""The MLPerf Tiny / EEMBC device protocol, host side.

Commands end in '%'; the device answers lines `m-...` (messages) and `e-[...]` (errors) and ends
every command with `m-ready`. Every read has a deadline. After garbage, a lost line or a device
reset the client re-synchronises (terminates any half-received command with '%', waits for
quiet, then `name` until it answers) and retries the command; a device that stays silent, keeps
failing or answers `e-[...]` raises DeviceError with the last lines it said.

Time: each answer has its own timeout; an inference that timed out is retried once at most (a
device stuck in one will be stuck in the next); and the whole session may have one deadline
(`deadline_s`), which no retry outlives.

This module moves bytes and lines: it knows nothing of models.
"""
from __future__ import annotations

import re
import time
from collections import deque
from dataclasses import dataclass

from toolchain.base.errors import DeviceError

try:
    from termios import error as _TermiosError
except ImportError:  # not a POSIX system
    class _TermiosError(Exception):
        pass

READY = "m-ready"
INIT_DONE = "m-init-done"
HEX_CHUNK_BYTES = 32  # "db " + 64 hex digits: fits the reference firmware's 80-character buffer


class DeviceTimeout(DeviceError):
    """The device did not finish its answer in time."""

    def __init__(self, command: str, timeout_s: float, last_lines):
        self.command, self.timeout_s = command, timeout_s
        super().__init__(f"the device did not answer '{command}' within {timeout_s:g} s", last_lines)


class SessionDeadline(DeviceError):
    """The session's deadline passed: nothing is retried after it."""

    def __init__(self, command: str, deadline_s: float, last_lines):
        self.command, self.deadline_s = command, deadline_s
        super().__init__(f"the session's deadline of {deadline_s:g} s passed while waiting for the answer to "
                         f"'{command}'", last_lines)


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


class PortClosedError(DeviceError):
    """The serial port failed or closed under the client (a board unplugged, an emulator gone)."""

    def __init__(self, problem: str, last_lines):
        super().__init__(f"the serial port closed or failed: {problem}", last_lines)


class GarbledAnswerError(DeviceError):
    """An answer line that does not read as the protocol says (a number that is none, bad hex)."""

    def __init__(self, command: str, line: str, last_lines):
        self.command, self.line = command, line
        super().__init__(f"the device's answer to '{command}' is garbled: {line!r}", last_lines)


_PORT_ERRORS = (OSError, _TermiosError)
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def printable(text: str) -> str:
    """Device text safe for a terminal: control characters (escape sequences) shown escaped."""
    return _CONTROL.sub(lambda m: repr(m.group())[1:-1], text)


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


def _lap(line: str) -> int:
    return int(line[len("m-lap-us-"):])


class EembcClient:
    """Drives one device through a pyserial-like port (read(n), write(b), close())."""

    def __init__(self, port, *, timeout_s: float = 5.0, retries: int = 3, history: int = 20,
                 deadline_s: float | None = None):
        self.port = port
        self.timeout_s = timeout_s
        self.retries = retries
        self.deadline_s = deadline_s
        self._session_end = time.monotonic() + deadline_s if deadline_s else None
        self.lines: deque[str] = deque(maxlen=history)
        self._buf = b""

    # ---- lines ----

    def _read_line(self, deadline: float) -> str | None:
        if self._session_end is not None:
            deadline = min(deadline, self._session_end)
        while b"\n" not in self._buf:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            self.port.timeout = min(remaining, 0.2)
            chunk = self._read_port()
            if chunk:
                self._buf += chunk
                if len(self._buf) > 1 << 16 and b"\n" not in self._buf:
                    self._buf = self._buf[-4096:]  # a flood of garbage without line ends
        raw, self._buf = self._buf.split(b"\n", 1)
        line = printable(raw.decode("ascii", errors="replace").strip("\r\x00 "))
        if line:
            self.lines.append(line)
        return line

    def _drain(self, quiet_s: float = 0.1, limit_s: float = 2.0) -> None:
        """Read and drop everything until the line has been quiet for quiet_s."""
        end = time.monotonic() + limit_s
        if self._session_end is not None:
            end = min(end, self._session_end)
        self.port.timeout = quiet_s
        while time.monotonic() < end:
            chunk = self._read_port()
            if not chunk:
                break
            self.lines.extend(printable(ln) for ln in chunk.decode("ascii", "replace").split("\n")[-3:] if ln.strip())
        self._buf = b""

    def _read_port(self) -> bytes:
        try:
            return self.port.read(max(1, getattr(self.port, "in_waiting", 0) or 0))
        except _PORT_ERRORS as exc:  # serial.SerialException is an OSError
            raise PortClosedError(str(exc), self.lines) from None

    def _write_port(self, data: bytes) -> None:
        try:
            self.port.write(data)
            flush = getattr(self.port, "flush", None)
            if flush:
                flush()
        except _PORT_ERRORS as exc:  # a closed pty fails tcdrain with termios.error
            raise PortClosedError(str(exc), self.lines) from None

    def _parse(self, command: str, lines: list[str], prefix: str, parse):
        """parse(line) of the first answer line starting with `prefix`; garbled: GarbledAnswerError."""
        line = next((ln for ln in lines if ln.startswith(prefix)), None)
        if line is None:
            raise GarbledAnswerError(command, f"no {prefix} line", self.lines)
        try:
            return parse(line)
        except (ValueError, IndexError) as exc:
            raise GarbledAnswerError(command, line, self.lines) from None

    # ---- commands ----

    def _exchange(self, command: str, expect: str | None, timeout_s: float) -> list[str]:
        self._write_port(command.encode("ascii") + b"%")
        deadline = time.monotonic() + timeout_s
        answer: list[str] = []
        error = None
        while True:
            line = self._read_line(deadline)
            if line is None:
                if self._session_end is not None and time.monotonic() >= self._session_end:
                    raise SessionDeadline(command, self.deadline_s, self.lines)
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
                retry: bool = True, timeout_retries: int | None = None) -> list[str]:
        """Send `command`, return the m- lines of its answer (without m-ready). A timed-out
        answer is retried at most `timeout_retries` times (default: `retries`)."""
        timeout_s = self.timeout_s if timeout_s is None else timeout_s
        attempts = self.retries + 1 if retry else 1
        timeouts_left = self.retries if timeout_retries is None else timeout_retries
        for attempt in range(attempts):
            try:
                return self._exchange(command, expect, timeout_s)
            except DeviceAnswerError as exc:
                # line noise mangled the command (we never send one that is too long)
                garbled = ("Unknown command" in exc.answer and command.split()[0] not in exc.answer) \
                    or "too long" in exc.answer
                if not garbled or attempt + 1 == attempts:
                    raise
            except DeviceTimeout:
                if attempt + 1 == attempts or timeouts_left <= 0:
                    raise
                timeouts_left -= 1
            except DeviceReset:
                if attempt + 1 == attempts:
                    raise
            self.resync()
        raise AssertionError("unreachable")

    def resync(self) -> None:
        """Bring the device back to a known state: end any partial command, wait for m-ready."""
        for _ in range(self.retries + 1):
            try:
                self._write_port(b"%")
                self._drain()
                self._exchange("name", "m-name-", self.timeout_s)
                return
            except (PortClosedError, SessionDeadline):
                raise
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
        except (PortClosedError, SessionDeadline):
            raise
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
        """`runs` timed inferences after `warmup` untimed ones; a timeout is retried once at most."""
        command = f"infer {runs} {warmup}"
        lines = self.command(command, expect="m-results-", timeout_s=timeout_s, timeout_retries=1)
        laps = tuple(self._parse(command, [ln], "m-lap-us-", _lap) for ln in lines if ln.startswith("m-lap-us-"))
        if "m-infer-done" not in lines:
            raise DeviceError(f"the device did not finish '{command}'", self.lines)
        return InferAnswer(runs=runs, warmup=warmup, lap_us=laps, results=self._results(command, lines))

    def _results(self, command: str, lines: list[str]) -> tuple[float, ...]:
        """The m-results-[...] numbers; NaN and infinities are kept (the comparison calls them a
        mismatch), anything that is no number is a garbled answer."""
        return self._parse(command, lines, "m-results-",
                           lambda ln: tuple(float(v) for v in bracket(ln).split(",") if v.strip()))

    def results(self) -> tuple[float, ...]:
        return self._results("results", self.command("results", expect="m-results-"))

    def timestamp_us(self) -> int:
        return self._parse("timestamp", self.command("timestamp", expect="m-lap-us-"), "m-lap-us-", _lap)

    # ---- edgec extensions (answered only by edgec firmware) ----

    def raw_outputs(self) -> bytes:
        lines = self.command("edgec-raw", expect="m-edgec-raw-")
        return self._parse("edgec-raw", lines, "m-edgec-raw-", lambda ln: bytes.fromhex(bracket(ln)))

    def _fields(self, command: str, prefix: str) -> dict[str, str]:
        lines = self.command(command, expect=prefix)
        return self._parse(command, lines, prefix,
                           lambda ln: dict(kv.split("=", 1) for kv in bracket(ln).split(",") if "=" in kv))

    def int_field(self, command: str, fields: dict[str, str], key: str) -> int:
        """An integer field of an edgec- answer; missing or no integer: GarbledAnswerError."""
        try:
            return int(fields[key])
        except (KeyError, ValueError):
            raise GarbledAnswerError(command, f"{key}={fields.get(key)!r}", self.lines) from None

    def timing(self) -> dict[str, str]:
        return self._fields("edgec-timing", "m-edgec-timing-")

    def stack(self) -> dict[str, str]:
        return self._fields("edgec-stack", "m-edgec-stack-")

    def arena(self) -> dict[str, str]:
        return self._fields("edgec-arena", "m-edgec-arena-")

    def layers(self) -> list[tuple[int, str, int]]:
        def layer(ln: str) -> tuple[int, str, int]:
            idx, rest = bracket(ln).split(",", 1)
            name, ticks = rest.rsplit(",", 1)
            return int(idx), name, int(ticks)

        lines = self.command("edgec-layers")
        return [self._parse("edgec-layers", [ln], "m-edgec-layer-", layer)
                for ln in lines if ln.startswith("m-edgec-layer-")]

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
