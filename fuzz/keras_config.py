"""Fuzz target: the .keras / .h5 model config reader, up to (not including) building the model:
the format check, the archive or HDF5 file read (HDF5 in a forked child: the C library crashes
on some corrupted files), the JSON parse and its limits, and what edgec works out from the config
before Keras sees it (the layers and their classes, the Keras 2 nested-model node mapping).

Property: a clean EdgecError or success; never another exception, signal or hang. The first byte
of an input chooses the format (odd: .keras, even: .h5), the rest is the file.
"""
from __future__ import annotations

INSTRUMENT = ("toolchain.loader",)


def check(data: bytes) -> None:
    from fuzz._harness import scratch_file
    from toolchain.base.errors import EdgecError
    from toolchain.loader import _layers_in, detect_format, map_keras2_nested_nodes, read_model_config

    if not data:
        return
    path = scratch_file(data[1:], ".keras" if data[0] & 1 else ".h5")
    try:
        fmt = detect_format(path)
        config = read_model_config(path, fmt)
    except EdgecError:
        return
    _layers_in(config)
    map_keras2_nested_nodes(config)


def seeds() -> dict[str, bytes]:
    """The example's architecture in a small .keras archive (config.json only), and the Keras 2.8
    nested model (.h5)."""
    import io
    import zipfile

    from fuzz._harness import REPO

    with zipfile.ZipFile(REPO / "examples/fashion_cnn.keras") as archive:
        config = archive.read("config.json")
    small = io.BytesIO()
    with zipfile.ZipFile(small, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("config.json", config)
    nested = (REPO / "tests/data/keras2/nested_sequential_keras28.h5").read_bytes()
    return {"fashion_cnn_config.keras.bin": b"\x01" + small.getvalue(),
            "nested_sequential_keras28.h5.bin": b"\x00" + nested}


if __name__ == "__main__":
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from fuzz._harness import run_as_script

    run_as_script("fuzz.keras_config")
