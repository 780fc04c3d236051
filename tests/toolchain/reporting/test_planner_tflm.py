"""The recomputed TFLM plan against TFLM itself: its compiled GreedyMemoryPlanner (called through
ctypes from the tflite-micro package) for the offsets, its measured arena head for the peak."""
from __future__ import annotations

import ctypes
import random

import pytest

from toolchain.arena import measure_arena
from toolchain.planner_tflm import Buffer, place, plan_tflm, tflm_buffers
from toolchain.base.tflite_reader import read_tflite

# The activation peaks TFLM measures for the MLPerf Tiny reference models (their README).
MLPERF_HEADS = {"pretrainedResnet_quant": 49_152, "vww_96_int8": 73_728, "kws_ref_model": 16_000,
                "ad01_int8": 768, "str_ww_ref_model": 6_656}


class CompiledGreedyPlanner:
    """tflite-micro's own GreedyMemoryPlanner, from the tflite-micro Python package's library."""
    PREFIX = "_ZN6tflite5micro19GreedyMemoryPlanner"

    def __init__(self):
        from tflite_micro.python.tflite_micro import _runtime

        lib = ctypes.CDLL(_runtime.__file__)
        try:
            self.ctor = self._fn(lib, "C1Ev", [ctypes.c_void_p], None)
            self.init = self._fn(lib, "4InitEPhi", [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int], ctypes.c_int)
            self.add = self._fn(lib, "9AddBufferEiii", [ctypes.c_void_p] + [ctypes.c_int] * 3, ctypes.c_int)
            self.offset = self._fn(lib, "18GetOffsetForBufferEiPi",
                                   [ctypes.c_void_p, ctypes.c_int, ctypes.POINTER(ctypes.c_int)], ctypes.c_int)
            self.maximum = self._fn(lib, "20GetMaximumMemorySizeEv", [ctypes.c_void_p], ctypes.c_size_t)
        except AttributeError as exc:
            pytest.fail(f"tflite-micro's GreedyMemoryPlanner symbols not found in {_runtime.__file__}: {exc}")

    def _fn(self, lib, suffix, argtypes, restype):
        fn = getattr(lib, self.PREFIX + suffix)
        fn.argtypes, fn.restype = argtypes, restype
        return fn

    def plan(self, buffers: list[tuple[int, int, int]]) -> tuple[list[int], int]:
        """(size, first, last) per buffer -> (offsets, maximum memory size)."""
        planner = ctypes.create_string_buffer(4096)  # the object (a few dozen bytes)
        scratch = ctypes.create_string_buffer(64 * (len(buffers) + 1))  # its arrays
        self.ctor(planner)
        assert self.init(planner, scratch, len(scratch)) == 0
        for size, first, last in buffers:
            assert self.add(planner, size, first, last) == 0
        offsets = []
        for i in range(len(buffers)):
            out = ctypes.c_int()
            assert self.offset(planner, i, ctypes.byref(out)) == 0
            offsets.append(out.value)
        return offsets, self.maximum(planner)


@pytest.fixture(scope="module")
def tflm_planner():
    return CompiledGreedyPlanner()


def _as_tuples(buffers: list[Buffer]) -> list[tuple[int, int, int]]:
    return [(b.aligned_bytes, b.first_scope, b.last_scope) for b in buffers]


@pytest.mark.parametrize("stem", sorted(MLPERF_HEADS))
def test_plan_is_tflms_on_mlperf_models(stem, mlperf_models, tflm_planner):
    data = (mlperf_models / f"{stem}.tflite").read_bytes()
    model = read_tflite(data, stem)
    buffers, caveats = tflm_buffers(model)
    offsets, maximum = tflm_planner.plan(_as_tuples(buffers))
    assert place(buffers) == offsets
    plan = plan_tflm(model)
    assert caveats == [] and plan.caveats == ()
    assert plan.peak_bytes == maximum == MLPERF_HEADS[stem] == measure_arena(data).head_bytes


def test_placement_matches_tflm_on_random_buffers(tflm_planner):
    """Equal sizes, nested and disjoint lifetimes: the order of ties decides the offsets."""
    rng = random.Random(6)
    for _ in range(60):
        buffers = []
        for i in range(rng.randint(1, 24)):
            first = rng.randint(0, 10)
            buffers.append(Buffer(f"t{i}", "tensor", i, 16 * rng.choice((1, 2, 2, 3, 8)), first,
                                  first + rng.randint(0, 4)))
        assert place(buffers) == tflm_planner.plan(_as_tuples(buffers))[0]


@pytest.fixture(scope="module")
def scratch_models():
    """Single-op models whose TFLM kernels request scratch memory, built with the real converter."""
    from tests.firmware_export.single_op_models import CASES, Case, convert

    cases = [c for c in CASES if c.name == "mean_global"] + [
        Case("transpose_conv", (5, 5, 3), lambda k, x: k.layers.Conv2DTranspose(4, 3, strides=2, padding="same")(x)),
        Case("reduce_max", (6, 5, 7), lambda k, x: k.ops.max(x, axis=(1, 2))),
        Case("sum_last_axis", (6, 5, 3), lambda k, x: k.ops.sum(x, axis=2)),
    ]
    return {c.name: convert(c) for c in cases}


@pytest.mark.parametrize("name,op", [("mean_global", "MEAN"), ("transpose_conv", "TRANSPOSE_CONV"),
                                     ("reduce_max", "REDUCE_MAX"), ("sum_last_axis", "SUM")])
def test_kernel_scratch_buffers_are_planned(scratch_models, name, op):
    data = scratch_models[name]
    model = read_tflite(data, name)
    assert op in model.op_names
    buffers, _ = tflm_buffers(model)
    assert any(b.kind == "scratch" for b in buffers)
    assert plan_tflm(model).peak_bytes == measure_arena(data).head_bytes


def test_mean_scratch_buffers_in_request_order(scratch_models):
    """MEAN on int8 (1, 6, 5, 7) over two axes: int32 sums per output, then the index arrays."""
    buffers, _ = tflm_buffers(read_tflite(scratch_models["mean_global"]))
    assert [(b.kind, b.bytes, b.first_scope, b.last_scope) for b in buffers] == [
        ("tensor", 210, 0, 1), ("tensor", 7, 1, 1),
        ("scratch", 28, 1, 1), ("scratch", 16, 1, 1), ("scratch", 8, 1, 1)]
