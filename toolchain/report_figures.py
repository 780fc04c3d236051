"""The figures of report.html: matplotlib drawings returned as inline SVG, text kept as text (so the
numbers in their labels can be read, searched and tested in the page). Each takes parts of a
typed result (toolchain.report) and returns one <svg> string; toolchain.report_html places them in the page.
"""
from __future__ import annotations

import io
import re

FLASH_COLORS = ("#0969da", "#54aeff", "#8c959f", "#b6e3ff", "#1a7f37", "#bf8700", "#d0d7de")
SRAM_COLORS = ("#8250df", "#c297ff", "#8c959f", "#d8b9ff", "#1a7f37", "#bf8700", "#e6e6e6")


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

    plt.rcParams.update({"svg.fonttype": "none", "font.size": 10, "svg.hashsalt": "edgec",
                         "axes.spines.top": False, "axes.spines.right": False})
    return plt


def split_items(split, memory: str) -> list[tuple[str, int]] | None:
    """The firmware's bytes per part (a firmware_export MemorySplit; memory "flash" or "sram"), as
    bar segments."""
    from toolchain.report.build_json import split_parts

    return [(label, n) for _, label, n in split_parts(split, memory)] or None


def bar_items(name: str, budget, arena=None, split=None, engine=None) -> list[tuple[str, int]]:
    """The bar's segments: the firmware's bytes per category (from its linker map, `split`) where the
    budget is the ELF's figure; the arena split into what it counts; else the budget's items."""
    items = list(budget.items)
    parts = split_items(split, {"flash": "flash", "SRAM": "sram"}.get(name, "")) if name != "arena" else None
    if parts and len(items) == 1 and sum(n for _, n in parts) == budget.used_bytes:  # the ELF's one figure
        return parts
    if name == "arena" and engine is not None:
        parts = [("activations: the plan's peak (the engine's arena)", engine.activation_bytes),
                 ("im2col scratch", engine.scratch_bytes),
                 ("input, read in place from the caller's buffer", engine.caller_input_bytes)]
        if sum(n for _, n in parts) == budget.used_bytes:
            return [(label, n) for label, n in parts if n]
    head = arena.head_bytes if arena is not None else 0
    if name == "arena" and arena is not None and len(items) == 1 and 0 < head <= budget.used_bytes:
        return [("arena: activations", head), ("arena: persistent data", budget.used_bytes - head)]
    out = []
    for label, n in items:
        if name == "SRAM" and label == "tensor arena" and arena is not None and 0 < head <= n:
            out += [("arena: activations", head), ("arena: persistent data", n - head)]
        else:
            out.append((label, n))
    return out


def _what_it_counts(name: str, runtime: str, firmware: bool) -> str:
    """The line under each bar's title: what its bytes are."""
    if name == "flash":
        return ("the firmware image, from the ELF; split by the linker map" if firmware else
                "the model and the runtime (TFLM code estimated) and the profile's reserve" if runtime == "tflm"
                else "the engine's weights and code, compiled for the target, and the profile's reserve")
    if name == "SRAM":
        return ("all the firmware's RAM, from the ELF (.data, .bss, stack); split by the linker map" if firmware
                else "the arena, the runtime (estimated), the stack and the profile's reserve" if runtime == "tflm"
                else "the engine's buffers, the caller's input buffer, the stack and the profile's reserve")
    return ("the contiguous RAM the engine needs: the plan's peak, the im2col scratch, the input read in place"
            if runtime != "tflm" else "the tensor arena TFLM needs on a 32-bit MCU (measured on the host): "
            "activations (planned, the head) and persistent data (the tail)")


def memory_map_figure(fit, arena=None, firmware=None, engine=None) -> str:
    """One bar per memory (flash, SRAM, arena) of a FitResult: items stacked against the budget, red
    past it. `arena` the TFLM ArenaMeasurement, `firmware` the FirmwareResult, `engine` the EngineReport."""
    plt = _plt()
    budgets = [("flash", fit.flash), ("SRAM", fit.sram), ("arena", fit.arena)]
    split = firmware.split if firmware is not None else None
    fig, axes = plt.subplots(len(budgets), 1, figsize=(11, 2.0 * len(budgets)), squeeze=False)
    for ax, (name, b) in zip(axes[:, 0], budgets):
        budget, used = b.budget_bytes, b.used_bytes
        colors = FLASH_COLORS if name == "flash" else SRAM_COLORS
        span = max(budget, used)
        left = 0
        for i, (label, width) in enumerate(bar_items(name, b, arena, split, engine)):
            color = colors[i % len(colors)]
            inside = max(0, min(width, budget - left))
            ax.barh(0, inside, left=left, color=color, edgecolor="white", label=f"{label}: {_b(width)}")
            if width > inside:  # the part past the budget: red, hatched in the item's colour
                ax.barh(0, width - inside, left=left + inside, color="#cf222e", edgecolor=color, hatch="///", lw=0)
            if width > 0.2 * span:
                ax.text(left + width / 2, 0, f"{label}\n{_b(width)}", ha="center", va="center", fontsize=8.5,
                        color="white")
            left += width
        ax.axvline(budget, color="#1b1f24", lw=1.5)
        ax.text(budget, 0.5, f"budget {_b(budget)} ", fontsize=8.5, va="bottom", ha="right")
        ax.set_xlim(0, span * 1.02)
        ax.set_ylim(-0.5, 0.9)
        ax.set_yticks([])
        _bytes_axis(ax, span)
        status = f"over by {_b(used - budget)}" if used > budget else f"{_b(budget - used)} free"
        ax.set_title(f"{name}: {_b(used)} of {_b(budget)} ({status})\n"
                     f"{_what_it_counts(name, fit.runtime, firmware is not None)}", loc="left", fontsize=10,
                     color="#cf222e" if used > budget else "#1b1f24")
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=9, frameon=False)
        ax.tick_params(axis="x", labelsize=8.5)
    fig.tight_layout()
    return _svg(fig)


def firmware_parts_figure(split, flash_used_bytes: int, sram_used_bytes: int) -> str:
    """The firmware's flash and SRAM, each as 100 % of what it uses, split by part (from the linker map):
    the memory map's bars are drawn against the budget, where small parts do not show."""
    plt = _plt()
    rows = [(name, split_items(split, key), used)
            for name, key, used in (("flash", "flash", flash_used_bytes), ("SRAM", "sram", sram_used_bytes))
            if split_items(split, key)]
    fig, axes = plt.subplots(len(rows), 1, figsize=(11, 1.9 * len(rows)), squeeze=False)
    for ax, (name, items, used) in zip(axes[:, 0], rows):
        colors = FLASH_COLORS if name == "flash" else SRAM_COLORS
        left = 0
        for i, (label, n) in enumerate(items):
            share = 100 * n / used
            ax.barh(0, share, left=left, color=colors[i % len(colors)], edgecolor="white",
                    label=f"{label}: {_b(n)} ({share:.1f}%)")
            if share > 12:
                ax.text(left + share / 2, 0, f"{label.split(' (')[0]}\n{_b(n)}", ha="center", va="center",
                        fontsize=8.5, color="white")
            left += share
        ax.set_xlim(0, 100)
        ax.set_ylim(-0.5, 0.5)
        ax.set_yticks([])
        ax.xaxis.set_major_formatter(lambda x, _pos: f"{x:g}%")
        ax.tick_params(axis="x", labelsize=8.5)
        ax.set_title(f"{name}: {_b(used)} used by the firmware (from the ELF), by part (from the linker map)",
                     loc="left", fontsize=10)
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=9, frameon=False)
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


def timeline_title(timeline) -> str:
    """The figure's caption: the peak, where it is, and whether the plan is TFLM's measured one."""
    ops, peak, k = timeline.ops, timeline.peak_bytes, timeline.peak_op
    _, op, layer = ops[k] if 0 <= k < len(ops) else (0, "", "")
    head = f"peak {_b(peak)} at op {k} ({op} {layer[:40]})"
    measured = timeline.measured_head_bytes
    if measured is None:
        return f"{timeline.planner}: the activations alive at each op, at their arena offsets:\n{head}"
    if timeline.matches_measured:
        return f"{timeline.planner}, equal to the arena head TFLM measured:\n{head}"
    return (f"{timeline.planner}, APPROXIMATE (TFLM measured {_b(measured)}; offsets may differ "
            f"from the device's):\n{head}")


def timeline_figure(timeline) -> str:
    """Rows = ops in execution order; each live tensor a block at its planned offset; peak marked."""
    plt = _plt()
    ops, tensors = timeline.ops, timeline.blocks
    n = len(ops)
    peak, peak_op = timeline.peak_bytes, timeline.peak_op
    fig, ax = plt.subplots(figsize=(10.5, max(2.6, 0.27 * n + 1.2)))
    palette = ("#0969da", "#54aeff", "#218bff", "#80ccff", "#0550ae", "#b6e3ff")
    ax.axhspan(peak_op - 0.5, peak_op + 0.5, color="#ffebe9", zorder=0)
    for i, t in enumerate(tensors):
        if t.first < 0:
            continue
        scratch = t.kind == "scratch"
        ax.add_patch(plt.Rectangle((t.offset, t.first - 0.42), t.bytes, t.last - t.first + 0.84,
                                   facecolor="#fb8f44" if scratch else palette[i % len(palette)],
                                   edgecolor="white", lw=0.6, hatch="xx" if scratch else None, zorder=2))
        if t.bytes > 0.14 * peak:
            ax.text(t.offset + t.bytes / 2, (t.first + t.last) / 2, _b(t.bytes),
                    ha="center", va="center", fontsize=8, color="white", zorder=3)
    ax.axvline(peak, color="#cf222e", ls="--", lw=1, zorder=3)
    ax.set_title(timeline_title(timeline), loc="left", fontsize=10)
    ax.set_xlim(0, max(peak, 1) * 1.04)
    ax.set_ylim(n - 0.5, -0.5)
    ax.set_yticks(range(n))
    ax.set_yticklabels([f"{index} {op} {layer[:24]}" for index, op, layer in ops], fontsize=8.5)
    if 0 <= peak_op < n:
        ax.get_yticklabels()[peak_op].set_color("#cf222e")
    _bytes_axis(ax, peak)
    ax.set_xlabel("arena offset")
    if any(t.kind == "scratch" for t in tensors):
        from matplotlib.patches import Patch

        ax.legend(handles=[Patch(facecolor="#fb8f44", hatch="xx", label="kernel scratch buffer")],
                  loc="lower right", fontsize=9, frameon=False)
    fig.tight_layout()
    return _svg(fig)


def _layer_label(index: int, op: str, layer: str = "") -> str:
    """`3 CONV_2D conv2`: the op's index and type, and the model's layer name where there is one."""
    name = layer.split(";")[0]
    name = name if len(name) <= 26 else name[:25] + "\u2026"
    return f"{index} {op} {name}".rstrip()


def _bar_values(ax, values: list[int], texts: list[str] | None = None) -> None:
    """Each bar's value (or `texts`) at its end; room made for the text."""
    top = max(values, default=0) or 1
    for y, (v, text) in enumerate(zip(values, texts or [f"{v:,}" for v in values])):
        ax.text(v + 0.02 * top, y, text, va="center", ha="left", fontsize=8)
    ax.set_xlim(0, top * 1.6)


def layers_figure(layers, times=None, unit: str = "") -> str:
    """Per layer (analysis OpInfo): parameters, MACs, weight bytes and, after a bench, measured time
    (bench LayerRow); values on the bars."""
    from matplotlib.ticker import EngFormatter, MaxNLocator

    plt = _plt()
    panels = [("parameters", [o.params for o in layers]), ("MACs", [o.macs for o in layers]),
              ("weight bytes", [o.weight_bytes for o in layers])]
    if times:
        by_index = {t.index: t.count for t in times}
        panels.append((f"measured ({unit})" if unit else "measured", [by_index.get(o.index, 0) for o in layers]))
    n = len(layers)
    fig, axes = plt.subplots(1, len(panels), figsize=(min(11.5, 3.2 + 2.7 * len(panels)), max(2.8, 0.3 * n + 1.2)),
                             sharey=True, squeeze=False)
    labels = [_layer_label(o.index, o.op, o.layer) for o in layers]
    for ax, (title, values) in zip(axes[0], panels):
        ax.barh(range(n), values, color="#cf222e" if title.startswith("measured") else "#0969da")
        _bar_values(ax, values)
        ax.set_title(f"{title}\n(total {sum(values):,})", fontsize=9.5)
        ax.xaxis.set_major_locator(MaxNLocator(3))
        ax.xaxis.set_major_formatter(EngFormatter(sep=""))
        ax.tick_params(axis="x", labelsize=8)
    axes[0][0].set_yticks(range(n))
    axes[0][0].set_yticklabels(labels, fontsize=8.5)
    axes[0][0].set_ylim(n - 0.5, -0.5)
    fig.tight_layout()
    return _svg(fig)


def _count_axis(axis) -> None:
    """Large counts as 6.51M, not with a 1e6 offset."""
    from matplotlib.ticker import EngFormatter

    axis.set_major_formatter(EngFormatter(sep=""))


def measured_layers_figure(times, unit: str) -> str:
    plt = _plt()
    n = len(times)
    counts = [t.count for t in times]
    fig, ax = plt.subplots(figsize=(10, max(2.8, 0.3 * n + 1.2)))
    ax.barh(range(n), counts, color="#cf222e")
    _bar_values(ax, counts, [f"{t.count:,} ({100 * t.share:.1f}%)" for t in times])
    ax.set_yticks(range(n))
    ax.set_yticklabels([_layer_label(t.index, t.op, t.layer) for t in times], fontsize=8.5)
    ax.set_ylim(n - 0.5, -0.5)
    _count_axis(ax.xaxis)
    ax.tick_params(axis="x", labelsize=8)
    ax.set_title(f"measured per layer ({unit}, one inference; total {sum(counts):,})", loc="left", fontsize=10)
    fig.tight_layout()
    return _svg(fig)


def plotted_rows(compression) -> list:
    """Techniques with a flash figure and at least one accuracy (no eval data: none)."""
    return [r for r in compression.rows if r.flash_bytes
            and (r.float_metric is not None or r.int8_metric is not None)]


def compression_figure(compression) -> str:
    """Accuracy against flash, per technique: float (hollow) and int8 (filled), joined."""
    plt = _plt()
    rows = plotted_rows(compression)
    fig, ax = plt.subplots(figsize=(7, 3.6))
    scale = 100 if compression.metric == "accuracy" else 1  # accuracy in percent, as in the tables
    for r in rows:
        x, f, q = r.flash_bytes, r.float_metric, r.int8_metric
        f, q = (None if f is None else scale * f), (None if q is None else scale * q)
        if f is not None and q is not None:
            ax.plot([x, x], [f, q], color="#8c959f", lw=0.8, zorder=1)
        if f is not None:
            ax.scatter(x, f, marker="o", s=70, facecolors="none", edgecolors="#57606a", zorder=2)
        if q is not None:
            ax.scatter(x, q, marker="s", s=28, color="#0969da", zorder=3)
        ax.annotate(f"{r.technique} ({_b(x)})", (x, q if q is not None else f), fontsize=8.5,
                    xytext=(6, -3), textcoords="offset points")
    ax.scatter([], [], marker="o", s=70, facecolors="none", edgecolors="#57606a", label="float")
    ax.scatter([], [], marker="s", s=28, color="#0969da", label="int8")
    ax.legend(fontsize=9, loc="best")
    span = max((r.flash_bytes for r in rows), default=1)
    ax.set_xlim(0, span * 1.35)
    _bytes_axis(ax, int(span * 1.35))
    ax.set_xlabel("flash as deployed")
    ax.set_ylabel(compression.metric + (" (%)" if scale == 100 else ""))
    ax.set_title(f"{compression.metric} against flash, per technique", loc="left", fontsize=9)
    fig.tight_layout()
    return _svg(fig)


def bench_figures(bench) -> list[str]:
    """The latency distribution, and the device's outputs against the host's (tflite-micro)."""
    from matplotlib.ticker import MaxNLocator

    plt = _plt()
    out = []
    per = bench.per_inference
    values = per.values
    if values:
        fig, ax = plt.subplots(figsize=(6.5, 2.8))
        ax.hist(values, bins=min(20, max(3, len(values))), color="#0969da")
        ax.axvline(per.median, color="#cf222e", ls="--", lw=1)
        ax.set_xlabel(f"{bench.timing_unit} per inference")
        _count_axis(ax.xaxis)
        ax.set_ylabel("runs")
        ax.set_title(f"{len(values)} runs: median {per.median:,.0f}, min {per.min:,.0f}, max {per.max:,.0f} "
                     f"{bench.timing_unit}\nmedian latency {bench.latency_ms.median:.3f} ms"
                     + (" (estimate)" if bench.latency_is_estimate else ""), loc="left", fontsize=8.5)
        fig.tight_layout()
        out.append(_svg(fig))
    comp = bench.comparison
    diffs = comp.per_sample_max_diff if comp is not None else ()
    if diffs:
        fig, axes = plt.subplots(1, 2, figsize=(9, 2.8))
        exact = max(diffs) == 0
        axes[0].bar(range(len(diffs)), diffs, color="#cf222e")
        axes[0].set_title(f"max |device - host| per sample (largest {max(diffs):g})", loc="left", fontsize=10)
        axes[0].set_xlabel("sample")
        for ax in axes:
            ax.xaxis.set_major_locator(MaxNLocator(10, integer=True))
        axes[0].set_ylim(0, max(1.0, max(diffs) * 1.1))
        if exact:
            axes[0].text(0.5, 0.5, f"bit-exact on all {len(diffs)} samples", transform=axes[0].transAxes,
                         ha="center", va="center", color="#1a7f37", fontsize=10)
        cos = comp.per_sample_cosine
        axes[1].bar(range(len(cos)), cos, color="#0969da")
        axes[1].set_ylim(min(0.9, min(cos, default=1.0)), 1.0005)
        axes[1].set_title(f"cosine similarity (exact match {100 * comp.exact_match_rate:.1f}%)",
                          loc="left", fontsize=10)
        axes[1].set_xlabel("sample")
        fig.tight_layout()
        out.append(_svg(fig))
    return out
