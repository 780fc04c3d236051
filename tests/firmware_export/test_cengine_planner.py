"""Memory planner invariants: no two live buffers overlap except where a kernel runs in place,
offsets aligned, never worse than TFLM's greedy planner, and the in-place lags proven by
simulating each kernel's exact read/write order."""
from __future__ import annotations

import itertools

import numpy as np
import pytest

from firmware_export.cengine.inplace import inplace_lag
from firmware_export.cengine.lower import lower_model
from firmware_export.cengine.ops import Conv2D, Requant, op_inputs
from firmware_export.cengine.planner import ALIGNMENT, build_buffers, plan_memory
from tests.firmware_export.conftest import MLPERF_MODELS, mlperf_path
from toolchain.base.tflite_reader import read_tflite, read_tflite_file

# TFLM's planned activations (arena head) on these files, measured with the tflite-micro
# interpreter (issue 4 and tests/data/mlperf-tiny/README.md).
TFLM_HEAD_BYTES = {"pretrainedResnet_quant": 49152, "vww_96_int8": 73728, "kws_ref_model": 16000}


def check_plan(graph, plan):
    buffers, root = build_buffers(graph)
    offsets = plan.offsets
    # The model input (and every alias of it) stays in the caller's buffer: never in the arena.
    assert graph.input in plan.caller_tensors
    assert all(root[t] == root[graph.input] for t in plan.caller_tensors)
    assert not plan.caller_tensors & set(plan.tensor_offsets)
    assert root[graph.input] not in {b.id for b in buffers}
    for b in buffers:
        assert offsets[b.id] % ALIGNMENT == 0
        assert 0 <= offsets[b.id] and offsets[b.id] + b.size <= plan.arena_bytes
    allowed = {}
    by_id = {b.id: b for b in buffers}
    for k, op in enumerate(graph.ops):
        if op.op in ("RESHAPE", "SQUEEZE", "EXPAND_DIMS"):
            continue
        out = root[op.output]
        for t in op_inputs(op):
            if root[t] == out:
                continue
            if root[t] not in by_id:  # the model input: the caller's buffer, not the arena
                continue
            lag = inplace_lag(op, t, graph)
            if lag is not None and by_id[root[t]].last == k and by_id[out].first == k:
                allowed[(root[t], out)] = lag
    for a, b in itertools.combinations(buffers, 2):
        if not (a.first <= b.last and b.first <= a.last):
            continue
        oa, ob = offsets[a.id], offsets[b.id]
        if oa + a.size <= ob or ob + b.size <= oa:
            continue
        if (a.id, b.id) in allowed:
            assert oa - ob >= allowed[(a.id, b.id)], (a, b)
        elif (b.id, a.id) in allowed:
            assert ob - oa >= allowed[(b.id, a.id)], (a, b)
        else:
            pytest.fail(f"buffers {a} and {b} are alive together and overlap")
    # Never worse than the live-tensor peak (sizes rounded up to the alignment).
    aligned_peak = max(sum(-(-b.size // ALIGNMENT) * ALIGNMENT for b in buffers if b.first <= k <= b.last)
                       for k in range(-1, len(graph.ops) + 1))
    assert plan.lower_bound_bytes <= plan.arena_bytes <= aligned_peak


@pytest.mark.parametrize("stem", MLPERF_MODELS)
def test_mlperf_plans_keep_the_invariants(stem):
    graph = lower_model(read_tflite_file(mlperf_path(stem)))
    plan = plan_memory(graph)
    check_plan(graph, plan)
    if stem in TFLM_HEAD_BYTES:
        assert plan.arena_bytes <= TFLM_HEAD_BYTES[stem]
    assert plan == plan_memory(graph)  # deterministic


def test_single_op_plans_keep_the_invariants(single_op_models):
    for name, (_, model_bytes) in single_op_models.items():
        graph = lower_model(read_tflite(model_bytes))
        check_plan(graph, plan_memory(graph))


def test_plans_go_below_the_live_tensor_peak_by_running_in_place():
    for stem in ("pretrainedResnet_quant", "vww_96_int8", "kws_ref_model"):
        plan = plan_memory(lower_model(read_tflite_file(mlperf_path(stem))))
        assert plan.inplace and plan.arena_bytes < plan.live_peak_bytes


def _conv(in_hwc, out_hwc, kernel, stride, pad):
    cout = out_hwc[2]
    rq = Requant(multiplier=np.zeros(cout, np.int32), shift=np.zeros(cout, np.int8), output_zp=0, act_min=-128, act_max=127)
    return Conv2D(index=0, op="CONV_2D", input=0, output=1, weights=np.zeros((cout, *kernel, in_hwc[2]), np.int8),
                  bias=np.zeros(cout, np.int32), requant=rq, batches=1, in_hwc=in_hwc, out_hwc=out_hwc,
                  kernel_hw=kernel, stride_hw=stride, dilation_hw=(1, 1), pad_tl=pad, groups=1, input_zp=0)


def _conv_is_safe(op, lag: int) -> bool:
    """Replay edgec_conv2d_s8's order (pixel by pixel, channel by channel, the whole window read
    before each channel's write) with the output `lag` bytes below the input."""
    ih, iw, ic = op.in_hwc
    oh, ow, oc = op.out_hwc
    clobbered = np.zeros(ih * iw * ic + 1, bool)  # input bytes overwritten so far
    for oy, ox in itertools.product(range(oh), range(ow)):
        rows = [oy * op.stride_hw[0] - op.pad_tl[0] + k for k in range(op.kernel_hw[0])]
        cols = [ox * op.stride_hw[1] - op.pad_tl[1] + k for k in range(op.kernel_hw[1])]
        window = [(y * iw + x) * ic + c for y in rows for x in cols if 0 <= y < ih and 0 <= x < iw for c in range(ic)]
        for c in range(oc):
            if clobbered[window].any():
                return False
            address = (oy * ow + ox) * oc + c - lag  # output byte, relative to the input start
            if 0 <= address < ih * iw * ic:
                clobbered[address] = True
    return True


@pytest.mark.parametrize("in_hwc,out_hwc,kernel,stride,pad", [
    ((6, 6, 4), (6, 6, 4), (3, 3), (1, 1), (1, 1)),
    ((6, 6, 4), (6, 6, 8), (1, 1), (1, 1), (0, 0)),
    ((8, 8, 2), (4, 4, 4), (3, 3), (2, 2), (0, 0)),
    ((7, 5, 3), (7, 5, 2), (3, 3), (1, 1), (1, 1)),
])
def test_conv_lag_is_safe_and_nearly_minimal(in_hwc, out_hwc, kernel, stride, pad):
    op = _conv(in_hwc, out_hwc, kernel, stride, pad)
    lag = inplace_lag(op, 0, None)
    assert _conv_is_safe(op, lag)
    smallest_safe = next(d for d in range(lag + 1) if _conv_is_safe(op, d))
    assert lag - smallest_safe <= 1  # the last channel's write follows the window's last read
