"""Run MLPerf Tiny's host runner (mlcommons/tiny, benchmark/runner/main.py) unchanged against an
emulated board whose UART is a pseudo-terminal. Helper of bench/mlperf_runner.py.

The runner finds its devices by USB vendor and product id among the host's serial ports (pyserial's
`list_ports.comports`), and a pseudo-terminal has none; so this launcher adds the emulated board's
pty to that list as a USB serial port with the id the runner's own devices file gives its DUT (the
NUCLEO-L4R5ZI's ST-LINK, 0483:374B), then runs main.py as `python main.py ARGS` would. Nothing of
the runner's code is changed or copied.

Usage: python _mlperf_runner_launch.py PTY RUNNER_DIR -- MAIN_PY_ARGS...
"""
from __future__ import annotations

import runpy
import sys
from pathlib import Path

ST_LINK_VID_PID = (0x0483, 0x374B)  # the DUT of the runner's devices_*.yaml


def main() -> None:
    pty, runner_dir, sep, *args = sys.argv[1:]
    if sep != "--":
        raise SystemExit(__doc__.rsplit("Usage: ", 1)[1])
    from serial.tools import list_ports, list_ports_common

    real_comports = list_ports.comports

    def comports(include_links=False):
        port = list_ports_common.ListPortInfo(pty, skip_link_detection=True)
        port.vid, port.pid = ST_LINK_VID_PID
        port.description = f"emulated board on {pty}"
        return list(real_comports(include_links)) + [port]

    list_ports.comports = comports
    main_py = Path(runner_dir) / "main.py"
    sys.path.insert(0, str(Path(runner_dir)))
    sys.argv = [str(main_py), *args]
    runpy.run_path(str(main_py), run_name="__main__")


if __name__ == "__main__":
    main()
