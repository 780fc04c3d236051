"""The convert pass with the real TFLite converter: int8, batch 1, per-channel, and its refusals."""
from __future__ import annotations

import numpy as np
import pytest

from toolchain.analysis import GLUE_OPS, analyse
from toolchain.build import BuildOptions, build
from toolchain.convert import ConvertOptions, convert_int8
from toolchain.data import load_samples
from toolchain.base.errors import ConversionError
from toolchain.loader import load_model
from toolchain.base.tflite_reader import read_tflite
from targets import load_target

M7 = load_target("cortex-m7")


def _convert(path, calib, **options):
    model = load_model(path)
    x = load_samples(calib, model.input_shapes[0], model.input_dtypes[0])
    return read_tflite(convert_int8(model, x, ConvertOptions(**options)).tflite_bytes)


def test_int8_io_batch1_per_channel(tiny_keras, tiny_calib):
    tfl = _convert(tiny_keras, tiny_calib)
    sg = tfl.main
    assert [sg.tensors[i].dtype for i in sg.inputs + sg.outputs] == ["int8", "int8"]
    assert sg.tensors[sg.inputs[0]].shape == (1, 12, 12, 1)
    conv = next(op for op in sg.operators if op.op == "CONV_2D")
    weights = sg.tensors[conv.inputs[1]]
    assert weights.dtype == "int8" and len(weights.quant.scales) == 4  # one scale per output channel
    assert {op.op for op in sg.operators} <= {"CONV_2D", "DEPTHWISE_CONV_2D", "RESHAPE", "FULLY_CONNECTED"}


def test_float_io_keeps_float_edges(tiny_keras, tiny_calib):
    sg = _convert(tiny_keras, tiny_calib, io="float32").main
    assert [sg.tensors[i].dtype for i in sg.inputs + sg.outputs] == ["float32", "float32"]
    assert sg.operators[0].op == "QUANTIZE" and sg.operators[-1].op == "DEQUANTIZE"


def test_16x8_mode_has_int16_activations(tiny_keras, tiny_calib):
    sg = _convert(tiny_keras, tiny_calib, mode="16x8").main
    assert sg.tensors[sg.inputs[0]].dtype == "int16"
    conv = next(op for op in sg.operators if op.op == "CONV_2D")
    assert sg.tensors[conv.inputs[1]].dtype == "int8" and sg.tensors[conv.outputs[0]].dtype == "int16"


def test_resnet_h5_has_no_batch_glue_ops(mlperf_models):
    """A plain TF 2.21 conversion of this file adds SHAPE/STRIDED_SLICE/PACK; the batch-1 trace does not."""
    result = build(mlperf_models / "pretrainedResnet.h5", BuildOptions(target=M7, calib_random=True))
    ops = set(result.analysis.op_counts)
    assert not ops & GLUE_OPS
    assert ops <= {"CONV_2D", "ADD", "AVERAGE_POOL_2D", "FULLY_CONNECTED", "SOFTMAX", "RESHAPE"}
    assert result.analysis.macs == analyse(read_tflite((mlperf_models / "pretrainedResnet_quant.tflite").read_bytes())).macs


def test_savedmodel_converts(mlperf_models):
    result = build(mlperf_models / "kws_ref_model", BuildOptions(target=M7, calib_random=True))
    assert result.tflite.main.tensors[result.tflite.main.inputs[0]].shape == (1, 49, 10, 1)
    assert result.fit.fits


def test_float_op_left_in_int8_build_is_named(custom_layer_model):
    path, source = custom_layer_model
    with pytest.raises(ConversionError) as err:
        build(path, BuildOptions(target=M7, calib_random=True, custom_objects=source))
    assert "float ops left in the int8 build" in err.value.message
    assert "SIGN (from layer 'my_sign')" in err.value.message


def test_converter_refusal_names_the_op(tmp_path):
    import keras

    @keras.saving.register_keras_serializable(package="tests_erf")
    class Erf(keras.layers.Layer):
        def call(self, x):
            return keras.ops.erf(x)

    model = keras.Sequential([keras.Input((4,)), Erf(name="erf_layer")])
    path = tmp_path / "erf.keras"
    model.save(path)
    with pytest.raises(ConversionError, match="Erf"):
        build(path, BuildOptions(target=M7, calib_random=True))


def test_tflite_that_tflm_cannot_run_is_named(tmp_path):
    from toolchain.quiet import import_tensorflow

    tf = import_tensorflow()
    fn = tf.function(lambda x: tf.math.atan2(x, x + 1.0), input_signature=[tf.TensorSpec([1, 8], tf.float32)])
    data = tf.lite.TFLiteConverter.from_concrete_functions([fn.get_concrete_function()]).convert()
    path = tmp_path / "atan2.tflite"
    path.write_bytes(data)
    with pytest.raises(ConversionError, match=r"TFLM cannot run this model: no kernel for: ATAN2 \(from layer"):
        build(path, BuildOptions(target=M7))


def test_calibration_is_used(tiny_keras, tiny_calib, tmp_path):
    """Different calibration data gives different activation ranges (the data really reaches the converter)."""
    other = tmp_path / "big.npz"
    np.savez(other, x=np.random.default_rng(0).random((16, 12, 12, 1), dtype=np.float32) * 10)
    a = _convert(tiny_keras, tiny_calib).main
    b = _convert(tiny_keras, other).main
    assert a.tensors[a.inputs[0]].quant.scales != b.tensors[b.inputs[0]].quant.scales
