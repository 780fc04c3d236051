"""Recurrent layers: a GRU or LSTM traces to a TensorFlow While loop, on which TensorFlow's int8
calibrator dies with SIGSEGV. The convert pass refuses it first, naming the layer; `inspect`
counts the loop body's weights; unrolled, the same layer converts to plain ops."""
from __future__ import annotations

import numpy as np
import pytest

from toolchain.analysis import analyse
from toolchain.base.errors import ConversionError
from toolchain.base.tflite_reader import read_tflite
from toolchain.convert import convert_float, convert_int8
from toolchain.loader import from_keras


def _recurrent(kind: str, unroll: bool = False):
    import keras

    inputs = keras.Input((6, 3))
    layer = {"gru": keras.layers.GRU, "lstm": keras.layers.LSTM}[kind](4, unroll=unroll, name=f"my_{kind}")
    model = keras.Model(inputs, keras.layers.Dense(2, name="head")(layer(inputs)))
    rng = np.random.default_rng(0)  # non-zero biases: the converter drops all-zero ones
    model.set_weights([rng.uniform(0.1, 1.0, w.shape).astype(np.float32) for w in model.get_weights()])
    return model


CALIB = np.random.default_rng(1).uniform(0, 1, (4, 6, 3)).astype(np.float32)


@pytest.mark.parametrize("kind,cls", [("gru", "GRU"), ("lstm", "LSTM")])
def test_loop_refused_before_the_calibrator_runs(kind, cls):
    with pytest.raises(ConversionError) as info:
        convert_int8(from_keras(_recurrent(kind)), CALIB)  # without the refusal: SIGSEGV, the test run dies
    assert f"layer 'my_{kind}' (class {cls}) runs a TensorFlow loop" in str(info.value)
    assert "unroll=True" in str(info.value)
    assert info.value.exit_code == 2


@pytest.mark.parametrize("kind", ["gru", "lstm"])
def test_inspect_counts_the_loop_body_weights(kind):
    model = _recurrent(kind)
    analysis = analyse(read_tflite(convert_float(from_keras(model))))
    assert "WHILE" in analysis.op_counts
    assert analysis.params == model.count_params()  # GRU 118, LSTM 138: the body's weights included
    loop = next(op for op in analysis.ops if op.op == "WHILE")
    assert loop.params == model.count_params() - 10  # all but the Dense head (4x2 + 2)


def test_unrolled_gru_converts_to_plain_ops():
    tflite = read_tflite(convert_int8(from_keras(_recurrent("gru", unroll=True)), CALIB).tflite_bytes)
    ops = set(tflite.op_names)
    assert len(tflite.subgraphs) == 1 and "WHILE" not in ops
    assert {"FULLY_CONNECTED", "LOGISTIC", "TANH"} <= ops
