"""Malformed .tflite files: every command refuses them with exit code 2 and a message naming the
problem; none dies by a signal, prints an internal error, or calls a model TFLM crashes on fit."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import MLPERF_TINY, REPO
from tests.toolchain.conftest import EXAMPLE_CALIB, EXAMPLE_MODEL
from tests.toolchain.hardening import malformed
from toolchain.base.errors import ModelCrashError, ModelFieldError, ModelLoadError
from toolchain.base.tflite_reader import read_tflite

MODELS = sorted(p.name for p in MLPERF_TINY.glob("*.tflite"))
CLI_TIMEOUT_S = 180


@pytest.fixture(scope="module")
def example_tflite() -> bytes:
    """The bundled example, converted to int8 by the build's own passes."""
    from targets import load_target
    from toolchain.build import BuildOptions, build

    result = build(EXAMPLE_MODEL, BuildOptions(target=load_target("cortex-m7"), calib=EXAMPLE_CALIB))
    return result.tflite_bytes


def _sources(example_tflite) -> dict[str, bytes]:
    out = {name: (MLPERF_TINY / name).read_bytes() for name in MODELS}
    out["example"] = example_tflite
    return out


def _tensor(data: bytes, index: int):
    return read_tflite(data).main.tensors[index]


def test_every_shipped_model_passes_the_checks(example_tflite):
    for name, data in _sources(example_tflite).items():
        model = read_tflite(data, name)
        assert model.size_bytes == len(data)
        # the schema objects write the same model again: the mutations below start from it
        assert read_tflite(malformed.pack(malformed.unpack(data)), name).op_names == model.op_names


def test_each_mutation_is_refused_with_the_tensor_and_field_named(example_tflite):
    for name, data in _sources(example_tflite).items():
        bad, i = malformed.shape_larger_than_buffer(data)
        t = _tensor(data, i)
        with pytest.raises(ModelFieldError) as exc:
            read_tflite(bad, name)
        buffer_bytes = t.nbytes
        assert exc.value.message == (
            f"{name}: subgraph 0 tensor {i} '{t.name}': field 'shape': "
            f"{[t.shape[0] * 4, *t.shape[1:]]} of {t.dtype} needs {4 * buffer_bytes:,} B but its buffer "
            f"{t.buffer} holds {buffer_bytes:,} B")

        bad, index = malformed.operator_input_out_of_range(data)
        n = len(read_tflite(data).main.tensors)
        with pytest.raises(ModelFieldError, match=rf"subgraph 0 operator 0: field 'inputs': tensor index {index} "
                                                  rf"out of range \(expected -1 \(absent\) or 0\.\.{n - 1}\)"):
            read_tflite(bad, name)

        with pytest.raises(ModelFieldError, match="subgraph 0 operator 0: field 'opcode_index': .* out of range"):
            read_tflite(malformed.opcode_out_of_range(data), name)

        bad, i = malformed.infinite_scale(data)
        with pytest.raises(ModelFieldError, match=rf"tensor {i} '.*': field 'quantization.scale': inf: every scale "
                                                  "must be a finite number above 0"):
            read_tflite(bad, name)

        bad, i = malformed.zero_point_out_of_range(data)
        with pytest.raises(ModelFieldError, match=rf"tensor {i} '.*': field 'quantization.zero_point': 1000 is "
                                                  r"outside the int8 range -128\.\.127"):
            read_tflite(bad, name)

        bad, i = malformed.negative_dimension(data)
        with pytest.raises(ModelFieldError, match=rf"tensor {i} '.*': field 'shape': negative dimension in \[-7"):
            read_tflite(bad, name)

        with pytest.raises(ModelLoadError) as exc:
            read_tflite(malformed.trailing_garbage(data, 64), name)
        assert exc.value.message == (f"{name}: 64 B of trailing data after the end of the flatbuffer "
                                     f"(byte {len(data):,} of {len(data) + 64:,}): the file is corrupted or has "
                                     "bytes appended")

        for broken in (malformed.broken_root_offset(data), malformed.broken_table_offset(data)):
            with pytest.raises(ModelLoadError, match=f"^{name}: corrupted or truncated TFLite file"):
                read_tflite(broken, name)


def test_a_bad_rank_is_refused_with_the_operator_named():
    data = (MLPERF_TINY / "kws_ref_model.tflite").read_bytes()
    model = read_tflite(data)
    conv = next(op for op in model.main.operators if op.op == "CONV_2D")
    bad = malformed.activation_shape(data, conv.inputs[0], [1, 490])
    with pytest.raises(ModelFieldError, match=rf"subgraph 0 operator {conv.index} \(CONV_2D\): field 'inputs': "
                                              rf"input 0 \(tensor {conv.inputs[0]} '.*'\) has rank 2, expected 4"):
        read_tflite(bad)


@pytest.mark.parametrize("value", [-1, 0, 2])
def test_a_depth_multiplier_that_disagrees_with_the_channels_is_refused(value):
    # str_ww with depth_multiplier -1 (bench/malformed_models.py, seed 23): TFLM wrote no output and
    # `validate` called the engine's different outputs an edgec bug (exit 1); 2 would write past them
    data = (MLPERF_TINY / "str_ww_ref_model.tflite").read_bytes()
    bad, index = malformed.depth_multiplier(data, value)
    with pytest.raises(ModelFieldError, match=rf"operator {index} \(DEPTHWISE_CONV_2D\): field "
                                              rf"'builtin_options.depth_multiplier': {value}: 40 input channels "
                                              rf"x {value} is not the filter's 40 channels"):
        read_tflite(bad)


def test_a_depthwise_operator_without_its_options_is_refused():
    # kws with a CONV_2D given the depthwise operator code (seed 23): TFLM reads no depth multiplier
    bad, index = malformed.conv_as_depthwise((MLPERF_TINY / "kws_ref_model.tflite").read_bytes())
    with pytest.raises(ModelFieldError, match=rf"operator {index} \(DEPTHWISE_CONV_2D\): field 'builtin_options': "
                                              "no depth_multiplier: the operator's options are not a "
                                              "DEPTHWISE_CONV_2D's"):
        read_tflite(bad)


# --- TFLM runs where its crashes are caught ------------------------------------------------------

def test_tflm_crash_in_invoke_is_an_error_not_a_dead_process():
    from toolchain.oracle import run_tflm

    bad, signal_name = malformed.crashes_in_invoke(MLPERF_TINY)
    x = np.zeros((2, 49, 10, 1), np.int8)
    with pytest.raises(ModelCrashError) as exc:
        run_tflm(bad, x, source="kws-bad")
    assert exc.value.message == (f"kws-bad: tflite-micro crashed ({signal_name}) while running 2 inference(s) "
                                 "(the model is malformed or uses an op in a form TFLM cannot run)")


def test_bench_host_reference_survives_a_crash():
    from toolchain.benchmark.reference import host_reference

    bad, signal_name = malformed.crashes_in_invoke(MLPERF_TINY)
    with pytest.raises(ModelCrashError, match=signal_name):
        host_reference(bad, np.zeros((1, 49, 10, 1), np.int8), (1, 49, 10, 1), "kws-bad")
    good = (MLPERF_TINY / "kws_ref_model.tflite").read_bytes()
    outs = host_reference(good, np.zeros((3, 49, 10, 1), np.int8), (1, 49, 10, 1))
    assert [o.shape for o in outs] == [(12,)] * 3


def test_a_child_that_hangs_is_killed_at_its_deadline():
    import time

    from toolchain.probe import run_in_child

    start = time.monotonic()
    result = run_in_child(lambda: time.sleep(30) or 0, timeout_s=0.5)
    assert result.timed_out and result.signal_name == "SIGKILL"
    assert time.monotonic() - start < 10


# --- the commands, as a user runs them ------------------------------------------------------------

def _edgec(*args, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "toolchain.cli", *map(str, args)], cwd=cwd, capture_output=True,
                          text=True, timeout=CLI_TIMEOUT_S, env={**os.environ, "PYTHONPATH": str(REPO)})


@pytest.fixture(scope="module")
def bad_files(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("malformed")
    kws = (MLPERF_TINY / "kws_ref_model.tflite").read_bytes()
    files = {
        "shape": malformed.shape_larger_than_buffer(kws)[0],
        "index": malformed.operator_input_out_of_range(kws)[0],
        "scale": malformed.infinite_scale(kws)[0],
        "trailing": malformed.trailing_garbage(kws),
        "offset": malformed.broken_table_offset(kws),
    }
    out = {}
    for name, data in files.items():
        out[name] = folder / f"{name}.tflite"
        out[name].write_bytes(data)
    return out


EXPECTED = {
    "shape": "field 'shape': [48] of int32 needs 192 B but its buffer 2 holds 48 B",
    "index": "subgraph 0 operator 0: field 'inputs': tensor index 1035 out of range",
    "scale": "field 'quantization.scale': inf: every scale must be a finite number above 0",
    "trailing": "64 B of trailing data after the end of the flatbuffer",
    "offset": "corrupted or truncated TFLite file",
}


@pytest.mark.parametrize("command", ["check", "inspect", "build", "validate", "bench"])
@pytest.mark.parametrize("kind", sorted(EXPECTED))
def test_commands_refuse_malformed_models(command, kind, bad_files, tmp_path):
    path = bad_files[kind]
    args = {
        "check": ["check", path, "-t", "cortex-m7"],
        "inspect": ["inspect", path],
        "build": ["build", path, "-t", "cortex-m7", "-o", tmp_path / "out"],
        "validate": ["validate", path, "--count", "2"],
        # the model is read before any device is opened: no board is needed for the refusal
        "bench": ["bench", "-t", "cortex-m7", "--port", "/dev/edgec-no-such-port", "--model", path,
                  "-o", tmp_path / "out"],
    }[command]
    proc = _edgec(*args, cwd=tmp_path)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert f"Error: {path}: " in proc.stderr and EXPECTED[kind] in proc.stderr, proc.stderr
    assert "internal error" not in proc.stderr
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("command", ["build", "check"])
def test_no_fits_verdict_for_a_model_that_crashes_tflm(command, tmp_path):
    bad, signal_name = malformed.crashes_in_invoke(MLPERF_TINY)
    path = tmp_path / "crashes.tflite"
    path.write_bytes(bad)
    args = ["-o", tmp_path / "out"] if command == "build" else []
    proc = _edgec(command, path, "-t", "cortex-m7", *args, cwd=tmp_path)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert proc.stderr.strip() == (f"Error: {path}: tflite-micro crashed ({signal_name}) while running a test "
                                   "inference (the model is malformed or uses an op in a form TFLM cannot run)")
    assert "FITS" not in proc.stdout
    assert not (tmp_path / "out").exists()
