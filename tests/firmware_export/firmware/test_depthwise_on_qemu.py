"""The depthwise kernel's Thumb-2 paths over the generation-time layout (dwlayout.py) on the emulated
Cortex-M7 over serial: the outputs equal the tflite-micro interpreter's byte for byte. The runs of
3 x 3 pixels inside the input (stride 1 and 2), the 9 listed taps of the border pixels (padding on
every side), the loop over listed taps (a 5 x 1 kernel, a dilated 3 x 3), a 1-wide column (3 x 1,
and 2 x 1 at stride 2), with and without ReLU; the portable C twin of the same layout is tested on
the host (test_cengine_ops.py, dw_layout_*)."""
from __future__ import annotations

import pytest

from tests.conftest import require_tool
from tests.firmware_export.single_op_models import Case, convert
from tests.firmware_export.firmware.emulated import exact_on_m7


def _build(keras, x):
    L = keras.layers
    y = L.DepthwiseConv2D(3, padding="same")(x)
    y = L.DepthwiseConv2D(3, strides=2, padding="same", activation="relu")(y)
    y = L.DepthwiseConv2D((5, 1), padding="valid")(y)
    y = L.DepthwiseConv2D(3, dilation_rate=2, padding="same")(y)
    y = L.DepthwiseConv2D(3, strides=2, padding="valid", activation="relu")(y)
    y = L.Reshape((12, 1, 12))(y)  # a column: the taps and the pixels along the rows
    y = L.DepthwiseConv2D((3, 1), padding="valid")(y)
    y = L.DepthwiseConv2D((2, 1), strides=(2, 1), padding="valid", activation="relu")(y)
    return L.Flatten()(y)


def _build_lines(keras, x):
    """3 x 3 kernels through the three lines' kernel (edgec_dwl_rows / edgec_dwl_cols) over 5 groups
    of 4 channels: dilation 3 (6 border columns: one output row at a time), padding on every side
    (the rows inside: edgec_dwl_rows_inside), stride 2, and a 3 x 3 map (all but one pixel on the
    border)."""
    L = keras.layers
    y = L.DepthwiseConv2D(3, dilation_rate=3, padding="same")(x)
    y = L.DepthwiseConv2D(3, padding="same")(y)
    y = L.DepthwiseConv2D(3, strides=2, padding="valid")(y)
    y = L.DepthwiseConv2D(3, strides=2, padding="same")(y)
    y = L.DepthwiseConv2D(3, padding="same")(y)
    return L.Flatten()(y)


def _build_long_rows(keras, x):
    """Rows too long for a line of zp bytes down (2 * 9 * 240 + 240 > 2048): the border pixels list
    their taps."""
    return keras.layers.Flatten()(keras.layers.DepthwiseConv2D(3, padding="same")(x))


def _build_columns(keras, x):
    """Column layers by pairs of taps (dwpairs.py, edgec_dwpair.c), built on the stack: 5, 10, 15
    (dilation 2) and 7 (dilation 3) taps over 12 channels; then 3 taps, built in registers."""
    L = keras.layers
    y = L.DepthwiseConv2D((5, 1), padding="valid")(x)
    y = L.DepthwiseConv2D((10, 1), padding="valid")(y)
    y = L.DepthwiseConv2D((15, 1), dilation_rate=(2, 1), padding="valid")(y)
    y = L.DepthwiseConv2D((7, 1), dilation_rate=(3, 1), padding="valid")(y)
    y = L.DepthwiseConv2D((3, 1), padding="valid")(y)
    return L.Flatten()(y)


def _build_few_outputs(keras, x):
    """Column layers whose pairs are built in registers (edgec_dwpair_t<taps>_s8): 4 taps, then 16 and
    15 taps over 2 outputs and 1."""
    L = keras.layers
    y = L.DepthwiseConv2D((4, 1), padding="valid")(x)
    y = L.DepthwiseConv2D((16, 1), padding="valid")(y)
    y = L.Reshape((2, 1, 12))(y)
    y = L.Concatenate(axis=1)([y] * 8)  # 16 rows
    y = L.DepthwiseConv2D((15, 1), padding="valid")(y)
    return L.Flatten()(y)


def _build_long_column(keras, x):
    """As many rows as a group's pairs on the stack hold (dwpairs.MAX_ROWS), 6 taps: 3 pairs."""
    return keras.layers.Flatten()(keras.layers.DepthwiseConv2D((6, 1), padding="valid")(x))


def _build_column_steps(keras, x):
    """Column layers one channel at a time (dwcols.py, edgec_dwcol.h) over 13 channels, entering their
    loops at every kind of step: 3 taps over 28, 26 and 24 outputs (the window's three rotations),
    5 taps over 20, 16, 12, 8 and 4 (every output count modulo 5)."""
    L = keras.layers
    for taps in (3, 3, 3, 5, 5, 5, 5, 5):
        x = L.DepthwiseConv2D((taps, 1), padding="valid")(x)
    return L.Flatten()(x)


def _build_column_wide(keras, x):
    """200 channels: the widest rows' step in the immediates (3 rows of input, 19 of output)."""
    L = keras.layers
    y = L.DepthwiseConv2D((3, 1), padding="valid")(x)
    y = L.DepthwiseConv2D((5, 1), padding="valid", activation="relu")(y)
    return L.Flatten()(y)


@pytest.mark.slow
@pytest.mark.parametrize("build, shape", [(_build, (21, 17, 12)), (_build_lines, (13, 11, 20)),
                                          (_build_long_rows, (4, 9, 240)), (_build_columns, (82, 1, 12)),
                                          (_build_long_column, (96, 1, 8)), (_build_few_outputs, (20, 1, 12)),
                                          (_build_column_steps, (30, 1, 13)), (_build_column_wide, (21, 1, 200))],
                         ids=["mixed", "lines", "long-rows", "columns", "long-column", "few-outputs", "col-steps",
                              "col-wide"])
def test_depthwise_layout_on_the_emulated_m7_equals_tflm(tmp_path, build, shape):
    require_tool("arm-none-eabi-gcc")
    require_tool("qemu-system-arm")
    exact_on_m7(convert(Case("depthwise", shape, build)), "depthwise", tmp_path)
