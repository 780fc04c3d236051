"""A tiny real int8 model, its generated engine and its firmware, built once per test session and
shared by the tests that check the sources, build the boards and run the firmware on QEMU.

The model is a small Keras CNN quantized by edgec's own convert pass; the engine is the one
`generate_engine` writes for it; what the device must answer is what the tflite-micro interpreter
computes for the same input.
"""
from __future__ import annotations

import atexit
import functools
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest

import targets
from tests.conftest import require_tool

EMULATED_TARGETS = ("cortex-m7", "cortex-m4", "cortex-m55", "netduinoplus2", "lm3s6965evb", "cortex-m0plus", "microbit",
                    "cortex-m33")
INPUT_SHAPE = (8, 8, 1)


@dataclass(frozen=True)
class TinyModel:
    tflite_bytes: bytes = field(repr=False)
    engine: object = field(repr=False)  # firmware_export.cengine.GeneratedEngine
    input: np.ndarray = field(repr=False)  # one int8 sample, INPUT_SHAPE
    expected: np.ndarray = field(repr=False)  # tflite-micro's int8 output for it, flat

    def printed_results(self) -> tuple[float, ...]:
        """The m-results-[...] numbers the harness prints for `expected`: dequantized in float32
        as edgec_output_value does, then rounded to 3 decimals as put_fixed3 does."""
        scale, zero_point = self.engine.output_quant
        values = (self.expected.astype(np.float32) - np.float32(zero_point)) * np.float32(scale)
        out = []
        for v in values:
            half = np.float32(-0.5 if v < 0 else 0.5)
            milli = int(np.float32(np.float32(v * np.float32(1000.0)) + half))  # C truncates toward 0
            out.append(float(f"{'-' if milli < 0 else ''}{abs(milli) // 1000}.{abs(milli) % 1000:03d}"))
        return tuple(out)


def _convert() -> bytes:
    from toolchain.quiet import import_tensorflow

    import_tensorflow()
    import keras

    from toolchain.convert import convert_int8
    from toolchain.loader import from_keras

    keras.utils.set_random_seed(3)
    model = keras.Sequential([
        keras.Input(INPUT_SHAPE),
        keras.layers.Conv2D(4, 3, activation="relu", name="conv"),
        keras.layers.MaxPooling2D(2, name="pool"),
        keras.layers.Flatten(name="flat"),
        keras.layers.Dense(4, name="head"),
    ], name="tiny")
    calib = np.random.default_rng(0).uniform(-1.0, 1.0, (32, *INPUT_SHAPE)).astype(np.float32)
    return convert_int8(from_keras(model, "tiny"), calib).tflite_bytes


@functools.lru_cache(maxsize=1)
def tiny_model() -> TinyModel:
    """Built once per session (also when the fixtures are imported by another folder's conftest)."""
    from firmware_export.cengine import generate_engine
    from toolchain.oracle import run_tflm
    from toolchain.base.tflite_reader import read_tflite

    data = _convert()
    engine = generate_engine(read_tflite(data, "tiny"), "tiny", "tiny.tflite")
    sample = np.random.default_rng(1).integers(-128, 128, INPUT_SHAPE, dtype=np.int8)
    sample[0, :2, 0] = (-128, 127)  # both ends of the int8 range
    expected = run_tflm(data, sample[None]).reshape(-1).astype(np.int8)
    return TinyModel(tflite_bytes=data, engine=engine, input=sample, expected=expected)


@functools.lru_cache(maxsize=1)
def _build_emulated():
    from firmware_export.firmware import build_firmware

    engine = tiny_model().engine
    root = Path(tempfile.mkdtemp(prefix="edgec-tiny-fw-"))
    atexit.register(shutil.rmtree, root, True)
    return {name: build_firmware(engine, targets.load_target(name), root / name) for name in EMULATED_TARGETS}


@pytest.fixture(scope="session")
def tiny():
    """The tiny model: .tflite bytes, generated engine, one input and tflite-micro's output."""
    return tiny_model()


@pytest.fixture(scope="session")
def tiny_firmware():
    """{target name: FirmwareResult} of the tiny model's engine for every emulated target."""
    require_tool("arm-none-eabi-gcc")
    return _build_emulated()
