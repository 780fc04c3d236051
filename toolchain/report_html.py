"""report.html: one self-contained page (inline CSS, figures as inline SVG) from a report dict.

Every section is drawn only when its data is in the report, so `build`, `check`, `compress` and
`bench` share one renderer. Figures are matplotlib SVG with text kept as text, so the numbers in
their labels can be read (and searched, and tested) in the page. No script, no remote resource.
"""
from __future__ import annotations

import html
import io
import json
import re

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
"""

FLASH_COLORS = ("#0969da", "#54aeff", "#8c959f", "#b6e3ff")
SRAM_COLORS = ("#8250df", "#c297ff", "#8c959f", "#d8b9ff", "#e6e6e6")


def _esc(x) -> str:
    return html.escape(str(x))


def _b(n) -> str:
    return f"{int(n):,} B"


def _svg(fig) -> str:
    import matplotlib.pyplot as plt

    buf = io.StringIO()
    fig.savefig(buf, format="svg")
    plt.close(fig)
    text = buf.getvalue()
    text = re.sub(r"<\?xml[^>]*\?>\s*", "", text)
    text = re.sub(r"<!DOCTYPE[^>]*>\s*", "", text)
    text = re.sub(r"<metadata>.*?</metadata>\s*", "", text, flags=re.S)  # dates, generator URLs
    # inline SVG in HTML needs no namespace declarations (the parser knows svg and xlink:href)
    return re.sub(r' xmlns(?::xlink)?="[^"]*"', "", text)


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams.update({"svg.fonttype": "none", "font.size": 9, "svg.hashsalt": "edgec",
                         "axes.spines.top": False, "axes.spines.right": False})
    return plt


def _figure_items(name: str, budget: dict, arena: dict | None) -> list[tuple[str, int]]:
    """The bar's segments: the budget's items, the TFLM arena split into activations and the rest."""
    out = []
    for item in budget["items"]:
        if name == "SRAM" and item["label"] == "tensor arena" and arena and 0 < arena["head_bytes"] <= item["bytes"]:
            out += [("arena: activations", arena["head_bytes"]),
                    ("arena: persistent data", item["bytes"] - arena["head_bytes"])]
        else:
            out.append((item["label"], item["bytes"]))
    return out


def memory_map_figure(fit: dict, arena: dict | None = None) -> str:
    """One bar per memory (flash, SRAM, arena): items stacked against the budget, red past it."""
    plt = _plt()
    budgets = [(name, fit[key]) for key, name in (("flash", "flash"), ("sram", "SRAM"), ("arena", "arena"))
               if fit.get(key)]
    fig, axes = plt.subplots(len(budgets), 1, figsize=(9, 1.6 * len(budgets)), squeeze=False)
    for ax, (name, b) in zip(axes[:, 0], budgets):
        budget, used = b["budget_bytes"], b["used_bytes"]
        colors = FLASH_COLORS if name == "flash" else SRAM_COLORS
        span = max(budget, used)
        left = 0
        for i, (label, width) in enumerate(_figure_items(name, b, arena)):
            color = colors[i % len(colors)]
            inside = max(0, min(width, budget - left))
            ax.barh(0, inside, left=left, color=color, edgecolor="white", label=f"{label}: {_b(width)}")
            if width > inside:  # the part past the budget: red, hatched in the item's colour
                ax.barh(0, width - inside, left=left + inside, color="#cf222e", edgecolor=color, hatch="///", lw=0)
            if width > 0.12 * span:
                ax.text(left + width / 2, 0, f"{label}\n{_b(width)}", ha="center", va="center", fontsize=7,
                        color="white")
            left += width
        ax.axvline(budget, color="#1b1f24", lw=1.5)
        ax.text(budget, 0.5, f"budget {_b(budget)} ", fontsize=7, va="bottom", ha="right")
        ax.set_xlim(0, span * 1.02)
        ax.set_ylim(-0.5, 0.9)
        ax.set_yticks([])
        _bytes_axis(ax, span)
        status = f"over by {_b(used - budget)}" if used > budget else f"{_b(budget - used)} free"
        ax.set_title(f"{name}: {_b(used)} of {_b(budget)} ({status})", loc="left", fontsize=9,
                     color="#cf222e" if used > budget else "#1b1f24")
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=7, frameon=False)
        ax.tick_params(axis="x", labelsize=7)
    fig.tight_layout()
    return _svg(fig)


def _bytes_axis(ax, span: int) -> None:
    """Byte ticks at round binary steps (1, 2, 4, 8... KiB), labelled in B, KiB or MiB."""
    from matplotlib.ticker import FuncFormatter, MaxNLocator, MultipleLocator

    if span < 4096:
        ax.xaxis.set_major_locator(MaxNLocator(6, integer=True))
    else:
        step = 1024
        while span / step > 8:
            step *= 2
        ax.xaxis.set_major_locator(MultipleLocator(step))

    def fmt(x, _pos):
        for unit, size in (("MiB", 1 << 20), ("KiB", 1 << 10)):
            if abs(x) >= size:
                return f"{x / size:g} {unit}"
        return f"{x:g} B"

    ax.xaxis.set_major_formatter(FuncFormatter(fmt))


def timeline_title(timeline: dict) -> str:
    """The figure's caption: the peak, where it is, and whether the plan is TFLM's measured one."""
    ops, peak, k = timeline["ops"], timeline["peak_bytes"], timeline["peak_op"]
    op = ops[k] if 0 <= k < len(ops) else {"op": "", "layer": ""}
    head = f"peak {_b(peak)} at op {k} ({op['op']} {op['layer'][:40]})"
    measured = timeline.get("measured_head_bytes")
    if measured is None:
        return f"{timeline['planner']}:\n{head}"
    if timeline.get("matches_measured"):
        return f"{timeline['planner']}, equal to the arena head TFLM measured:\n{head}"
    return (f"{timeline['planner']}, APPROXIMATE (TFLM measured {_b(measured)}; offsets may differ "
            f"from the device's):\n{head}")


def timeline_figure(timeline: dict) -> str:
    """Rows = ops in execution order; each live tensor a block at its planned offset; peak marked."""
    plt = _plt()
    ops, tensors = timeline["ops"], timeline["tensors"]
    n = len(ops)
    peak, peak_op = timeline["peak_bytes"], timeline["peak_op"]
    fig, ax = plt.subplots(figsize=(9, max(2.6, 0.27 * n + 1.2)))
    palette = ("#0969da", "#54aeff", "#218bff", "#80ccff", "#0550ae", "#b6e3ff")
    ax.axhspan(peak_op - 0.5, peak_op + 0.5, color="#ffebe9", zorder=0)
    for i, t in enumerate(tensors):
        if t["first"] < 0:
            continue
        scratch = t.get("kind") == "scratch"
        ax.add_patch(plt.Rectangle((t["offset"], t["first"] - 0.42), t["bytes"], t["last"] - t["first"] + 0.84,
                                   facecolor="#fb8f44" if scratch else palette[i % len(palette)],
                                   edgecolor="white", lw=0.6, hatch="xx" if scratch else None, zorder=2))
        if t["bytes"] > 0.14 * peak:
            ax.text(t["offset"] + t["bytes"] / 2, (t["first"] + t["last"]) / 2, _b(t["bytes"]),
                    ha="center", va="center", fontsize=6.5, color="white", zorder=3)
    ax.axvline(peak, color="#cf222e", ls="--", lw=1, zorder=3)
    ax.set_title(timeline_title(timeline), loc="left", fontsize=8.5)
    ax.set_xlim(0, max(peak, 1) * 1.04)
    ax.set_ylim(n - 0.5, -0.5)
    ax.set_yticks(range(n))
    ax.set_yticklabels([f"{o['index']} {o['op']} {o['layer'][:24]}" for o in ops], fontsize=7)
    if 0 <= peak_op < n:
        ax.get_yticklabels()[peak_op].set_color("#cf222e")
    _bytes_axis(ax, peak)
    ax.set_xlabel("arena offset")
    if any(t.get("kind") == "scratch" for t in tensors):
        from matplotlib.patches import Patch

        ax.legend(handles=[Patch(facecolor="#fb8f44", hatch="xx", label="kernel scratch buffer")],
                  loc="lower right", fontsize=7, frameon=False)
    fig.tight_layout()
    return _svg(fig)


def layers_figure(layers: list[dict], times: list[dict] | None, unit: str = "") -> str:
    """Per layer: parameters, MACs, weight bytes and, after a bench, measured time."""
    from matplotlib.ticker import EngFormatter, MaxNLocator

    plt = _plt()
    panels = [("parameters", [l["params"] for l in layers]), ("MACs", [l["macs"] for l in layers]),
              ("weight bytes", [l["weight_bytes"] for l in layers])]
    if times:
        by_index = {t["index"]: t["count"] for t in times}
        panels.append((f"measured ({unit})" if unit else "measured", [by_index.get(l["index"], 0) for l in layers]))
    n = len(layers)
    fig, axes = plt.subplots(1, len(panels), figsize=(2.3 * len(panels) + 2, max(2.5, 0.25 * n + 1)),
                             sharey=True, squeeze=False)
    labels = [f"{l['index']} {l['op']}" for l in layers]
    for ax, (title, values) in zip(axes[0], panels):
        ax.barh(range(n), values, color="#cf222e" if title.startswith("measured") else "#0969da")
        ax.set_title(f"{title}\n(total {sum(values):,})", fontsize=8)
        ax.xaxis.set_major_locator(MaxNLocator(3))
        ax.xaxis.set_major_formatter(EngFormatter(sep=""))
        ax.tick_params(axis="x", labelsize=7)
    axes[0][0].set_yticks(range(n))
    axes[0][0].set_yticklabels(labels, fontsize=7)
    axes[0][0].set_ylim(n - 0.5, -0.5)
    fig.tight_layout()
    return _svg(fig)


def _count_axis(axis) -> None:
    """Large counts as 6.51M, not with a 1e6 offset."""
    from matplotlib.ticker import EngFormatter

    axis.set_major_formatter(EngFormatter(sep=""))


def measured_layers_figure(times: list[dict], unit: str) -> str:
    plt = _plt()
    n = len(times)
    fig, ax = plt.subplots(figsize=(7, max(2.5, 0.25 * n + 1)))
    ax.barh(range(n), [t["count"] for t in times], color="#cf222e")
    ax.set_yticks(range(n))
    ax.set_yticklabels([f"{t['index']} {t['op']}" for t in times], fontsize=7)
    ax.set_ylim(n - 0.5, -0.5)
    _count_axis(ax.xaxis)
    ax.set_title(f"measured per layer ({unit}, one inference; total {sum(t['count'] for t in times):,})",
                 loc="left", fontsize=9)
    fig.tight_layout()
    return _svg(fig)


def _plotted_rows(compression: dict) -> list[dict]:
    """Techniques with a flash figure and at least one accuracy (no eval data: none)."""
    return [r for r in compression["rows"] if r.get("flash_bytes")
            and (r.get("float_metric") is not None or r.get("int8_metric") is not None)]


def compression_figure(compression: dict) -> str:
    """Accuracy against flash, per technique: float (hollow) and int8 (filled), joined."""
    plt = _plt()
    rows = _plotted_rows(compression)
    fig, ax = plt.subplots(figsize=(7, 3.6))
    for r in rows:
        x, f, q = r["flash_bytes"], r.get("float_metric"), r.get("int8_metric")
        if f is not None and q is not None:
            ax.plot([x, x], [f, q], color="#8c959f", lw=0.8, zorder=1)
        if f is not None:
            ax.scatter(x, f, marker="o", s=70, facecolors="none", edgecolors="#57606a", zorder=2)
        if q is not None:
            ax.scatter(x, q, marker="s", s=28, color="#0969da", zorder=3)
        ax.annotate(f"{r['technique']} ({_b(x)})", (x, q if q is not None else f), fontsize=7,
                    xytext=(6, -3), textcoords="offset points")
    ax.scatter([], [], marker="o", s=70, facecolors="none", edgecolors="#57606a", label="float")
    ax.scatter([], [], marker="s", s=28, color="#0969da", label="int8")
    ax.legend(fontsize=7, loc="best")
    span = max((r["flash_bytes"] for r in rows), default=1)
    ax.set_xlim(0, span * 1.35)
    _bytes_axis(ax, int(span * 1.35))
    ax.set_xlabel("flash as deployed")
    ax.set_ylabel(compression["metric"])
    ax.set_title(f"{compression['metric']} against flash, per technique", loc="left", fontsize=9)
    fig.tight_layout()
    return _svg(fig)


def bench_figures(bench: dict) -> list[str]:
    """The latency distribution, and the device's outputs against the host's (tflite-micro)."""
    plt = _plt()
    out = []
    per = bench.get("per_inference") or {}
    values = per.get("values") or []
    if values:
        fig, ax = plt.subplots(figsize=(6.5, 2.8))
        ax.hist(values, bins=min(20, max(3, len(values))), color="#0969da")
        ax.axvline(per["median"], color="#cf222e", ls="--", lw=1)
        ax.set_xlabel(f"{bench['timing_unit']} per inference")
        _count_axis(ax.xaxis)
        ax.set_ylabel("runs")
        ax.set_title(f"{len(values)} runs: median {per['median']:,.0f}, min {per['min']:,.0f}, max {per['max']:,.0f} "
                     f"{bench['timing_unit']}\nmedian latency {bench['latency_ms']['median']:.3f} ms"
                     + (" (estimate)" if bench.get("latency_is_estimate") else ""), loc="left", fontsize=8.5)
        fig.tight_layout()
        out.append(_svg(fig))
    comp = bench.get("comparison") or {}
    diffs = comp.get("per_sample_max_diff") or []
    if diffs:
        fig, axes = plt.subplots(1, 2, figsize=(9, 2.8))
        exact = max(diffs) == 0
        axes[0].bar(range(len(diffs)), diffs, color="#cf222e")
        axes[0].set_title(f"max |device - host| per sample (largest {max(diffs):g})", loc="left", fontsize=9)
        axes[0].set_xlabel("sample")
        axes[0].set_ylim(0, max(1.0, max(diffs) * 1.1))
        if exact:
            axes[0].text(0.5, 0.5, f"bit-exact on all {len(diffs)} samples", transform=axes[0].transAxes,
                         ha="center", va="center", color="#1a7f37", fontsize=10)
        cos = comp.get("per_sample_cosine") or []
        axes[1].bar(range(len(cos)), cos, color="#0969da")
        axes[1].set_ylim(min(0.9, min(cos, default=1.0)), 1.0005)
        axes[1].set_title(f"cosine similarity (exact match {100 * comp['exact_match_rate']:.1f}%)",
                          loc="left", fontsize=9)
        axes[1].set_xlabel("sample")
        fig.tight_layout()
        out.append(_svg(fig))
    return out


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
            figures.append(("latency (estimate)", f"{latency * 1000:.1f} ms at "
                                                  f"{report['target']['clock_hz'] / 1e6:g} MHz"))
        boxes = "".join(f'<div class="figure">{_esc(k)}<b>{_esc(v)}</b></div>' for k, v in figures)
        problems = "".join(f'<p class="bad">{_esc(p)}</p>' for p in fit.get("problems", []))
        parts.append(f"<p>{verdict} runtime: {_esc(fit['runtime'])}</p><div class='figures'>{boxes}</div>{problems}")
        parts.append(_section("Memory map", "memory-map",
                              f"<figure>{memory_map_figure(fit, report.get('arena'))}</figure>"))
    for w in report.get("warnings", []) or []:
        parts.append(f'<p class="warn">warning: {_esc(w)}</p>')
    if report.get("timeline"):
        timeline = report["timeline"]
        notes = "".join(f'<p class="warn">{_esc(c)}</p>' for c in timeline.get("caveats", []))
        parts.append(_section("Activation memory over time", "timeline",
                              f"<figure>{timeline_figure(timeline)}</figure>{notes}"))
    layers = (report.get("analysis") or {}).get("layers")
    bench = report.get("bench") or (report if command == "bench" else None)
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

        rows = [[r["technique"], f"{r['params']:,}", f"{r['macs']:,}",
                 "-" if r["float_metric"] is None else f"{r['float_metric']:.4f}",
                 "-" if r["int8_metric"] is None else f"{r['int8_metric']:.4f}",
                 "-" if r.get("int8_delta_points") is None else f"{r['int8_delta_points']:+.2f}",
                 size(r["flash_bytes"]), size(r.get("arena_bytes")), size(r.get("zip_bytes")),
                 size(r.get("engine_weight_bytes")), size(r.get("engine_sram_bytes"))] for r in comp["rows"]]
        table = _table(rows, ["technique", "params", "MACs", f"float {comp['metric']}", f"int8 {comp['metric']}",
                              "points vs original", "TFLM flash as deployed", "TFLM SRAM (arena)", "zip size",
                              "C engine weights as stored", "C engine SRAM"])
        notes = "".join(f"<p>{_esc(n)}</p>" for n in comp.get("notes", []))
        fig = f"<figure>{compression_figure(comp)}</figure>" if _plotted_rows(comp) else ""
        parts.append(_section("Compression", "compression", table + fig + notes))
    if bench:
        comp = bench.get("comparison") or {}
        rows = [["device", bench.get("device", "")], ["runs", bench.get("runs", "")],
                [f"{bench.get('timing_unit', '')} per inference (median)", f"{bench['per_inference']['median']:,.0f}"],
                ["latency ms (median)" + (" ESTIMATE" if bench.get("latency_is_estimate") else ""),
                 f"{bench['latency_ms']['median']:.3f}"]]
        if comp:
            rows += [["exact match", f"{100 * comp['exact_match_rate']:.1f}%"],
                     ["max |device - host|", f"{comp['max_abs_diff']:g}"],
                     ["top-1 agreement", f"{100 * comp['top1_agreement']:.1f}%"]]
        figs = "".join(f"<figure>{svg}</figure>" for svg in bench_figures(bench))
        parts.append(_section("On the device", "bench", _table(rows, ["", "value"]) + figs))
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
