"""Read sample arrays (calibration, evaluation) from .npy / .npz files or a folder of images."""
from __future__ import annotations

import lzma
import struct
import tokenize
import zipfile
import zlib
from pathlib import Path

import numpy as np

from toolchain.base.errors import DataError, InputFileError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".pgm", ".ppm", ".tif", ".tiff", ".webp")
IMAGE_RANGES = {"0-1": (0.0, 1.0), "0-255": (0.0, 255.0), "-1-1": (-1.0, 1.0)}


def _check_declared_size(f, available: int, path: Path, member: str = "") -> None:
    """Refuse an array whose header declares more bytes than its file (or zip member) holds,
    before NumPy allocates them (a 23 TiB header in a 100-byte file)."""
    version = np.lib.format.read_magic(f)
    if version == (1, 0):
        shape, _, dtype = np.lib.format.read_array_header_1_0(f)
    elif version == (2, 0):
        shape, _, dtype = np.lib.format.read_array_header_2_0(f)
    else:
        return  # a later format: NumPy's own checks, and MemoryError below
    declared = dtype.itemsize
    for d in shape:
        declared *= int(d)
    if declared > available:
        where = f"array '{member}': " if member else ""
        raise DataError(path, f"{where}the header declares shape {tuple(shape)} of {dtype} ({declared:,} B), "
                              f"the file holds {available:,} B")


def check_npz_headers(path: Path) -> None:
    """Refuse an .npz member whose header declares more bytes than the member holds (DataError);
    zipfile.BadZipFile, ValueError or OSError for a file that is no .npz at all."""
    with zipfile.ZipFile(path) as archive:
        for info in archive.infolist():
            if info.filename.endswith(".npy"):
                with archive.open(info) as f:
                    _check_declared_size(f, info.file_size, path, info.filename[:-4])


def read_array_file(path: Path, key: str | None = None) -> dict[str, np.ndarray]:
    """Return the arrays of a .npy (under key 'x') or .npz file."""
    if not path.exists():
        raise InputFileError(path, "no such file")
    if not path.is_file():
        raise InputFileError(path, "is not a regular file, expected a .npy or .npz file")
    if path.stat().st_size == 0:
        raise DataError(path, "the file is empty")
    try:
        if path.suffix.lower() == ".npy":
            with open(path, "rb") as f:
                _check_declared_size(f, path.stat().st_size, path)
            return {"x": np.load(path, allow_pickle=False)}
        if path.suffix.lower() == ".npz":
            check_npz_headers(path)
            with np.load(path, allow_pickle=False) as npz:
                return {k: npz[k] for k in npz.files}
    except (ValueError, OSError, zipfile.BadZipFile, EOFError, zlib.error, NotImplementedError, RuntimeError,
            SyntaxError, tokenize.TokenError, KeyError, struct.error, lzma.LZMAError) as exc:
        # what a corrupted header (TokenError, SyntaxError), deflate or LZMA stream (zlib.error, LZMAError) or zip
        # directory (an unknown compression method, an encrypted member) raises in NumPy or zipfile
        raise DataError(path, f"not a readable NumPy file ({type(exc).__name__}: {str(exc)[:200]})") from None
    except MemoryError:
        raise DataError(path, "its arrays do not fit in memory") from None
    raise InputFileError(path, f"unknown data format '{path.suffix}'", "expected .npy, .npz or a folder of images")


def pick_samples(arrays: dict[str, np.ndarray], path: Path) -> np.ndarray:
    if not arrays:
        raise DataError(path, "the .npz file holds no array")
    for key in ("x", "x_calib", "inputs", "input", "x_train", "x_test"):
        if key in arrays:
            return arrays[key]
    if len(arrays) == 1:
        return next(iter(arrays.values()))
    raise DataError(path, "holds several arrays (" + ", ".join(sorted(arrays)) + "); name the samples 'x'")


def read_images(folder: Path, shape: tuple[int, ...], value_range: str = "0-1", limit: int | None = None) -> np.ndarray:
    """Images in a folder (recursively), resized to shape (H, W, C), scaled to value_range."""
    from PIL import Image, UnidentifiedImageError

    files = sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise DataError(folder, "the folder holds no image (" + ", ".join(IMAGE_SUFFIXES) + ")")
    if len(shape) != 3 or shape[-1] not in (1, 3):
        raise DataError(folder, f"images need a model input of shape (H, W, 1 or 3), this model takes {shape}")
    h, w, c = shape
    lo, hi = IMAGE_RANGES[value_range]
    out = []
    for p in files[:limit]:
        try:
            with Image.open(p) as im:
                im = im.convert("L" if c == 1 else "RGB").resize((w, h), Image.BILINEAR)
                arr = np.asarray(im, dtype=np.float32).reshape(h, w, c)
        except (UnidentifiedImageError, OSError, Image.DecompressionBombError) as exc:
            raise DataError(p, f"not a readable image ({exc})") from None
        out.append(lo + arr / 255.0 * (hi - lo))
    return np.stack(out)


def check_samples(x: np.ndarray, input_shape: tuple, input_dtype: str, path: Path) -> np.ndarray:
    """Check samples against the model input (batch dimension first); return them as a batch."""
    want = tuple(input_shape[1:])
    if x.dtype.kind not in "fiu" and x.dtype != np.bool_:
        raise DataError(path, f"holds {x.dtype} values; the model input takes {input_dtype}")
    if tuple(x.shape) == want:
        x = x[None]
    if x.ndim != len(want) + 1 or any(d is not None and d != s for d, s in zip(want, x.shape[1:])):
        raise DataError(path, f"samples of shape {tuple(x.shape[1:])} (array {tuple(x.shape)}) do not match "
                              f"the model input {tuple(None if d is None else d for d in want)} "
                              f"(expected an array of shape (N, {', '.join(str(d) for d in want)}))")
    if x.shape[0] == 0:
        raise DataError(path, "holds no sample")
    if input_dtype.startswith("float"):
        if x.dtype.kind != "f":
            raise DataError(path, f"holds {x.dtype} values but the model input is {input_dtype} "
                                  "(scale the data as the model was trained, e.g. x / 255.0)")
        if not np.all(np.isfinite(x)):
            raise DataError(path, "holds NaN or infinite values")
        return x.astype(np.float32)
    if x.dtype != np.dtype(input_dtype):
        raise DataError(path, f"holds {x.dtype} values but the model input is {input_dtype}")
    return x


def load_samples(path: str | Path, input_shape: tuple, input_dtype: str,
                 image_range: str = "0-1", limit: int | None = None) -> np.ndarray:
    path = Path(path)
    if path.is_dir():
        x = read_images(path, tuple(input_shape[1:]), image_range, limit)
    else:
        x = pick_samples(read_array_file(path), path)
    x = check_samples(x, input_shape, input_dtype, path)
    return x[:limit] if limit else x


def random_samples(input_shape: tuple, count: int = 100, seed: int = 0) -> np.ndarray:
    """Uniform [0, 1) samples: only for --calib-random, an accuracy risk written into the report."""
    rng = np.random.default_rng(seed)
    return rng.random((count, *[d or 1 for d in input_shape[1:]]), dtype=np.float32)
