"""A tiny trained classifier, its data, and target profiles sized around it (module-scoped: built once)."""
from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np
import pytest

from tests.toolchain.compress.conftest import blob_data, small_cnn

M0PLUS_RESERVES = 49_152 + 8_192  # the cortex-m0plus profile's TFLM runtime + application flash reserves


def profile(path, name: str, flash: int) -> str:
    """A Cortex-M0+ profile with `flash` bytes of flash (32 KiB SRAM)."""
    path.write_text(f'''name = "{name}"
description = "test part: {flash} B flash"
core = "cortex-m0plus"
clock_hz = 48_000_000
flasher = "qemu"

[emulator]
machine = "microbit"

[[memory]]
name = "flash"
kind = "flash"
start = 0
size_bytes = {flash}

[[memory]]
name = "sram"
kind = "ram"
start = 0x2000_0000
size_bytes = 32_768

[reserves]
runtime_flash_bytes = 49_152
app_flash_bytes = 8_192
runtime_sram_bytes = 1_024
app_sram_bytes = 2_048
stack_bytes = 2_048
''')
    return str(path)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """(folder, model path, train npz, eval npz): a 12x12 CNN trained to 100 % on 300 samples."""
    import keras

    folder = tmp_path_factory.mktemp("fit")
    model = small_cnn()
    x, y = blob_data(300, seed=0)
    xe, ye = blob_data(200, seed=1)
    model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    model.fit(x, y, epochs=3, verbose=0)
    model.save(folder / "tiny.keras")
    np.savez(folder / "train.npz", x=x, y=y)
    np.savez(folder / "eval.npz", x=xe, y=ye)
    return folder, str(folder / "tiny.keras"), str(folder / "train.npz"), str(folder / "eval.npz")
