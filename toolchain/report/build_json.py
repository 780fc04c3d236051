"""report.json of `edgec build` / `edgec check`: the JSON rendering of a BuildReport.

The contract (docs/report-json.md, tests/toolchain/report_schema_v1.json): schema_version 1; keys
are only ever added, never removed or retyped.
"""
from __future__ import annotations

import json
import posixpath
from dataclasses import asdict

from toolchain.fit import Budget, FitResult

SCHEMA_VERSION = 1
ARENA_NOTE = ("measured with the tflite-micro interpreter on a 64-bit host; the 32-bit figure "
              "corrects TFLM's pointer-holding structs")


def to_json(document: dict) -> str:
    return json.dumps(document, indent=2, sort_keys=False, default=lambda o: asdict(o)) + "\n"


def budget_dict(b: Budget) -> dict:
    return {"budget_bytes": b.budget_bytes, "used_bytes": b.used_bytes, "free_bytes": b.free_bytes,
            "fits": b.fits, "items": [{"label": label, "bytes": n} for label, n in b.items]}


def fit_dict(fit: FitResult) -> dict:
    return {"target": fit.target, "runtime": fit.runtime, "fits": fit.fits,
            "flash": budget_dict(fit.flash), "sram": budget_dict(fit.sram), "arena": budget_dict(fit.arena),
            "problems": fit.problems(),
            "peak_tensors": [{"name": n, "bytes": b} for n, b in fit.peak_tensors]}


def split_parts(split, memory: str) -> tuple[tuple[str, str, int], ...]:
    """(category, label, bytes) of a firmware's flash or SRAM (`memory`), from its linker map."""
    from firmware_export.firmware.mapfile import LABELS, SRAM_LABELS

    if split is None:
        return ()
    pairs, labels = (split.flash, LABELS) if memory == "flash" else (split.sram, SRAM_LABELS)
    return tuple((k, labels[k], n) for k, n in pairs)


def split_dict(split) -> dict:
    """The firmware's flash and SRAM per category (weights, engine, harness, start-up...), from its map."""
    if split is None:
        return {"flash_split": None, "sram_split": None}
    return {f"{memory}_split": [{"category": k, "label": label, "bytes": n}
                                for k, label, n in split_parts(split, memory)] for memory in ("flash", "sram")}


def _layers_dict(engine) -> list[dict]:
    return [{"index": s.index, "op": s.op, "layer": s.layer, "tensor": s.tensor, "format": s.format,
             "dense_bytes": s.dense_bytes, "stored_bytes": s.stored_bytes, "index_bits": s.index_bits,
             "clusters": s.clusters, "density": s.density} for s in engine.layers]


def _patch_dict(p) -> dict | None:
    if p is None:
        return None
    return {"first_op": p.first_op, "last_op": p.last_op, "ops": list(p.ops), "patches": p.patches,
            "bands": p.bands, "arena_bytes": p.arena_bytes, "unpatched_arena_bytes": p.unpatched_arena_bytes,
            "stage_peak_bytes": p.stage_peak_bytes, "stage_macs": p.stage_macs, "added_macs": p.added_macs,
            "model_macs": p.model_macs, "mac_overhead": round(p.overhead, 4)}


def engine_dict(e) -> dict | None:
    if e is None:
        return None
    size, refused = e.size, e.packed_refused
    return {"name": e.name, "activation_bytes": e.activation_bytes, "scratch_bytes": e.scratch_bytes,
            "caller_input_bytes": e.caller_input_bytes,
            "weight_bytes": e.weight_bytes, "code_bytes": size.code_bytes, "const_bytes": size.const_bytes,
            "data_bytes": size.data_bytes, "bss_bytes": size.bss_bytes, "flash_bytes": size.flash_bytes,
            "sram_bytes": size.sram_bytes, "compiler": size.compiler,
            "commands": [{"cwd": "engine", "args": list(c)} for c in size.commands],
            "weights_mode": e.weights_mode,
            "weights_dense_bytes": e.weights_dense_bytes,
            "weights_stored_bytes": e.weights_stored_bytes,
            "layers": _layers_dict(e),
            "patch": _patch_dict(e.patch),
            "reversed_ops": list(e.reversed_ops),
            "scratch_in_arena_ops": e.scratch_in_arena_ops,
            "input_is_largest": e.input_is_largest,
            "packed_refused": ({"flash_bytes": refused.flash_bytes, "code_bytes": refused.code_bytes}
                               if refused else None),
            "fit": fit_dict(e.fit)}


def weights_dict(w) -> dict:
    lut = None
    if w.lut is not None:
        r = w.lut.lut
        lut = {"tensors": [{"tensor": t.tensor, "mode": t.mode, "index_bits": t.index_bits,
                            "dense_bytes": t.bytes_before} for t in r.tensors],
               "dense_model_bytes": w.lut.dense_model_bytes, "model_bytes": w.lut.model_bytes,
               "dense_arena_bytes": w.lut.dense_arena_bytes, "arena_bytes": w.lut.arena_bytes,
               "decoded_weights_bytes": w.lut.decoded_bytes,
               "identical_outputs": r.identical_outputs, "samples_checked": r.samples_checked}
    e = w.engine_instead
    instead = None if e is None else {
        "flash_bytes": e.fit.flash.used_bytes, "sram_bytes": e.fit.sram.used_bytes,
        "weights_dense_bytes": e.weights_dense_bytes, "weights_stored_bytes": e.weights_stored_bytes,
        "layers": _layers_dict(e)}
    return {"mode": w.mode,
            "clustered_tensors": [{"tensor": c.name, "values": c.values, "per": c.per} for c in w.clustered_tensors],
            "lut": lut, "lut_refused": [{"tensor": t, "why": why} for t, why in w.lut_refused],
            "engine_instead": instead}


def firmware_dict(firmware) -> dict | None:
    if firmware is None:
        return None
    return {"elf": firmware.elf.name, "bin": firmware.bin.name, "hex": firmware.hex.name, "map": firmware.map.name,
            "flash_used_bytes": firmware.flash_used_bytes, "sram_used_bytes": firmware.sram_used_bytes,
            "stack_bytes": firmware.stack_bytes, "timer": firmware.timer, "timer_hz": firmware.timer_hz,
            "core_clock_hz": firmware.core_clock_hz, "uf2": firmware.uf2.name if firmware.uf2 else None,
            "regions": [{"name": r.name, "kind": r.kind, "size_bytes": r.size_bytes, "used_bytes": r.used_bytes}
                        for r in firmware.regions],
            **split_dict(firmware.split),
            "commands": [{"cwd": posixpath.normpath(posixpath.join(firmware.elf.parent.name, c.cwd)),
                          "args": list(c.args)} for c in firmware.commands]}


def projects_dict(projects) -> list[dict]:
    """The projects written (--project): where, what they hold, and the commands that build them."""
    return [{"kind": p.kind, "folder": p.folder, "runtime": p.runtime, "core_flags": list(p.core_flags),
             "tflm_version": p.tflm_version,
             "build_commands": list(p.commands), "how_to_use": p.usage,
             "files": [f"{p.folder}/{name}" for name in p.files]} for p in projects]


def mlperf_dict(m) -> dict | None:
    if m is None:
        return None
    ref = m.reference
    return {"benchmark": m.benchmark, "proposed": m.proposed,
            "reference_model": None if ref is None else {"file": ref.file, "task": ref.task,
                                                         "benchmark": ref.benchmark, "note": ref.note}}


def _tensor_dicts(tensors) -> list[dict]:
    return [{"name": t.name, "shape": list(t.shape), "dtype": t.dtype, "scale": t.scale,
             "zero_point": t.zero_point} for t in tensors]


def accuracy_dict(a) -> dict | None:
    """--eval without compression: the task, the samples, one score per runtime."""
    if a is None:
        return None
    return {"task": a.task, "samples": a.samples,
            "scores": [{"runtime": s.runtime, "count": s.count, "accuracy_percent": s.accuracy_percent,
                        "rmse": s.rmse, "max_abs_error": s.max_abs_error, "against": s.against}
                       for s in a.scores]}


def build_dict(r) -> dict:
    """The whole report.json of a BuildReport."""
    a, arena, conv = r.analysis, r.arena, r.conversion
    cal = conv.calibration
    return {
        "schema_version": SCHEMA_VERSION,
        "command": r.command,
        "edgec_version": r.edgec_version,
        "fits": r.fits,
        "model": {"path": r.model.path, "name": r.model.name, "format": r.model.format,
                  "inputs": _tensor_dicts(r.model.inputs), "outputs": _tensor_dicts(r.model.outputs)},
        "conversion": {
            "performed": conv.performed, "mode": conv.mode, "io": conv.io, "per_channel": conv.per_channel,
            "calibration": None if cal is None else {"source": cal.source, "samples": cal.samples,
                                                      "random": cal.random},
        },
        "analysis": {
            "model_bytes": a.model_bytes, "params": a.params, "macs": a.macs, "weight_bytes": a.weight_bytes,
            "op_counts": a.op_counts,
            "peak_activation_bytes": a.peak.bytes, "peak_op_index": a.peak.op_index,
            "layers": [{"index": o.index, "op": o.op, "layer": o.layer, "output_shape": list(o.output_shape),
                        "output_dtype": o.output_dtype, "params": o.params, "macs": o.macs,
                        "weight_bytes": o.weight_bytes} for o in a.ops],
        },
        "arena": {
            "total_bytes": arena.total_bytes, "head_bytes": arena.head_bytes, "tail_bytes": arena.tail_bytes,
            "tail_32bit_bytes": arena.tail_32bit_bytes, "total_32bit_bytes": arena.total_32bit_bytes,
            "init_overhead_bytes": arena.init_overhead_bytes, "recommended_bytes": arena.recommended_bytes,
            "note": ARENA_NOTE,
        },
        "target": {"name": r.target.name, "core": r.target.core, "clock_hz": r.target.clock_hz,
                   "flash_bytes": r.target.flash_bytes, "sram_bytes": r.target.sram_bytes},
        "fit": fit_dict(r.fit),
        "tflm_fit": fit_dict(r.tflm_fit),
        "engine": engine_dict(r.engine),
        "weights": weights_dict(r.weights),
        "firmware": firmware_dict(r.firmware),
        "mlperf": mlperf_dict(r.mlperf),
        "projects": projects_dict(r.projects),
        "compression": r.compression.to_dict() if r.compression is not None else None,
        "accuracy": accuracy_dict(r.accuracy),
        "timeline": r.timeline.to_dict(),
        "latency_estimate_s": r.latency_estimate_s,
        "latency": {**r.latency.to_dict(), "measured": False},
        "latency_tflm": {**r.latency_tflm.to_dict(), "measured": False},
        "warnings": list(r.warnings),
        "files": list(r.files),
    }
