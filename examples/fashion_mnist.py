"""Read Fashion-MNIST from Debian's `dataset-fashion-mnist` package (no download)."""
from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np

DATASET_DIR = Path("/usr/share/datasets/fashion-mnist")
CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
           "Ankle boot")


def _read_idx(path: Path) -> np.ndarray:
    with gzip.open(path, "rb") as fh:
        data = fh.read()
    dims = data[3]
    shape = tuple(int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(dims))
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)


def load(split: str = "train", folder: Path = DATASET_DIR) -> tuple[np.ndarray, np.ndarray]:
    """Images as float32 in [0, 1] of shape (N, 28, 28, 1), labels as int64."""
    prefix = "train" if split == "train" else "t10k"
    x = _read_idx(folder / f"{prefix}-images-idx3-ubyte.gz").astype(np.float32) / 255.0
    y = _read_idx(folder / f"{prefix}-labels-idx1-ubyte.gz").astype(np.int64)
    return x[..., None], y
