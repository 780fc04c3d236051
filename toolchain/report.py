"""Reports: one JSON contract (schema_version; keys are only ever added) and a terminal summary,
both rendered from the same result values."""
from __future__ import annotations

import json
import posixpath
from dataclasses import asdict

from toolchain import __version__
from toolchain.build import BuildResult
from toolchain.fit import Budget, FitResult
from toolchain.latency import build_estimates

SCHEMA_VERSION = 1


def _tensor_dicts(tflite, indices):
    out = []
    for i in indices:
        t = tflite.main.tensors[i]
        q = t.quant
        out.append({"name": t.name, "shape": list(t.shape), "dtype": t.dtype,
                    "scale": q.scales[0] if q else None, "zero_point": q.zero_points[0] if q else None})
    return out


def budget_dict(b: Budget) -> dict:
    return {"budget_bytes": b.budget_bytes, "used_bytes": b.used_bytes, "free_bytes": b.free_bytes,
            "fits": b.fits, "items": [{"label": label, "bytes": n} for label, n in b.items]}


def fit_dict(fit: FitResult) -> dict:
    return {"target": fit.target, "runtime": fit.runtime, "fits": fit.fits,
            "flash": budget_dict(fit.flash), "sram": budget_dict(fit.sram), "arena": budget_dict(fit.arena),
            "problems": fit.problems(),
            "peak_tensors": [{"name": n, "bytes": b} for n, b in fit.peak_tensors]}


def latency_label(latency: dict, macs: int, long: bool = False) -> str:
    """What a latency figure of the report is: estimated (from which data) or measured; `long`
    names TFLM's data file and says it is a host figure."""
    if not latency:
        return f"estimate from {macs:,} MACs, not measured"
    what = "measured" if latency.get("measured") else "estimated"
    data = latency["source"].split(" (")[0]
    if latency["runtime"] == "tflm":
        return (f"{what} from x86-64 instructions per MAC ({data}: a host figure, not an Arm one)" if long
                else f"{what}: TFLM reference kernels, x86-64 instr/MAC (not Arm)")
    if latency["basis"] == "engine cost model":
        return f"{what}: engine cost model, {data}"
    return f"{what}: {data}"


def storage_dicts(engine, analysis, layer_names: tuple[str, ...] = ()) -> list[dict]:
    """Per conv / depthwise / fully-connected op, how the engine stores its weights."""
    from toolchain.analysis import layer_of

    ops = {o.index: o for o in analysis.ops} if analysis is not None else {}  # None: not the same graph

    def layer(s) -> str:  # the op's Keras layer; its weights' when the output is a graph output
        op = ops.get(s.op_index)
        return op.layer if op is not None and op.layer != op.output_name else layer_of(s.tensor, layer_names)

    return [{"index": s.op_index, "op": s.op, "layer": layer(s), "tensor": s.tensor,
             "format": s.format, "dense_bytes": s.dense_bytes, "stored_bytes": s.stored_bytes,
             "index_bits": s.index_bits, "clusters": s.clusters, "density": s.density}
            for s in engine.layers]


def _engine_dict(build, analysis, mode: str, layer_names: tuple[str, ...] = ()) -> dict:
    e, size = build.engine, build.size
    layers = storage_dicts(e, analysis, layer_names)
    return {"name": e.name, "activation_bytes": e.activation_bytes, "scratch_bytes": e.scratch_bytes,
            "caller_input_bytes": e.caller_input_bytes,
            "weight_bytes": e.weight_bytes, "code_bytes": size.code_bytes, "const_bytes": size.const_bytes,
            "data_bytes": size.data_bytes, "bss_bytes": size.bss_bytes, "flash_bytes": size.flash_bytes,
            "sram_bytes": size.sram_bytes, "compiler": size.compiler,
            "commands": [{"cwd": "engine", "args": list(c)} for c in size.commands],
            "weights_mode": mode,
            "weights_dense_bytes": sum(la["dense_bytes"] for la in layers),
            "weights_stored_bytes": sum(la["stored_bytes"] for la in layers),
            "layers": layers,
            "packed_refused": ({"flash_bytes": build.packed_refused.flash_bytes, "code_bytes": build.packed_refused.code_bytes}
                               if build.packed_refused else None),
            "fit": fit_dict(build.fit)}


def engine_dict(result: BuildResult) -> dict | None:
    if result.engine is None:
        return None
    return _engine_dict(result.engine, result.analysis, result.weights.mode if result.weights else "auto",
                        result.model.layer_names)


def weights_dict(result: BuildResult) -> dict:
    """What the build found in the weights and how TFLM ships them (see toolchain.weights)."""
    w = result.weights
    if w is None:
        return {"mode": "auto", "clustered_tensors": [], "lut": None, "lut_refused": [], "engine_instead": None}
    lut = None
    if w.lut is not None:
        r = w.lut.lut
        lut = {"tensors": [{"tensor": t.tensor, "mode": t.mode, "index_bits": t.index_bits,
                            "dense_bytes": t.bytes_before} for t in r.tensors],
               "dense_model_bytes": w.lut.dense_model_bytes, "model_bytes": w.lut.model_bytes,
               "dense_arena_bytes": w.lut.dense_arena_bytes, "arena_bytes": w.lut.arena_bytes,
               "decoded_weights_bytes": w.lut.decoded_bytes,
               "identical_outputs": r.identical_outputs, "samples_checked": r.samples_checked}
    instead = None
    if w.engine is not None:
        instead = {"flash_bytes": w.engine.fit.flash.used_bytes, "sram_bytes": w.engine.fit.sram.used_bytes,
                   **{k: v for k, v in _engine_dict(w.engine, None, w.mode,
                                                    result.model.layer_names).items()
                      if k in ("weights_dense_bytes", "weights_stored_bytes", "layers")}}
    return {"mode": w.mode,
            "clustered_tensors": [{"tensor": c.name, "values": c.values, "per": c.per} for c in w.clustered],
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


def projects_dict(result: BuildResult) -> list[dict]:
    """The projects written (--project): where, what they hold, and the commands that build them."""
    return [{"kind": p.kind, "folder": p.folder, "runtime": p.runtime, "core_flags": list(p.core_flags),
             "tflm_version": p.tflm_version,
             "build_commands": list(p.commands), "how_to_use": p.usage,
             "files": [f"{p.folder}/{name}" for name in p.files]} for p in result.projects]


def split_dict(split) -> dict:
    """The firmware's flash and SRAM per category (weights, engine, harness, start-up...), from its map."""
    from firmware_export.firmware.mapfile import LABELS, SRAM_LABELS

    def items(pairs, labels):
        return [{"category": k, "label": labels[k], "bytes": n} for k, n in pairs]

    if split is None:
        return {"flash_split": None, "sram_split": None}
    return {"flash_split": items(split.flash, LABELS), "sram_split": items(split.sram, SRAM_LABELS)}


def mlperf_dict(result: BuildResult) -> dict | None:
    m = result.mlperf
    if m is None:
        return None
    ref = m.reference
    return {"benchmark": m.benchmark, "proposed": m.proposed,
            "reference_model": None if ref is None else {"file": ref.file, "task": ref.task,
                                                         "benchmark": ref.benchmark, "note": ref.note}}


def mlperf_lines(report: dict) -> list[str]:
    """The benchmark id the firmware answers, and what was recognised and proposed."""
    m = report.get("mlperf")
    if not m:
        return []
    ref = m["reference_model"]
    lines = []
    if m["benchmark"]:
        lines.append(f"MLPerf Tiny: the firmware answers m-model-[{m['benchmark']}] and decodes the official "
                     f"runner's inputs as the {m['benchmark']} reference firmware does")
    if ref is not None and ref["benchmark"] and ref["benchmark"] != m["benchmark"]:
        lines.append(f"MLPerf Tiny: this is the {ref['task']} reference model ({ref['file']}): build with "
                     f"--firmware --mlperf {ref['benchmark']} for the official runner")
    elif ref is not None and not ref["benchmark"]:
        lines.append(f"MLPerf Tiny: this is the {ref['task']} reference model ({ref['file']}); {ref['note']}")
    return lines


def timeline_dict(result: BuildResult) -> dict:
    """Per op in execution order, the live activations at their planned offsets (toolchain.timeline)."""
    from toolchain.timeline import engine_timeline, tflm_timeline

    if result.engine is not None:
        return engine_timeline(result.engine.engine.plan, result.analysis).to_dict()
    return tflm_timeline(result.tflite, result.analysis, result.arena.head_bytes).to_dict()


def build_dict(result: BuildResult, target, files: list[str], command: str = "build", firmware=None) -> dict:
    a, arena = result.analysis, result.arena
    conv = result.converted
    cal = result.calibration
    latency, tflm_latency = build_estimates(result.tflite, a.macs, result.fit.runtime, target.core, target.clock_hz,
                                            result.engine.engine if result.engine is not None else None)
    return {
        "schema_version": SCHEMA_VERSION,
        "command": command,
        "edgec_version": __version__,
        "fits": result.fit.fits,
        "model": {
            "path": str(result.model.path), "name": result.name, "format": result.model.format,
            "inputs": _tensor_dicts(result.tflite, result.tflite.main.inputs),
            "outputs": _tensor_dicts(result.tflite, result.tflite.main.outputs),
        },
        "conversion": {
            "performed": conv is not None,
            "mode": conv.options.mode if conv else None,
            "io": conv.options.io if conv else None,
            "per_channel": conv.options.per_channel if conv else None,
            "calibration": None if cal is None else {"source": cal.source, "samples": cal.count,
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
            "note": "measured with the tflite-micro interpreter on a 64-bit host; the 32-bit figure "
                    "corrects TFLM's pointer-holding structs",
        },
        "target": {"name": target.name, "core": target.core, "clock_hz": target.clock_hz,
                   "flash_bytes": target.flash_bytes, "sram_bytes": target.sram_bytes},
        "fit": fit_dict(result.fit),
        "tflm_fit": fit_dict(result.tflm_fit),
        "engine": engine_dict(result),
        "weights": weights_dict(result),
        "firmware": firmware_dict(firmware),
        "mlperf": mlperf_dict(result),
        "projects": projects_dict(result),
        "compression": result.compression.to_dict() if result.compression is not None else None,
        "timeline": timeline_dict(result),
        "latency_estimate_s": latency.seconds,
        "latency": {**latency.to_dict(), "measured": False},
        "latency_tflm": {**tflm_latency.to_dict(), "measured": False},
        "warnings": list(result.warnings),
        "files": sorted(files),
    }


def to_json(report: dict) -> str:
    return json.dumps(report, indent=2, sort_keys=False, default=lambda o: asdict(o)) + "\n"


def _status(b: dict) -> str:
    free = b["free_bytes"]
    return f"{free:,} B free" if free >= 0 else f"[red]over by {-free:,} B[/]"


def _names(layers: list[dict], most: int = 6) -> str:
    names = [la["layer"] for la in layers]
    return ", ".join(names[:most]) + (f" and {len(names) - most} more" if len(names) > most else "")


def storage_lines(engine: dict) -> list[str]:
    """The engine's weight storage: the total, then one line per format (the layers stored so)."""
    layers = engine.get("layers") or []
    if not layers:
        return []
    lines = [f"weights ({engine['weights_mode']}): {engine['weights_dense_bytes']:,} B dense -> "
             f"{engine['weights_stored_bytes']:,} B as stored in {len(layers)} conv/depthwise/FC layers"]
    if engine.get("packed_refused"):
        lines.append(f"  dense kept: with packed weights the engine took {engine['packed_refused']['flash_bytes']:,} B "
                     f"of flash (the packed kernels' code outweighs the weights saved), dense {engine['flash_bytes']:,} B")
    for fmt in ("sparse_clustered", "clustered", "sparse", "dense"):
        group = [la for la in layers if la["format"] == fmt]
        if not group:
            continue
        how = []
        if fmt != "dense":
            bits = sorted({la["index_bits"] for la in group if la["index_bits"]})
            if bits:
                how.append("/".join(map(str, bits)) + "-bit indices")
            clusters = max(la["clusters"] for la in group)
            if clusters:
                how.append(f"<= {clusters} values")
            if "sparse" in fmt:
                dense = sum(la["dense_bytes"] for la in group)
                nonzero = sum(la["density"] * la["dense_bytes"] for la in group)
                how.append(f"{100 * nonzero / dense:.0f}% nonzero" if dense else "")
        what = f" ({', '.join(h for h in how if h)})" if any(how) else ""
        dense_b, stored_b = sum(la["dense_bytes"] for la in group), sum(la["stored_bytes"] for la in group)
        sizes = f"{stored_b:,} B" if fmt == "dense" else f"{dense_b:,} -> {stored_b:,} B"
        lines.append(f"  {fmt}{what}: {len(group)} layer{'s' if len(group) > 1 else ''}, {sizes}: "
                     f"{_names(group)}")
    return lines


def weights_lines(report: dict) -> list[str]:
    """How the weights are shipped: the engine's storage per format, or TFLM's LUT and its cost."""
    weights = report.get("weights") or {}
    if report["fit"]["runtime"] != "tflm":
        return storage_lines(report.get("engine") or {})
    clustered = weights.get("clustered_tensors") or []
    lut = weights.get("lut")
    if lut is not None:
        bits = "/".join(str(b) for b in sorted({t["index_bits"] for t in lut["tensors"]}))
        lines = [f"weights: TFLM LUT compression ({bits}-bit indices) of {len(lut['tensors'])} clustered tensors: "
                 f"model {lut['dense_model_bytes']:,} -> {lut['model_bytes']:,} B; the decoded weights take "
                 f"{lut['decoded_weights_bytes']:,} B of the arena ({lut['dense_arena_bytes']:,} -> "
                 f"{lut['arena_bytes']:,} B)"]
        instead = weights.get("engine_instead")
        if instead:
            lines.append(f"with the C engine instead (--runtime c): flash {instead['flash_bytes']:,} B, "
                         f"SRAM {instead['sram_bytes']:,} B (weights {instead['weights_dense_bytes']:,} B dense "
                         f"-> {instead['weights_stored_bytes']:,} B as stored, no decoding in RAM)")
        return lines
    if not clustered:
        return []
    why = ("--weights dense" if weights.get("mode") == "dense" else
           "; ".join(f"{r['tensor']}: {r['why']}" for r in weights.get("lut_refused", [])[:3])
           or "not converted here: a .tflite is shipped as given")
    return [f"weights: {len(clustered)} tensors hold <= 16 values per channel (clustered), shipped as int8: {why}"]


def render_build(console, report: dict) -> None:
    """The one-screen summary of a build or check: the verdict, then the three figures that
    matter (flash, SRAM, estimated latency), then the details in a few lines. The command adds
    where it wrote its files and the HTML report."""
    from rich.markup import escape
    from rich.table import Table

    fit, a, arena, target = report["fit"], report["analysis"], report["arena"], report["target"]
    verdict = "[bold green]FITS[/]" if fit["fits"] else "[bold red]DOES NOT FIT[/]"
    model = report["model"]
    console.print(f"{verdict}  {escape(model['name'])} ({model['format']}) on {target['name']} "
                  f"\\[{fit['runtime']} runtime]")
    grid = Table.grid(padding=(0, 1))
    for justify in ("left", "right", "left", "right", "left"):
        grid.add_column(justify=justify)
    for key, name in (("flash", "flash"), ("sram", "SRAM")):
        b = fit[key]
        grid.add_row(f"  [bold]{name}[/]", f"[bold]{b['used_bytes']:,} B[/]", "of", f"{b['budget_bytes']:,} B",
                     _status(b))
    latency = report.get("latency") or {}
    grid.add_row("  [bold]latency[/]", f"[bold]~{report['latency_estimate_s'] * 1000:.1f} ms[/]", "at",
                 f"{target['clock_hz'] / 1e6:g} MHz", escape(latency_label(latency, a["macs"])))
    console.print(grid)
    tflm = report.get("latency_tflm")
    if tflm and latency.get("runtime") == "c":
        console.print(f"  [dim]with TFLM's reference kernels instead: ~{tflm['seconds'] * 1000:.1f} ms, "
                      f"{escape(latency_label(tflm, a['macs'], long=True))}[/]")
    firmware = report.get("firmware") or {}
    for key, name in (("flash", "flash"), ("sram", "SRAM")):
        items = " + ".join(f"{i['label']} {i['bytes']:,} B" for i in fit[key]["items"])
        console.print(f"  [dim]{name} = {escape(items)}[/]")
        split = firmware.get(f"{key}_split")
        if split:
            parts = " + ".join(f"{i['category']} {i['bytes']:,} B" for i in split)
            console.print(f"  [dim]  by part (firmware.map): {escape(parts)}[/]")
    arena_fit = fit["arena"]
    if fit["runtime"] == "tflm":
        console.print(f"  arena {arena['total_bytes']:,} B measured on this 64-bit host, {arena_fit['used_bytes']:,} B "
                      f"on a 32-bit MCU (activations {arena['head_bytes']:,} B): {_status(arena_fit)} in "
                      f"{arena_fit['budget_bytes']:,} B of contiguous RAM")
    else:
        e = report.get("engine") or {}
        parts = (f" (arena {e['activation_bytes']:,} B + im2col scratch {e['scratch_bytes']:,} B + input read in "
                 f"place {e['caller_input_bytes']:,} B)" if "activation_bytes" in e else "")
        console.print(f"  engine plan {arena_fit['used_bytes']:,} B{parts}: {_status(arena_fit)} in "
                      f"{arena_fit['budget_bytes']:,} B of contiguous RAM")
    console.print(f"  model: {a['params']:,} parameters, {len(a['layers'])} ops, {a['model_bytes']:,} B")
    if fit["runtime"] != "tflm":
        tflm = report["tflm_fit"]
        dense = "; clustered weights as int8, no LUT" if (report.get("weights") or {}).get("clustered_tensors") else ""
        console.print(f"  with TFLM instead: flash {tflm['flash']['used_bytes']:,} B, "
                      f"SRAM {tflm['sram']['used_bytes']:,} B (runtime code and data estimated{dense})")
    for line in weights_lines(report) + mlperf_lines(report):
        console.print(f"  {escape(line)}")
    if report.get("compression"):
        for row in report["compression"]["rows"]:
            acc, delta = row["int8_metric"], row.get("int8_delta_points")
            engine = row.get("engine_weight_bytes")
            console.print(f"  compression: {escape(row['technique'])}: {row['params']:,} params"
                          + (f", int8 {report['compression']['metric']} {acc:.4f}" if acc is not None else "")
                          + (f" ({delta:+.2f} pts)" if delta is not None and row["technique"] != "original" else "")
                          + (f", TFLM flash {row['flash_bytes']:,} B, arena {row['arena_bytes']:,} B"
                             if row["flash_bytes"] else "")
                          + (f", C engine weights {engine:,} B, SRAM {row['engine_sram_bytes']:,} B"
                             if engine is not None else ""))
    for problem in fit["problems"]:
        console.print(f"  [red]{escape(problem)}[/]")
    if not fit["fits"] and fit["peak_tensors"]:
        names = "; ".join(f"{t['name'].split(';')[0]} ({t['bytes']:,} B)" for t in fit["peak_tensors"])
        console.print(f"  largest tensors alive at the peak: {escape(names)}")
    for w in report["warnings"]:
        console.print(f"  [yellow]warning:[/] {escape(w)}")
