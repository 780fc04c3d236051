"""Wall time of the commands that must answer without TensorFlow (target: each under 0.5 s).

Each command runs as a fresh process (interpreter start-up and imports included), several times;
the table gives the median and the worst run, and whether TensorFlow was imported.

    .venv/bin/python bench/cli_latency.py [--repeat 7] [--smoke]

--smoke runs each command once.
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
MODELS = REPO / "tests" / "data" / "mlperf-tiny"
NEEDS = ()  # what tests/bench/test_smoke.py requires before running --smoke (bench/README.md)
PROBE = ("import sys\nfrom toolchain.cli import main\ncode = 0\ntry:\n    main(sys.argv[1:])\n"
         "except SystemExit as e:\n    code = e.code\n"
         "sys.stderr.write('EXIT=%s TF_IMPORTED=%s' % (code, 'tensorflow' in sys.modules))\n")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--smoke", action="store_true", help="each command once: proves that the measurement runs")
    args = parser.parse_args()
    if args.smoke:
        args.repeat = 1
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    commands = {
        "edgec --help": ["--help"],
        "edgec targets": ["targets"],
        "edgec check vww_96_int8.tflite": ["check", str(MODELS / "vww_96_int8.tflite"), "-t", "cortex-m7"],
        "edgec check pretrainedResnet_quant.tflite": ["check", str(MODELS / "pretrainedResnet_quant.tflite"),
                                                     "-t", "cortex-m7"],
    }
    print(f"{'command':<46}{'median':>9}{'worst':>9}  TensorFlow imported   (target < 0.5 s)")
    failed = []
    for label, argv in commands.items():
        times, imported = [], set()
        for _ in range(args.repeat):
            start = time.perf_counter()
            proc = subprocess.run([sys.executable, "-c", PROBE, *argv], capture_output=True, text=True, env=env)
            times.append(time.perf_counter() - start)
            status = proc.stderr.rsplit("EXIT=", 1)[-1].split()
            if proc.returncode != 0 or status[:1] not in (["0"], ["None"]):
                failed.append(f"{label}: {proc.stderr[-2000:]}")
            imported.add(status[-1].removeprefix("TF_IMPORTED=") if status else "?")
        print(f"{label:<46}{statistics.median(times):8.3f}s{max(times):8.3f}s  {', '.join(sorted(imported))}")
    for failure in failed:  # a time of a command that failed measures nothing
        print(f"FAILED {failure}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
