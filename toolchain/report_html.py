"""report.html: one self-contained page (inline CSS, figures as inline SVG) from a report dict.

Every section is drawn only when its data is in the report, so `build`, `check`, `compress` and
`bench` share one renderer. The figures (toolchain.report_figures) are matplotlib SVG with text
kept as text; the tables say in words what each figure counts. No script, no remote resource.
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


def _three_figures(report: dict) -> str:
    """The C engine's RAM is counted three ways: say what each figure counts, side by side."""
    fit, engine, timeline = report["fit"], report.get("engine") or {}, report.get("timeline") or {}
    if fit["runtime"] == "tflm" or "activation_bytes" not in engine or not timeline:
        return ""
    firmware = report.get("firmware") or {}
    sram = dict(bar_items("SRAM", fit["sram"], None, firmware))
    rows = [["plan peak (Activation memory, below)", _b(timeline["peak_bytes"]),
             "the most activation bytes alive at once: the engine's arena is this big"],
            ["arena bar", _b(fit["arena"]["used_bytes"]),
             f"the contiguous RAM the engine needs: the plan's peak {_b(engine['activation_bytes'])} + im2col "
             f"scratch {_b(engine['scratch_bytes'])} + the input read in place {_b(engine['caller_input_bytes'])}"],
            ["SRAM bar", _b(fit["sram"]["used_bytes"]),
             ("all the firmware's RAM, from the ELF: " if firmware.get("sram_split") else
              "the engine's RAM and the profile's reserves: ")
             + " + ".join(f"{label} {_b(n)}" for label, n in sram.items())]]
    return ("<p>Three figures count the engine's RAM:</p><div class='what'>"
            + _table(rows, ["figure", "bytes", "what it counts"]) + "</div>")


def _percent_of(diff: int, base: int) -> str:
    return f"{diff:+,} B ({100 * diff / base:+.1f}%)" if base else f"{diff:+,} B"


def tflm_comparison(report: dict) -> str:
    """A C engine build beside the same model run by TFLM: flash, SRAM and arena, and what each counts."""
    fit, tflm = report.get("fit"), report.get("tflm_fit")
    if not fit or not tflm or fit["runtime"] == "tflm":
        return ""
    rows = [[name, _b(fit[key]["used_bytes"]), _b(tflm[key]["used_bytes"]),
             _percent_of(fit[key]["used_bytes"] - tflm[key]["used_bytes"], tflm[key]["used_bytes"])]
            for key, name in (("flash", "flash used"), ("sram", "SRAM used"), ("arena", "arena (contiguous RAM)"))]

    def made_of(f: dict, key: str) -> str:
        return " + ".join(f"{i['label']} {_b(i['bytes'])}" for i in f[key]["items"])

    if report.get("firmware"):
        ours = "<p>This build: the firmware's figures, from its ELF (by part above).</p>"
    else:
        ours = (f"<p>This build (the engine's compiled objects and the profile's reserves): flash = "
                f"{_esc(made_of(fit, 'flash'))}; SRAM = {_esc(made_of(fit, 'sram'))}.</p>")
    notes = (ours +
             f"<p>With TFLM: flash = {_esc(made_of(tflm, 'flash'))}; SRAM = {_esc(made_of(tflm, 'sram'))}. "
             "TFLM's code and data are estimates from the target profile; its arena is measured by the "
             "tflite-micro interpreter on the host, corrected to a 32-bit MCU.</p>")
    runtime = "C engine" if fit["runtime"] == "c" else fit["runtime"]
    table = _table(rows, ["", f"this build ({runtime})", "with TFLM instead",
                          "difference (this build - TFLM)"])
    return _section("With TFLM instead", "tflm-instead", table + notes)


def _pct(v) -> str:
    return "-" if v is None else f"{100 * v:.1f}%"


def bench_rows(bench: dict) -> list[list[str]]:
    """The bench's figures, one per row; accuracies and agreements in percent."""
    unit = bench.get("timing_unit", "")
    per, lat = bench["per_inference"], bench["latency_ms"]
    where = (f"emulated: QEMU {bench.get('machine', '')}" if bench.get("emulated")
             else f"a board on {bench.get('machine', '')}")
    clock = f" at {bench['clock_hz'] / 1e6:g} MHz" if bench.get("clock_hz") else ""
    rows = [["model", bench.get("model", "")],
            ["device", f"{bench.get('device', '')} / {bench.get('firmware', '')}"], ["run on", where]]
    if bench.get("samples"):
        rows.append(["inputs", f"{bench['samples']}; {bench.get('runs', '')} runs after {bench.get('warmup', 0)} warm-up"])
    rows += [[f"{unit} per inference (median / min / max)",
              f"{per['median']:,.0f} / {per['min']:,.0f} / {per['max']:,.0f}"],
             ["latency ms, median" + (f" (ESTIMATE{clock}, 1 instruction per cycle)" if bench.get("latency_is_estimate")
                                      else clock), f"{lat['median']:.3f}"]]
    est = bench.get("latency_estimate")
    if est:
        error = f", {est['error']:+.1%} against the measured" if est.get("error") is not None else ""
        rows.append([f"ESTIMATED {est['unit']} per inference ({est['basis']}, {est['source'].split(' (')[0]}{error})",
                     f"{est['instructions']:,.0f} ({est['seconds'] * 1e3:.3f} ms)"])
    if bench.get("macs"):
        rows.append(["MACs per inference", f"{bench['macs']:,}"])
        if bench.get("per_mac") is not None:
            rows.append([f"{unit} per MAC", f"{bench['per_mac']:.3f}"])
    comp = bench.get("comparison") or {}
    if comp:
        if comp.get("accuracy_device") is not None:
            rows += [["accuracy on the device", _pct(comp["accuracy_device"])],
                     ["accuracy on the host (tflite-micro)", _pct(comp["accuracy_host"])]]
        rows += [[f"exact match with the host ({comp.get('basis', '')}, {comp.get('compared', '')} samples)",
                  _pct(comp["exact_match_rate"])],
                 ["top-1 agreement with the host", _pct(comp["top1_agreement"])],
                 ["max |device - host|", f"{comp['max_abs_diff']:g}"]]
        if comp.get("cosine_similarity") is not None:
            rows.append(["cosine similarity", f"{comp['cosine_similarity']:.6f}"])
    for key, label, split in (("flash_used_bytes", "flash used (ELF)", "flash_split"),
                              ("sram_used_bytes", "SRAM used (ELF, stack included)", "sram_split")):
        if bench.get(key) is not None:
            rows.append([label, _b(bench[key])])
        parts = split_items(bench.get(split))
        if parts:
            rows.append([f"{label.split(' ')[0]} by part (linker map)",
                         " + ".join(f"{name} {_b(n)}" for name, n in parts)])
    if bench.get("stack_used_bytes") is not None:
        rows.append(["stack used (painted) / reserved", f"{_b(bench['stack_used_bytes'])} / "
                     f"{_b(bench['stack_size_bytes'])}"])
    if bench.get("arena_bytes") is not None:
        rows.append(["engine arena", _b(bench["arena_bytes"])])
    return rows


def bench_section(bench: dict) -> str:
    figs = "".join(f"<figure>{svg}</figure>" for svg in bench_figures(bench))
    table = f"<div class='what'>{_table(bench_rows(bench), ['', 'value'])}</div>"
    return _section("On the device", "bench", table + figs)


def _table(rows: list[list], head: list[str]) -> str:
    th = "".join(f"<th>{_esc(h)}</th>" for h in head)
    body = "".join("<tr>" + "".join(f"<td>{_esc(c)}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table><tr>{th}</tr>{body}</table>"


def _section(title: str, ident: str, body: str) -> str:
    return f'<section id="{ident}"><h2>{_esc(title)}</h2>{body}</section>'


def weights_section(report: dict) -> str:
    """How the weights are shipped: the engine's storage per layer, or TFLM's LUT and what it costs."""
    from toolchain.report import weights_lines

    if not report.get("fit"):
        return ""
    engine = report.get("engine") or {}
    layers = engine.get("layers") if report["fit"]["runtime"] != "tflm" else None
    if layers is None:
        layers = ((report.get("weights") or {}).get("engine_instead") or {}).get("layers")
    lines = weights_lines(report)
    if not lines and not layers:
        return ""
    body = "".join(f"<p>{_esc(line.strip())}</p>" for line in lines)
    if layers:
        rows = [[la["layer"], la["op"], la["format"], _b(la["dense_bytes"]), _b(la["stored_bytes"]),
                 la["index_bits"] or "-", la["clusters"] or "-", f"{100 * la['density']:.1f}%"] for la in layers]
        rows.append(["total", "", "", _b(sum(la["dense_bytes"] for la in layers)),
                     _b(sum(la["stored_bytes"] for la in layers)), "", "", ""])
        caption = "" if report["fit"]["runtime"] != "tflm" else "<p>The C engine would store them so:</p>"
        body += caption + _table(rows, ["layer", "op", "storage", "weights dense", "weights as stored",
                                        "index bits", "clusters", "nonzero"])
    return _section("Weights as stored", "weights", body)


def render_html(report: dict) -> str:
    """The whole page for a build/check/compress/bench report dict."""
    parts = []
    command = report.get("command", "report")
    fit = report.get("fit")
    title = f"edgec {command}"
    if report.get("model"):
        model = report["model"]
        title += f": {model['name'] if isinstance(model, dict) else model}"
    if report.get("target"):
        target = report["target"]
        title += f" on {target['name'] if isinstance(target, dict) else target}"
    parts.append(f"<h1>{_esc(title)}</h1>")
    if fit:
        verdict = ('<span class="verdict fits">FITS</span>' if fit["fits"]
                   else '<span class="verdict nofit">DOES NOT FIT</span>')
        latency = report.get("latency_estimate_s")
        figures = [("flash", _b(fit["flash"]["used_bytes"]) + f" of {_b(fit['flash']['budget_bytes'])}"),
                   ("SRAM", _b(fit["sram"]["used_bytes"]) + f" of {_b(fit['sram']['budget_bytes'])}")]
        if latency is not None:
            basis = report.get("latency") or {}
            what = ("estimated: engine cost model of " + basis["core"] if basis.get("basis") == "engine cost model"
                    else "estimated: TFLM reference, x86 figure" if basis.get("runtime") == "tflm" else "estimate")
            figures.append((f"latency ({what})", f"{latency * 1000:.1f} ms at "
                                                  f"{report['target']['clock_hz'] / 1e6:g} MHz"))
        boxes = "".join(f'<div class="figure">{_esc(k)}<b>{_esc(v)}</b></div>' for k, v in figures)
        problems = "".join(f'<p class="bad">{_esc(p)}</p>' for p in fit.get("problems", []))
        parts.append(f"<p>{verdict} runtime: {_esc(fit['runtime'])}</p><div class='figures'>{boxes}</div>{problems}")
        engine = report.get("engine") if fit["runtime"] != "tflm" else None
        parts.append(_section("Memory map", "memory-map",
                              f"<figure>{memory_map_figure(fit, report.get('arena'), report.get('firmware'), engine)}</figure>"
                              + _three_figures(report)))
        firmware = report.get("firmware") or {}
        if firmware.get("flash_split") or firmware.get("sram_split"):
            parts.append(_section("Firmware by part", "firmware-parts",
                                  f"<figure>{firmware_parts_figure(firmware)}</figure>"))
        comparison = tflm_comparison(report)
        if comparison:
            parts.append(comparison)
    for w in report.get("warnings", []) or []:
        parts.append(f'<p class="warn">warning: {_esc(w)}</p>')
    if report.get("timeline"):
        timeline = report["timeline"]
        notes = "".join(f'<p class="warn">{_esc(c)}</p>' for c in timeline.get("caveats", []))
        parts.append(_section("Activation memory over time", "timeline",
                              f"<figure>{timeline_figure(timeline)}</figure>{notes}"))
    layers = (report.get("analysis") or {}).get("layers")
    bench = report.get("bench") or (report if command == "bench" else None)
    if bench and command == "bench":  # the bench page: its figures first
        parts.append(bench_section(bench))
    if layers:
        times = bench.get("layers") if bench else None
        unit = bench.get("timing_unit", "") if bench else ""
        parts.append(_section("Per layer", "layers", f"<figure>{layers_figure(layers, times, unit)}</figure>"))
    elif bench and bench.get("layers"):
        parts.append(_section("Per layer", "layers", "<figure>"
                              f"{measured_layers_figure(bench['layers'], bench.get('timing_unit', ''))}</figure>"))
    weights = weights_section(report)
    if weights:
        parts.append(weights)
    if report.get("compression"):
        comp = report["compression"]

        def size(v):
            return "-" if v is None else _b(v)

        percent = comp["metric"] == "accuracy"

        def metric(v):
            return "-" if v is None else f"{100 * v:.2f}%" if percent else f"{v:.4g}"

        rows = [[r["technique"], f"{r['params']:,}", f"{r['macs']:,}", metric(r["float_metric"]),
                 metric(r["int8_metric"]),
                 "-" if r.get("int8_delta_points") is None else f"{r['int8_delta_points']:+.2f} pts",
                 size(r["flash_bytes"]), size(r.get("arena_bytes")), size(r.get("zip_bytes")),
                 size(r.get("engine_weight_bytes")), size(r.get("engine_sram_bytes"))] for r in comp["rows"]]
        table = _table(rows, ["technique", "params", "MACs", f"float {comp['metric']}", f"int8 {comp['metric']}",
                              "points vs original", "TFLM flash as deployed", "TFLM SRAM (arena)", "zip size",
                              "C engine weights as stored", "C engine SRAM"])
        notes = "".join(f"<p>{_esc(n)}</p>" for n in comp.get("notes", []))
        fig = f"<figure>{compression_figure(comp)}</figure>" if plotted_rows(comp) else ""
        parts.append(_section("Compression", "compression", table + fig + notes))
    if bench and command != "bench":
        parts.append(bench_section(bench))
    data = html.escape(json.dumps(report, indent=2, default=str))
    parts.append(_section("report.json", "json", f"<details><summary>raw report</summary><pre>{data}</pre></details>"))
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{_esc(title)}</title><style>{CSS}</style></head><body>\n"
            + "\n".join(parts) + "\n</body></html>\n")


def write_reports(stage, report: dict) -> None:
    """report.json and report.html into a staging folder (toolchain.outputs)."""
    from toolchain.report import to_json

    stage.write_text("report.html", render_html(report))
    stage.write_text("report.json", to_json(report))
