"""Reports: one JSON contract (schema_version; keys are only ever added) and a terminal summary,
both rendered from the same result values."""
from __future__ import annotations

import json
from dataclasses import asdict

from targets import cores
from toolchain import __version__
from toolchain.build import BuildResult
from toolchain.fit import Budget, FitResult

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


def estimated_latency_s(macs: int, clock_hz: int, core: str) -> float:
    """A rough latency estimate from MACs and clock: labelled an estimate wherever it is shown.

    Cycles per MAC for int8 kernels are the core's `cycles_per_mac_estimate` (targets/cores.toml):
    ~1 with SIMD (DSP/Helium cores), ~4 without.
    """
    return macs * cores()[core].cycles_per_mac_estimate / clock_hz


def engine_dict(result: BuildResult) -> dict | None:
    if result.engine is None:
        return None
    e, size = result.engine.engine, result.engine.size
    return {"name": e.name, "activation_bytes": e.activation_bytes, "scratch_bytes": e.scratch_bytes,
            "caller_input_bytes": e.caller_input_bytes,
            "weight_bytes": e.weight_bytes, "code_bytes": size.code_bytes, "const_bytes": size.const_bytes,
            "data_bytes": size.data_bytes, "bss_bytes": size.bss_bytes, "flash_bytes": size.flash_bytes,
            "sram_bytes": size.sram_bytes, "compiler": size.compiler,
            "fit": fit_dict(result.engine.fit)}


def firmware_dict(firmware) -> dict | None:
    if firmware is None:
        return None
    return {"elf": firmware.elf.name, "bin": firmware.bin.name, "hex": firmware.hex.name, "map": firmware.map.name,
            "flash_used_bytes": firmware.flash_used_bytes, "sram_used_bytes": firmware.sram_used_bytes,
            "stack_bytes": firmware.stack_bytes, "timer": firmware.timer, "timer_hz": firmware.timer_hz,
            "core_clock_hz": firmware.core_clock_hz, "uf2": firmware.uf2.name if firmware.uf2 else None,
            "regions": [{"name": r.name, "kind": r.kind, "size_bytes": r.size_bytes, "used_bytes": r.used_bytes}
                        for r in firmware.regions]}


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
        "firmware": firmware_dict(firmware),
        "compression": result.compression.to_dict() if result.compression is not None else None,
        "timeline": timeline_dict(result),
        "latency_estimate_s": estimated_latency_s(a.macs, target.clock_hz, target.core),
        "warnings": list(result.warnings),
        "files": sorted(files),
    }


def to_json(report: dict) -> str:
    return json.dumps(report, indent=2, sort_keys=False, default=lambda o: asdict(o)) + "\n"


def _status(b: dict) -> str:
    free = b["free_bytes"]
    return f"{free:,} B free" if free >= 0 else f"[red]over by {-free:,} B[/]"


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
    grid.add_row("  [bold]latency[/]", f"[bold]~{report['latency_estimate_s'] * 1000:.1f} ms[/]", "at",
                 f"{target['clock_hz'] / 1e6:g} MHz", f"estimate from {a['macs']:,} MACs, not measured")
    console.print(grid)
    for key, name in (("flash", "flash"), ("sram", "SRAM")):
        items = " + ".join(f"{i['label']} {i['bytes']:,} B" for i in fit[key]["items"])
        console.print(f"  [dim]{name} = {escape(items)}[/]")
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
        console.print(f"  with TFLM instead: flash {tflm['flash']['used_bytes']:,} B, "
                      f"SRAM {tflm['sram']['used_bytes']:,} B (runtime code and data estimated)")
    if report.get("compression"):
        for row in report["compression"]["rows"]:
            acc = row["int8_metric"]
            console.print(f"  compression: {escape(row['technique'])}: {row['params']:,} params"
                          + (f", int8 {report['compression']['metric']} {acc:.4f}" if acc is not None else "")
                          + (f", flash as deployed {row['flash_bytes']:,} B" if row["flash_bytes"] else ""))
    for problem in fit["problems"]:
        console.print(f"  [red]{escape(problem)}[/]")
    if not fit["fits"] and fit["peak_tensors"]:
        names = "; ".join(f"{t['name'].split(';')[0]} ({t['bytes']:,} B)" for t in fit["peak_tensors"])
        console.print(f"  largest tensors alive at the peak: {escape(names)}")
    for w in report["warnings"]:
        console.print(f"  [yellow]warning:[/] {escape(w)}")
