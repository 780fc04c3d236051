"""Latency estimates from the .tflite alone (no TensorFlow): the C engine's per-core cost model
(targets/latency/<core>.toml, fitted by bench/latency_calibrate.py from emulated instruction counts)
applied layer by layer, and TFLM's reference-kernel figure (targets/latency/tflm-reference.toml).

An engine layer costs per_call + sum over its kind's units of (cost per unit x count), in
instructions; the inference costs the layers' sum plus the model's per-inference overhead. The
latency is that many cycles at the profile's clock (one instruction a cycle: what QEMU's -icount
measures too; a real core's cycles per instruction differ, by memory waits above all).
"""
from __future__ import annotations

from dataclasses import dataclass, replace

from targets.hardware import cores
from targets.latency import KINDS, CoreLatency, latency_for_core, tflm_reference
from toolchain.base.tflite_reader import Operator, Subgraph, TfliteModel

LOOKUP_OPS = frozenset({"LOGISTIC", "TANH", "RELU", "RELU6"})
COPY_OPS = frozenset({"PAD", "PADV2", "CONCATENATION", "QUANTIZE", "DEQUANTIZE"})
DW_BLOCK = 16  # channels per block of the engine's depthwise kernel (kernels/edgec_dwconv.c)
MAX_TILE = 64  # output pixels per decoding of packed conv weights when the engine does not say (packing.py TILES)
MAC_KINDS = {"CONV_2D": "conv", "DEPTHWISE_CONV_2D": "depthwise", "FULLY_CONNECTED": "fully_connected"}


Storage = dict[int, tuple[str, float, int]]  # op index -> (weights format, density, tile): see storage_of


def storage_of(engine) -> Storage:
    """How a generated engine (firmware_export.cengine.GeneratedEngine) stores each MAC layer's weights."""
    return {s.op_index: (s.format, s.density, s.tile) for s in engine.layers}


def patch_of(engine) -> dict[int, tuple[int, float]]:
    """A generated engine's patched stage: op index -> (patches, output elements computed patched /
    unpatched); empty without one (firmware_export/cengine/patch.py). A pointwise op run one row per
    call from its last row counts as that many patches computing its outputs once."""
    rows = dict(zip(getattr(engine, "reversed_ops", ()), getattr(engine, "reversed_rows", ())))
    calls = {i: (n, 1.0) for i, n in rows.items()}
    stage = getattr(engine, "patch", None)
    if stage is None:
        return calls
    return calls | {i: (stage.patches, scale) for i, scale in zip(stage.op_indices, stage.scales)}


@dataclass(frozen=True)
class LayerCounts:
    """One op of the model: its engine kernel kind and the counts it is costed by."""
    index: int
    op: str
    kind: str
    counts: dict[str, int]  # unit -> count (KINDS[kind] uses some of them)
    dense_kind: str = ""  # a layer with packed weights: the kind of the same layer stored dense


@dataclass(frozen=True)
class LayerEstimate:
    index: int
    op: str
    kind: str  # the kind whose costs were applied
    instructions: float


@dataclass(frozen=True)
class LatencyEstimate:
    """An estimated latency: what it is from (`basis`), per layer where the model gives it."""
    runtime: str  # "c" or "tflm"
    basis: str  # "engine cost model", "cycles per MAC", or TFLM's "TFLM reference kernels, x86-64 ..."
    source: str  # the data it came from (file and how that was made)
    core: str  # the core of the data used (may differ from the profile's: the same instructions)
    instructions: float
    clock_hz: int
    layers: tuple[LayerEstimate, ...] = ()

    @property
    def seconds(self) -> float:
        return self.instructions / self.clock_hz

    def to_dict(self) -> dict:
        return {"runtime": self.runtime, "basis": self.basis, "source": self.source, "core": self.core,
                "instructions": round(self.instructions), "clock_hz": self.clock_hz, "seconds": self.seconds,
                "layers": [{"index": la.index, "op": la.op, "kind": la.kind, "instructions": round(la.instructions)}
                           for la in self.layers]}


def _size(shape) -> int:
    n = 1
    for d in shape:
        n *= int(d)
    return n


def _inside(out_size: int, in_size: int, kernel: int, stride: int, dilation: int, padding: str) -> int:
    """Output positions along one axis whose window lies wholly inside the input (no padding read)."""
    effective = (kernel - 1) * dilation + 1
    pad = max((out_size - 1) * stride + effective - in_size, 0) // 2 if padding == "SAME" else 0
    return sum(1 for o in range(out_size) if o * stride - pad >= 0 and o * stride - pad + effective <= in_size)


def _border_pixels(op: Operator, in_shape, out_shape, kh: int, kw: int) -> int:
    """Output pixels whose window reads padding (the kernels' slower bounds-checked path)."""
    o = op.options
    oh, ow, ih, iw = out_shape[1], out_shape[2], in_shape[1], in_shape[2]
    pad = o.get("padding", "VALID")
    inside = (_inside(oh, ih, kh, o["stride_h"], o.get("dilation_h_factor", 1), pad)
              * _inside(ow, iw, kw, o["stride_w"], o.get("dilation_w_factor", 1), pad))
    return oh * ow - inside


def _dw_layout(op: Operator, sg: Subgraph) -> bool:
    """Whether a depthwise layer runs from the DSP layout (firmware_export/cengine/dwlayout.py) on a
    core with the DSP extension, as far as the .tflite tells without the bounds of the generator:
    depth multiplier 1, channels a multiple of 4 (at most 256), at most 25 taps, and a fused
    activation that clamps nothing inside int8."""
    t = sg.tensors
    w, x, y = t[op.inputs[1]].shape, t[op.inputs[0]].shape, t[op.outputs[0]]
    channels = y.shape[-1]
    if channels != x[-1] or channels % 4 or channels > 256 or w[1] * w[2] > 25:
        return False
    activation = op.options.get("fused_activation_function", "NONE")
    if activation == "NONE":
        return True
    if y.quant is None or activation not in ("RELU", "RELU6"):
        return False
    scale, zp = float(y.quant.scales[0]), int(y.quant.zero_points[0])
    return zp <= -128 and (activation == "RELU" or zp + round(6.0 / scale) >= 127)


def layer_counts(op: Operator, sg: Subgraph, storage: Storage | None = None) -> LayerCounts:
    """The kind and counts of one operator. `storage` maps op index -> (weight format, density, tile)
    as the engine stores them (`storage_of`); absent: dense."""
    t = sg.tensors
    out = t[op.outputs[0]] if op.outputs else None
    outputs = _size(out.shape) if out is not None else 0
    fmt, density, tile = (storage or {}).get(op.index, ("dense", 1.0, 0))
    if op.op in MAC_KINDS:
        w = t[op.inputs[1]].shape
        if op.op == "FULLY_CONNECTED":
            macs, kind, counts = outputs * w[-1], "fully_connected", {}
        else:
            kh, kw = w[1], w[2]
            per_pixel_taps = kh * kw * (w[3] if op.op == "CONV_2D" else 1)  # MACs per output element
            macs = outputs * per_pixel_taps
            border_outputs = _border_pixels(op, t[op.inputs[0]].shape, out.shape, kh, kw) * out.shape[-1]
            pixels = outputs // max(out.shape[-1], 1)
            counts = {"border_mac": border_outputs * per_pixel_taps, "output_pixel": pixels}
            if op.op == "CONV_2D":
                kind = "conv_1x1" if (kh, kw) == (1, 1) else "conv"
                counts["patch_element"] = pixels * per_pixel_taps
                counts["border_tap"] = border_outputs * kh * kw
            else:
                kind = "depthwise_layout" if _dw_layout(op, sg) else "depthwise"
                channels = out.shape[-1]
                whole = 0 if channels != t[op.inputs[0]].shape[-1] else channels // DW_BLOCK * DW_BLOCK
                counts["tail_mac"] = pixels * (channels - whole) * kh * kw
            tile = tile or min(MAX_TILE, -(-pixels // 4) * 4)
            counts["decoded_weight"] = _size(w) * -(-pixels // tile)
        counts.update(mac=macs, output_element=outputs)
        if fmt != "dense":
            counts["nonzero_mac"] = round(macs * density)
            counts["nonzero_border_mac"] = round(counts.get("border_mac", 0) * density)
            return LayerCounts(op.index, op.op, MAC_KINDS[op.op] + "_packed", counts, kind)
        return LayerCounts(op.index, op.op, kind, counts)
    if op.op in ("AVERAGE_POOL_2D", "MAX_POOL_2D"):
        window = op.options["filter_height"] * op.options["filter_width"]
        kind = "average_pool" if op.op == "AVERAGE_POOL_2D" else "max_pool"
        return LayerCounts(op.index, op.op, kind, {"window_tap": outputs * window, "output_element": outputs})
    if op.op == "MEAN":
        return LayerCounts(op.index, op.op, "mean", {"input_element": _size(t[op.inputs[0]].shape),
                                                     "output_element": outputs})
    kind = {"ADD": "add", "SUB": "add", "MUL": "mul", "SOFTMAX": "softmax"}.get(op.op)
    if kind is None:
        kind = "lookup" if op.op in LOOKUP_OPS else "copy" if op.op in COPY_OPS else "alias"
    return LayerCounts(op.index, op.op, kind, {"output_element": outputs} if KINDS[kind] else {})


def model_counts(model: TfliteModel, storage: Storage | None = None) -> list[LayerCounts]:
    sg = model.main
    return [layer_counts(op, sg, storage) for op in sg.operators]


def _fallbacks(layer: LayerCounts) -> list[str]:
    """The kinds whose costs apply to the layer, first choice first: a packed layer without data for
    packed weights is costed as the same layer dense; a kind without data as its nearest one."""
    order = [layer.kind] + ([layer.dense_kind] if layer.dense_kind else [])
    nearest = {"conv_1x1": "conv", "max_pool": "average_pool", "mul": "add", "lookup": "copy",
               "depthwise_layout": "depthwise"}
    return order + [nearest[k] for k in order if k in nearest]


def layer_instructions(layer: LayerCounts, data: CoreLatency) -> LayerEstimate:
    kind = next((k for k in _fallbacks(layer) if k in data.kinds), "")
    if not kind:
        return LayerEstimate(layer.index, layer.op, "", 0.0)
    cost = data.kinds[kind]
    total = cost.per_call + sum(c * layer.counts.get(u, 0) for u, c in cost.per_unit.items())
    return LayerEstimate(layer.index, layer.op, kind, total)


def estimate_engine(model: TfliteModel, core: str, clock_hz: int,
                    storage: Storage | None = None, patch: dict | None = None) -> LatencyEstimate:
    """The C engine's latency on `core` at `clock_hz`, from the core's cost model; without one (no
    emulated board runs the core's code), the core's rough cycles per MAC (targets/cores.toml)."""
    data = latency_for_core(core)
    if data is None:
        macs = sum(la.counts.get("mac", 0) for la in model_counts(model, storage))
        per_mac = cores()[core].cycles_per_mac_estimate
        return LatencyEstimate("c", "cycles per MAC", f"targets/cores.toml cycles_per_mac_estimate = {per_mac:g} "
                               f"(no latency model for {core})", core, macs * per_mac, clock_hz)
    return estimate_with(model, data, clock_hz, storage, patch)


def _patched(layer: LayerCounts, data: CoreLatency, patches: int, scale: float) -> LayerEstimate:
    """A layer of a patched stage: called once per patch, its counts scaled by the outputs it computes."""
    scaled = replace(layer, counts={u: round(c * scale) for u, c in layer.counts.items()})
    est = layer_instructions(scaled, data)
    kind = data.kinds.get(est.kind)
    extra = kind.per_call * (patches - 1) if kind is not None else 0.0
    return replace(est, instructions=est.instructions + extra)


def estimate_with(model: TfliteModel, data: CoreLatency, clock_hz: int,
                  storage: Storage | None = None, patch: dict | None = None) -> LatencyEstimate:
    """The engine's latency from the given cost model: the per-inference overhead plus every layer's
    (a patched stage's layers as patch_of says they run)."""
    patch = patch or {}
    est = tuple(_patched(la, data, *patch[la.index]) if la.index in patch else layer_instructions(la, data)
                for la in model_counts(model, storage))
    total = data.per_inference + sum(e.instructions for e in est)
    return LatencyEstimate("c", "engine cost model", f"targets/latency/{data.path.name} ({data.source})", data.core,
                           total, clock_hz, est)


def estimate_tflm(macs: int, core: str, clock_hz: int) -> LatencyEstimate:
    """TFLM's reference kernels: the host interpreter's x86-64 instructions per MAC, taken as cycles
    per MAC on the core. An order of magnitude, not an Arm figure (the file says how it was measured)."""
    ref = tflm_reference()
    return LatencyEstimate("tflm", "TFLM reference kernels, x86-64 instructions per MAC (callgrind)",
                           f"targets/latency/{ref.path.name} ({ref.source})", core,
                           macs * ref.x86_instructions_per_mac, clock_hz)


def build_estimates(tflite: TfliteModel, macs: int, runtime: str, core: str, clock_hz: int,
                    engine=None) -> tuple[LatencyEstimate, LatencyEstimate]:
    """(the estimate for the build's runtime, TFLM's reference figure). With the C runtime, the
    engine's cost model applied to the layers as the generated `engine` stores their weights."""
    tflm = estimate_tflm(macs, core, clock_hz)
    if runtime != "c":
        return tflm, tflm
    return estimate_engine(tflite, core, clock_hz, storage_of(engine) if engine is not None else None,
                           patch_of(engine) if engine is not None else None), tflm

