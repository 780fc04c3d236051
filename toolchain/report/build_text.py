"""The terminal summary of `edgec build` / `edgec check`: the text rendering of a BuildReport."""
from __future__ import annotations

from toolchain.report.build_json import split_parts


def _status(b) -> str:
    free = b.free_bytes
    return f"{free:,} B free" if free >= 0 else f"[red]over by {-free:,} B[/]"


def _names(layers, most: int = 6) -> str:
    names = [la.layer for la in layers]
    return ", ".join(names[:most]) + (f" and {len(names) - most} more" if len(names) > most else "")


def storage_lines(engine) -> list[str]:
    """The engine's weight storage: the total, then one line per format (the layers stored so)."""
    layers = engine.layers if engine is not None else ()
    if not layers:
        return []
    lines = [f"weights ({engine.weights_mode}): {engine.weights_dense_bytes:,} B dense -> "
             f"{engine.weights_stored_bytes:,} B as stored in {len(layers)} conv/depthwise/FC layers"]
    if engine.packed_refused:
        lines.append(f"  dense kept: with packed weights the engine took {engine.packed_refused.flash_bytes:,} B "
                     f"of flash (the packed kernels' code outweighs the weights saved), dense "
                     f"{engine.size.flash_bytes:,} B")
    for fmt in ("block_clustered", "block", "dw_block", "sparse_clustered", "clustered", "sparse", "dense"):
        group = [la for la in layers if la.format == fmt]
        if not group:
            continue
        how = []
        if fmt != "dense":
            # the block formats' index_bits are the bytes of a block's position; their codebook indices are 4-bit
            bits = [4] if fmt == "block_clustered" else [] if fmt in ("block", "dw_block") else \
                sorted({la.index_bits for la in group if la.index_bits})
            if bits:
                how.append("/".join(map(str, bits)) + "-bit indices")
            clusters = max(la.clusters for la in group)
            if clusters:
                how.append(f"<= {clusters} values")
            if fmt.startswith("block"):
                how.append("aligned blocks of 4 taps")
            if fmt == "dw_block":
                how.append("kept taps of groups of 4 channels")
            if "sparse" in fmt or "block" in fmt:
                dense = sum(la.dense_bytes for la in group)
                nonzero = sum(la.density * la.dense_bytes for la in group)
                how.append(f"{100 * nonzero / dense:.0f}% nonzero" if dense else "")
        what = f" ({', '.join(h for h in how if h)})" if any(how) else ""
        dense_b, stored_b = sum(la.dense_bytes for la in group), sum(la.stored_bytes for la in group)
        sizes = f"{stored_b:,} B" if fmt == "dense" else f"{dense_b:,} -> {stored_b:,} B"
        lines.append(f"  {fmt}{what}: {len(group)} layer{'s' if len(group) > 1 else ''}, {sizes}: "
                     f"{_names(group)}")
    return lines


def weights_lines(report) -> list[str]:
    """How the weights are shipped: the engine's storage per format, or TFLM's LUT and its cost."""
    weights = report.weights
    if report.fit.runtime != "tflm":
        return storage_lines(report.engine)
    lut = weights.lut
    if lut is not None:
        tensors = lut.lut.tensors
        bits = "/".join(str(b) for b in sorted({t.index_bits for t in tensors}))
        lines = [f"weights: TFLM LUT compression ({bits}-bit indices) of {len(tensors)} clustered tensors: "
                 f"model {lut.dense_model_bytes:,} -> {lut.model_bytes:,} B; the decoded weights take "
                 f"{lut.decoded_bytes:,} B of the arena ({lut.dense_arena_bytes:,} -> "
                 f"{lut.arena_bytes:,} B)"]
        instead = weights.engine_instead
        if instead:
            lines.append(f"with the C engine instead (--runtime c): flash {instead.fit.flash.used_bytes:,} B, "
                         f"SRAM {instead.fit.sram.used_bytes:,} B (weights {instead.weights_dense_bytes:,} B dense "
                         f"-> {instead.weights_stored_bytes:,} B as stored, no decoding in RAM)")
        return lines
    clustered = weights.clustered_tensors
    if not clustered:
        return []
    why = ("--weights dense" if weights.mode == "dense" else
           "; ".join(f"{tensor}: {reason}" for tensor, reason in weights.lut_refused[:3])
           or "not converted here: a .tflite is shipped as given")
    return [f"weights: {len(clustered)} tensors hold <= 16 values per channel (clustered), shipped as int8: {why}"]


def mlperf_lines(report) -> list[str]:
    """The benchmark id the firmware answers, and what was recognised and proposed."""
    m = report.mlperf
    if not m:
        return []
    ref = m.reference
    lines = []
    if m.benchmark:
        lines.append(f"MLPerf Tiny: the firmware answers m-model-[{m.benchmark}] and decodes the official "
                     f"runner's inputs as the {m.benchmark} reference firmware does")
    if ref is not None and ref.benchmark and ref.benchmark != m.benchmark:
        lines.append(f"MLPerf Tiny: this is the {ref.task} reference model ({ref.file}): build with "
                     f"--firmware --mlperf {ref.benchmark} for the official runner")
    elif ref is not None and not ref.benchmark:
        lines.append(f"MLPerf Tiny: this is the {ref.task} reference model ({ref.file}); {ref.note}")
    return lines


def compression_lines(compression) -> list[str]:
    out = []
    for row in compression.rows:
        acc, delta = row.int8_metric, row.int8_delta_points
        engine = row.engine_weight_bytes
        out.append(f"compression: {row.technique}: {row.params:,} params"
                   + (f", int8 {compression.metric} {acc:.4f}" if acc is not None else "")
                   + (f" ({delta:+.2f} pts)" if delta is not None and row.technique != "original" else "")
                   + (f", TFLM flash {row.flash_bytes:,} B, arena {row.arena_bytes:,} B" if row.flash_bytes else "")
                   + (f", C engine weights {engine:,} B, SRAM {row.engine_sram_bytes:,} B"
                      if engine is not None else ""))
    return out


def engine_memory_lines(e) -> list[str]:
    """The patched stage, and the engine's own SRAM apart from the input when the input is the
    largest buffer (it belongs to the application)."""
    from toolchain.timeline import patch_note

    if e is None:
        return []
    lines = [f"patched stage: {patch_note(e.patch)}"] if e.patch is not None else []
    if e.reversed_ops:
        lines.append(f"ops {', '.join(map(str, e.reversed_ops))} (pointwise) run one row at a time from the last "
                     f"row, each output above its input (--patch): a kernel call per row")
    if e.input_is_largest:
        own = e.activation_bytes + e.scratch_bytes
        lines.append(f"the model input ({e.caller_input_bytes:,} B) is the largest buffer: it belongs to the "
                     f"application, which fills it; the engine's own SRAM is {own:,} B "
                     f"(arena {e.activation_bytes:,} B + scratch {e.scratch_bytes:,} B)")
    return lines


def accuracy_lines(accuracy) -> list[str]:
    """--eval without compression: one line per runtime (accuracy, or RMSE and max error)."""
    if accuracy is None:
        return []
    parts = []
    for s in accuracy.scores:
        if s.accuracy_percent is not None:
            parts.append(f"{s.runtime} {s.accuracy_percent:.2f}%")
        elif s.rmse is not None:
            parts.append(f"{s.runtime} RMSE {s.rmse:.4g}, max |error| {s.max_abs_error:.4g} (against {s.against})")
    parts = parts or ["no labels 'y' and no float model: nothing to compare the outputs with"]
    what = "accuracy" if accuracy.task == "classification" else "error"
    return [f"{what} on {accuracy.samples:,} --eval samples: " + "; ".join(parts)]


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


def render_build(console, report) -> None:
    """The one-screen summary of a build or check: the verdict, then the three figures that
    matter (flash, SRAM, estimated latency), then the details in a few lines. The command adds
    where it wrote its files and the HTML report."""
    from rich.markup import escape
    from rich.table import Table

    fit, a, arena, target = report.fit, report.analysis, report.arena, report.target
    verdict = "[bold green]FITS[/]" if fit.fits else "[bold red]DOES NOT FIT[/]"
    model = report.model
    console.print(f"{verdict}  {escape(model.name)} ({model.format}) on {target.name} \\[{fit.runtime} runtime]")
    grid = Table.grid(padding=(0, 1))
    for justify in ("left", "right", "left", "right", "left"):
        grid.add_column(justify=justify)
    for b, name in ((fit.flash, "flash"), (fit.sram, "SRAM")):
        grid.add_row(f"  [bold]{name}[/]", f"[bold]{b.used_bytes:,} B[/]", "of", f"{b.budget_bytes:,} B", _status(b))
    grid.add_row("  [bold]latency[/]", f"[bold]~{report.latency_estimate_s * 1000:.1f} ms[/]", "at",
                 f"{target.clock_hz / 1e6:g} MHz", escape(latency_label(report.latency.to_dict(), a.macs)))
    console.print(grid)
    tflm = report.latency_tflm
    if report.latency.runtime == "c":
        console.print(f"  [dim]with TFLM's reference kernels instead: ~{tflm.seconds * 1000:.1f} ms, "
                      f"{escape(latency_label(tflm.to_dict(), a.macs, long=True))}[/]")
    split = report.firmware.split if report.firmware is not None else None
    for b, key, name in ((fit.flash, "flash", "flash"), (fit.sram, "sram", "SRAM")):
        items = " + ".join(f"{label} {n:,} B" for label, n in b.items)
        console.print(f"  [dim]{name} = {escape(items)}[/]")
        parts = split_parts(split, key)
        if parts:
            console.print(f"  [dim]  by part (firmware.map): {escape(' + '.join(f'{k} {n:,} B' for k, _, n in parts))}[/]")
    arena_fit = fit.arena
    if fit.runtime == "tflm":
        console.print(f"  arena {arena.total_bytes:,} B measured on this 64-bit host, {arena_fit.used_bytes:,} B "
                      f"on a 32-bit MCU (activations {arena.head_bytes:,} B): {_status(arena_fit)} in "
                      f"{arena_fit.budget_bytes:,} B of contiguous RAM")
    else:
        e = report.engine
        inside = f" with the kernel scratch of {e.scratch_in_arena_ops} ops" if e and e.scratch_in_arena_ops else ""
        parts = (f" (arena {e.activation_bytes:,} B{inside} + im2col scratch {e.scratch_bytes:,} B + input read in "
                 f"place {e.caller_input_bytes:,} B)" if e is not None else "")
        console.print(f"  engine plan {arena_fit.used_bytes:,} B{parts}: {_status(arena_fit)} in "
                      f"{arena_fit.budget_bytes:,} B of contiguous RAM")
        for line in engine_memory_lines(e):
            console.print(f"  {escape(line)}")
    console.print(f"  model: {a.params:,} parameters, {len(a.ops)} ops, {a.model_bytes:,} B")
    if fit.runtime != "tflm":
        tflm = report.tflm_fit
        dense = "; clustered weights as int8, no LUT" if report.weights.clustered_tensors else ""
        console.print(f"  with TFLM instead: flash {tflm.flash.used_bytes:,} B, "
                      f"SRAM {tflm.sram.used_bytes:,} B (runtime code and data estimated{dense})")
    lines = weights_lines(report) + mlperf_lines(report) + accuracy_lines(report.accuracy)
    lines += compression_lines(report.compression) if report.compression else []
    for line in lines:
        console.print(f"  {escape(line)}")
    for problem in fit.problems():
        console.print(f"  [red]{escape(problem)}[/]")
    if not fit.fits and fit.peak_tensors:
        names = "; ".join(f"{name.split(';')[0]} ({n:,} B)" for name, n in fit.peak_tensors)
        console.print(f"  largest tensors alive at the peak: {escape(names)}")
    for w in report.warnings:
        console.print(f"  [yellow]warning:[/] {escape(w)}")
