"""Wall time of the commands that must answer without TensorFlow (target: each under 0.5 s).

Each command runs as a fresh process (interpreter start-up and imports included), several times;
the table gives the median and the worst run, and whether TensorFlow was imported.

    .venv/bin/python bench/cli_latency.py [--repeat 7]
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
MODELS = REPO.parent / "shared" / "models" / "mlperf-tiny"
PROBE = ("import sys\nfrom toolchain.cli import main\ntry:\n    main(sys.argv[1:])\nexcept SystemExit:\n    pass\n"
         "sys.stderr.write('TF_IMPORTED=%s' % ('tensorflow' in sys.modules))\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    commands = {
        "edgec --help": ["--help"],
        "edgec targets": ["targets"],
        "edgec check vww_96_int8.tflite": ["check", str(MODELS / "vww_96_int8.tflite"), "-t", "cortex-m7"],
        "edgec check pretrainedResnet_quant.tflite": ["check", str(MODELS / "pretrainedResnet_quant.tflite"),
                                                     "-t", "cortex-m7"],
    }
    print(f"{'command':<46}{'median':>9}{'worst':>9}  TensorFlow imported   (target < 0.5 s)")
    for label, argv in commands.items():
        times, imported = [], set()
        for _ in range(args.repeat):
            start = time.perf_counter()
            proc = subprocess.run([sys.executable, "-c", PROBE, *argv], capture_output=True, text=True, env=env)
            times.append(time.perf_counter() - start)
            imported.add(proc.stderr.rsplit("TF_IMPORTED=", 1)[-1].strip())
        print(f"{label:<46}{statistics.median(times):8.3f}s{max(times):8.3f}s  {', '.join(sorted(imported))}")


if __name__ == "__main__":
    main()
