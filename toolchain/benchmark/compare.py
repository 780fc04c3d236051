"""Device outputs against the host reference: exact arithmetic where it is exact."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from toolchain.base.errors import DeviceError


@dataclass(frozen=True)
class Comparison:
    compared: int  # samples compared
    exact_match_rate: float  # fraction of samples whose outputs equal the reference exactly
    max_abs_diff: float  # in output units (quantized integers for raw outputs)
    cosine_similarity: float  # mean over samples
    top1_agreement: float
    accuracy_device: float | None  # against labels, when given
    accuracy_host: float | None
    basis: str  # "raw" (bytes read back) or "results" (the m-results-[...] numbers, 3 decimals)
    nonfinite_values: int = 0  # NaN or infinite device outputs: each one a mismatch
    per_sample_max_diff: tuple[float, ...] = ()  # |device - host| max, sample by sample
    per_sample_cosine: tuple[float, ...] = ()


def _cosine(a: np.ndarray, b: np.ndarray) -> float:
    na, nb = float(np.linalg.norm(a)), float(np.linalg.norm(b))
    if na == 0.0 and nb == 0.0:
        return 1.0
    if na == 0.0 or nb == 0.0:
        return 0.0
    return float(np.dot(a, b) / (na * nb))


def compare_outputs(device: list[np.ndarray], host: list[np.ndarray], labels: np.ndarray | None,
                    basis: str, tolerance: float = 0.0) -> Comparison:
    """Compare per-sample output vectors. `tolerance` is 0 for raw outputs; for printed results it
    is the printing's rounding (half of the last printed digit)."""
    if len(device) != len(host) or not device:
        raise ValueError("device and host outputs must be the same, non-zero number of samples")
    exact, cos, diffs, top1, correct_d, correct_h = 0, [], [], 0, 0, 0
    max_diff, nonfinite = 0.0, 0
    for i, (d, h) in enumerate(zip(device, host)):
        d64, h64 = d.astype(np.float64).ravel(), h.astype(np.float64).ravel()
        if d64.shape != h64.shape:
            raise DeviceError(f"sample {i}: the device gave {d64.size} outputs, the model has {h64.size}")
        finite = np.isfinite(d64)
        bad = int(d64.size - finite.sum())
        nonfinite += bad
        # NaN compares false with everything: measured on the finite values, a NaN sample would pass
        diff = float(np.max(np.abs(d64[finite] - h64[finite]), initial=0.0))
        max_diff = max(max_diff, diff)
        diffs.append(diff)
        exact += not bad and diff <= tolerance
        cos.append(0.0 if bad else _cosine(d64, h64))
        top1 += int(not bad and np.argmax(d64) == np.argmax(h64))
        if labels is not None:
            correct_d += int(np.argmax(d64) == int(labels[i]))
            correct_h += int(np.argmax(h64) == int(labels[i]))
    n = len(device)
    return Comparison(compared=n, exact_match_rate=exact / n, max_abs_diff=max_diff,
                      cosine_similarity=float(np.mean(cos)), top1_agreement=top1 / n,
                      accuracy_device=correct_d / n if labels is not None else None,
                      accuracy_host=correct_h / n if labels is not None else None, basis=basis,
                      per_sample_max_diff=tuple(diffs), per_sample_cosine=tuple(cos), nonfinite_values=nonfinite)
