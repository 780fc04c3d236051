"""A host that drives a device the way MLPerf Tiny's official runner (mlcommons/tiny,
benchmark/runner) does, written here from the rules of its protocol -- not from edgec's own client
(toolchain.device.eembc), so that a firmware passing these tests is not merely agreeing with itself.

The rules, as the runner applies them:
- a command is its text followed by '%'; the answer is every line up to the first line containing
  "m-ready" (lines end in '\\n'; '\\r' and NUL bytes are dropped; empty lines are skipped);
- identification: `name` (a line m-name-dut-[NAME]), then `profile` (lines m-profile-[TEXT] and
  m-model-[ID]), each asked again while its line is missing; the test script is the one of the
  benchmark ID;
- a download: `db load N`, then `db HEX` commands of at most 31 bytes each until all N are sent;
- an inference: `infer ITERATIONS WARMUPS`; the results are the comma-separated numbers of a line
  m-results-[...], the elapsed time the difference of the two m-lap-us-N lines (microseconds);
- accuracy mode: per dataset file, a download and `infer 1 0`; performance mode: a download and
  `infer N W` per window, throughput = N / elapsed.
"""
from __future__ import annotations

import re
import time
from dataclasses import dataclass

CHUNK_BYTES = 31  # bytes per `db` command (the runner's limit without an energy monitor)
LINE_TIMEOUT_S = 5.0
INFER_TIMEOUT_S = 30.0

NAME_LINE = re.compile(r"^m-name-dut-\[([^]]+)\]$")
PROFILE_LINE = re.compile(r"^m-(model|profile)-\[([^]]+)\]$")
RESULTS_LINE = re.compile(r"^m-results-\[([^]]+)\]$")
LAP_LINE = re.compile(r"^m-lap-us-([0-9]+)$")


class NoAnswer(Exception):
    pass


class RunnerHost:
    """Line-level access to a pyserial-like port, with the runner's framing."""

    def __init__(self, port):
        self.port = port
        self._pending = ""

    def _line(self, timeout_s: float) -> str | None:
        deadline = time.monotonic() + timeout_s
        while "\n" not in self._pending:
            if time.monotonic() > deadline:
                return None
            self.port.timeout = 0.1
            chunk = self.port.read(256)
            self._pending += chunk.decode("ascii", errors="replace").replace("\r", "").replace("\0", "")
        line, self._pending = self._pending.split("\n", 1)
        return line

    def send(self, command: str, timeout_s: float = LINE_TIMEOUT_S) -> list[str]:
        """Every non-empty line of the answer, the m-ready line included."""
        self.port.write(command.encode("ascii") + b"%")
        lines = []
        while True:
            line = self._line(timeout_s)
            if line is None:
                raise NoAnswer(f"no response to command {command!r} (so far: {lines})")
            if line:
                lines.append(line)
            if "m-ready" in line:
                return lines

    def wait_boot(self, timeout_s: float = 10.0) -> list[str]:
        """The lines the device prints on its own after reset, up to its first m-ready."""
        lines = []
        while True:
            line = self._line(timeout_s)
            if line is None:
                return lines
            if line:
                lines.append(line)
            if "m-ready" in line:
                return lines


@dataclass(frozen=True)
class Identity:
    name: str | None
    profile: str | None
    model: str | None


def identify(host: RunnerHost, attempts: int = 3) -> Identity:
    """`name`, then `profile`, each asked again (up to `attempts` times) while its line is missing."""
    name, found = None, {}
    for _ in range(attempts):
        name = next((m.group(1) for m in map(NAME_LINE.match, host.send("name")) if m), None)
        if name is not None:
            break
    for _ in range(attempts):
        found = {m.group(1): m.group(2) for m in map(PROFILE_LINE.match, host.send("profile")) if m}
        if found:
            break
    return Identity(name, found.get("profile"), found.get("model"))


def download(host: RunnerHost, data: bytes) -> list[str]:
    """`db load N`, then the bytes in 31-byte `db` commands; the answer to the last one."""
    host.send(f"db load {len(data)}")
    answer = []
    for i in range(0, len(data), CHUNK_BYTES):
        answer = host.send("db " + "".join(f"{b:02x}" for b in data[i:i + CHUNK_BYTES]))
    return answer


@dataclass(frozen=True)
class Inference:
    lines: tuple[str, ...]
    results: tuple[float, ...] | None
    start_us: int | None
    end_us: int | None

    @property
    def elapsed_us(self) -> int | None:
        return None if self.start_us is None or self.end_us is None else self.end_us - self.start_us


def infer(host: RunnerHost, iterations: int, warmups: int) -> Inference:
    lines = host.send(f"infer {iterations} {warmups}", timeout_s=INFER_TIMEOUT_S)
    results, laps = None, []
    for line in lines:
        m = RESULTS_LINE.match(line)
        if m:
            results = tuple(float(v) for v in m.group(1).split(",") if v.strip())
        m = LAP_LINE.match(line)
        if m:
            laps.append(int(m.group(1)))
    return Inference(tuple(lines), results, laps[0] if laps else None, laps[1] if len(laps) > 1 else None)
