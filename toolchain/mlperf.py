"""MLPerf Tiny's benchmarks as its official host runner (mlcommons/tiny, benchmark/runner) drives them.

The runner asks a device `profile` and picks its test script by the id in `m-model-[...]`; it then
sends each dataset file's bytes unchanged (`db load N`, `db HEX...`). The reference firmware of each
benchmark turns those bytes into the model's input tensor its own way, and prints its result its own
way. This module holds those facts (as data), the host side of each encoding, and the five reference
models, recognised by the SHA-256 of their .tflite bytes or of the float weights of their Keras /
SavedModel sources.

It knows nothing of serial ports; the firmware and `edgec bench` read it.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass

from toolchain.base.errors import EdgecError

# How the dataset bytes become the input tensor (the firmware's EDGEC_DB_* values).
RAW = "raw"  # the tensor's bytes as they are (edgec's own protocol, and kws01)
UINT8_MINUS_128 = "uint8-minus-128"  # uint8 pixels; the device subtracts 128 into the int8 tensor
FLOAT32_QUANTIZED = "float32-quantized"  # float32 features, little-endian; the device quantizes them
ENCODINGS = (RAW, UINT8_MINUS_128, FLOAT32_QUANTIZED)


@dataclass(frozen=True)
class Benchmark:
    id: str  # EE_MODEL_VERSION_*: what the device answers in m-model-[...]
    task: str
    encoding: str
    result: str  # "outputs": the dequantized outputs; "mse": one number (autoencoder reconstruction error)
    dataset_quant: tuple[float, int] | None = None  # the runner's dataset holds int8 tensors quantized so


BENCHMARKS = {b.id: b for b in (
    Benchmark("ic01", "image classification", UINT8_MINUS_128, "outputs"),
    Benchmark("kws01", "keyword spotting", RAW, "outputs", (0.5847029089927673, 83)),
    Benchmark("vww01", "visual wake words", UINT8_MINUS_128, "outputs"),
    Benchmark("ad01", "anomaly detection", FLOAT32_QUANTIZED, "mse"),
)}


def input_warnings(benchmark: str, input_quant: tuple[float, int]) -> list[str]:
    """What makes the runner's dataset misread by a model with this input quantization."""
    b = BENCHMARKS[benchmark]
    scale, zero_point = input_quant
    if b.encoding == UINT8_MINUS_128 and zero_point != -128:
        return [f"--mlperf {benchmark}: the runner's pixels p enter the model as p - 128, which means p * scale "
                f"only with input zero point -128; this model's is {zero_point}"]
    if b.dataset_quant is not None:
        want_scale, want_zero_point = b.dataset_quant
        if zero_point != want_zero_point or abs(scale - want_scale) > 1e-3 * want_scale:
            return [f"--mlperf {benchmark}: the runner's dataset holds int8 inputs quantized with scale "
                    f"{want_scale:.6g}, zero point {want_zero_point}; this model's input has scale {scale:.6g}, "
                    f"zero point {zero_point}, and would misread them"]
    return []
BENCHMARK_IDS = tuple(BENCHMARKS)


@dataclass(frozen=True)
class ReferenceModel:
    file: str  # the file name in mlcommons/tiny's benchmark/training/*/trained_models
    task: str
    benchmark: str | None  # the runner's id; None when the runner has no db-load test for it
    note: str = ""


# SHA-256 of the .tflite bytes of each reference model (tests/data/mlperf-tiny/SHA256SUMS).
REFERENCE_MODELS = {
    "3c002613d1b2475eb51dd78dfb85a546c8ae658dee71cf6ade43b022fe205415":
        ReferenceModel("pretrainedResnet_quant.tflite", "image classification", "ic01"),
    "aeea436800704fce17b17292e4412630ad856e9d777c044c64ef748a880bd0ae":
        ReferenceModel("kws_ref_model.tflite", "keyword spotting", "kws01"),
    "597a384c8c2c8a1276f04702f25013b7838f2f814f1ca7c174d295b73e3d6b7b":
        ReferenceModel("vww_96_int8.tflite", "visual wake words", "vww01"),
    "87cf24194ef93d1d9b11a591d805526b98008e351655d29883c825c9c106ba24":
        ReferenceModel("ad01_int8.tflite", "anomaly detection", "ad01"),
    "3af8550895ba7d5c584277102b5075c52dcfa63ba9d2b2240f37c4e6abd5dd2b":
        ReferenceModel("str_ww_ref_model.tflite", "streaming wake word", None,
                       "str_ww is not one of the runner's benchmark ids (ic01, kws01, vww01, ad01): its "
                       "streaming test (sww01) plays audio through an interface board instead of loading "
                       "inputs with db load, so no --mlperf id applies"),
}


def recognise(tflite_bytes: bytes | None) -> ReferenceModel | None:
    """The MLPerf Tiny reference model these .tflite bytes are, or None."""
    if not tflite_bytes:
        return None
    return REFERENCE_MODELS.get(hashlib.sha256(tflite_bytes).hexdigest())


def weights_digest(arrays) -> str:
    """SHA-256 over the weights in order: each one's shape, then its values as little-endian float32."""
    import numpy as np

    h = hashlib.sha256()
    for w in arrays:
        w = np.asarray(w)
        h.update(str(tuple(int(d) for d in w.shape)).encode())
        h.update(np.ascontiguousarray(w, dtype="<f4").tobytes())
    return h.hexdigest()


# weights_digest of the reference models' sources, as edgec's loader reads them (Keras weights in
# model order; a SavedModel's variables sorted by name).
REFERENCE_SOURCES = {
    "dc40409095145ff8b97adcb6478f8cf29a9e08a2177176f5b1a5d653bb19008d":
        ReferenceModel("pretrainedResnet.h5", "image classification", "ic01"),
    "fac9af52a5d61b3a22e4b7e0ac29799adbfa4e9a8ad00f583ae4602c1509dcb9":
        ReferenceModel("kws_ref_model (SavedModel)", "keyword spotting", "kws01"),
    "3f995f3fdc0e75fb53e07a8c56f0eeaf5128c18da40c5b59acd1bbd5bc355531":
        ReferenceModel("vww_96.h5", "visual wake words", "vww01"),
    "086ce6ad99a4cc01721535353633cbd84cb8fdea6ce322cdc839b30cfff40d3b":
        ReferenceModel("ad01.h5", "anomaly detection", "ad01"),
    "7d43c693ba152d7874894bb18ee340c9b3505f69ef691c22222f8da24ce0f56d":
        ReferenceModel("str_ww_ref_model.h5", "streaming wake word", None,
                       REFERENCE_MODELS["3af8550895ba7d5c584277102b5075c52dcfa63ba9d2b2240f37c4e6abd5dd2b"].note),
}


def recognise_weights(arrays) -> ReferenceModel | None:
    """The reference model whose Keras / SavedModel source holds exactly these weights, or None."""
    arrays = list(arrays or ())
    return REFERENCE_SOURCES.get(weights_digest(arrays)) if arrays else None


class MlperfModelError(EdgecError):
    """A model whose input or output cannot take a benchmark's encoding."""

    def __init__(self, benchmark: str, problem: str):
        self.benchmark, self.problem = benchmark, problem
        super().__init__(f"--mlperf {benchmark}: {problem}")


@dataclass(frozen=True)
class DbLayout:
    """What the device's db buffer holds for one input under a benchmark's encoding."""
    encoding: str
    element_bytes: int  # bytes of one element as sent
    elements: int  # elements the model's input tensor holds

    @property
    def nbytes(self) -> int:
        return self.element_bytes * self.elements


def db_layout(benchmark: str | None, input_dtype: str, input_elements: int, input_bytes: int,
              input_quant: tuple[float, int], output_dtype: str, output_elements: int) -> DbLayout:
    """The db buffer of a model under `benchmark` (None: the tensor's bytes as they are), or
    MlperfModelError when the model's tensors cannot take the benchmark's encoding."""
    if benchmark is None:
        return DbLayout(RAW, input_bytes // max(input_elements, 1), input_elements)
    if benchmark not in BENCHMARKS:
        raise MlperfModelError(benchmark, f"not a benchmark id ({', '.join(BENCHMARK_IDS)})")
    b = BENCHMARKS[benchmark]
    if input_dtype != "int8":
        raise MlperfModelError(benchmark, f"the reference firmware feeds an int8 input tensor; this model's is "
                                          f"{input_dtype}")
    if b.encoding == FLOAT32_QUANTIZED:
        if not input_quant[0]:
            raise MlperfModelError(benchmark, "the input tensor has no quantization scale to quantize the "
                                              "float32 features with")
        if output_dtype != "int8" or output_elements != input_elements:
            raise MlperfModelError(benchmark, f"the result is the reconstruction error of an autoencoder: the "
                                              f"output ({output_elements} {output_dtype}) must match the input "
                                              f"({input_elements} int8)")
        return DbLayout(b.encoding, 4, input_elements)
    return DbLayout(b.encoding, 1, input_elements)


# --- the host side of each encoding ---------------------------------------------------------

def encode(benchmark: str | None, tensor, input_quant: tuple[float, int]) -> bytes:
    """The bytes to load for one int8 input `tensor` so that the device decodes exactly `tensor`."""
    import numpy as np

    encoding = BENCHMARKS[benchmark].encoding if benchmark else RAW
    t = np.ascontiguousarray(tensor)
    if encoding == UINT8_MINUS_128:
        return (t.astype(np.int16) + 128).astype(np.uint8).tobytes()
    if encoding == FLOAT32_QUANTIZED:
        scale, zero_point = input_quant
        real = (t.astype(np.float32) - np.float32(zero_point)) * np.float32(scale)
        encoded = real.astype("<f4")
        if not np.array_equal(quantize_features(encoded, input_quant), t.reshape(-1)):
            raise ValueError("dequantized features do not quantize back to the same tensor")
        return encoded.tobytes()
    return t.tobytes()


def quantize_features(features, input_quant: tuple[float, int]):
    """The int8 tensor the device makes of float32 features: round half away from zero of the
    float32 quotient feature / scale, plus the zero point, clamped to int8 (the reference firmware's
    rule, which the harness repeats)."""
    import numpy as np

    scale, zero_point = input_quant
    quotient = (np.asarray(features, dtype=np.float32).reshape(-1) / np.float32(scale)).astype(np.float64)
    rounded = np.sign(quotient) * np.floor(np.abs(quotient) + 0.5)
    return np.clip(rounded + zero_point, -128, 127).astype(np.int8)


def reconstruction_error(features, output, output_quant: tuple[float, int]):
    """ad01's result as the device computes it, in float32 and in the same order: the mean over the
    features of (dequantized output - feature)^2."""
    import numpy as np

    scale, zero_point = np.float32(output_quant[0]), np.float32(output_quant[1])
    x = np.asarray(features, dtype=np.float32).reshape(-1)
    q = np.asarray(output).reshape(-1)
    total = np.float32(0.0)
    for i in range(x.size):
        diff = np.float32(np.float32(np.float32(q[i]) - zero_point) * scale) - x[i]
        total = np.float32(total + np.float32(diff * diff))
    return np.float32(total / np.float32(x.size))


def printed_fixed3(value: float) -> float:
    """A float32 value as the harness prints it ("%0.3f": value * 1000 rounded half away from zero in
    float32, then truncated to an integer), read back as the host reads m-results-[...]."""
    import numpy as np

    v = np.float32(value)
    half = np.float32(-0.5 if v < 0 else 0.5)
    milli = int(np.float32(np.float32(v * np.float32(1000.0)) + half))
    return float(f"{'-' if milli < 0 else ''}{abs(milli) // 1000}.{abs(milli) % 1000:03d}")
