"""The measured TFLM arena against independent runs of the tflite-micro interpreter."""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from toolchain.arena import measure_arena

# Published figures for these files (tests/data/mlperf-tiny/README.md): total, head, tail.
README_FIGURES = {
    "pretrainedResnet_quant.tflite": (55_984, 49_152, 6_832),
    "kws_ref_model.tflite": (24_272, 16_000, 8_272),
}

PROBE = """
import sys
import numpy as np
from tflite_micro.python.tflite_micro import runtime
data = open(sys.argv[1], "rb").read()
interp = runtime.Interpreter.from_bytes(data, arena_size=int(sys.argv[2]))
detail = interp.get_input_details(0)
interp.set_input(np.zeros(detail["shape"], detail["dtype"]), 0)
interp.invoke()
print("invoked")
"""


def _independent_run(path, size) -> bool:
    """A fresh interpreter in its own process: allocate `size` bytes and run one inference."""
    proc = subprocess.run([sys.executable, "-c", PROBE, str(path), str(size)], capture_output=True, text=True)
    return proc.returncode == 0 and "invoked" in proc.stdout


@pytest.mark.parametrize("name", sorted(README_FIGURES))
def test_matches_published_figures(mlperf_models, name):
    m = measure_arena((mlperf_models / name).read_bytes())
    assert (m.total_bytes, m.head_bytes, m.tail_bytes) == README_FIGURES[name]


@pytest.mark.parametrize("name", ["pretrainedResnet_quant.tflite", "vww_96_int8.tflite", "ad01_int8.tflite"])
def test_smallest_arena_is_exact(mlperf_models, name):
    path = mlperf_models / name
    m = measure_arena(path.read_bytes())
    assert _independent_run(path, m.total_bytes)
    assert not _independent_run(path, m.total_bytes - 1)
    assert m.head_bytes + m.tail_bytes + m.init_overhead_bytes == m.total_bytes
    assert m.init_overhead_bytes >= 0


def test_32bit_correction_is_smaller_and_explained(mlperf_models):
    m = measure_arena((mlperf_models / "pretrainedResnet_quant.tflite").read_bytes())
    evals, n_eval = m.categories["TfLiteEvalTensor data"]
    nodes, n_nodes = m.categories["NodeAndRegistration struct"]
    tensors, n_tensors = m.categories["Persistent TfLiteTensor data"]
    # 24 -> 12 B per eval tensor, 64 -> 32 B per node, 64 -> 36 B per persistent tensor
    assert m.tail_bytes - m.tail_32bit_bytes == n_eval * 12 + n_nodes * 32 + n_tensors * 28
    assert m.recommended_bytes % 16 == 0 and m.recommended_bytes >= m.total_32bit_bytes
