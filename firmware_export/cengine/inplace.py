"""When may an op's output overlap the input it consumes? The answer for each generated kernel.

A kernel streams: it processes units (output pixels or elements) in a fixed order, reads what a
unit needs from its input and writes that unit's output. If the output buffer starts `lag` bytes
below the input buffer (offset(input) - offset(output) >= lag), no write can reach input bytes
that a later unit still needs. `inplace_lag` returns the smallest such lag for one input of one
op, derived from the kernel's exact loop order in kernels/*.c, or None when the kernel cannot run
in place on that input. The planner uses it as a relaxed non-overlap constraint; whole-model tests
against the TFLM oracle check that the planned overlaps compute the same bytes.
"""
from __future__ import annotations

import numpy as np

from . import dwcols, dwpairs
from .ops import (Binary, Conv2D, DepthwiseConv2D, EngineGraph, Lookup, Pool2D, QuantizeFloat,
                  Softmax, _contiguous_strides, is_pointwise, is_pwt, runs_pairs)

_ITEMSIZE = {"int8": 1, "float32": 4}
MIN_ROW_PIXELS = 4  # reverse_lag: the narrowest row a pointwise convolution runs one call per row on


def _window_lag(batches: int, in_hwc, out_hwc, kernel_hw, stride_hw, dilation_hw, pad_tl,
                rereads_after_write: bool, tile: int = 0) -> int:
    """Lag for a kernel that computes output pixels in raster order, each from its input window.

    With `rereads_after_write`, a pixel's output channels are written while its window is still
    being read (conv: one channel at a time), so the window of the pixel being written must be
    intact too; otherwise a pixel's window is fully read before its first write.
    """
    ih, iw, ic = in_hwc
    oh, ow, oc = out_hwc
    sh, sw = stride_hw
    pt, pl = pad_tl
    oy = np.arange(oh).reshape(-1, 1)
    ox = np.arange(ow).reshape(1, -1)
    row0 = np.clip(oy * sh - pt, 0, ih - 1)
    col0 = np.clip(ox * sw - pl, 0, iw - 1)
    start = (row0 * iw + col0).reshape(-1) * ic  # first input byte a pixel's window reads
    starts = np.concatenate([start + b * ih * iw * ic for b in range(batches)])
    ends = (np.arange(len(starts)) + 1) * oc  # output bytes written once the pixel is done
    need = np.minimum.accumulate(starts[::-1])[::-1]  # smallest input byte needed from pixel p on
    if tile:
        pixels = oh * ow
        p = np.arange(len(starts))
        first = p // pixels * pixels + (p % pixels) // tile * tile
        last = np.minimum(first + tile, p // pixels * pixels + pixels)
        return max(int((last * oc - need[first]).max()), 0)
    if not rereads_after_write:
        need = np.append(need[1:], ih * iw * ic * batches)
    return max(int((ends - need).max()), 0)


def _gathered_lag(op: Conv2D) -> int:
    """Lag for the delta kernels that copy a group's windows into scratch before writing any of its
    outputs: edgec_conv2d_delta8_s8 (groups of 8 pixels, the last one shorter), edgec_conv2d_block_s8
    (groups of its tile, the last one shorter), edgec_conv2d_pwt_s8 (clustered pointwise: tiles of
    pixels copied to scratch, the last one shorter) and, unless pointwise,
    edgec_conv2d_delta_s8 (groups of 4, then the pixels left one by one). Once a group's windows are
    copied, its outputs may overwrite all but the input the next groups need."""
    ih, iw, ic = op.in_hwc
    oh, ow, oc = op.out_hwc
    oy = np.arange(oh).reshape(-1, 1)
    ox = np.arange(ow).reshape(1, -1)
    row0 = np.clip(oy * op.stride_hw[0] - op.pad_tl[0], 0, ih - 1)
    col0 = np.clip(ox * op.stride_hw[1] - op.pad_tl[1], 0, iw - 1)
    start = (row0 * iw + col0).reshape(-1) * ic
    pixels = oh * ow
    starts = np.concatenate([start + b * ih * iw * ic for b in range(op.batches)])
    need = np.append(np.minimum.accumulate(starts[::-1])[::-1], ih * iw * ic * op.batches)
    lag = 0
    for b in range(op.batches):
        ends = list(range(op.tile, pixels + 1, op.tile))
        if op.tile == 8 or op.packed.layout == "block" or is_pwt(op, op.packed):  # the last group shorter
            ends += [pixels] if pixels % op.tile else []
        else:
            ends += list(range(ends[-1] + 1 if ends else 1, pixels + 1))
        for last in ends:
            at = b * pixels + last
            lag = max(lag, at * oc - int(need[at]))
    return lag


def _elementwise_lag(count: int, in_size: int, out_size: int) -> int:
    """Unit i reads input element i, then writes output element i."""
    return max((out_size - in_size) * count, 0)


def inplace_period(op, tensor: int, graph: EngineGraph) -> tuple[int, int] | None:
    """(period, free) when `op`'s output may lie below its input only by a multiple of `period` bytes
    (and at least inplace_lag) or by at least `free` bytes; None: by any lag from inplace_lag on.

    The column kernels of DSP builds (dwcols.py one channel at a time, dwpairs.py a group of 4
    channels at a time; on every build a clustered layer's chunks of channels, dwcolpack.py) run
    each channel (group) down all its rows before the next, the channels in any order: while channel c
    runs, later channels' input from row 0 on is still needed. Output row r of channel c, at r C + c,
    lands on input row r - m of channel c (consumed) for a lag of m C; for other lags it must stay
    below input byte c + 1 of the next channel: a lag of (out_h - 1) C at least. The plan serves every
    build, so the dense kernel's lag holds too (inplace_lag)."""
    if not (isinstance(op, DepthwiseConv2D) and tensor == op.input):
        return None
    if not (dwcols.eligible(op) or dwpairs.eligible(op) or getattr(op, "columns", 0)):  # columns: dwcolpack.py
        return None
    return op.out_hwc[2], (op.out_hwc[0] - 1) * op.out_hwc[2]


def reverse_lag(op, tensor: int, graph: EngineGraph) -> int | None:
    """Minimum offset(output) - offset(input) for `op` run one row at a time from its last row up
    (each row by the ordinary kernel), its output *above* its input; None when the engine has no
    such mode for the op. Only dense pointwise convolutions: row r reads input row r alone and
    writes output row r, so it must start past input row r (rows above it are already consumed).
    Rows narrower than MIN_ROW_PIXELS are not offered: each call's set-up would outweigh its MACs
    (str_ww's one-pixel rows: +75 % instructions on the M7 for 428 B)."""
    if not (isinstance(op, Conv2D) and op.packed is None and op.batches == 1 and is_pointwise(op)
            and op.in_hwc[1] >= MIN_ROW_PIXELS):
        return None
    h, w, cin = op.in_hwc
    cout = op.out_hwc[2]
    return max((r + 1) * w * cin - r * w * cout for r in range(h))


def inplace_lag(op, tensor: int, graph: EngineGraph) -> int | None:
    """Minimum offset(input) - offset(output) for `op` to run with its output over input `tensor`."""
    if isinstance(op, Conv2D) and op.packed is not None and not op.rows and is_pwt(op, op.packed) \
            and not runs_pairs(op):
        # edgec_conv2d_pwt_s8: a tile's input copied to scratch before any of its outputs is written
        return _gathered_lag(op)
    if isinstance(op, Conv2D) and op.packed is not None and (op.packed.layout == "block" or (
            op.packed.layout == "delta" and (op.tile == 8 or not is_pointwise(op)))):
        return _gathered_lag(op)
    if isinstance(op, Conv2D) and op.packed is not None and runs_pairs(op):
        # edgec_conv2d_pairs_s8: a group of pixels' outputs written once its windows are gathered, so
        # no later than the dense kernel's pixel by pixel (their last write reaches only input no later
        # group reads): the dense kernel's lag covers it
        return _window_lag(op.batches, op.in_hwc, op.out_hwc, op.kernel_hw, op.stride_hw,
                           op.dilation_hw, op.pad_tl, rereads_after_write=True)
    if isinstance(op, Conv2D) and op.packed is not None and op.rows:
        # edgec_conv2d_rows_s8: chunks of output channels, each over every pixel; one chunk keeps
        # the dense kernel's order, more write outputs before the last chunk reads the input
        if op.rows < op.out_hwc[2]:
            return None
        return _window_lag(op.batches, op.in_hwc, op.out_hwc, op.kernel_hw, op.stride_hw,
                           op.dilation_hw, op.pad_tl, rereads_after_write=True)
    if isinstance(op, (Conv2D, DepthwiseConv2D)) and op.packed is not None:
        return _window_lag(op.batches, op.in_hwc, op.out_hwc, op.kernel_hw, op.stride_hw,
                           op.dilation_hw, op.pad_tl, rereads_after_write=True, tile=op.tile)
    if isinstance(op, Conv2D):
        return _window_lag(op.batches, op.in_hwc, op.out_hwc, op.kernel_hw, op.stride_hw,
                           op.dilation_hw, op.pad_tl, rereads_after_write=True)
    if isinstance(op, (DepthwiseConv2D, Pool2D)):
        # Both kernels read a pixel's whole window (all channels of a block) before writing it,
        # but a block of channels is written before the next block is read: conservative as conv.
        return _window_lag(op.batches, op.in_hwc, op.out_hwc, op.kernel_hw, op.stride_hw,
                           getattr(op, "dilation_hw", (1, 1)), op.pad_tl, rereads_after_write=True)
    if isinstance(op, (Lookup, QuantizeFloat)):
        in_size = _ITEMSIZE[graph.tensors[op.input].dtype]
        out_size = _ITEMSIZE[graph.tensors[op.output].dtype]
        return _elementwise_lag(op.count, in_size, out_size)
    if isinstance(op, Softmax):
        return 0
    if isinstance(op, Binary):
        full = _contiguous_strides(op.out_shape4)
        for operand, strides in ((op.input1, op.strides1), (op.input2, op.strides2)):
            if not operand.is_const and operand.tensor == tensor and strides == full:
                return 0
        return None
    return None
