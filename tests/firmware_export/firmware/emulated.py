"""One model on the emulated Cortex-M7 over serial, its outputs compared with tflite-micro's."""
from __future__ import annotations

from pathlib import Path

import targets
from toolchain.benchmark import BenchOptions, run_bench


def exact_on_m7(data: bytes, name: str, tmp_path: Path, runs: int = 4, firmware: Path | None = None):
    """Run the model `data` (written as tmp_path/NAME.tflite) `runs` times on the emulated M7 (its firmware
    built by the bench, or `firmware`), assert every output equal to tflite-micro's byte for byte, and
    return the bench result."""
    model = tmp_path / f"{name}.tflite"
    model.write_bytes(data)
    result = run_bench(BenchOptions(target=targets.load_target("cortex-m7"), emulate=True, model=model,
                                    firmware=firmware, runs=runs, warmup=0, limit=runs, out_dir=tmp_path / "bench"))
    c = result.comparison
    assert c.basis == "raw" and c.compared == runs
    assert c.exact_match_rate == 1.0 and c.max_abs_diff == 0.0
    return result
