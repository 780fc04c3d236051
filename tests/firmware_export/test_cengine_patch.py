"""Patch-based inference (cengine/patch.py): a stage computed band by band, byte for byte vs TFLM."""
from __future__ import annotations

import numpy as np
import pytest

from tests.firmware_export.conftest import mlperf_path
from tests.firmware_export.single_op_models import Case, convert
from toolchain.oracle import run_tflm


def _stage_2d(keras, x):
    """Odd sizes, stride 2 with SAME padding, VALID depthwise, a table op, pooling, stride-2 depthwise."""
    L = keras.layers
    x = L.Conv2D(6, 3, strides=2, padding="same", activation="relu")(x)
    x = L.DepthwiseConv2D(3, padding="valid", activation="relu6")(x)
    x = L.Conv2D(10, 1)(x)
    x = L.Activation("tanh")(x)
    x = L.MaxPooling2D(2, strides=1, padding="same")(x)
    x = L.DepthwiseConv2D((3, 2), strides=2, padding="same")(x)
    x = L.AveragePooling2D(2, padding="valid")(x)
    x = L.Conv2D(4, (3, 2), padding="valid")(x)
    x = L.GlobalAveragePooling2D()(x)
    return L.Dense(3)(x)


def _stage_1d(keras, x):
    """Every tensor one row high: the stage is cut into bands of columns."""
    L = keras.layers
    x = L.Conv2D(8, (1, 5), strides=(1, 2), padding="same", activation="relu")(x)
    x = L.DepthwiseConv2D((1, 3), padding="valid")(x)
    x = L.Conv2D(12, 1, activation="relu")(x)
    x = L.MaxPooling2D((1, 2))(x)
    x = L.Flatten()(x)
    return L.Dense(4)(x)


def _residual(keras, x):
    """A residual block with an identity shortcut (odd sizes), then one with a 1x1 stride-2 shortcut."""
    L = keras.layers
    x = L.Conv2D(12, 3, padding="same", activation="relu")(x)
    y = L.Conv2D(12, 3, padding="same", activation="relu")(x)
    y = L.Conv2D(12, 3, padding="same")(y)
    x = L.Activation("relu")(L.Add()([x, y]))
    y = L.Conv2D(16, 3, strides=2, padding="same", activation="relu")(x)
    y = L.Conv2D(16, 3, padding="same")(y)
    s = L.Conv2D(16, 1, strides=2)(x)
    x = L.Activation("relu")(L.Add()([y, s]))
    x = L.GlobalAveragePooling2D()(x)
    return L.Dense(5)(x)


CASES = {
    "patch_2d": Case("patch_2d", (41, 23, 3), _stage_2d, expected_ops=("CONV_2D", "DEPTHWISE_CONV_2D", "TANH")),
    "patch_1d": Case("patch_1d", (1, 37, 5), _stage_1d, expected_ops=("CONV_2D", "DEPTHWISE_CONV_2D")),
    "residual": Case("residual", (27, 19, 3), _residual, expected_ops=("CONV_2D", "ADD")),
}


@pytest.fixture(scope="module")
def models() -> dict:
    return {name: convert(case, seed=3) for name, case in CASES.items()}


def _engine(model_bytes: bytes, name: str, patch):
    from firmware_export.cengine import generate_engine
    from toolchain.base.tflite_reader import read_tflite

    return generate_engine(read_tflite(model_bytes, name), name, f"{name}.tflite", patch=patch)


def _exact(engine, model_bytes, folder, defines=(), count=6):
    from firmware_export.cengine import compile_host

    host = compile_host(engine, folder, opt="-O1", defines=defines)
    x = np.random.default_rng(11).integers(-128, 128, (count,) + tuple(engine.input_shape[1:])).astype(np.int8)
    assert host.run(x).tobytes() == run_tflm(model_bytes, x).tobytes()


@pytest.mark.parametrize("name,patches", [("patch_2d", 2), ("patch_2d", 3), ("patch_2d", 7), ("patch_1d", 4)])
def test_patched_stage_matches_tflm_exactly(models, tmp_path, name, patches):
    engine = _engine(models[name], name, patches)
    stage = engine.patch
    assert stage is not None and stage.patches == patches
    assert stage.axis == (1 if name == "patch_1d" else 0)
    assert stage.last > stage.first  # a stage of two ops at least
    kinds = set(engine.op_names[stage.first:stage.last + 1])
    assert kinds >= ({"CONV_2D", "DEPTHWISE_CONV_2D", "TANH", "MAX_POOL_2D"} if name == "patch_2d"
                     else {"CONV_2D", "DEPTHWISE_CONV_2D", "MAX_POOL_2D"})
    assert engine.activation_bytes + engine.scratch_bytes < engine.unpatched_arena_bytes
    _exact(engine, models[name], tmp_path)


def test_patched_stage_exact_on_the_dsp_and_armv6m_paths(models, tmp_path):
    engine = _engine(models["patch_2d"], "patch_2d", 3)
    for define in ("EDGEC_EMULATE_DSP", "EDGEC_SCALAR"):
        _exact(engine, models["patch_2d"], tmp_path / define, (define,), count=3)


@pytest.mark.parametrize("patches", [3, 5])
def test_residual_block_patched_through_its_add_matches_tflm_exactly(models, tmp_path, patches):
    """The identity-shortcut block (conv, conv, ADD) as one stage: the ADD reads the band of x it
    writes, the split tensor overlaps x (lagged by the rows later patches still read); the 1x1
    shortcut block is not a stage (its ADD does not read the stage input) and runs whole."""
    engine = _engine(models["residual"], "residual", patches)
    stage = engine.patch
    assert stage is not None and stage.patches == patches
    assert engine.op_names[stage.first:stage.last + 1] == ("CONV_2D", "CONV_2D", "ADD")
    assert engine.activation_bytes + engine.scratch_bytes < engine.unpatched_arena_bytes
    x, out = engine.plan.tensor_offsets[stage.tensors[0]], engine.plan.tensor_offsets[stage.tensors[-1]]
    assert 0 < x - out < 27 * 19 * 12  # the split tensor runs in place over x
    _exact(engine, models["residual"], tmp_path / "default", count=4)
    if patches == 3:
        for define in ("EDGEC_EMULATE_DSP", "EDGEC_SCALAR"):
            _exact(engine, models["residual"], tmp_path / define, (define,), count=2)


def test_residual_lag_keeps_the_rows_later_patches_read(models):
    from firmware_export.cengine.lower import lower_model
    from firmware_export.cengine.patch import _residual_lag, make_stage

    graph = lower_model(read_tflite_model(models["residual"]), "residual")
    stage = make_stage(graph, 1, 3, 4)
    row = 19 * 12  # bytes of one row of x (27 x 19 x 12)
    # band j's ADD writes up to its last row; patch j + 1's first conv reads from 2 rows above it
    assert [band[0][0] for band in stage.bands[1:]] == [band[-1][1] - 2 for band in stage.bands[:-1]]
    assert _residual_lag(graph, stage) == {(stage.tensors[0], stage.tensors[-1]): (3, 2 * row)}


def read_tflite_model(data: bytes):
    from toolchain.base.tflite_reader import read_tflite

    return read_tflite(data, "model")


def test_bands_cover_the_split_tensor_and_read_within_each_tensor(models):
    from firmware_export.cengine.lower import lower_model
    from firmware_export.cengine.patch import make_stage
    from toolchain.base.tflite_reader import read_tflite

    graph = lower_model(read_tflite(models["patch_2d"], "patch_2d"), "patch_2d")
    stage = make_stage(graph, 0, 5, 5)
    split = graph.tensors[stage.tensors[-1]].shape[1]
    assert [band[-1] for band in stage.bands] == [(split * j // 5, split * (j + 1) // 5) for j in range(5)]
    for i, t in enumerate(stage.tensors):
        height = graph.tensors[t].shape[1]
        assert all(0 <= band[i][0] < band[i][1] <= height for band in stage.bands)
        assert stage.bands[0][i][0] == 0 and stage.bands[-1][i][1] == height  # the borders are reached
    assert stage.patched_macs > stage.macs  # the halos are computed again


def test_off_and_auto_without_saving_leave_the_engine_unchanged():
    """AD01: no convolution, nothing to patch or to run from its last row."""
    data = mlperf_path("ad01_int8").read_bytes()
    off, auto = _engine(data, "ad01", "off"), _engine(data, "ad01", "auto")
    assert off.patch is None and auto.patch is None and auto.reversed_ops == ()
    assert auto.files == off.files


def _pointwise_chain(keras, x):
    """Depthwise / pointwise pairs (odd sizes; channels kept, widened, narrowed), as in DS-CNN."""
    L = keras.layers
    x = L.Conv2D(16, 3, padding="same", activation="relu")(x)
    x = L.DepthwiseConv2D(3, padding="same", activation="relu")(x)
    x = L.Conv2D(16, 1, activation="relu")(x)
    x = L.DepthwiseConv2D(3, padding="same", activation="relu")(x)
    x = L.Conv2D(24, 1, activation="relu")(x)
    x = L.DepthwiseConv2D(3, padding="same", activation="relu")(x)
    x = L.Conv2D(12, 1)(x)
    x = L.GlobalAveragePooling2D()(x)
    return L.Dense(4)(x)


def test_pointwise_ops_from_their_last_row_match_tflm_exactly(tmp_path):
    """--patch: a pointwise convolution may run one row per call from its last row, its output above
    its dying input, where that lowers the arena (KWS: down to its lower bound); `off` never does."""
    from firmware_export.cengine.inplace import reverse_lag

    data = convert(Case("pointwise", (13, 7, 5), _pointwise_chain), seed=5)
    off, auto = _engine(data, "pw", "off"), _engine(data, "pw", "auto")
    assert off.reversed_ops == () and auto.patch is None
    assert auto.reversed_ops and auto.activation_bytes + auto.scratch_bytes < off.activation_bytes + off.scratch_bytes
    assert "last row first" in auto.files["pw.c"] and "last row first" not in off.files["pw.c"]
    _exact(auto, data, tmp_path / "default", count=4)
    for define in ("EDGEC_EMULATE_DSP", "EDGEC_SCALAR"):
        _exact(auto, data, tmp_path / define, (define,), count=2)
    kws = _engine(mlperf_path("kws_ref_model").read_bytes(), "kws", "auto")
    assert kws.reversed_ops == (2, 4, 6, 8) and kws.activation_bytes == kws.plan.lower_bound_bytes == 8_448
    pw = next(op for op in _graph(data).ops if getattr(op, "kernel_hw", None) == (1, 1))
    h, w, cin = pw.in_hwc
    assert reverse_lag(pw, pw.input, None) == max(cin, h * cin - (h - 1) * pw.out_hwc[2]) * w


def _graph(data: bytes):
    from firmware_export.cengine.lower import lower_model

    return lower_model(read_tflite_model(data), "pw")


def test_vww_patched_arena_and_exact(tmp_path):
    """VWW's first stage patched (auto): the arena at most 18,500 B, MACs added within the bound."""
    from firmware_export.cengine.patch import MAX_MAC_OVERHEAD

    data = mlperf_path("vww_96_int8").read_bytes()
    engine = _engine(data, "vww", "auto")
    assert engine.patch is not None
    assert engine.activation_bytes <= 18_500 < engine.unpatched_arena_bytes
    assert 0 < engine.patch.overhead <= MAX_MAC_OVERHEAD
    _exact(engine, data, tmp_path, count=3)


def test_patch_option_values():
    from firmware_export.cengine.patch import parse_patch
    from toolchain.base.errors import OptionError

    assert [parse_patch(v) for v in ("auto", "off", None, "4", 6)] == ["auto", "off", "off", 4, 6]
    for bad in ("1", "0", "many"):
        with pytest.raises(OptionError):
            parse_patch(bad)
