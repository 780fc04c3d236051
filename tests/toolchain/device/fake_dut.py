"""A scripted EEMBC device on a pseudo-terminal, with faults on demand.

The test opens the slave side with pyserial, exactly as it would a board's port; a thread plays
the device on the master side. Faults are deterministic (by line number or chunk), not random.
"""
from __future__ import annotations

import os
import select
import threading
import time
from dataclasses import dataclass, field


@dataclass
class Faults:
    garbage_at_start: bytes = b""
    silent: bool = False  # never says anything
    duplicate_ready: bool = False  # every m-ready is sent twice
    drop_byte_in_line: set = field(default_factory=set)  # numbers of output lines losing a byte
    delay_s: float = 0.0  # pause between the bytes of every line
    reset_at_db_chunk: int | None = None  # restart (m-init-done) when this db data chunk arrives
    error_on: str = ""  # answer e-[...] to this command
    drop_out_on: str = ""  # stop answering (and close) at this command
    garbage_before_answer: bytes = b""  # sent before the first answer only
    name: str = "fake"  # what m-name-dut-[...] says (escape sequences included)
    results_line: str = ""  # sent instead of the m-results-[...] line computed from the input
    lap_line: str = ""  # sent instead of the second m-lap-us- line of an infer
    close_on: str = ""  # close the line (as an unplugged board) at this command
    hang_on: str = ""  # from this command on, never answer again (still reading: a device stuck in it)
    ignore: str = ""  # never answer this command, answer the others


class FakeDut:
    """Plays an EEMBC device: output[j] = input[j] + 1 over a 16-byte input."""

    INPUT_BYTES = 16

    def __init__(self, faults: Faults | None = None):
        self.faults = faults or Faults()
        self.master, slave = os.openpty()
        self.path = os.ttyname(slave)
        self._slave = slave
        import tty

        tty.setraw(slave)
        self.buffer = bytearray(self.INPUT_BYTES)
        self.expect = 0
        self.pos = 0
        self.db_chunks = 0
        self.lines_out = 0
        self.commands: list[str] = []
        self.resets = 0
        self.hung = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def start(self) -> "FakeDut":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        for fd in (self.master, self._slave):
            try:
                os.close(fd)
            except OSError:
                pass

    # ---- output ----

    def _send_line(self, text: str) -> None:
        data = (text + "\r\n").encode()
        self.lines_out += 1
        if self.lines_out in self.faults.drop_byte_in_line:
            data = data[:1] + data[2:]
        if self.faults.delay_s:
            for b in data:
                os.write(self.master, bytes([b]))
                time.sleep(self.faults.delay_s)
        else:
            os.write(self.master, data)

    def _ready(self) -> None:
        self._send_line("m-ready")
        if self.faults.duplicate_ready:
            self._send_line("m-ready")

    def _boot(self) -> None:
        self.expect = self.pos = 0
        self._send_line("m-timestamp-mode-performance")
        self._send_line("m-init-done")
        self._ready()

    # ---- protocol ----

    def _serve(self) -> None:
        if self.faults.silent:
            while not self._stop.is_set():
                self._read_some(0.05)
            return
        if self.faults.garbage_at_start:
            os.write(self.master, self.faults.garbage_at_start)
        self._boot()
        line = b""
        while not self._stop.is_set():
            data = self._read_some(0.05)
            for b in data:
                if b == ord("%"):
                    cmd = line.decode(errors="replace").strip()
                    line = b""
                    if not self._command(cmd):
                        return
                elif b not in (10, 13):
                    line += bytes([b])

    def _read_some(self, timeout: float) -> bytes:
        r, _, _ = select.select([self.master], [], [], timeout)
        if not r:
            return b""
        try:
            return os.read(self.master, 4096)
        except OSError:
            return b""

    def _command(self, cmd: str) -> bool:
        self.commands.append(cmd)
        word = cmd.split(" ")[0] if cmd else ""
        if self.faults.hang_on and (word == self.faults.hang_on or self.hung):
            self.hung = True
            return True
        if self.faults.ignore and word == self.faults.ignore:
            return True
        if self.faults.close_on and word == self.faults.close_on:
            os.close(self.master)
            self.master = -1
            return False
        if self.faults.drop_out_on and word == self.faults.drop_out_on:
            self._send_line("m-warmup-start-1")
            return False
        if self.faults.garbage_before_answer:
            os.write(self.master, self.faults.garbage_before_answer)
            self.faults.garbage_before_answer = b""
        if self.faults.error_on and word == self.faults.error_on:
            self._send_line(f"e-[{word} failed on purpose]")
        elif word == "name":
            self._send_line(f"m-name-dut-[{self.faults.name}]")
        elif word == "profile":
            self._send_line("m-profile-[fake-1]")
            self._send_line("m-model-[plus-one]")
        elif word == "db":
            if not self._db(cmd.split(" ")[1:]):
                return True
        elif word == "infer":
            parts = cmd.split()
            n = int(parts[1]) if len(parts) > 1 else 1
            w = int(parts[2]) if len(parts) > 2 else 10
            self._send_line(f"m-warmup-start-{w}")
            self._send_line("m-warmup-done")
            self._send_line(f"m-infer-start-{n}")
            self._send_line("m-lap-us-1000")
            self._send_line(self.faults.lap_line or f"m-lap-us-{1000 + 250 * n}")
            self._send_line("m-infer-done")
            self._send_line(self._results())
        elif word == "results":
            self._send_line(self._results())
        else:
            self._send_line(f"e-[Unknown command: {cmd}]")
        self._ready()
        return True

    def _results(self) -> str:
        if self.faults.results_line:
            return self.faults.results_line
        return "m-results-[" + ",".join(f"{(b + 1) % 256}.000" for b in self.buffer) + "]"

    def _db(self, args: list[str]) -> bool:
        if args[:1] == ["load"]:
            self.expect, self.pos = int(args[1]), 0
            if self.expect > len(self.buffer):  # a real model's input: more than the 16 bytes by default
                self.buffer = bytearray(self.expect)
            self._send_line(f"m-[Expecting {self.expect} bytes]")
            return True
        if args[:1] == ["print"]:
            self._send_line("m-buffer-" + "-".join(f"{b:02x}" for b in self.buffer[:self.pos]))
            return True
        self.db_chunks += 1
        if self.faults.reset_at_db_chunk == self.db_chunks:
            self.faults.reset_at_db_chunk = None
            self.resets += 1
            self._boot()
            return False
        data = bytes.fromhex(args[0])
        for b in data:
            if self.pos < self.expect:
                self.buffer[self.pos] = b
                self.pos += 1
                if self.pos == self.expect:
                    self._send_line("m-load-done")
                    self.expect = 0
                    break
        return True
