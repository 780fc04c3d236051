"""`edgec validate --eval` on the 10,000 Fashion-MNIST test images: time, accuracy (float, int8 under
tflite-micro, C engine), and the engine's byte-for-byte agreement with tflite-micro on every image.

Runs the command as a user does, a fresh process, on the bundled example model
(examples/fashion_cnn.keras, converted in the command with the example's calibration samples).
Target (issue 14): the whole command in under 60 s on a 2-core machine.

    .venv/bin/python bench/validate_fmnist.py [--smoke]

--smoke evaluates 200 test images (no time target).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
NEEDS = ("/usr/share/datasets/fashion-mnist",)  # what tests/bench/test_smoke.py requires (bench/README.md)
TARGET_S = 60.0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="200 test images: proves that the measurement runs")
    args = parser.parse_args(argv)

    import numpy as np

    sys.path.insert(0, str(REPO / "examples"))
    from fashion_mnist import load  # the example's reader of Debian's dataset-fashion-mnist

    x, y = load("test")
    if args.smoke:
        x, y = x[:200], y[:200]
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "test.npz"
        np.savez(data, x=x, y=y)
        command = [sys.executable, "-m", "toolchain.cli", "validate", str(REPO / "examples" / "fashion_cnn.keras"),
                   "--eval", str(data), "--calib", str(REPO / "examples" / "fashion_calib.npz"), "--json"]
        started = time.perf_counter()
        run = subprocess.run(command, capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(REPO)})
        wall = time.perf_counter() - started
    if run.returncode != 0:
        print(run.stdout + run.stderr)
        print(f"edgec validate failed with exit code {run.returncode}")
        return 1
    doc = json.loads(run.stdout)
    print(f"edgec validate --eval on {len(x)} Fashion-MNIST test images: {wall:.1f} s wall "
          f"(inside the command: {doc['seconds']})")
    for s in doc["accuracy"]["scores"]:
        print(f"  {s['runtime']:<20} accuracy {s['accuracy_percent']:.2f}%")
    engine = doc["engine"]
    print(f"  C engine identical to tflite-micro on {engine['exact']}/{engine['count']} images")
    exact = engine["exact"] == engine["count"] == len(x)
    print(f"[{'met' if exact else 'NOT MET'}] engine exact against tflite-micro on every image")
    if args.smoke:
        print("smoke run (200 images): no time target")
        return 0 if exact else 1
    fast = wall < TARGET_S
    print(f"[{'met' if fast else 'NOT MET'}] under {TARGET_S:.0f} s: {wall:.1f} s "
          f"({os.cpu_count()} cores; load average {os.getloadavg()[0]:.1f} at the end)")
    return 0 if exact else 1


if __name__ == "__main__":
    sys.exit(main())
