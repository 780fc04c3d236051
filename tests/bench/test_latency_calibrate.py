"""bench/latency_calibrate.py --smoke: a calibration model converted, built into the M7's firmware and run
on QEMU, its per-layer counts fitted, the data file written (and valid), the model estimated with it."""
from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from targets.latency import read_core_latency
from tests.conftest import REPO, require_tool


@pytest.mark.slow
def test_smoke_writes_a_valid_model_and_estimates_with_it(tmp_path):
    require_tool("arm-none-eabi-gcc")
    require_tool("qemu-system-arm")
    out = tmp_path / "latency"
    result = subprocess.run([sys.executable, str(REPO / "bench" / "latency_calibrate.py"), "--smoke", "--out", str(out),
                             "--work", str(tmp_path / "work")],
                            cwd=REPO, capture_output=True, text=True, timeout=600,
                            env={**os.environ, "PYTHONPATH": str(REPO), "TF_CPP_MIN_LOG_LEVEL": "3"})
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert sorted(p.name for p in out.iterdir()) == ["cortex-m7.toml"]  # only the core calibrated, nothing else
    data = read_core_latency(out / "cortex-m7.toml")
    assert data.machine == "mps2-an500" and {"conv", "conv_1x1", "depthwise_layout", "fully_connected"} <= set(data.kinds)
    row = re.search(r"^M7 +cal_dw_small\.tflite +([\d,]+) +([\d,]+) +([+-][\d.]+)%$", result.stdout, re.M)
    assert row, result.stdout
    estimated, measured = (int(v.replace(",", "")) for v in row.groups()[:2])
    assert float(row.group(3)) == pytest.approx(round(100 * (estimated / measured - 1), 1), abs=0.1)  # rounded print
