"""`edgec targets` and `edgec targets show NAME`."""
from __future__ import annotations

import json
from dataclasses import asdict

import click

from toolchain.cli.options import TargetType, make_console


def _profile_dict(p) -> dict:
    return {
        "name": p.name, "description": p.description, "core": p.core, "core_spec": asdict(p.core_spec),
        "clock_hz": p.clock_hz,
        "flash_bytes": p.flash_bytes, "sram_bytes": p.sram_bytes, "cflags": list(p.cflags),
        "memory": [{"name": r.name, "kind": r.kind, "start": r.start, "size_bytes": r.size_bytes,
                    "arena": r.arena} for r in p.memory],
        "reserves": vars(p.reserves), "flasher": p.flasher, "flasher_options": asdict(p.flasher_options),
        "serial": vars(p.serial), "uart": p.uart, "uart_base": p.uart_base,
        "emulator": asdict(p.emulator) if p.emulator else None,
        "board": vars(p.board) if p.board else None, "source": p.source,
    }


@click.group(invoke_without_command=True)
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
@click.pass_context
def targets(ctx, as_json):
    """List the known targets (built in, and from EDGEC_TARGETS_PATH)."""
    if ctx.invoked_subcommand is not None:
        return
    import targets as registry
    from toolchain.cli.options import make_console
    from rich.table import Table

    profiles = registry.all_targets()
    if as_json:
        click.echo(json.dumps({"schema_version": 1, "targets": [_profile_dict(p) for p in profiles]}, indent=2))
        return
    table = Table(header_style="bold")
    for col, just in (("name", "left"), ("core", "left"), ("clock", "right"), ("flash", "right"),
                      ("SRAM", "right"), ("flasher", "left"), ("emulator", "left")):
        table.add_column(col, justify=just)
    for p in profiles:
        table.add_row(p.name, p.core, f"{p.clock_hz / 1e6:g} MHz", f"{p.flash_bytes // 1024:,} KiB",
                      f"{p.sram_bytes // 1024:,} KiB", p.flasher, p.emulator.machine if p.emulator else "")
    make_console(False, False).print(table)


@targets.command("show")
@click.argument("target", type=TargetType())
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
def show(target, as_json):
    """Print one target profile."""
    d = _profile_dict(target)
    if as_json:
        click.echo(json.dumps({"schema_version": 1, **d}, indent=2))
        return
    click.echo(f"{d['name']}: {d['description']}")
    c = target.core_spec
    facts = [c.arch] + (["DSP"] if c.dsp else []) + ([f"FPU {c.fpu}"] if c.fpu != "none" else []) \
        + (["Helium"] if c.helium else [])
    click.echo(f"  core {d['core']} ({', '.join(facts)}), {d['clock_hz']:,} Hz, cflags: {' '.join(d['cflags'])}")
    click.echo(f"  flash {d['flash_bytes']:,} B, SRAM {d['sram_bytes']:,} B")
    for r in d["memory"]:
        mark = "  (arena)" if r["arena"] else ""
        click.echo(f"    {r['kind']:5} {r['name']:<10} 0x{r['start']:08x}  {r['size_bytes']:>10,} B{mark}")
    click.echo("  reserves: " + ", ".join(f"{k} {v:,}" for k, v in d["reserves"].items()))
    click.echo(f"  flasher {d['flasher']}, serial {d['serial']['baud']} baud"
               + (f", emulator {d['emulator']['machine']}" if d["emulator"] else ""))
    b = d["board"]
    if b:
        af = f", function {b['uart_pin_function']}" if b["uart_pin_function"] else ""
        click.echo(f"  firmware start-up {b['setup']}: core at {b['core_clock_hz']:,} Hz, {d['uart']} "
                   f"TX {b['uart_tx_pin']} RX {b['uart_rx_pin']}{af}")
    click.echo(f"  profile file: {d['source']}")
