"""One codebook for a whole weight tensor: int8 codes shared by every output channel.

A clustered layer stored by the C engine costs its packed indices plus its codebook(s): one of
16 int8 values per output channel adds 16 / K bytes per weight (K: weights per channel), +0.25x
of the int8 size at K = 64. One codebook per tensor costs 16 bytes in all, but only if every
channel uses the same int8 codes, and per-channel quantization breaks that: a centroid shared in
float becomes round(centroid / scale_c), a different code in each channel.

`shared_codebook` finds, for a [channels, K] int8 matrix and its per-channel scales, at most
`clusters` int8 codes C and a new scale per channel (scale_c x t_c) such that each weight becomes
t_c x C[index] in its channel's old units, fitting the old weights in least squares
(alternately: indices, then each channel's t_c, then the codes). The int8 model rewritten with
these weights, scales and the biases requantized to the new scales (bias scale = input scale x
weight scale) is a model in its own right: tflite-micro and the engine run it exactly.

Two uses:
- clustering the int8 weights of a model without training (tflite_weights.compress_weights,
  the MLPerf models): the codes are the clustering itself;
- the converted model of a Keras model clustered in float (`share_codebooks`, run by the convert
  pass): its channels hold the same centroids, quantized per channel (and scaled per channel by
  a folded batch normalization); the rewrite is accepted only where it is a requantization of the
  same float weights: every weight moves by at most half an old step plus half a new one.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from toolchain.base.tflite_reader import read_tflite

MAX_CODES = 16
ITERATIONS = 40
LLOYD_ITERATIONS = 100
WEIGHT_OPS = {"CONV_2D": 1, "DEPTHWISE_CONV_2D": 1, "FULLY_CONNECTED": 1}


def kmeans_1d(values: np.ndarray, counts: np.ndarray, clusters: int) -> np.ndarray:
    """Centroids (sorted, float) of the weighted 1-D points `values` (distinct, sorted) in `clusters` groups."""
    values = np.asarray(values, np.float64)
    if len(values) <= clusters:
        return values.copy()
    cumulative = np.cumsum(counts)
    targets = (np.arange(clusters) + 0.5) / clusters * cumulative[-1]
    centroids = np.unique(values[np.searchsorted(cumulative, targets, side="right").clip(0, len(values) - 1)])
    # quantiles coincide where the values crowd (around 0): the widest gaps get the starts left
    for end in values[[0, -1]]:
        if len(centroids) < clusters:
            centroids = np.unique(np.append(centroids, end))
    while len(centroids) < clusters:
        widest = int(np.argmax(np.diff(centroids)))
        centroids = np.insert(centroids, widest + 1, (centroids[widest] + centroids[widest + 1]) / 2)
    for _ in range(LLOYD_ITERATIONS):
        bounds = (centroids[1:] + centroids[:-1]) / 2
        group = np.searchsorted(bounds, values, side="left")
        weight = np.bincount(group, counts, len(centroids))
        total = np.bincount(group, counts * values, len(centroids))
        updated = np.sort(total[weight > 0] / weight[weight > 0])
        if updated.shape == centroids.shape and np.array_equal(updated, centroids):
            break
        centroids = updated
    return centroids


def _nearest(codes: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Index into `codes` (sorted) of the nearest code to each value."""
    if len(codes) == 1:
        return np.zeros(values.shape, np.int64)
    return np.searchsorted((codes[1:] + codes[:-1]) / 2, values, side="left")


def _fit_scales(x: np.ndarray, coded: np.ndarray, active: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Per row, the least-squares t with x ~ t * coded (over `active`); rows without a fit keep theirs."""
    num = np.where(active, x * coded, 0).sum(1)
    den = np.where(active, coded * coded, 0).sum(1)
    fit = np.divide(num, den, out=np.zeros_like(num), where=den > 0)
    return np.where(fit > 0, fit, t)


def _refine(x: np.ndarray, active: np.ndarray, codes: np.ndarray, t: np.ndarray,
            iterations: int = ITERATIONS) -> tuple[np.ndarray, np.ndarray]:
    """Alternately: each weight's nearest code, each row's scale t (least squares), each code (least
    squares over the weights it holds, in every row's units); the codes kept at most +-127."""
    index = None
    for _ in range(iterations):
        new_index = _nearest(codes, x / t[:, None])
        if index is not None and np.array_equal(new_index[active], index[active]):
            break
        index = new_index
        t = _fit_scales(x, codes[index], active, t)
        weight = np.bincount(index[active], (t[:, None] ** 2 * np.ones_like(x))[active], len(codes))
        total = np.bincount(index[active], (t[:, None] * x)[active], len(codes))
        codes = np.sort(np.where(weight > 0, total / np.maximum(weight, 1e-300), codes))
        scale = 127.0 / np.abs(codes).max()
        codes, t = codes * scale, t / scale
    return codes, t


def shared_codebook(q: np.ndarray, clusters: int, keep_zeros: bool = False,
                    scales_free: bool = True, stored: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(int8 [channels, K] with at most `clusters` distinct values shared by every row, besides 0 with
    `keep_zeros`; t [channels]: each row's new scale over its old one, all 1 unless `scales_free`).
    With `keep_zeros` zeros stay zero and nonzeros stay nonzero; a row of zeros stays so.
    `stored` (bool, q's shape): the positions that take a code, the others become 0, and 0 may be one
    of the codes (block pruning: the kept blocks' taps, zeros inside them included)."""
    x = np.asarray(q, np.float64)
    rows = x.shape[0]
    live = (x != 0).any(1, keepdims=True)  # a row of zeros stays so
    if stored is not None:
        keep_zeros = False
        active = np.asarray(stored, bool) & live
    else:
        active = (x != 0 if keep_zeros else np.ones(x.shape, bool)) & live
    t = np.ones(rows)
    if not active.any():
        return np.asarray(q, np.int8).copy(), t
    zero_code = not keep_zeros and stored is None and not live.all()  # 0 is one of the codes: the zero rows' value
    free = clusters - 1 if zero_code else clusters
    distinct, counts = np.unique(x[active], return_counts=True)
    codes = distinct if len(distinct) <= free else kmeans_1d(distinct, counts, free)
    if scales_free:
        codes, t = _refine(x, active, codes, t)
    rounded = np.clip(np.rint(codes), -127, 127)
    if keep_zeros:  # a code of nonzeros never rounds to the kept zero
        rounded = np.where(rounded == 0, np.where(codes < 0, -1, 1), rounded)
    codes = np.unique(np.append(rounded, 0) if zero_code else rounded)
    for _ in range(2 if scales_free else 1):
        index = _nearest(codes, x / t[:, None])
        if scales_free:
            t = _fit_scales(x, codes[index], active, t)
    index = _nearest(codes, x / t[:, None])
    out = np.where(active, codes[index], 0).astype(np.int8)
    return np.where(live, out, 0).astype(np.int8), np.where(live[:, 0], t, 1.0)


# --- the .tflite rewrite ---------------------------------------------------------------------------

def buffer_span(model_bytes: bytes, buffer: int) -> tuple[int, int]:
    """(offset, length) of buffer `buffer`'s data inside the flatbuffer."""
    from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as schema

    from toolchain.base.errors import ModelLoadError

    b = schema.Model.GetRootAsModel(model_bytes, 0).Buffers(buffer)
    if b.DataLength():
        return b._tab.Vector(b._tab.Offset(4)), b.DataLength()
    if b.Offset() > 1:  # data stored after the flatbuffer (models over 2 GB)
        return b.Offset(), b.Size()
    raise ModelLoadError("<bytes>", f"buffer {buffer} holds no data")


def scale_span(model_bytes: bytes, tensor: int, subgraph: int = 0) -> tuple[int, int] | None:
    """(offset, count) of tensor `tensor`'s float32 quantization scales inside the flatbuffer."""
    from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as schema

    q = schema.Model.GetRootAsModel(model_bytes, 0).Subgraphs(subgraph).Tensors(tensor).Quantization()
    if q is None or not q.ScaleLength():
        return None
    return q._tab.Vector(q._tab.Offset(8)), q.ScaleLength()


def rewrite_layer(out: bytearray, model_bytes: bytes, weights, bias, axis: int, new_q: np.ndarray,
                  t: np.ndarray) -> None:
    """Write int8 weights `new_q` ([channels, K] along `axis`), the weight scales times t and the int32
    bias requantized to them (and its scales) into `out`, in place: the tensors keep their sizes."""
    moved = np.moveaxis(np.empty(weights.shape, np.int8), axis, 0).shape
    start, length = buffer_span(model_bytes, weights.buffer)
    out[start:start + length] = np.ascontiguousarray(np.moveaxis(new_q.reshape(moved), 0, axis)).tobytes()
    if np.all(t == 1.0):
        return
    at, count = scale_span(model_bytes, weights.index)
    old = np.frombuffer(model_bytes, np.float32, count, at).astype(np.float64)
    new = (old * t).astype(np.float32)
    out[at:at + 4 * count] = new.tobytes()
    if bias is None:
        return
    start, length = buffer_span(model_bytes, bias.buffer)
    b = np.frombuffer(model_bytes, np.int32, length // 4, start).astype(np.float64)
    ratio = old / new.astype(np.float64)
    out[start:start + length] = np.clip(np.rint(b * ratio), -2**31, 2**31 - 1).astype(np.int32).tobytes()
    span = scale_span(model_bytes, bias.index)
    if span is not None and span[1] == count:
        old_b = np.frombuffer(model_bytes, np.float32, count, span[0]).astype(np.float64)
        out[span[0]:span[0] + 4 * count] = (old_b / ratio).astype(np.float32).tobytes()


@dataclass(frozen=True)
class SharedTensor:
    tensor: str
    op: str
    codes: int  # distinct int8 values in the tensor after the rewrite
    before: int  # distinct int8 values in the tensor before (its channels' codebooks together)
    worst_move: float  # largest move of a weight, as a fraction of the allowed (s_c + s'_c) / 2


def _per_channel_layers(model):
    """(op, weights, bias, channel axis, [channels, K] int8) of every MAC op with per-channel int8
    weights (zero point 0) whose buffer no other op uses, and an int32 bias (or none) of its own."""
    graph = model.main
    users: dict[int, int] = {}
    for op in graph.operators:
        for i in op.inputs:
            if i >= 0:
                users[graph.tensors[i].buffer] = users.get(graph.tensors[i].buffer, 0) + 1
    for op in graph.operators:
        position = WEIGHT_OPS.get(op.op)
        if position is None or len(op.inputs) <= position or op.inputs[position] < 0:
            continue
        w = graph.tensors[op.inputs[position]]
        if w.dtype != "int8" or w.data is None or w.quant is None or not w.quant.per_channel:
            continue
        if any(w.quant.zero_points) or users.get(w.buffer, 0) != 1:
            continue
        bias = graph.tensors[op.inputs[2]] if len(op.inputs) > 2 and op.inputs[2] >= 0 else None
        if bias is not None and (bias.dtype != "int32" or bias.data is None or users.get(bias.buffer, 0) != 1):
            continue
        a = np.asarray(w.data, np.int8).reshape(w.shape)
        flat = np.moveaxis(a, w.quant.axis, 0).reshape(a.shape[w.quant.axis], -1)
        if len(w.quant.scales) != flat.shape[0]:
            continue
        yield op, w, bias, w.quant.axis, flat


def _fit_row(values: np.ndarray, codes: np.ndarray) -> tuple[float, np.ndarray]:
    """(t, matched): the scale t that puts most of a row's distinct nonzero `values` within a rounding
    ((1 + t) / 2) of t x a code of `codes` (then the least error), refined in least squares."""
    best = None
    for v in values[values != 0]:
        for r in codes[(codes != 0) & (np.sign(codes) == np.sign(v))]:
            t = v / r
            error = np.abs(t * codes[_nearest(codes, values / t)] - values)
            matched = error <= (1 + t) / 2
            key = (int(matched.sum()), -float(error[matched].sum()))
            if best is None or key > best[0]:
                best = (key, t, matched)
    if best is None:
        return 1.0, np.zeros(len(values), bool)
    _, t, matched = best
    coded = codes[_nearest(codes, values / t)]
    den = float(coded[matched] @ coded[matched])
    if den > 0:
        t = float(values[matched] @ coded[matched]) / den
    return t, np.abs(t * coded - values) <= (1 + t) / 2


def align_to_reference(flat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(int8 [channels, K], t [channels]): one set of codes for channels that hold one set of float
    centroids, each channel scaled by its own factor (per-channel quantization, a folded batch
    normalization). The channel with the most distinct values starts the set; each other channel, most
    values first, takes the scale t_c that matches most of its values to the set within a rounding,
    and adds the values it does not match; then the set is rounded to int8 (its largest at +-127) and
    every channel refitted. Weights may move farther than a rounding where the channels do not share
    their centroids: share_codebooks then leaves the tensor."""
    x = np.asarray(flat, np.float64)
    rows = x.shape[0]
    t, out = np.ones(rows), np.zeros(flat.shape, np.int8)
    live = [r for r in np.argsort([-len(np.unique(row)) for row in flat], kind="stable") if x[r].any()]
    if not live:
        return out, t
    codes = np.unique(x[live[0]])
    if len(live) < rows:
        codes = np.unique(np.append(codes, 0.0))  # the zero channels' value
    for r in live[1:]:
        values = np.unique(x[r])
        t[r], matched = _fit_row(values, codes)
        codes = np.unique(np.concatenate([codes, values[~matched] / t[r]]))
    scale = 127.0 / np.abs(codes).max()
    codes, t = codes * scale, t / scale
    # the codes from every channel's weights, not one channel's roundings (zeros stay zero)
    active = (x != 0) & (np.arange(rows) == np.array(live)[:, None]).any(0)[:, None]
    codes, t = _refine(x, active, codes, t)
    codes = np.unique(np.clip(np.rint(codes), -127, 127))
    if (x == 0).any():
        codes = np.unique(np.append(codes, 0.0))
    for r in live:
        coded = codes[_nearest(codes, x[r] / t[r])]
        t[r] = _fit_scales(x[r:r + 1], coded[None], np.ones((1, x.shape[1]), bool), t[r:r + 1])[0]
        out[r] = codes[_nearest(codes, x[r] / t[r])]
    return out, np.where([x[r].any() for r in range(rows)], t, 1.0)


def align_to_one_channel(flat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(int8 [channels, K], t [channels]): align_to_reference when one channel holds every centroid:
    each channel's values replaced by that channel's values scaled by t_c: t_c maps the channel's
    largest-magnitude value onto one reference value of its sign (the one that fits the channel best),
    then is refined in least squares. For channels that hold one set of float centroids, each scaled
    per channel (per-channel quantization, a folded batch normalization)."""
    x = np.asarray(flat, np.float64)
    reference = max((np.unique(r) for r in flat), key=len).astype(np.float64)
    out, t = np.zeros(flat.shape, np.int8), np.ones(len(flat))
    for c, row in enumerate(x):
        extreme = row[np.argmax(np.abs(row))]
        if extreme == 0:
            continue
        best = None
        for r in reference[(reference != 0) & (np.sign(reference) == np.sign(extreme))]:
            scale = extreme / r
            for _ in range(3):
                coded = reference[_nearest(reference, row / scale)]
                den = float(coded @ coded)
                scale = float(row @ coded) / den if den > 0 else scale
            coded = reference[_nearest(reference, row / scale)]
            move = float(np.max(np.abs(scale * coded - row) / ((1 + scale) / 2)))
            if best is None or move < best[0]:
                best = (move, scale, coded)
        if best is not None:
            t[c], out[c] = best[1], best[2]
    return out, t



def _within_rounding(x: np.ndarray, coded: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Each row's t moved (as little as possible) into the interval where every weight satisfies
    |t C - x| <= (1 + t) / 2, i.e. t (C - 1/2) <= x + 1/2 and t (C + 1/2) >= x - 1/2; where the
    interval is empty, t stays."""
    out = t.copy()
    for r in range(len(x)):
        c, v = coded[r].astype(np.float64), x[r].astype(np.float64)
        lo, hi = 1e-12, np.inf
        for a, b, upper in ((c - 0.5, v + 0.5, True), (c + 0.5, v - 0.5, False)):
            # a t <= b (upper) or a t >= b: a bound on t whose side depends on a's sign
            bound = b / a
            hi_side = (a > 0) == upper
            hi = min(hi, bound[hi_side].min(initial=np.inf))
            lo = max(lo, bound[~hi_side].max(initial=-np.inf))
        if lo <= hi:
            out[r] = min(max(t[r], lo), hi)
    return out


def share_codebooks(model_bytes: bytes) -> tuple[bytes, tuple[SharedTensor, ...]]:
    """The model with one codebook per clustered weight tensor where a requantization gives one.

    A tensor counts as clustered when each of its channels holds at most 16 int8 values and has more
    than 16 weights, and needs the rewrite when the channels together hold more than 16. Each weight
    w = s_c q becomes s'_c q' with |s'_c q' - s_c q| <= (s_c + s'_c) / 2 (both roundings of one float
    value), else the tensor is left as it is. Returns the model (the same bytes when nothing changed)
    and the tensors rewritten."""
    model = read_tflite(model_bytes)
    out = bytearray(model_bytes)
    done = []
    for op, w, bias, axis, flat in _per_channel_layers(model):
        if flat.shape[1] <= MAX_CODES:
            continue
        before = len(np.unique(flat))
        per_channel = max(len(np.unique(r)) for r in flat)
        if per_channel > MAX_CODES or before <= MAX_CODES:
            continue
        for new_q, t in (align_to_one_channel(flat), align_to_reference(flat)):
            scales = np.asarray(w.quant.scales, np.float64)
            t = _within_rounding(flat, new_q, t)
            t = (scales * t).astype(np.float32).astype(np.float64) / scales  # as the file will hold it
            moved = np.abs(t[:, None] * new_q - flat) / ((1 + t[:, None]) / 2)
            codes = len(np.unique(new_q))
            if codes <= MAX_CODES and moved.max() <= 1 + 1e-6:
                rewrite_layer(out, model_bytes, w, bias, axis, new_q, t)
                done.append(SharedTensor(w.name, op.op, codes, before, float(moved.max())))
                break
    return (bytes(out) if done else model_bytes), tuple(done)
