"""The TFLM C array: compiled with the host compiler, its bytes are exactly the .tflite bytes."""
from __future__ import annotations

import subprocess

import pytest

from firmware_export.c_array import c_identifier, render_c_array
from tests.conftest import require_tool

DUMP = r"""
#include <stdio.h>
#include "model_data.h"
int main(void) {
  fwrite(%(name)s_model_data, 1, %(name)s_model_data_len, stdout);
  fprintf(stderr, "%%d %%d", (int)%(macro)s_TENSOR_ARENA_SIZE, (int)((unsigned long)%(name)s_model_data %% 16));
  return 0;
}
"""


@pytest.mark.parametrize("name, ident", [("model", "model"), ("2-my.model v1", "m_2_my_model_v1"),
                                         ("int", "int_"), ("__", "model")])
def test_identifiers_are_valid_c(name, ident):
    assert c_identifier(name) == ident


def test_compiles_and_holds_the_exact_bytes(tmp_path, mlperf_models):
    gxx = require_tool("g++")
    data = (mlperf_models / "kws_ref_model.tflite").read_bytes()
    files = render_c_array(data, "kws-ref.model", 24_270, "note")
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    (tmp_path / "main.cc").write_text(DUMP % {"name": "kws_ref_model", "macro": "KWS_REF_MODEL"})
    subprocess.run([gxx, "-std=c++11", "-Wall", "-Wextra", "-Werror", "-o", str(tmp_path / "dump"),
                    str(tmp_path / "main.cc"), str(tmp_path / "model_data.cc")], check=True, cwd=tmp_path)
    proc = subprocess.run([str(tmp_path / "dump")], capture_output=True, check=True)
    assert proc.stdout == data
    arena, misalignment = proc.stderr.decode().split()
    assert (int(arena), int(misalignment)) == (24_272, 0)  # rounded up to 16, alignas(16)


def test_deterministic_and_fixed_width():
    data = bytes(range(256)) * 3
    a = render_c_array(data, "m", 100, "note")
    assert a == render_c_array(data, "m", 100, "note")
    rows = [l for l in a["model_data.cc"].splitlines() if l.startswith("    0x")]
    assert all(l.count("0x") == 12 for l in rows[:-1]) and len(rows) == 64
