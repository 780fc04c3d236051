"""The results of `edgec targets` (the list) and `edgec targets show NAME` (one profile), rendered
as terminal text and as JSON from the typed profiles (targets.TargetProfile)."""
from __future__ import annotations

from dataclasses import asdict, dataclass


def profile_dict(p) -> dict:
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


def _json(document: dict) -> str:
    from toolchain.report.build_json import to_json

    return to_json(document)


@dataclass(frozen=True)
class TargetList:
    profiles: tuple  # targets.TargetProfile, in the registry's order

    def to_dict(self) -> dict:
        return {"schema_version": 1, "targets": [profile_dict(p) for p in self.profiles]}

    def to_json(self) -> str:
        return _json(self.to_dict())

    def render(self, console) -> None:
        from rich.table import Table

        table = Table(header_style="bold")
        for col, just in (("name", "left"), ("core", "left"), ("clock", "right"), ("flash", "right"),
                          ("SRAM", "right"), ("flasher", "left"), ("emulator", "left")):
            table.add_column(col, justify=just)
        for p in self.profiles:
            table.add_row(p.name, p.core, f"{p.clock_hz / 1e6:g} MHz", f"{p.flash_bytes // 1024:,} KiB",
                          f"{p.sram_bytes // 1024:,} KiB", p.flasher, p.emulator.machine if p.emulator else "")
        console.print(table)


@dataclass(frozen=True)
class TargetShow:
    profile: object  # targets.TargetProfile

    def to_dict(self) -> dict:
        return {"schema_version": 1, **profile_dict(self.profile)}

    def to_json(self) -> str:
        return _json(self.to_dict())

    def lines(self) -> list[str]:
        p, c = self.profile, self.profile.core_spec
        facts = [c.arch] + (["DSP"] if c.dsp else []) + ([f"FPU {c.fpu}"] if c.fpu != "none" else []) \
            + (["Helium"] if c.helium else [])
        out = [f"{p.name}: {p.description}",
               f"  core {p.core} ({', '.join(facts)}), {p.clock_hz:,} Hz, cflags: {' '.join(p.cflags)}",
               f"  flash {p.flash_bytes:,} B, SRAM {p.sram_bytes:,} B"]
        for r in p.memory:
            mark = "  (arena)" if r.arena else ""
            out.append(f"    {r.kind:5} {r.name:<10} 0x{r.start:08x}  {r.size_bytes:>10,} B{mark}")
        out.append("  reserves: " + ", ".join(f"{k} {v:,}" for k, v in vars(p.reserves).items()))
        out.append(f"  flasher {p.flasher}, serial {p.serial.baud} baud"
                   + (f", emulator {p.emulator.machine}" if p.emulator else ""))
        b = p.board
        if b:
            af = f", function {b.uart_pin_function}" if b.uart_pin_function else ""
            out.append(f"  firmware start-up {b.setup}: core at {b.core_clock_hz:,} Hz, {p.uart} "
                       f"TX {b.uart_tx_pin} RX {b.uart_rx_pin}{af}")
        out.append(f"  profile file: {p.source}")
        return out
