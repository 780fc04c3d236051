"""The latency model of the generated C engine per core (targets/latency/<core>.toml) and the TFLM
reference figure (targets/latency/tflm-reference.toml), read by the one TOML checker.

A core's file holds, per op kind, the instructions one call of the engine's kernel costs as a sum
of terms: a fixed cost per call plus a cost per unit of each of a few counts of the layer (MACs,
output elements, ...). `bench/latency_calibrate.py` fits them from the per-layer instruction counts
of the emulated boards (QEMU -icount) and writes these files; toolchain.latency applies them.
Every count a kind may use is a field named after its unit (`instructions_per_mac`); unknown keys
are refused.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

from toolchain.base.tomlcheck import Checker, read_toml

LATENCY_DIR = Path(__file__).resolve().parent / "latency"
TFLM_FILE = LATENCY_DIR / "tflm-reference.toml"

# The counts (units) a layer of each kind is costed by, beside its fixed cost per call.
#   mac              multiply-accumulates (toolchain.analysis counts them)
#   output_element   elements the layer writes
#   patch_element    output pixels x kernel taps x input channels per group (the im2col gather)
#   border_mac       MACs of the output pixels whose window reads padding (the bounds-checked path)
#   border_tap       kernel positions of those pixels, per output channel (border_mac / input channels:
#                    the generic path's bounds check and call per position)
#   output_pixel     output positions (height x width): a kernel's per-pixel set-up
#   tail_mac         depthwise MACs of the channels past the last whole block of 16 (the kernel's
#                    block), all of them with a depth multiplier above 1
#   decoded_weight   packed weights decoded: the layer's weights x its tiles of output pixels (a tile
#                    is up to 64 pixels, the engine's largest)
#   nonzero_mac      MACs with a nonzero weight (packed sparse weights: MACs x the weights' density)
#   nonzero_border_mac  border MACs with a nonzero weight (border_mac x density)
#   window_tap       output elements x pooling window
#   input_element    elements the layer reads (MEAN)
KINDS: dict[str, tuple[str, ...]] = {
    "conv": ("mac", "output_element", "patch_element", "border_mac", "border_tap", "output_pixel"),
    "conv_1x1": ("mac", "output_element", "patch_element", "output_pixel"),
    "conv_packed": ("mac", "output_element", "nonzero_mac", "nonzero_border_mac", "decoded_weight"),
    "depthwise": ("mac", "output_element", "border_mac", "output_pixel", "tail_mac"),
    # depthwise from the DSP layout (toolchain.latency._dw_layout; the cores without it run "depthwise")
    "depthwise_layout": ("mac", "output_element", "border_mac", "output_pixel"),
    "depthwise_packed": ("mac", "output_element", "nonzero_mac", "nonzero_border_mac", "decoded_weight"),
    "fully_connected": ("mac", "output_element"),
    "fully_connected_packed": ("mac", "output_element", "nonzero_mac"),
    "average_pool": ("window_tap", "output_element"),
    "max_pool": ("window_tap", "output_element"),
    "mean": ("input_element", "output_element"),
    "add": ("output_element",),
    "mul": ("output_element",),
    "softmax": ("output_element",),
    "lookup": ("output_element",),  # LOGISTIC, TANH, RELU, RELU6: a table per element
    "copy": ("output_element",),  # PAD, CONCATENATION, QUANTIZE, DEQUANTIZE
    "alias": (),  # RESHAPE and the like: no data moved
}


@dataclass(frozen=True)
class KindCost:
    """Instructions of one layer of a kind: per_call + sum(per_unit[u] * count of u)."""
    kind: str
    per_call: float
    per_unit: dict[str, float]
    layers_fitted: int  # calibration layers of this kind (0: copied from another kind, see `note`)
    note: str = ""


@dataclass(frozen=True)
class CoreLatency:
    """The engine's cost model on one core: measured on `machine`, per op kind."""
    core: str
    machine: str
    source: str  # how it was made (the script and what it ran)
    per_inference: float  # instructions per inference outside the layers (the call, the hooks)
    kinds: dict[str, KindCost]
    path: Path


@dataclass(frozen=True)
class TflmReference:
    """TFLM's reference kernels: x86-64 instructions per MAC of the tflite-micro host interpreter."""
    x86_instructions_per_mac: float
    source: str
    path: Path


def read_core_latency(path: Path) -> CoreLatency:
    c = Checker(path)
    t = c.table(read_toml(path, "latency model file"))
    core = t.text("core", what="a core of targets/cores.toml")
    machine = t.text("machine", what="a QEMU machine")
    source = t.text("source")
    inference = t.table("inference")
    per_inference = inference.number("instructions_per_call", lo=0)
    inference.done()
    kinds = {}
    for kind, units in KINDS.items():
        if not t.has(kind):
            continue
        k = t.table(kind)
        kinds[kind] = KindCost(kind=kind, per_call=k.number("instructions_per_call", lo=0),
                               per_unit={u: k.number(f"instructions_per_{u}", lo=0) for u in units},
                               layers_fitted=k.integer("layers_fitted", lo=0), note=k.text("note", ""))
        k.done()
    t.done()
    return CoreLatency(core=core, machine=machine, source=source, per_inference=per_inference, kinds=kinds,
                       path=path)


def read_tflm_reference(path: Path = TFLM_FILE) -> TflmReference:
    c = Checker(path)
    t = c.table(read_toml(path, "latency model file"))
    out = TflmReference(x86_instructions_per_mac=t.number("x86_instructions_per_mac", lo=0, lo_open=True),
                        source=t.text("source"), path=path)
    t.done()
    return out


@functools.lru_cache(maxsize=1)
def tflm_reference() -> TflmReference:
    """TFLM's reference figure, from targets/latency/tflm-reference.toml."""
    return read_tflm_reference(TFLM_FILE)


@functools.lru_cache(maxsize=1)
def core_latencies() -> dict[str, CoreLatency]:
    """Every core's engine cost model, by core name (the file's `core`)."""
    out = {}
    for path in sorted(LATENCY_DIR.glob("cortex-*.toml")):
        model = read_core_latency(path)
        out[model.core] = model
    return out


def latency_for_core(core: str) -> CoreLatency | None:
    """The cost model measured on `core`, else on a core that runs the same instructions (a
    Cortex-M0's for a Cortex-M0+); None when no emulated board runs code built for it."""
    from targets.hardware import cores

    models = core_latencies()
    if core in models:
        return models[core]
    known = cores()
    mine = known.get(core)
    return next((m for name, m in models.items() if mine is not None and name in known
                 and known[name].runs_code_for(mine)), None)
