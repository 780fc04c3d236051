"""One int8 codebook per weight tensor: shared codes, per-channel scales, exact bounds."""
from __future__ import annotations

import numpy as np

from toolchain.compress.codebook import align_to_reference, kmeans_1d, shared_codebook


def _centroid_rows(rng, rows: int, taps: int, with_zero: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Rows holding one set of 16 float centroids, each row quantized with its own scale (the largest
    centroid it uses at +-127, as per-channel quantization does) and some rows scaled by a folded factor."""
    mu = np.sort(rng.normal(0, 1, 16))
    if with_zero:
        mu[np.argmin(np.abs(mu))] = 0.0
    x = np.zeros((rows, taps))
    for r in range(rows):
        used = rng.choice(16, size=rng.integers(10, 17), replace=False)  # some rows miss the extremes
        picks = rng.choice(used, taps)
        picks[:len(used)] = used
        if r == 0:  # one row holds every centroid (the reference the others align to)
            picks[:16] = np.arange(16)
        values = mu[picks]
        x[r] = np.rint(values * 127 / np.abs(values).max())
    return x.astype(np.int8), mu


def test_kmeans_starts_fill_the_range_where_quantiles_coincide():
    values = np.array([-100.0, -1, 0, 1, 90])
    counts = np.array([1, 50, 1000, 50, 1])
    centroids = kmeans_1d(values, counts, 4)
    # quantile starts alone give 0 four times, one centroid; the extremes get their own
    assert centroids.tolist() == [-100, 0, 90] or centroids.tolist()[::len(centroids) - 1] == [-100, 90]
    assert len(centroids) >= 3


def test_align_recovers_one_codebook_within_a_rounding_of_each_weight():
    x, _ = _centroid_rows(np.random.default_rng(3), 13, 40)
    assert len(np.unique(x)) > 16  # per-channel quantization split the shared centroids
    q, t = align_to_reference(x)
    assert len(np.unique(q)) <= 16
    moved = np.abs(t[:, None] * q - x) / ((1 + t[:, None]) / 2)
    assert moved.max() <= 1 + 1e-9


def test_shared_codebook_bounds_codes_and_keeps_zeros_and_zero_rows():
    rng = np.random.default_rng(4)
    x = np.clip(np.rint(rng.normal(0, 30, (7, 50))), -127, 127).astype(np.int8)
    x[2] = 0  # a channel all zeros
    x[4, ::3] = 0
    q, t = shared_codebook(x, 16, keep_zeros=True)
    assert not q[2].any() and t[2] == 1.0
    assert np.array_equal(q == 0, x == 0)  # zeros stay, nonzeros stay nonzero
    assert len(np.unique(q[q != 0])) <= 16
    q, t = shared_codebook(x, 16)
    assert not q[2].any() and len(np.unique(q)) <= 16  # 0 is one of the 16 codes
    assert (t > 0).all()
    # in each row's own units the fit is close: 16 levels over 255 steps
    assert np.sqrt(np.mean((t[:, None] * q - x)[np.arange(7) != 2] ** 2)) < 8
    q1, t1 = shared_codebook(x, 16, scales_free=False)
    assert (t1 == 1).all() and len(np.unique(q1)) <= 16
