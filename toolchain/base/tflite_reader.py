"""Read a .tflite flatbuffer into typed, read-only values, without TensorFlow.

Uses the flatbuffer schema module that the `tflite_micro` package ships, so `edgec check`,
`edgec inspect` and the C engine generator answer without importing TensorFlow.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from toolchain.base.errors import ModelLoadError
from toolchain.base.files import MODEL_LIMIT_BYTES, read_user_file
from toolchain.base.tflite_verify import ITEMSIZE as _ITEMSIZE
from toolchain.base.tflite_verify import verify_model, verify_operators

_TFLITE_IDENTIFIER = b"TFL3"

# TensorType enum values -> numpy dtype names (schema.fbs order).
_DTYPES = {
    0: "float32", 1: "float16", 2: "int32", 3: "uint8", 4: "int64", 5: "string", 6: "bool",
    7: "int16", 8: "complex64", 9: "int8", 10: "float64", 11: "complex128", 12: "uint64",
    13: "resource", 14: "variant", 15: "uint32", 16: "uint16", 17: "int4",
}
_PADDING = {0: "SAME", 1: "VALID"}
_ACTIVATIONS = {0: "NONE", 1: "RELU", 2: "RELU_N1_TO_1", 3: "RELU6", 4: "TANH",
                5: "SIGN_BIT", 6: "SIGMOID"}


def _schema():
    from tflite_micro.tensorflow.lite.micro.python import schema_py_generated

    return schema_py_generated


def unpack_model(data: bytes):
    """The flatbuffer as the schema's object tree (ModelT), unchecked: to edit a model and `pack_model` it."""
    schema = _schema()
    return schema.ModelT.InitFromObj(schema.Model.GetRootAsModel(data, 0))


def pack_model(model_t) -> bytes:
    """.tflite bytes of an object tree (with its 'TFL3' identifier)."""
    import flatbuffers

    builder = flatbuffers.Builder(1024)
    builder.Finish(model_t.Pack(builder), file_identifier=_TFLITE_IDENTIFIER)
    return bytes(builder.Output())


def _op_names() -> dict[int, str]:
    ops = _schema().BuiltinOperator
    return {value: name for name, value in vars(ops).items() if not name.startswith("_")}


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


@dataclass(frozen=True)
class Quantization:
    scales: tuple[float, ...]
    zero_points: tuple[int, ...]
    axis: int = 0

    @property
    def per_channel(self) -> bool:
        return len(self.scales) > 1


@dataclass(frozen=True)
class Tensor:
    index: int
    name: str
    shape: tuple[int, ...]
    dtype: str
    buffer: int
    data: np.ndarray | None = field(repr=False, compare=False)
    quant: Quantization | None
    is_variable: bool = False

    @property
    def is_constant(self) -> bool:
        return self.data is not None

    @property
    def size(self) -> int:
        return int(np.prod(self.shape)) if self.shape else 1

    @property
    def nbytes(self) -> int:
        if self.dtype == "int4":
            return (self.size + 1) // 2
        return self.size * _ITEMSIZE.get(self.dtype, 0)


@dataclass(frozen=True)
class Operator:
    index: int
    op: str
    version: int
    inputs: tuple[int, ...]
    outputs: tuple[int, ...]
    options: dict = field(compare=False)
    intermediates: tuple[int, ...] = ()


@dataclass(frozen=True)
class Subgraph:
    name: str
    tensors: tuple[Tensor, ...]
    operators: tuple[Operator, ...]
    inputs: tuple[int, ...]
    outputs: tuple[int, ...]


@dataclass(frozen=True)
class TfliteModel:
    size_bytes: int
    version: int
    description: str
    subgraphs: tuple[Subgraph, ...]
    metadata_names: tuple[str, ...]

    @property
    def main(self) -> Subgraph:
        return self.subgraphs[0]

    @property
    def op_names(self) -> list[str]:
        return [op.op for sg in self.subgraphs for op in sg.operators]


def _options(op_t) -> dict:
    opts = {}
    for source in (op_t.builtinOptions, getattr(op_t, "builtinOptions2", None)):
        if source is None:
            continue
        for key, value in vars(source).items():
            key = _snake(key)
            if key == "padding":
                value = _PADDING.get(value, value)
            elif key == "fused_activation_function":
                value = _ACTIVATIONS.get(value, value)
            elif isinstance(value, np.ndarray):
                value = tuple(int(v) for v in value)
            elif isinstance(value, bytes):
                value = value.decode("utf-8", "replace")
            opts[key] = value
    return opts


def _quant(q) -> Quantization | None:
    if q is None or q.scale is None or len(q.scale) == 0:
        return None
    zps = q.zeroPoint if q.zeroPoint is not None else np.zeros(len(q.scale), np.int64)
    return Quantization(
        scales=tuple(float(s) for s in q.scale),
        zero_points=tuple(int(z) for z in zps),
        axis=int(q.quantizedDimension),
    )


def _buffer_data(raw: bytes, buf, dtype: str, shape: tuple[int, ...]) -> np.ndarray | None:
    if buf is None:
        return None
    if buf.data is not None and len(buf.data):
        data = np.asarray(buf.data, dtype=np.uint8)
    elif getattr(buf, "offset", 0) and buf.offset > 1:
        data = np.frombuffer(raw, dtype=np.uint8, count=buf.size, offset=buf.offset)
    else:
        return None
    if dtype in ("string", "resource", "variant", "int4"):
        return data.copy()
    arr = data.view(np.dtype(dtype))
    if int(np.prod(shape)) == arr.size:
        arr = arr.reshape(shape)
    arr = arr.copy()
    arr.setflags(write=False)
    return arr


def read_tflite(data: bytes, source: str = "<bytes>") -> TfliteModel:
    """Parse .tflite bytes; raise ModelLoadError for anything that is not a valid model (a
    ModelFieldError, naming the tensor or operator and the field, for inconsistent fields)."""
    if len(data) == 0:
        raise ModelLoadError(source, "the file is empty")
    if len(data) < 8 or data[4:8] != _TFLITE_IDENTIFIER:
        raise ModelLoadError(source, "not a TFLite flatbuffer (no 'TFL3' identifier)")
    schema = _schema()
    try:
        model_t = unpack_model(data)
        verify_model(data, model_t, source, _DTYPES)  # every field checked before any is used
        names = _op_names()
        codes = []
        for oc in model_t.operatorCodes or []:
            code = max(oc.builtinCode, oc.deprecatedBuiltinCode)
            if code == schema.BuiltinOperator.CUSTOM:
                codes.append(("CUSTOM:" + (oc.customCode or b"?").decode("utf-8", "replace"), oc.version))
            else:
                codes.append((names.get(code, f"BUILTIN_{code}"), oc.version))
        subgraphs = []
        for sg in model_t.subgraphs or []:
            tensors = []
            for i, t in enumerate(sg.tensors or []):
                dtype = _DTYPES.get(t.type, f"type{t.type}")
                shape = tuple(int(s) for s in (t.shape if t.shape is not None else ()))
                buf = model_t.buffers[t.buffer] if t.buffer and t.buffer < len(model_t.buffers) else None
                tensors.append(Tensor(
                    index=i, name=(t.name or b"").decode("utf-8", "replace"), shape=shape,
                    dtype=dtype, buffer=int(t.buffer), data=_buffer_data(data, buf, dtype, shape),
                    quant=_quant(t.quantization), is_variable=bool(t.isVariable),
                ))
            operators = []
            for i, op in enumerate(sg.operators or []):
                name, version = codes[op.opcodeIndex]
                operators.append(Operator(
                    index=i, op=name, version=version,
                    inputs=tuple(int(x) for x in (op.inputs if op.inputs is not None else ())),
                    outputs=tuple(int(x) for x in (op.outputs if op.outputs is not None else ())),
                    options=_options(op),
                    intermediates=tuple(int(x) for x in (op.intermediates if op.intermediates is not None else ())),
                ))
            subgraphs.append(Subgraph(
                name=(sg.name or b"").decode("utf-8", "replace"), tensors=tuple(tensors),
                operators=tuple(operators),
                inputs=tuple(int(x) for x in (sg.inputs if sg.inputs is not None else ())),
                outputs=tuple(int(x) for x in (sg.outputs if sg.outputs is not None else ())),
            ))
            verify_operators(source, len(subgraphs) - 1, subgraphs[-1])
        metadata = tuple((m.name or b"").decode("utf-8", "replace") for m in (model_t.metadata or []))
    except ModelLoadError:
        raise
    except Exception as exc:  # a truncated or corrupted flatbuffer fails in many ways
        detail = str(exc).splitlines()[0][:160] if str(exc) else ""
        raise ModelLoadError(source, "corrupted or truncated TFLite file "
                                     f"({type(exc).__name__}{': ' + detail if detail else ''})") from None
    if not subgraphs:
        raise ModelLoadError(source, "the TFLite model has no subgraph")
    return TfliteModel(
        size_bytes=len(data), version=int(model_t.version),
        description=(model_t.description or b"").decode("utf-8", "replace"),
        subgraphs=tuple(subgraphs), metadata_names=metadata,
    )


def read_tflite_file(path: str | Path) -> TfliteModel:
    return read_tflite(read_tflite_bytes(path), str(path))


def read_tflite_bytes(path: str | Path) -> bytes:
    """The bytes of a .tflite file: a regular file, of at most MODEL_LIMIT_BYTES."""
    return read_user_file(path, ".tflite model", MODEL_LIMIT_BYTES)
