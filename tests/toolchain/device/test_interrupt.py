"""Ctrl-C: the command stops at once with exit code 130, the port is closed and no emulator is
left running; `edgec flash` on an emulated target serves the firmware until then."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.conftest import REPO, require_tool, running
from toolchain.device.eembc import EembcClient, open_port

# The real entry point (error handling included), with the two commands registered as the lead will.
LAUNCH = ("import sys; import toolchain.cli as c; "
          "c.COMMANDS.setdefault('bench', 'toolchain.cli.bench:bench'); "
          "c.COMMANDS.setdefault('flash', 'toolchain.cli.flash:flash'); c.main(sys.argv[1:])")


def _as_from_a_shell():
    """The signal state a terminal's shell gives a command: SIGINT and SIGTERM at their defaults and
    nothing blocked. A child inherits ignored and blocked signals from the pytest worker, whose state
    earlier tests in the same process may have changed."""
    signal.pthread_sigmask(signal.SIG_SETMASK, set())
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, signal.SIG_DFL)


def _edgec(*args):
    """edgec in a process group of its own, killed with all it started when the test ends."""
    return running([sys.executable, "-c", LAUNCH, *args], cwd=REPO, stdout=subprocess.PIPE,
                   stderr=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": str(REPO)},
                   preexec_fn=_as_from_a_shell)


def _signal_state(pid: int) -> str:
    """The child's blocked, ignored and caught signal masks (for a failure's message)."""
    try:
        lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    except OSError:
        return "gone"
    return " ".join(line.replace("\t", "") for line in lines if line.startswith(("SigBlk", "SigIgn", "SigCgt")))


def _qemu_running(elf: Path) -> bool:
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                cmd = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if cmd and cmd[0].endswith(b"qemu-system-arm") and str(elf).encode() in cmd:
                return True
    return False


def test_ctrl_c_during_an_emulated_bench(tiny_firmware, tmp_path):
    require_tool("qemu-system-arm")
    fw = tiny_firmware["cortex-m4"]
    with _edgec("bench", "--target", "cortex-m4", "--emulate", "--firmware", str(fw.elf.parent),
                "-n", "100000", "-o", str(tmp_path)) as proc:
        deadline = time.monotonic() + 20
        while not _qemu_running(fw.elf) and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(1.0)  # well inside the runs
        state = _signal_state(proc.pid)
        proc.send_signal(signal.SIGINT)
        try:
            out, err = proc.communicate(timeout=60)  # a guard against a hang, not a speed check
        except subprocess.TimeoutExpired:
            raise AssertionError(f"no exit 60 s after SIGINT; signal state before it: {state}") from None
        assert proc.returncode == 130, err
        assert "interrupted" in err and "Traceback" not in err
        assert not _qemu_running(fw.elf)


def test_flash_serves_the_emulator_until_ctrl_c(tiny_firmware):
    require_tool("qemu-system-arm")
    fw = tiny_firmware["netduinoplus2"]
    with _edgec("flash", "--target", "netduinoplus2", str(fw.elf.parent)) as proc:
        try:
            line = proc.stdout.readline()
            assert line.startswith("QEMU netduinoplus2 is running the firmware; its UART is /dev/pts/"), line
            port = line.rsplit(" ", 1)[1].strip()
            with EembcClient(open_port(port), timeout_s=3) as client:
                assert client.connect().name == "edgec tiny"
        finally:
            state = _signal_state(proc.pid)
            proc.send_signal(signal.SIGINT)
            try:
                _, err = proc.communicate(timeout=60)  # a guard against a hang, not a speed check
            except subprocess.TimeoutExpired:
                raise AssertionError(f"no exit 60 s after SIGINT; signal state before it: {state}") from None
        assert proc.returncode == 130, err
        assert not _qemu_running(fw.elf)
