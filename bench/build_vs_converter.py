"""`edgec build` against a bare TFLite int8 conversion of the same model, in the same run.

Both run as fresh processes (imports included), alternating, several times; the table gives the
median wall times and their ratio. Target (issue 2): ratio <= 1.3 on pretrainedResnet.h5.

    .venv/bin/python bench/build_vs_converter.py [--repeat 5] [--smoke] [MODEL.h5]

--smoke runs each side once on 10 calibration samples, without the warm-up run.
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
DEFAULT_MODEL = REPO / "tests" / "data" / "mlperf-tiny" / "pretrainedResnet.h5"
NEEDS = ()  # what tests/bench/test_smoke.py requires before running --smoke (bench/README.md)

BARE = r"""
import sys
import numpy as np
import tensorflow as tf
import keras
model = keras.models.load_model(sys.argv[1], compile=False)
x = np.load(sys.argv[2])["x"]
converter = tf.lite.TFLiteConverter.from_keras_model(model)
converter.optimizations = [tf.lite.Optimize.DEFAULT]
converter.representative_dataset = lambda: ([x[i:i + 1]] for i in range(len(x)))
converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
converter.inference_input_type = tf.int8
converter.inference_output_type = tf.int8
open(sys.argv[3], "wb").write(converter.convert())
"""


def timed(cmd: list[str], env: dict) -> float:
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit(f"failed: {' '.join(cmd)}\n{proc.stderr[-2000:]}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", nargs="?", type=Path, default=DEFAULT_MODEL)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--samples", type=int, default=100)
    parser.add_argument("--smoke", action="store_true", help="one run each, 10 samples: proves that the measurement runs")
    args = parser.parse_args()
    if args.smoke:
        args.repeat, args.samples = 1, 10
    env = {**os.environ, "PYTHONPATH": str(REPO), "TF_CPP_MIN_LOG_LEVEL": "3"}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        sys.path.insert(0, str(REPO))
        from toolchain.loader import load_model

        shape = load_model(args.model).input_shapes[0]
        rng = np.random.default_rng(0)
        np.savez(tmp / "calib.npz", x=rng.random((args.samples, *shape[1:]), dtype=np.float32))
        bare_cmd = [sys.executable, "-c", BARE, str(args.model), str(tmp / "calib.npz"), str(tmp / "bare.tflite")]
        edgec_cmd = [sys.executable, "-m", "toolchain.cli", "build", str(args.model), "--target", "cortex-m7",
                     "--calib", str(tmp / "calib.npz"), "-o", str(tmp / "out"), "--quiet"]
        if not args.smoke:
            timed(bare_cmd, env)  # warm the file cache once
        bare, ours = [], []
        for _ in range(args.repeat):
            bare.append(timed(bare_cmd, env))
            ours.append(timed(edgec_cmd + ["--json"], env))
    b, o = statistics.median(bare), statistics.median(ours)
    print(f"model: {args.model.name}, {args.samples} calibration samples, {args.repeat} runs each (median)")
    print(f"{'bare TFLite converter':<28}{b:8.2f} s")
    print(f"{'edgec build':<28}{o:8.2f} s")
    print(f"{'ratio edgec / bare':<28}{o / b:8.2f}   (target <= 1.30)")


if __name__ == "__main__":
    main()
