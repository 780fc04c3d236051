"""Training and evaluation data: an .npz file with `x` (and `y`), or a folder of images in class subfolders.

`y` may be absent (unlabeled data: usable for distillation and calibration, not for accuracy).
Labels are class indices (integers) or one-hot rows; they are returned as given.
This module does not import TensorFlow or Keras.
"""
from __future__ import annotations

import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from toolchain.base.errors import DataError, InputFileError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".pgm", ".ppm")


@dataclass(frozen=True)
class Dataset:
    x: np.ndarray
    y: np.ndarray | None
    source: str
    class_names: tuple[str, ...] = ()

    def __len__(self) -> int:
        return int(self.x.shape[0])

    @property
    def labeled(self) -> bool:
        return self.y is not None

    def take(self, n: int) -> "Dataset":
        return Dataset(self.x[:n], None if self.y is None else self.y[:n], self.source, self.class_names)


def _load_npz(path: Path) -> Dataset:
    from toolchain.data import check_npz_headers

    try:
        check_npz_headers(path)
        with np.load(path, allow_pickle=False) as archive:
            keys = set(archive.files)
            if "x" not in keys:
                raise DataError(path, f"no array named 'x' (found: {', '.join(sorted(keys)) or 'none'})")
            x = archive["x"]
            y = archive["y"] if "y" in keys else None
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as exc:
        raise InputFileError(path, f"not a readable .npz file: {exc}") from None
    except MemoryError:
        raise DataError(path, "its arrays do not fit in memory") from None
    if x.ndim < 2 or x.shape[0] == 0:
        raise DataError(path, f"'x' must hold at least one sample with a shape, got shape {x.shape}")
    if y is not None and y.shape[0] != x.shape[0]:
        raise DataError(path, f"'x' has {x.shape[0]} samples but 'y' has {y.shape[0]}")
    if not np.issubdtype(x.dtype, np.number):
        raise DataError(path, f"'x' must be numeric, got dtype {x.dtype}")
    if np.issubdtype(x.dtype, np.inexact) and not np.isfinite(x).all():
        raise DataError(path, f"'x' holds {int((~np.isfinite(x)).sum()):,} NaN or infinite values")
    if y is not None and np.issubdtype(y.dtype, np.inexact) and not np.isfinite(y).all():
        raise DataError(path, "'y' holds NaN or infinite values")
    if y is not None and y.ndim == 1 and np.issubdtype(y.dtype, np.integer) and y.size and y.min() < 0:
        raise DataError(path, f"'y' holds a negative label ({int(y.min())}): labels are class indices from 0")
    return Dataset(x, y, str(path))


def _load_folder(path: Path, image_size: tuple[int, int] | None, channels: int | None,
                 scale: float) -> Dataset:
    from PIL import Image  # only needed for image folders

    classes = sorted(p.name for p in path.iterdir() if p.is_dir())
    if not classes:
        raise DataError(path, "an image folder needs one subfolder per class")
    xs, ys = [], []
    mode = {1: "L", 3: "RGB"}.get(channels or 3)
    if mode is None:
        raise DataError(path, f"images can be loaded for models with 1 or 3 input channels, not {channels}")
    for label, name in enumerate(classes):
        for file in sorted((path / name).iterdir()):
            if file.suffix.lower() not in IMAGE_SUFFIXES:
                continue
            try:
                with Image.open(file) as img:
                    img = img.convert(mode)
                    if image_size is not None:
                        img = img.resize((image_size[1], image_size[0]))
                    arr = np.asarray(img, dtype=np.float32) * scale
            except (OSError, Image.DecompressionBombError) as exc:
                raise InputFileError(file, f"not a readable image: {exc}") from None
            xs.append(arr[..., None] if arr.ndim == 2 else arr)
            ys.append(label)
    if not xs:
        raise DataError(path, "no images found in the class subfolders")
    shapes = {a.shape for a in xs}
    if len(shapes) > 1:
        raise DataError(path, f"images have different sizes {sorted(shapes)}; the model's input size resizes them")
    return Dataset(np.stack(xs), np.asarray(ys, dtype=np.int64), str(path), tuple(classes))


def load_dataset(path, image_size: tuple[int, int] | None = None, channels: int | None = None,
                 scale: float = 1.0 / 255.0) -> Dataset:
    """Read an .npz file or an image folder; image pixels are multiplied by `scale`."""
    path = Path(path)
    if not path.exists():
        raise InputFileError(path, "no such file or folder")
    if path.is_dir():
        return _load_folder(path, image_size, channels, scale)
    return _load_npz(path)


def check_labels(data: Dataset, output_shape: tuple) -> None:
    """Refuse labels a model with outputs of `output_shape` (batch dim excluded) cannot train or
    be scored on: not numbers, class indices outside 0..classes-1, one-hot rows of another width.
    Real-valued targets (a regression model's) pass as they are."""
    y = data.y
    if y is None:
        return
    if y.dtype.kind not in "biuf":
        raise DataError(data.source, f"'y' must hold numbers (class indices, one-hot rows or targets), got dtype {y.dtype}")
    classes = int(output_shape[-1]) if output_shape and output_shape[-1] else None
    if classes is None or y.dtype.kind == "f":
        return
    if y.ndim == 2 and y.shape[1] > 1:  # one-hot rows
        if y.shape[1] != classes:
            raise DataError(data.source, f"'y' holds one-hot rows of {y.shape[1]} classes, the model has {classes} outputs")
        return
    labels = y.reshape(len(y), -1)
    if labels.shape[1] != 1:
        raise DataError(data.source, f"'y' of shape {tuple(y.shape)}: expected one class index per sample")
    low, high = int(labels.min()), int(labels.max())
    if low < 0:
        raise DataError(data.source, f"'y' holds a negative label ({low}): labels are class indices from 0")
    if high >= classes:
        count = int((labels >= classes).sum())
        raise DataError(data.source, f"'y' holds label {high} ({count:,} sample{'s' if count > 1 else ''} out of range), "
                                     f"but the model has {classes} output{'s' if classes > 1 else ''}: labels are class "
                                     f"indices 0 to {classes - 1}" + (" (for one sigmoid output give float 0/1 targets)"
                                                                      if classes == 1 else ""))


def fit_to_input(data: Dataset, input_shape: tuple, output_shape: tuple | None = None) -> Dataset:
    """`data` with `x` as float32 shaped for a model input of `input_shape` (batch dim excluded);
    with `output_shape`, its labels checked against the model's outputs (check_labels).

    A missing trailing channel axis of size 1 is added (e.g. 28x28 images for a 28x28x1 input).
    """
    if output_shape is not None:
        check_labels(data, output_shape)
    x = data.x
    want = tuple(input_shape)
    if x.ndim == len(want) and want[-1] == 1:
        x = x[..., None]
    got = x.shape[1:]
    if len(got) != len(want) or any(w is not None and w != g for w, g in zip(want, got)):
        raise DataError(data.source, f"samples have shape {tuple(got)}, the model expects {want}")
    return Dataset(x.astype(np.float32, copy=False), data.y, data.source, data.class_names)


def sparse_labels(y: np.ndarray) -> np.ndarray:
    """Class indices from integer labels or one-hot rows."""
    if y.ndim == 2 and y.shape[1] > 1:
        return np.argmax(y, axis=1)
    return y.reshape(-1).astype(np.int64)
