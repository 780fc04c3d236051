"""Look-up-table compression of an int8 TFLite model with TFLM's own compressor.

A clustered float kernel has few distinct values; after per-channel int8 quantization each output
channel has its own scale, so a 16-cluster kernel has up to 16 distinct int8 values *per channel*
and usually more than 16 per tensor. TFLM's per-channel LUT mode (one value table per output
channel) stores those as 4-bit indices plus channels x 2^bits bytes of tables; the per-tensor mode
stores one table. For each weight tensor this pass measures the model size with that tensor
compressed each possible way and keeps the cheapest, only where the model gets smaller. The result
runs with TFLM's DECODE operator (`TFLM_DECODE`), which writes the decoded weights into the tensor
arena before the layer that reads them: flash goes down, the arena goes up.
"""
from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np

from toolchain.quiet import captured_fds

WEIGHT_INPUTS = {"CONV_2D": 1, "DEPTHWISE_CONV_2D": 1, "FULLY_CONNECTED": 1}
MAX_BITS = 7  # the widest index TFLM's LUT format stores


@dataclass(frozen=True)
class TensorLut:
    tensor: str
    shape: tuple[int, ...]
    mode: str  # "per_tensor" or "per_channel(axis=N)"
    index_bits: int
    bytes_before: int  # the tensor's int8 data
    model_bytes_saved: int  # measured: size of the model without minus with this tensor compressed


@dataclass(frozen=True)
class LutResult:
    model: bytes  # the compressed model (or the input unchanged when nothing pays)
    bytes_before: int
    bytes_after: int
    tensors: list[TensorLut]
    skipped: list[tuple[str, str]]  # (tensor, why not compressed)
    identical_outputs: bool | None  # checked in the TFLM interpreter; None: not checked
    samples_checked: int = 0


def _bits(count: int) -> int:
    return max(1, math.ceil(math.log2(max(count, 1))))


def weight_tensors(model_bytes: bytes):
    """The int8 weight tensors (with data) of the conv, depthwise and fully-connected ops."""
    from tflite_micro.tensorflow.lite.micro.compression import model_editor
    from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as schema

    model = model_editor.read(model_bytes)
    subgraph = model.subgraphs[0]
    seen = set()
    for op in subgraph.operators:
        position = WEIGHT_INPUTS.get(op.opcode_name)
        if position is None or len(op.inputs) <= position:
            continue
        tensor = op.inputs[position]
        if tensor is None or id(tensor) in seen or tensor.dtype != schema.TensorType.INT8:
            continue
        if tensor.buffer is None or not tensor.buffer.data:
            continue
        seen.add(id(tensor))
        yield tensor


def _options(tensor):
    """(mode, index_bits) choices for one int8 weight tensor, cheapest table first."""
    from tflite_micro.tensorflow.lite.micro.compression import spec

    array = tensor.array
    options = []
    per_tensor = np.unique(array).size
    if _bits(per_tensor) <= MAX_BITS:
        options.append((spec.PerTensor(), _bits(per_tensor), "per_tensor"))
    quant = tensor.quantization
    axis = getattr(quant, "axis", None) if quant is not None else None
    axes = [a for a in ([axis] if axis is not None else []) + [0, array.ndim - 1] if a in (0, array.ndim - 1)]
    for a in dict.fromkeys(axes):
        per_channel = max(np.unique(s).size for s in np.moveaxis(array, a, 0))
        if _bits(per_channel) <= MAX_BITS:
            options.append((spec.PerChannel(axis=a), _bits(per_channel), f"per_channel(axis={a})"))
    return options


def _compress(model_bytes: bytes, chosen) -> bytes:
    from tflite_micro.tensorflow.lite.micro.compression import spec
    from tflite_micro.tensorflow.lite.micro.compression.compress import compress

    specs = [spec.Tensor(subgraph=0, tensor=index, compression=[spec.LookUpTableCompression(bits, mode)])
             for index, mode, bits in chosen]
    with warnings.catch_warnings(), captured_fds(2):
        warnings.simplefilter("ignore")
        return bytes(compress(model_bytes, specs))


def lut_compress(model_bytes: bytes, max_index_bits: int = 4, check_samples: int = 8,
                 check_inputs: np.ndarray | None = None) -> LutResult:
    """Compress every int8 weight tensor of `model_bytes` whose LUT form makes the model smaller.

    Tensors needing more than `max_index_bits` index bits (i.e. not clustered) are left alone.
    The result's outputs are compared with the input model's in the TFLM interpreter on
    `check_inputs` (int8, shaped like the input) or on random int8 inputs.
    """
    chosen, tensors, skipped = [], [], []
    base = len(model_bytes)
    if check_inputs is None:
        check_inputs = _random_inputs(model_bytes, check_samples)
    check_inputs = check_inputs[:check_samples]
    reference = _run_tflm(model_bytes, check_inputs, base)
    for tensor in weight_tensors(model_bytes):
        best, refused = None, []
        for mode, bits, label in _options(tensor):
            if bits > max_index_bits:
                continue
            candidate = _compress(model_bytes, [(tensor.index, mode, bits)])
            saved = base - len(candidate)
            if saved <= 0:
                refused.append(f"{label}: {-saved} bytes larger")
            elif not _equal(reference, _run_tflm(candidate, check_inputs, base)):
                refused.append(f"{label}: TFLM outputs differ from the uncompressed model")
            elif best is None or saved > best[0]:
                best = (saved, mode, bits, label)
        if best is None:
            why = "; ".join(refused) or f"more than {2 ** max_index_bits} distinct values per channel"
            skipped.append((tensor.name, why))
            continue
        saved, mode, bits, label = best
        chosen.append((tensor.index, mode, bits))
        tensors.append(TensorLut(tensor.name, tuple(int(d) for d in tensor.shape), label, bits,
                                 len(tensor.buffer.data), saved))
    if not chosen:
        return LutResult(model_bytes, base, base, [], skipped, None)
    compressed = _compress(model_bytes, chosen)
    if len(compressed) >= base:  # the per-tensor gains did not add up (shared overheads)
        return LutResult(model_bytes, base, base, [], skipped + [(t.tensor, "no total gain") for t in tensors], None)
    same = _equal(reference, _run_tflm(compressed, check_inputs, base))
    return LutResult(compressed, base, len(compressed), tensors, skipped, same, len(check_inputs))


def _equal(a: list[np.ndarray], b: list[np.ndarray]) -> bool:
    return all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))


def _random_inputs(model: bytes, samples: int) -> np.ndarray:
    from tflite_micro.tensorflow.lite.micro.compression import model_editor

    graph = model_editor.read(model).subgraphs[0]
    shape = tuple(int(d) for d in graph.inputs[0].shape)[1:]
    return np.random.default_rng(0).integers(-128, 128, size=(samples, *shape), dtype=np.int8)


def _run_tflm(model: bytes, inputs: np.ndarray, uncompressed_size: int) -> list[np.ndarray]:
    """Outputs of the TFLM interpreter, one invoke per input (an ample arena: only outputs matter here)."""
    from tflite_micro.python.tflite_micro import runtime

    with captured_fds(2):
        interpreter = runtime.Interpreter.from_bytes(model, arena_size=max(1 << 20, 8 * uncompressed_size))
    outputs = []
    for x in inputs:
        interpreter.set_input(x[None], 0)
        interpreter.invoke()
        outputs.append(np.array(interpreter.get_output(0)))
    return outputs
