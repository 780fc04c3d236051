"""Session fixtures for the C engine tests: converted single-op models and compiled engines.

Each model is converted once and each engine compiled once per session, so the whole folder
runs in well under the time budget on two cores.
"""
from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import FASHION_MNIST, MLPERF_TINY, require_path

MLPERF_MODELS = ("pretrainedResnet_quant", "vww_96_int8", "kws_ref_model", "ad01_int8", "str_ww_ref_model")


@pytest.fixture(scope="session")
def single_op_models() -> dict:
    """Case name -> (case, .tflite bytes), every case of single_op_models converted once."""
    from tests.firmware_export.single_op_models import CASES, convert

    return {case.name: (case, convert(case)) for case in CASES}


@pytest.fixture(scope="session")
def engine_cache(tmp_path_factory):
    """Compile an engine once per (name, defines); returns a function building or reusing it."""
    from firmware_export.cengine import compile_host, generate_engine
    from toolchain.base.tflite_reader import read_tflite

    cache = {}

    def build(name: str, model_bytes: bytes, defines: tuple[str, ...] = ()):
        key = (name, defines)
        if key not in cache:
            engine = generate_engine(read_tflite(model_bytes, name), name, f"{name}.tflite")
            folder = tmp_path_factory.mktemp(f"{name}{'_'.join(('',) + defines).lower()}")
            cache[key] = compile_host(engine, folder, defines=defines)
        return cache[key]

    return build


def mlperf_path(stem: str) -> Path:
    return MLPERF_TINY / f"{stem}.tflite"


def fashion_images(count: int) -> np.ndarray:
    """The first `count` Fashion-MNIST test images (uint8, 28x28): real photographs."""
    path = require_path(FASHION_MNIST / "t10k-images-idx3-ubyte.gz", "Fashion-MNIST")
    with gzip.open(path, "rb") as f:
        data = np.frombuffer(f.read(), dtype=np.uint8, offset=16)
    return data.reshape(-1, 28, 28)[:count]


def resize_nearest(images: np.ndarray, height: int, width: int) -> np.ndarray:
    rows = (np.arange(height) * images.shape[1]) // height
    cols = (np.arange(width) * images.shape[2]) // width
    return images[:, rows][:, :, cols]
