"""What `edgec fit` found: the best fit per target, the closest miss, the Pareto front, the reports.

A trial *fits* a target when its chosen runtime fits the flash, SRAM and arena budgets, its latency
is within --max-latency-ms (when given), and its int8 accuracy is within --max-accuracy-drop points
of the float model. The best fit is the most accurate trial that fits (fewer flash bytes on a tie).
With none, the closest trial is the one that misses by the least (bytes over as a fraction of each
budget, plus points over), reported with what it misses by.
"""
from __future__ import annotations

import html
import io
import json

SCHEMA_VERSION = 1


def _chosen(record: dict, target: str) -> dict | None:
    t = record.get("targets", {}).get(target)
    if not t or t.get("runtime") is None:
        return None
    return {**t["runtimes"][t["runtime"]], "runtime": t["runtime"], "latency_ms": t["latency_ms"],
            "latency": t["latency"], "latency_fits": t["latency_fits"],
            "latency_measured": t.get("latency_measured", False)}


def misses(record: dict, target: str, baseline: float, max_drop: float) -> dict:
    """What a trial misses `target` by: bytes over per memory, points over, latency over."""
    c = _chosen(record, target)
    out = {}
    if c is None:
        return {"measured": False}
    for memory in ("flash", "sram", "arena"):
        over = c[memory]["used"] - c[memory]["budget"]
        if over > 0:
            out[f"{memory}_bytes_over"] = over
    if record.get("accuracy") is not None:
        points = round(baseline - record["accuracy"] - max_drop, 4)
        if points > 1e-9:
            out["points_over"] = points
    if not c["latency_fits"]:
        out["latency_ms"] = round(c["latency_ms"], 3)
    return out


def fits(record: dict, target: str, baseline: float, max_drop: float) -> bool:
    return (record.get("status") == "trained" and _chosen(record, target) is not None
            and not misses(record, target, baseline, max_drop))


def _miss_score(record: dict, target: str, baseline: float, max_drop: float) -> float:
    c = _chosen(record, target)
    if c is None:
        return float("inf")
    m = misses(record, target, baseline, max_drop)
    score = sum(m.get(f"{k}_bytes_over", 0) / c[k]["budget"] for k in ("flash", "sram", "arena"))
    if record.get("accuracy") is None:
        score += 1.0  # never trained: its accuracy is unknown
    return score + m.get("points_over", 0.0) / 100


def best_fit(records: list[dict], target: str, baseline: float, max_drop: float) -> dict | None:
    fitting = [r for r in records if fits(r, target, baseline, max_drop)]
    if not fitting:
        return None
    return max(fitting, key=lambda r: (r["accuracy"], -_chosen(r, target)["flash"]["used"], r["key"]))


def closest(records: list[dict], target: str, baseline: float, max_drop: float) -> dict | None:
    measured = [r for r in records if _chosen(r, target) is not None]
    if not measured:
        return None
    return min(measured, key=lambda r: (_miss_score(r, target, baseline, max_drop), r["key"]))


def pareto(records: list[dict], target: str) -> list[dict]:
    """The trained trials no other beats on accuracy, flash, SRAM and latency at once."""
    points = []
    for r in records:
        c = _chosen(r, target)
        if r.get("status") == "trained" and c is not None:
            points.append((r, (-r["accuracy"], c["flash"]["used"], c["sram"]["used"], c["latency_ms"])))
    front = []
    for r, p in points:
        if not any(all(a <= b for a, b in zip(q, p)) and q != p for _, q in points):
            front.append(r)
    return sorted(front, key=lambda r: -r["accuracy"])


def describe_miss(m: dict) -> str:
    parts = [f"{k.split('_')[0]} over by {v:,} B" for k, v in m.items() if k.endswith("_bytes_over")]
    if "points_over" in m:
        parts.append(f"{m['points_over']:.2f} points more accuracy lost than allowed")
    if "latency_ms" in m:
        parts.append(f"latency {m['latency_ms']:.1f} ms over the limit")
    return "; ".join(parts) or "nothing"


def search_dict(state, options, targets, builds: dict, files: list[str]) -> dict:
    """report.json of `edgec fit`."""
    records = list(state.records.values())
    per_target = {}
    for t in targets:
        best = best_fit(records, t.name, state.baseline, options.max_accuracy_drop)
        near = None if best else closest(records, t.name, state.baseline, options.max_accuracy_drop)
        per_target[t.name] = {
            "flash_budget": t.flash_bytes, "sram_budget": t.sram_bytes, "core": t.core, "clock_hz": t.clock_hz,
            "best": None if best is None else _row(best, t.name, state.baseline),
            "closest": None if near is None else {**_row(near, t.name, state.baseline),
                                                  "misses": misses(near, t.name, state.baseline,
                                                                   options.max_accuracy_drop)},
            "pareto": [r["key"] for r in pareto(records, t.name)],
            "single_techniques": single_rows(records, t.name, state.baseline, options.max_accuracy_drop),
            "build": builds.get(t.name),
        }
        _measured_latency(per_target[t.name])
    counts = {}
    for r in records:
        counts[r["status"]] = counts.get(r["status"], 0) + 1
    return {
        "schema_version": SCHEMA_VERSION, "command": "fit",
        "fits": all(v["best"] is not None for v in per_target.values()),
        "baseline_float_accuracy": state.baseline,
        "max_accuracy_drop": options.max_accuracy_drop, "max_latency_ms": options.max_latency_ms,
        "runtimes": list(options.runtimes), "where": state.where, "wall_seconds": state.wall_seconds,
        "stopped_by": state.stopped_by, "interrupted": state.interrupted, "resumed_trials": state.resumed,
        "submitted": state.submitted,
        "counts": counts, "sensitivity": state.sensitivity.to_dict(),
        "targets": per_target,
        "trials": [_trial_row(r, targets, state.baseline) for r in records],
        "qat": ("searched: the final stage fine-tunes each target's most accurate fitting configurations with QAT"
                if getattr(options, "qat", False) else "not searched (--no-qat)"),
        "files": sorted(files),
    }


def single_rows(records: list[dict], target: str, baseline: float, max_drop: float) -> list[dict]:
    """Per technique alone (the search's reference trials): its first level that fits `target` in
    memory, with its accuracy and whether it fits every budget and the drop."""
    out = {}
    for r in sorted(records, key=lambda r: r["key"]):
        dim = r.get("reference")
        if not dim or r.get("status") != "trained":
            continue
        c = _chosen(r, target)
        if c is None or not (c["flash"]["used"] <= c["flash"]["budget"] and c["sram"]["used"] <= c["sram"]["budget"]
                             and c["arena"]["used"] <= c["arena"]["budget"]):
            continue
        level = r["config"][dim]
        if dim not in out or _level_rank(dim, level) < _level_rank(dim, out[dim]["config"][dim]):
            out[dim] = {**_row(r, target, baseline), "technique": dim, "fits": fits(r, target, baseline, max_drop)}
    return [out[d] for d in sorted(out)]


def _level_rank(dim: str, level) -> float:
    """Less compression first: fewer pruned, more clusters, more energy kept."""
    if dim == "clusters":
        return -level
    if dim == "energy":
        return -level
    if dim == "filters":
        return ("bottleneck", "separable").index(level) if level in ("bottleneck", "separable") else 9
    return level


def _measured_latency(t: dict) -> None:
    """The best fit's latency: the emulated board's when the build measured it with the runtime the
    fit uses (the C engine), else the trial's (measured or estimated), with the emulated C engine's
    figure beside it."""
    lat = (t["build"] or {}).get("latency")
    if not t["best"] or not lat:
        return
    if lat["latency"] == "emulated" and t["best"]["runtime"] == "c":
        t["best"]["latency_estimate_ms"] = t["best"]["latency_ms"]
        t["best"].update(latency_ms=lat["latency_ms"], latency_measured=True,
                         latency=f"measured ({lat.get('basis', lat['machine'])}: "
                                 f"{lat['instructions']:,} instructions at {lat['clock_hz'] / 1e6:g} MHz)")
    elif lat["latency"] == "emulated":
        t["best"]["c_engine_emulated_ms"] = lat["latency_ms"]
    elif not t["best"]["latency_measured"]:
        t["best"]["latency"] += f"; not measured: {lat['why']}"


def _row(record: dict, target: str, baseline: float) -> dict:
    c = _chosen(record, target)
    drop = None if record.get("accuracy") is None else round(baseline - record["accuracy"], 4)
    return {"key": record["key"], "config": record["config"], "accuracy": record.get("accuracy"), "drop": drop,
            "runtime": c["runtime"], "flash": c["flash"]["used"], "sram": c["sram"]["used"],
            "arena": c["arena"]["used"], "latency_ms": round(c["latency_ms"], 4), "latency": c["latency"],
            "latency_measured": c["latency_measured"], "node": record.get("node")}


def _trial_row(record: dict, targets, baseline: float) -> dict:
    row = {k: record.get(k) for k in ("key", "config", "status", "accuracy", "node", "seconds", "wall_seconds",
                                      "predicted_loss", "skip", "error")}
    row["targets"] = {t.name: _row(record, t.name, baseline) for t in targets if _chosen(record, t.name)}
    return row


# --- terminal -----------------------------------------------------------------------------------

def _techniques(config: dict) -> str:
    from toolchain.search.space import Config

    return ", ".join(Config.from_dict(config).techniques)


def _latency_mark(row: dict) -> str:
    return "meas." if row.get("latency_measured") else "est."


def render_terminal(console, report: dict) -> None:
    from rich.table import Table

    names = list(report["targets"])
    table = Table(title=f"trials (float accuracy {report['baseline_float_accuracy']:.2f} %)", title_justify="left")
    for col in ("trial", "status", "int8 acc %", *[f"{n}: rt / flash / SRAM / ms" for n in names], "node"):
        table.add_column(col, overflow="fold")
    fronts = {n: set(report["targets"][n]["pareto"]) for n in names}
    for row in report["trials"]:
        if row["status"] == "skipped":
            continue
        cells = []
        for n in names:
            t = row["targets"].get(n)
            mark = " P" if row["key"] in fronts[n] else ""
            cells.append("-" if t is None else f"{t['runtime']} {t['flash']:,} / {t['sram']:,} / "
                                                f"{t['latency_ms']:.1f} {_latency_mark(t)}{mark}")
        acc = "-" if row["accuracy"] is None else f"{row['accuracy']:.2f}"
        table.add_row(row["key"], row["status"], acc, *cells, (row.get("node") or "")[:8])
    console.print(table)
    skipped = [r for r in report["trials"] if r["status"] == "skipped"]
    console.print(f"  {len(skipped)} configurations skipped without measuring (dominated by a measured misfit, "
                  "or predicted from their techniques' measured bytes); P: on the Pareto front; latency "
                  "meas.: instructions counted on the emulated board (or one running the core's code), one cycle "
                  "each, for a trial that fits memory with the C engine; est.: the runtime's cost model for the "
                  "core (report.json says which machine, or why not)")
    compare = Table(title="best fit per target", title_justify="left")
    for col in ("target", "budget flash / SRAM", "fit", "int8 acc %", "lost vs float", "techniques", "runtime",
                "flash / SRAM used", "latency ms"):
        compare.add_column(col, overflow="fold")
    for n, t in report["targets"].items():
        b = t["best"]
        budget = f"{t['flash_budget']:,} / {t['sram_budget']:,}"
        if b is None:
            c = t["closest"]
            compare.add_row(n, budget, "NO", "-" if not c or c["accuracy"] is None else f"{c['accuracy']:.2f}", "-",
                            "closest: " + ("-" if c is None else _techniques(c["config"])), "-",
                            "-" if c is None else f"{c['flash']:,} / {c['sram']:,}",
                            "misses by: " + ("-" if c is None else describe_miss(c["misses"])))
            continue
        compare.add_row(n, budget, "yes", f"{b['accuracy']:.2f}", f"{b['drop']:.2f}", _techniques(b["config"]),
                        b["runtime"], f"{b['flash']:,} / {b['sram']:,}",
                        f"{b['latency_ms']:.1f} " + ("measured" if b["latency_measured"] else "est."))
    console.print(compare)
    for n, t in report["targets"].items():
        singles = t.get("single_techniques") or []
        if singles:
            console.print(f"  {n}, each technique alone at its first level that fits (trials of this search): "
                          + "; ".join(f"{s['technique']} {s['key']} "
                                      + ("-" if s["accuracy"] is None else f"{s['accuracy']:.2f} %")
                                      + ("" if s["fits"] else " (over the drop)") for s in singles))


# --- HTML ---------------------------------------------------------------------------------------

def front_svg(report: dict, records: list[dict], target: str) -> str:
    """Accuracy against flash, one point per trained trial, the front joined, budgets drawn, the
    chosen point marked; SRAM on a second panel."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    t = report["targets"][target]
    front = set(t["pareto"])
    chosen = t["best"]["key"] if t["best"] else None
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
    for ax, memory, budget in ((axes[0], "flash", t["flash_budget"]), (axes[1], "sram", t["sram_budget"])):
        pts = [(c[memory]["used"], r["accuracy"], r["key"]) for r in records
               if r.get("status") == "trained" and (c := _chosen(r, target)) is not None]
        if pts:
            ax.scatter([p[0] for p in pts], [p[1] for p in pts], s=18, color="#8aa", label="trial")
            fp = sorted((p for p in pts if p[2] in front), key=lambda p: p[0])
            ax.plot([p[0] for p in fp], [p[1] for p in fp], "o-", color="#d62", ms=5, label="Pareto front")
            ch = [p for p in pts if p[2] == chosen]
            if ch:
                ax.scatter([ch[0][0]], [ch[0][1]], s=160, facecolors="none", edgecolors="k", linewidths=2,
                           label="chosen")
        ax.axvline(budget, color="k", ls="--", lw=1)
        ax.text(budget, ax.get_ylim()[0], f" budget {budget:,} B", rotation=90, va="bottom", fontsize=8)
        ax.axhline(report["baseline_float_accuracy"] - report["max_accuracy_drop"], color="#555", ls=":", lw=1)
        ax.set_xlabel(f"{memory} used (bytes)")
        ax.set_ylabel("int8 accuracy (%)")
        ax.grid(alpha=0.3)
    if axes[0].get_legend_handles_labels()[0]:
        axes[0].legend(fontsize=8, loc="lower right")
    fig.suptitle(f"{target}: accuracy vs memory (dotted: float accuracy - max drop)", fontsize=10)
    fig.subplots_adjust(left=0.08, right=0.98, bottom=0.15, top=0.88, wspace=0.25)
    buffer = io.StringIO()
    fig.savefig(buffer, format="svg")
    plt.close(fig)
    svg = buffer.getvalue()
    return svg[svg.index("<svg"):]


def render_html(report: dict, records: list[dict]) -> str:
    e = html.escape
    parts = [f"<h1>edgec fit: {'fits' if report['fits'] else 'does NOT fit'} every target</h1>",
             f"<p>float accuracy {report['baseline_float_accuracy']:.2f} %, max drop {report['max_accuracy_drop']} "
             f"points; {len(report['trials'])} configurations ({e(json.dumps(report['counts']))}); "
             f"{e(report['where'])}; stopped by {e(report['stopped_by'])}; {report['wall_seconds']:.0f} s.</p>"]
    for name, t in report["targets"].items():
        b = t["best"]
        line = (f"best fit: {e(b['key'])} ({e(_techniques(b['config']))}), {b['accuracy']:.2f} % "
                f"({b['drop']:.2f} points lost), {b['runtime']}, flash {b['flash']:,} B, SRAM {b['sram']:,} B, "
                f"latency {b['latency_ms']:.1f} ms ({b['latency']})" if b else
                "nothing fits; closest: " + ("-" if not t["closest"] else
                                             f"{e(t['closest']['key'])}: {e(describe_miss(t['closest']['misses']))}"))
        parts.append(f"<h2>{e(name)}</h2><p>{line}</p>{front_svg(report, records, name)}")
    head = "<tr><th>trial</th><th>status</th><th>int8 acc %</th>" + "".join(
        f"<th>{e(n)}: runtime, flash, SRAM, latency ms</th>" for n in report["targets"]) + "<th>node</th></tr>"
    rows = []
    for row in report["trials"]:
        cells = []
        for n in report["targets"]:
            t = row["targets"].get(n)
            cells.append("-" if t is None else f"{t['runtime']}, {t['flash']:,}, {t['sram']:,}, "
                                                f"{t['latency_ms']:.1f} {_latency_mark(t)}")
        status = row["status"] + (f" ({row['skip']['detail']})" if row.get("skip") else "") + \
            (f" ({row['error']})" if row.get("error") else "")
        acc = "-" if row["accuracy"] is None else f"{row['accuracy']:.2f}"
        rows.append(f"<tr><td>{e(row['key'])}</td><td>{e(status)}</td><td>{acc}</td>"
                    + "".join(f"<td>{e(c)}</td>" for c in cells)
                    + f"<td>{e(str(row.get('node') or ''))[:12]}</td></tr>")
    parts.append(f"<h2>Trials</h2><table>{head}{''.join(rows)}</table>"
                 "<p>Latency <b>meas.</b>: measured, the instructions of one inference counted by QEMU (-icount) on "
                 "the target's emulated board, an emulated profile of its core, or a machine whose core runs its "
                 "code (Armv6-M on a Cortex-M3), one cycle each at the target's clock: every trial that fits "
                 "memory with the C engine, and each best fit (above). <b>est.</b>: the estimate of the "
                 "runtime's cost model for the core (report.json says why it was not measured).</p>")
    css = ("body{font:14px sans-serif;margin:2em}table{border-collapse:collapse}td,th{border:1px solid #ccc;"
           "padding:2px 6px;font-size:13px}svg{max-width:100%;height:auto}")
    return (f"<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>edgec fit</title>"
            f"<style>{css}</style></head><body>\n" + "\n".join(parts) + "\n</body></html>\n")
