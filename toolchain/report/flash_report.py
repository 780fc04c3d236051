"""The result of `edgec flash`: what was (or would be) done to the board, as terminal text and JSON."""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import ClassVar


@dataclass(frozen=True)
class FlashReport:
    command: ClassVar[str] = "flash"
    target: str
    flasher: str
    dry_run: bool
    action: str  # the plan that runs: its command line, or the copy
    checks: tuple[str, ...]  # what was checked before
    flash_used_bytes: int
    emulator: str | None = None  # QEMU: the machine running the firmware...
    port: str | None = None  # ...and its serial port, for `edgec bench --port`

    @classmethod
    def of(cls, profile, flasher, image, result, dry_run: bool) -> FlashReport:
        """From the flasher (toolchain.device.flashers), the image and the FlashResult."""
        return cls(profile.name, flasher.caps.name, dry_run, result.plan.describe(), tuple(result.plan.checks),
                   image.flash_used_bytes)

    def running_on(self, emulator: str, port: str) -> FlashReport:
        """The report once QEMU runs the firmware: its machine and serial port."""
        return replace(self, emulator=emulator, port=port)

    def to_dict(self) -> dict:
        out = {"schema_version": 1, "command": self.command, "target": self.target, "flasher": self.flasher,
               "dry_run": self.dry_run, "action": self.action, "checks": list(self.checks),
               "flash_used_bytes": self.flash_used_bytes}
        if self.emulator is not None:
            out.update(emulator=self.emulator, port=self.port)
        return out

    def to_json(self) -> str:
        from toolchain.report.build_json import to_json

        return to_json(self.to_dict())

    def lines(self) -> list[str]:
        if self.dry_run:
            return [f"would run: {self.action}"] + [f"  checked: {check}" for check in self.checks]
        if self.emulator is not None:
            return [f"QEMU {self.emulator} is running the firmware; its UART is {self.port}",
                    f"  edgec bench --target {self.target} --port {self.port} ...   (Ctrl-C stops QEMU)"]
        return [f"flashed {self.flash_used_bytes:,} bytes to {self.target} ({self.flasher}): {self.action}"]
