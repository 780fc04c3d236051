"""report.html of a C engine build with its firmware, and of a bench on the emulator: what a reader
needs without the terminal (the firmware by part, the three RAM figures said apart, TFLM beside it,
layers by name with their values, the bench's accuracies and sizes)."""
from __future__ import annotations

import html
import re
from collections import Counter


def _section(page: str, ident: str) -> str:
    start = page.index(f'<section id="{ident}">')
    return page[start:page.index("</section>", start)]


def _svg_texts(section: str) -> list[str]:
    """The text of every <text> element (matplotlib keeps text as text)."""
    return [html.unescape(re.sub(r"<[^>]+>", "", t)) for t in re.findall(r"<text\b[^>]*>(.*?)</text>", section, re.S)]


def _rows(section: str) -> dict[str, list[str]]:
    rows = {}
    for tr in re.findall(r"<tr>(.*?)</tr>", section, re.S):
        cells = [html.unescape(c) for c in re.findall(r"<td>(.*?)</td>", tr, re.S)]
        if cells:
            rows[cells[0]] = cells[1:]
    return rows


def test_the_memory_map_shows_the_firmware_by_part(firmware_report):
    out, report = firmware_report
    page = (out / "report.html").read_text()
    fw = report["firmware"]
    assert sum(i["bytes"] for i in fw["flash_split"]) == fw["flash_used_bytes"] == report["fit"]["flash"]["used_bytes"]
    assert sum(i["bytes"] for i in fw["sram_split"]) == fw["sram_used_bytes"] == report["fit"]["sram"]["used_bytes"]
    assert [i["category"] for i in fw["flash_split"]] == ["weights", "engine", "harness", "start-up", "C library",
                                                          "padding"]
    assert [i["label"] for i in fw["sram_split"]] == [
        "engine buffers (activation arena + im2col scratch)", "harness (input/output buffers, serial line, timing)",
        "stack (reserved)", "alignment padding"]
    legend = _svg_texts(_section(page, "memory-map"))
    for i in fw["flash_split"]:
        assert f"{i['label']}: {i['bytes']:,} B" in legend
    for i in fw["sram_split"]:
        assert f"{i['label']}: {i['bytes']:,} B" in legend
    e = report["engine"]
    arena = [("activations: the plan's peak (the engine's arena)", e["activation_bytes"]),
             ("im2col scratch", e["scratch_bytes"]), ("input, read in place from the caller's buffer",
                                                      e["caller_input_bytes"])]
    assert sum(n for _, n in arena) == report["fit"]["arena"]["used_bytes"]
    for label, n in arena:  # a part of 0 B (scratch the planner holds inside the arena) has no segment
        assert (f"{label}: {n:,} B" in legend) == (n > 0)
    assert "the firmware image, from the ELF; split by the linker map" in legend


def test_firmware_by_part_each_as_a_share_of_what_it_uses(firmware_report):
    out, report = firmware_report
    texts = _svg_texts(_section((out / "report.html").read_text(), "firmware-parts"))
    fw = report["firmware"]
    for key, used in (("flash_split", fw["flash_used_bytes"]), ("sram_split", fw["sram_used_bytes"])):
        for i in fw[key]:
            assert f"{i['label']}: {i['bytes']:,} B ({100 * i['bytes'] / used:.1f}%)" in texts
    assert f"flash: {fw['flash_used_bytes']:,} B used by the firmware (from the ELF), by part (from the linker map)" \
        in texts


def test_the_three_ram_figures_say_what_they_count(firmware_report):
    out, report = firmware_report
    rows = _rows(_section((out / "report.html").read_text(), "memory-map"))
    e, fit = report["engine"], report["fit"]
    assert report["timeline"]["peak_bytes"] == e["activation_bytes"]
    assert rows["plan peak (Activation memory, below)"] == [
        f"{e['activation_bytes']:,} B", "the most activation bytes alive at once: the engine's arena is this big"]
    assert rows["arena bar"] == [
        f"{fit['arena']['used_bytes']:,} B",
        f"the contiguous RAM the engine needs: the plan's peak {e['activation_bytes']:,} B + im2col scratch "
        f"{e['scratch_bytes']:,} B + the input read in place {e['caller_input_bytes']:,} B"]
    sram = rows["SRAM bar"]
    assert sram[0] == f"{fit['sram']['used_bytes']:,} B"
    assert sram[1].startswith("all the firmware's RAM, from the ELF: engine buffers (activation arena + im2col "
                              f"scratch) {e['activation_bytes'] + e['scratch_bytes']:,} B + ")


def test_tflm_instead_beside_the_build(firmware_report):
    out, report = firmware_report
    rows = _rows(_section((out / "report.html").read_text(), "tflm-instead"))
    fit, tflm = report["fit"], report["tflm_fit"]
    for key, name in (("flash", "flash used"), ("sram", "SRAM used"), ("arena", "arena (contiguous RAM)")):
        ours, theirs = fit[key]["used_bytes"], tflm[key]["used_bytes"]
        assert rows[name] == [f"{ours:,} B", f"{theirs:,} B", f"{ours - theirs:+,} B ({100 * (ours - theirs) / theirs:+.1f}%)"]


def test_layers_by_name_with_their_values(firmware_report):
    out, report = firmware_report
    texts = _svg_texts(_section((out / "report.html").read_text(), "layers"))
    layers = report["analysis"]["layers"]
    assert [la["layer"] for la in layers][:3] == ["conv1", "pool1", "conv2"]
    for la in layers:
        assert f"{la['index']} {la['op']} {la['layer']}" in texts
    values = [f"{la[k]:,}" for la in layers for k in ("params", "macs", "weight_bytes")]
    assert not Counter(values) - Counter(texts)  # every value written, once per bar


def test_the_bench_page(bench_report, firmware_report):
    out, bench = bench_report
    _, build = firmware_report
    page = (out / "report.html").read_text()
    rows = _rows(_section(page, "bench"))
    comp = bench["comparison"]
    assert bench["emulated"] is True and rows["run on"] == ["emulated: QEMU mps2-an500"]
    assert rows["accuracy on the device"] == [f"{100 * comp['accuracy_device']:.1f}%"]
    assert rows["accuracy on the host (tflite-micro)"] == [f"{100 * comp['accuracy_host']:.1f}%"]
    assert rows["top-1 agreement with the host"] == [f"{100 * comp['top1_agreement']:.1f}%"]
    assert rows["MACs per inference"] == [f"{build['analysis']['macs']:,}"] == [f"{bench['macs']:,}"]
    assert rows["instructions per MAC"] == [f"{bench['per_mac']:.3f}"]
    assert rows["flash used (ELF)"] == [f"{build['firmware']['flash_used_bytes']:,} B"]
    assert rows["SRAM used (ELF, stack included)"] == [f"{build['firmware']['sram_used_bytes']:,} B"]
    assert bench["flash_split"] == build["firmware"]["flash_split"]
    assert rows["flash by part (linker map)"] == [" + ".join(f"{i['label']} {i['bytes']:,} B"
                                                             for i in bench["flash_split"])]
    assert rows["stack used (painted) / reserved"] == [
        f"{bench['stack_used_bytes']:,} B / {bench['stack_size_bytes']:,} B"]
    assert [row["layer"] for row in bench["layers"]][:2] == ["conv1_1", "pool1_1"]  # as the .tflite names them
    texts = _svg_texts(_section(page, "layers"))
    for row in bench["layers"]:
        assert f"{row['index']} {row['op']} {row['layer']}" in texts
        assert f"{row['count']:,} ({100 * row['share']:.1f}%)" in texts
