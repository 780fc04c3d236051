"""report.html: one self-contained page (inline CSS, figures as inline SVG) from a command's typed
result: a toolchain.report.BuildReport (`build`, `check`), a CompressCommandReport (`compress`) or
a toolchain.benchmark.BenchResult (`bench`), the same objects the terminal and JSON renderings take.

Every section is drawn only when its data is in the result. The figures (toolchain.report_figures)
are matplotlib SVG with text kept as text; the tables say in words what each figure counts. No
script, no remote resource.
"""
from __future__ import annotations

import html
import json

from toolchain.report_figures import (bar_items, bench_figures, compression_figure, firmware_parts_figure,
                                      layers_figure, measured_layers_figure, memory_map_figure, plotted_rows,
                                      split_items, timeline_figure)

CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2em auto;max-width:1100px;
color:#1b1f24;line-height:1.4}
h1{font-size:1.5em;margin-bottom:.2em}h2{font-size:1.15em;margin-top:2em;border-bottom:1px solid #ddd}
.verdict{display:inline-block;padding:.2em .7em;border-radius:4px;color:#fff;font-weight:600}
.fits{background:#1a7f37}.nofit{background:#cf222e}
.figures{display:flex;gap:1.5em;margin:1em 0}.figure{border:1px solid #ddd;border-radius:6px;padding:.6em 1em}
.figure b{display:block;font-size:1.3em}table{border-collapse:collapse;font-size:.9em}
td,th{border:1px solid #ddd;padding:.25em .6em;text-align:right}th{background:#f6f8fa}
td:first-child,th:first-child{text-align:left}.warn{color:#9a6700}.bad{color:#cf222e}
figure{margin:1em 0}svg{max-width:100%;height:auto}
.what td{white-space:nowrap}.what td:last-child{white-space:normal;text-align:left}
"""


def _esc(x) -> str:
    return html.escape(str(x))


def _b(n) -> str:
    return f"{int(n):,} B"


def _split(report):
    """The firmware's bytes per category from its linker map (a MemorySplit), or None."""
    return report.firmware.split if report.firmware is not None else None


def _three_figures(report) -> str:
    """The C engine's RAM is counted three ways: say what each figure counts, side by side."""
    fit, engine, timeline = report.fit, report.engine, report.timeline
    if fit.runtime == "tflm" or engine is None:
        return ""
    split = _split(report)
    sram = dict(bar_items("SRAM", fit.sram, None, split))
    rows = [["plan peak (Activation memory, below)", _b(timeline.peak_bytes),
             "the most activation bytes alive at once: the engine's arena is this big"],
            ["arena bar", _b(fit.arena.used_bytes),
             f"the contiguous RAM the engine needs: the plan's peak {_b(engine.activation_bytes)} + im2col "
             f"scratch {_b(engine.scratch_bytes)} + the input read in place {_b(engine.caller_input_bytes)}"],
            ["SRAM bar", _b(fit.sram.used_bytes),
             ("all the firmware's RAM, from the ELF: " if split_items(split, "sram") else
              "the engine's RAM and the profile's reserves: ")
             + " + ".join(f"{label} {_b(n)}" for label, n in sram.items())]]
    return ("<p>Three figures count the engine's RAM:</p><div class='what'>"
            + _table(rows, ["figure", "bytes", "what it counts"]) + "</div>")


def _percent_of(diff: int, base: int) -> str:
    return f"{diff:+,} B ({100 * diff / base:+.1f}%)" if base else f"{diff:+,} B"


def tflm_comparison(report) -> str:
    """A C engine build beside the same model run by TFLM: flash, SRAM and arena, and what each counts."""
    fit, tflm = report.fit, report.tflm_fit
    if fit.runtime == "tflm":
        return ""
    rows = [[name, _b(getattr(fit, key).used_bytes), _b(getattr(tflm, key).used_bytes),
             _percent_of(getattr(fit, key).used_bytes - getattr(tflm, key).used_bytes, getattr(tflm, key).used_bytes)]
            for key, name in (("flash", "flash used"), ("sram", "SRAM used"), ("arena", "arena (contiguous RAM)"))]

    def made_of(f, key: str) -> str:
        return " + ".join(f"{label} {_b(n)}" for label, n in getattr(f, key).items)

    if report.firmware is not None:
        ours = "<p>This build: the firmware's figures, from its ELF (by part above).</p>"
    else:
        ours = (f"<p>This build (the engine's compiled objects and the profile's reserves): flash = "
                f"{_esc(made_of(fit, 'flash'))}; SRAM = {_esc(made_of(fit, 'sram'))}.</p>")
    notes = (ours +
             f"<p>With TFLM: flash = {_esc(made_of(tflm, 'flash'))}; SRAM = {_esc(made_of(tflm, 'sram'))}. "
             "TFLM's code and data are estimates from the target profile; its arena is measured by the "
             "tflite-micro interpreter on the host, corrected to a 32-bit MCU.</p>")
    runtime = "C engine" if fit.runtime == "c" else fit.runtime
    table = _table(rows, ["", f"this build ({runtime})", "with TFLM instead",
                          "difference (this build - TFLM)"])
    return _section("With TFLM instead", "tflm-instead", table + notes)


def _pct(v) -> str:
    return "-" if v is None else f"{100 * v:.1f}%"


def bench_rows(bench) -> list[list[str]]:
    """The bench's figures (a BenchResult), one per row; accuracies and agreements in percent."""
    unit = bench.timing_unit
    per, lat = bench.per_inference, bench.latency_ms
    where = f"emulated: QEMU {bench.machine}" if bench.emulated else f"a board on {bench.machine}"
    clock = f" at {bench.clock_hz / 1e6:g} MHz" if bench.clock_hz else ""
    rows = [["model", bench.model], ["device", f"{bench.device} / {bench.firmware}"], ["run on", where]]
    if bench.samples:
        rows.append(["inputs", f"{bench.samples}; {bench.runs} runs after {bench.warmup} warm-up"])
    rows += [[f"{unit} per inference (median / min / max)",
              f"{per.median:,.0f} / {per.min:,.0f} / {per.max:,.0f}"],
             ["latency ms, median" + (f" (ESTIMATE{clock}, 1 instruction per cycle)" if bench.latency_is_estimate
                                      else clock), f"{lat.median:.3f}"]]
    est = bench.latency_estimate
    if est:
        error = f", {est['error']:+.1%} against the measured" if est.get("error") is not None else ""
        rows.append([f"ESTIMATED {est['unit']} per inference ({est['basis']}, {est['source'].split(' (')[0]}{error})",
                     f"{est['instructions']:,.0f} ({est['seconds'] * 1e3:.3f} ms)"])
    if bench.macs:
        rows.append(["MACs per inference", f"{bench.macs:,}"])
        if bench.per_mac is not None:
            rows.append([f"{unit} per MAC", f"{bench.per_mac:.3f}"])
    comp = bench.comparison
    if comp is not None:
        if comp.accuracy_device is not None:
            rows += [["accuracy on the device", _pct(comp.accuracy_device)],
                     ["accuracy on the host (tflite-micro)", _pct(comp.accuracy_host)]]
        rows += [[f"exact match with the host ({comp.basis}, {comp.compared} samples)", _pct(comp.exact_match_rate)],
                 ["top-1 agreement with the host", _pct(comp.top1_agreement)],
                 ["max |device - host|", f"{comp.max_abs_diff:g}"]]
        if comp.cosine_similarity is not None:
            rows.append(["cosine similarity", f"{comp.cosine_similarity:.6f}"])
    for used, label, memory in ((bench.flash_used_bytes, "flash used (ELF)", "flash"),
                                (bench.sram_used_bytes, "SRAM used (ELF, stack included)", "sram")):
        if used is not None:
            rows.append([label, _b(used)])
        parts = split_items(bench.split, memory)
        if parts:
            rows.append([f"{label.split(' ')[0]} by part (linker map)",
                         " + ".join(f"{name} {_b(n)}" for name, n in parts)])
    if bench.stack_used_bytes is not None:
        rows.append(["stack used (painted) / reserved", f"{_b(bench.stack_used_bytes)} / "
                     f"{_b(bench.stack_size_bytes)}"])
    if bench.arena_bytes is not None:
        rows.append(["engine arena", _b(bench.arena_bytes)])
    return rows


def bench_section(bench) -> str:
    figs = "".join(f"<figure>{svg}</figure>" for svg in bench_figures(bench))
    table = f"<div class='what'>{_table(bench_rows(bench), ['', 'value'])}</div>"
    return _section("On the device", "bench", table + figs)


def _table(rows: list[list], head: list[str]) -> str:
    th = "".join(f"<th>{_esc(h)}</th>" for h in head)
    body = "".join("<tr>" + "".join(f"<td>{_esc(c)}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table><tr>{th}</tr>{body}</table>"


def _section(title: str, ident: str, body: str) -> str:
    return f'<section id="{ident}"><h2>{_esc(title)}</h2>{body}</section>'


def weights_section(report) -> str:
    """How the weights are shipped: the engine's storage per layer, or TFLM's LUT and what it costs."""
    from toolchain.report.build_text import weights_lines

    tflm = report.fit.runtime == "tflm"
    layers = (report.engine.layers if report.engine is not None else None) if not tflm else None
    if layers is None:
        instead = report.weights.engine_instead
        layers = instead.layers if instead is not None else None
    lines = weights_lines(report)
    if not lines and not layers:
        return ""
    body = "".join(f"<p>{_esc(line.strip())}</p>" for line in lines)
    if layers:
        rows = [[la.layer, la.op, la.format, _b(la.dense_bytes), _b(la.stored_bytes),
                 la.index_bits or "-", la.clusters or "-", f"{100 * la.density:.1f}%"] for la in layers]
        rows.append(["total", "", "", _b(sum(la.dense_bytes for la in layers)),
                     _b(sum(la.stored_bytes for la in layers)), "", "", ""])
        caption = "" if not tflm else "<p>The C engine would store them so:</p>"
        body += caption + _table(rows, ["layer", "op", "storage", "weights dense", "weights as stored",
                                        "index bits", "clusters", "nonzero"])
    return _section("Weights as stored", "weights", body)


def compression_section(comp) -> str:
    """The compression table (a CompressReport): one row per technique, and accuracy against flash."""
    percent = comp.metric == "accuracy"

    def size(v):
        return "-" if v is None else _b(v)

    def metric(v):
        return "-" if v is None else f"{100 * v:.2f}%" if percent else f"{v:.4g}"

    rows = [[r.technique, f"{r.params:,}", f"{r.macs:,}", metric(r.float_metric), metric(r.int8_metric),
             "-" if r.int8_delta_points is None else f"{r.int8_delta_points:+.2f} pts",
             size(r.flash_bytes), size(r.arena_bytes), size(r.zip_bytes),
             size(r.engine_weight_bytes), size(r.engine_sram_bytes)] for r in comp.rows]
    table = _table(rows, ["technique", "params", "MACs", f"float {comp.metric}", f"int8 {comp.metric}",
                          "points vs original", "TFLM flash as deployed", "TFLM SRAM (arena)", "zip size",
                          "C engine weights as stored", "C engine SRAM"])
    notes = "".join(f"<p>{_esc(n)}</p>" for n in comp.notes)
    fig = f"<figure>{compression_figure(comp)}</figure>" if plotted_rows(comp) else ""
    return _section("Compression", "compression", table + fig + notes)


def accuracy_section(accuracy) -> str:
    """`edgec build --eval`: one row per runtime (float, int8 tflite-micro, int8 C engine)."""
    rows = [[sc.runtime, f"{sc.accuracy_percent:.2f}%" if sc.accuracy_percent is not None else "-",
             "-" if sc.rmse is None else f"{sc.rmse:.6g}", "-" if sc.max_abs_error is None else f"{sc.max_abs_error:.6g}",
             sc.against] for sc in accuracy.scores]
    head = f"<p>{accuracy.samples:,} samples of --eval, {_esc(accuracy.task)}</p>"
    return _section("Accuracy", "accuracy", head + _table(rows, ["runtime", "accuracy", "RMSE", "max |error|",
                                                                 "against"]))


def _latency_basis(latency) -> str:
    if latency.basis == "engine cost model":
        return "estimated: engine cost model of " + latency.core
    return "estimated: TFLM reference, x86 figure" if latency.runtime == "tflm" else "estimate"


def _build_parts(report) -> list[str]:
    """The sections of a build or check page."""
    fit = report.fit
    verdict = ('<span class="verdict fits">FITS</span>' if fit.fits
               else '<span class="verdict nofit">DOES NOT FIT</span>')
    figures = [("flash", _b(fit.flash.used_bytes) + f" of {_b(fit.flash.budget_bytes)}"),
               ("SRAM", _b(fit.sram.used_bytes) + f" of {_b(fit.sram.budget_bytes)}"),
               (f"latency ({_latency_basis(report.latency)})", f"{report.latency_estimate_s * 1000:.1f} ms at "
                                                              f"{report.target.clock_hz / 1e6:g} MHz")]
    boxes = "".join(f'<div class="figure">{_esc(k)}<b>{_esc(v)}</b></div>' for k, v in figures)
    problems = "".join(f'<p class="bad">{_esc(p)}</p>' for p in fit.problems())
    parts = [f"<p>{verdict} runtime: {_esc(fit.runtime)}</p><div class='figures'>{boxes}</div>{problems}"]
    engine = report.engine if fit.runtime != "tflm" else None
    parts.append(_section("Memory map", "memory-map",
                          f"<figure>{memory_map_figure(fit, report.arena, report.firmware, engine)}</figure>"
                          + _three_figures(report)))
    firmware = report.firmware
    if firmware is not None and (split_items(firmware.split, "flash") or split_items(firmware.split, "sram")):
        parts.append(_section("Firmware by part", "firmware-parts", "<figure>" + firmware_parts_figure(
            firmware.split, firmware.flash_used_bytes, firmware.sram_used_bytes) + "</figure>"))
    parts.append(tflm_comparison(report))
    parts += [f'<p class="warn">warning: {_esc(w)}</p>' for w in report.warnings]
    notes = "".join(f'<p class="warn">{_esc(c)}</p>' for c in report.timeline.caveats)
    parts.append(_section("Activation memory over time", "timeline",
                          f"<figure>{timeline_figure(report.timeline)}</figure>{notes}"))
    if report.analysis.ops:
        parts.append(_section("Per layer", "layers", f"<figure>{layers_figure(report.analysis.ops)}</figure>"))
    parts.append(weights_section(report))
    if report.accuracy is not None:
        parts.append(accuracy_section(report.accuracy))
    if report.compression:
        parts.append(compression_section(report.compression))
    return parts


def _bench_parts(bench) -> list[str]:
    parts = [bench_section(bench)]
    if bench.layers:
        parts.append(_section("Per layer", "layers", "<figure>"
                              f"{measured_layers_figure(bench.layers, bench.timing_unit)}</figure>"))
    return parts


def render_html(report) -> str:
    """The whole page for a command's typed result (build, check, compress or bench)."""
    command = report.command
    if command == "bench":
        title, parts = f"edgec bench: {report.model} on {report.target}", _bench_parts(report)
    elif command == "compress":
        title, parts = f"edgec compress: {report.model_name}", [compression_section(report.compression)]
    else:
        title = f"edgec {command}: {report.model.name} on {report.target.name}"
        parts = _build_parts(report)
    parts = [f"<h1>{_esc(title)}</h1>"] + [p for p in parts if p]
    data = html.escape(json.dumps(report.to_dict(), indent=2, default=str))
    parts.append(_section("report.json", "json", f"<details><summary>raw report</summary><pre>{data}</pre></details>"))
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{_esc(title)}</title><style>{CSS}</style></head><body>\n"
            + "\n".join(parts) + "\n</body></html>\n")


REPORT_FILES = ("report.json", "report.html")


def write_reports(stage, report) -> None:
    """report.json and report.html of a command's typed result into a staging folder (toolchain.outputs)."""
    from toolchain.report.build_json import to_json

    stage.write_text("report.html", render_html(report))
    stage.write_text("report.json", to_json(report.to_dict()))
