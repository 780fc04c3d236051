"""Convert pass: LoadedModel + calibration samples -> ConvertedModel (int8 TFLite, batch 1).

Full-integer post-training quantization with the TFLite converter: per-channel weights, int8
(or int16 in 16x8 mode) activations, int8 input and output unless `io="float32"`. Weights clustered
in float (at most 16 values a channel) are requantized so that one int8 codebook serves the whole
tensor where that only re-rounds them (toolchain.compress.codebook.share_codebooks): the C engine
then stores 16 bytes of codebook per layer, not 16 per output channel. The graph is
traced with a batch dimension of 1, so no SHAPE / STRIDED_SLICE / PACK glue is emitted for a
dynamic batch.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from toolchain.base.errors import ConversionError
from toolchain.loader import LoadedModel

MODES = ("int8", "16x8")
IO_TYPES = ("int8", "float32")
GLUE_OPS = ("SHAPE", "STRIDED_SLICE", "PACK")
MAX_CALIBRATION_SAMPLES = 500


@dataclass(frozen=True)
class ConvertOptions:
    mode: str = "int8"
    io: str = "int8"
    per_channel: bool = True
    max_calibration_samples: int = MAX_CALIBRATION_SAMPLES


@dataclass(frozen=True)
class ConvertedModel:
    tflite_bytes: bytes = field(repr=False)
    options: ConvertOptions
    calibration_samples: int
    layer_names: tuple[str, ...] = ()
    shared_codebooks: tuple = ()  # toolchain.compress.codebook.SharedTensor: clustered tensors requantized


def _batch1_function(model: LoadedModel):
    """A concrete function of the model with every input's batch dimension fixed to 1.

    The function is attached to a tf.Module that also tracks the model, so that the converter
    can freeze the Keras 3 variables (a bare tf.function leaves READ_VARIABLE ops behind).
    """
    import tensorflow as tf

    specs = []
    for shape, dtype in zip(model.input_shapes, model.input_dtypes):
        if any(d is None for d in shape[1:]):
            raise ConversionError(f"input shape {shape} has unknown dimensions besides the batch; "
                                  "microcontroller models need fixed shapes")
        specs.append(tf.TensorSpec((1, *shape[1:]), tf.as_dtype(dtype)))
    module = tf.Module()
    if model.keras_model is not None:
        keras_model = model.keras_model
        module.model = keras_model
        # Keras 3 variables wrap tf.Variables that tf.Module does not find by itself
        module.tf_variables = [getattr(v, "value", v) for v in keras_model.variables]

        def call(*xs):
            return keras_model(list(xs) if len(xs) > 1 else xs[0], training=False)
    else:
        fn = model.signature
        module.model = model.trackable
        _, kwargs = fn.structured_input_signature
        names = sorted(kwargs)

        def call(*xs):
            out = fn(**dict(zip(names, xs)))
            return [out[k] for k in sorted(out)] if isinstance(out, dict) else out

    module.serve = tf.function(call, input_signature=specs)
    return module.serve.get_concrete_function(), module


def convert_int8(model: LoadedModel, calibration: np.ndarray | list[np.ndarray],
                 options: ConvertOptions = ConvertOptions()) -> ConvertedModel:
    """Quantize a float model with the TFLite converter; calibration is one batch per input."""
    from toolchain.quiet import captured_fds, import_tensorflow

    tf = import_tensorflow()
    if model.is_tflite:
        raise ConversionError("the model is already a .tflite file; it is checked and exported as it is")
    calib = calibration if isinstance(calibration, list) else [calibration]
    count = min(len(calib[0]), options.max_calibration_samples)
    concrete, trackable = _batch1_function(model)
    refuse_loops(concrete, model)

    def representative():
        for i in range(count):
            yield [np.asarray(x[i:i + 1], dtype=np.float32) for x in calib]

    converter = tf.lite.TFLiteConverter.from_concrete_functions([concrete], trackable)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = representative
    if options.mode == "16x8":
        converter.target_spec.supported_ops = [
            tf.lite.OpsSet.EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8]
        io_type = tf.int16
    else:
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        io_type = tf.int8
    if options.io == "float32":
        io_type = tf.float32
    converter.inference_input_type = io_type
    converter.inference_output_type = io_type
    if not options.per_channel:
        converter._experimental_disable_per_channel = True
    try:
        with captured_fds(1, 2) as log:
            data = converter.convert()
    except Exception as exc:
        text = str(exc)
        ops = sorted(set(_ops_in_error(text)))
        raise ConversionError("the TFLite converter cannot quantize this model to full integer"
                              + (f" (ops without an int8 kernel: {', '.join(ops)})" if ops else
                                 f": {text.strip().splitlines()[0][:300] if text.strip() else type(exc).__name__}")) from None
    del log
    shared = ()
    if options.per_channel and options.mode == "int8":
        # clustered layers: one int8 codebook per tensor where a requantization gives one
        from toolchain.compress.codebook import share_codebooks

        data, shared = share_codebooks(bytes(data))
    return ConvertedModel(tflite_bytes=bytes(data), options=options, calibration_samples=count,
                          layer_names=model.layer_names, shared_codebooks=shared)


LOOP_OPS = frozenset({"While", "StatelessWhile"})


def _loop_scopes(concrete) -> list[str]:
    """The name scopes of the TensorFlow loops in a traced function (its own graph and the
    functions it calls, e.g. a SavedModel's), in order, each once."""
    graph_def = concrete.graph.as_graph_def()
    nodes = list(graph_def.node) + [n for f in graph_def.library.function for n in f.node_def]
    return list(dict.fromkeys(n.name.rsplit("/", 1)[0] if "/" in n.name else n.name
                              for n in nodes if n.op in LOOP_OPS))


def _keras_layer_classes(model: LoadedModel) -> dict[str, str]:
    """Layer name -> class name, nested models and wrapped layers (Bidirectional) included."""
    found: dict[str, str] = {}
    pending = [model.keras_model] if model.keras_model is not None else []
    while pending:
        layer = pending.pop()
        found.setdefault(layer.name, type(layer).__name__)
        pending.extend(getattr(layer, "layers", None) or ())
        pending.extend(x for x in (getattr(layer, "forward_layer", None), getattr(layer, "backward_layer", None))
                       if x is not None)
    return found


def _loop_layer(scope: str, classes: dict[str, str]) -> str:
    """The innermost layer whose name scope holds a loop ("functional_1/gru_1/while" -> "gru")."""
    import re

    for part in reversed(scope.split("/")):
        for name in (part, re.sub(r"_\d+$", "", part)):
            if name in classes and classes[name] not in ("Functional", "Sequential", "Model"):
                return name
    return scope


def refuse_loops(concrete, model: LoadedModel) -> None:
    """Recurrent layers (LSTM, GRU, SimpleRNN...) trace to a TensorFlow While loop: TensorFlow's
    int8 calibrator dies with a segmentation fault on it, so it is refused here, before the
    converter runs, naming each layer. Unrolled (unroll=True, a fixed sequence length), the same
    layers convert to plain ops that TFLM runs."""
    scopes = _loop_scopes(concrete)
    if not scopes:
        return
    classes = _keras_layer_classes(model)
    layers = list(dict.fromkeys(_loop_layer(scope, classes) for scope in scopes))
    named = ", ".join(f"'{name}' (class {classes[name]})" if name in classes else f"'{name}'" for name in layers)
    raise ConversionError(
        f"{'layers' if len(layers) > 1 else 'layer'} {named} {'run' if len(layers) > 1 else 'runs'} "
        "a TensorFlow loop (a recurrent layer), on which TensorFlow's int8 calibrator crashes; build "
        "it with unroll=True (a fixed sequence length) and it converts to plain ops that TFLM runs")


def _ops_in_error(text: str) -> list[str]:
    """Op names the converter's error message mentions ('tf.Foo' or 'tfl.foo')."""
    import re

    return [a or b for a, b in re.findall(r"'tf\.(\w+)'|'tfl\.(\w+)'", text)]


def convert_float(model: LoadedModel) -> bytes:
    """A float32 TFLite graph at batch 1 (for `inspect` of a Keras model: no calibration needed)."""
    from toolchain.quiet import captured_fds, import_tensorflow

    tf = import_tensorflow()
    concrete, trackable = _batch1_function(model)
    converter = tf.lite.TFLiteConverter.from_concrete_functions([concrete], trackable)
    try:
        with captured_fds(1, 2):
            return bytes(converter.convert())
    except Exception as exc:
        raise ConversionError(f"the TFLite converter cannot convert this model: {str(exc).strip()[:300]}") from None
