"""The .tflite reader's fuzz target (fuzz/tflite_reader.py): a short bounded atheris run on the shipped
models (its regression inputs are replayed by test_fuzz_targets.py)."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import MLPERF_TINY, REPO

SEEDS = ("kws_ref_model.tflite", "str_ww_ref_model.tflite", "pretrainedResnet_quant.tflite")


def test_bounded_fuzz_run(tmp_path):
    pytest.importorskip("atheris", reason="atheris (the test extra) is not installed")
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for name in SEEDS:
        shutil.copy(MLPERF_TINY / name, corpus / name)
    proc = subprocess.run([sys.executable, str(REPO / "fuzz" / "tflite_reader.py"), str(corpus), "-runs=2000",
                           "-seed=1", f"-artifact_prefix={tmp_path}/", "-max_total_time=240"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO),
                                                                                           os.environ.get("PYTHONPATH")]))})
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "Done 2000 runs" in proc.stderr
    assert not list(tmp_path.glob("crash-*")) and not list(tmp_path.glob("timeout-*"))
