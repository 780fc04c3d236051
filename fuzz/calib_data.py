"""Fuzz target: calibration and evaluation data, .npy and .npz (toolchain.data.load_samples), read
for a float32 model input of shape (N, 4, 4, 1) or an int8 one.

Property: a clean EdgecError or success; never another exception, signal or hang (nor a memory
blow-up from a header that declares more than the file holds). The first byte of an input
chooses the format (bit 0: .npz, else .npy) and the model input's type (bit 1: int8).
"""
from __future__ import annotations

INSTRUMENT = ("toolchain.data",)
SHAPE = (None, 4, 4, 1)


def check(data: bytes) -> None:
    from fuzz._harness import scratch_file
    from toolchain.base.errors import EdgecError
    from toolchain.data import load_samples

    if not data:
        return
    path = scratch_file(data[1:], ".npz" if data[0] & 1 else ".npy")
    try:
        load_samples(path, SHAPE, "int8" if data[0] & 2 else "float32")
    except EdgecError:
        return


def seeds() -> dict[str, bytes]:
    import io

    import numpy as np

    rng = np.random.default_rng(0)
    x = rng.random((3, 4, 4, 1), dtype=np.float32)
    one = io.BytesIO()
    np.save(one, x)
    both = io.BytesIO()
    np.savez_compressed(both, x=x, y=np.arange(3, dtype=np.int64))
    ints = io.BytesIO()
    np.savez(ints, x=rng.integers(-128, 128, (2, 4, 4, 1)).astype(np.int8))
    return {"float.npy.bin": b"\x00" + one.getvalue(), "float_xy.npz.bin": b"\x01" + both.getvalue(),
            "int8.npz.bin": b"\x03" + ints.getvalue()}


if __name__ == "__main__":
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from fuzz._harness import run_as_script

    run_as_script("fuzz.calib_data")
