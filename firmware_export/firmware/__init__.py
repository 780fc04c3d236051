"""Bare-metal firmware for Cortex-M targets: the generated C engine inside a benchmark harness
that speaks the MLPerf Tiny / EEMBC protocol on the board's UART.

Emulated boards start as QEMU resets them; real boards run a start-up (boards.py, src/board_*.c)
that sets the clock and routes the UART pins, as their profile's [board] table states."""
from firmware_export.firmware.build import FirmwareResult, FirmwareSources, build_firmware, plan_sources
from firmware_export.firmware.context import FirmwareOptions, UnsupportedTargetError
from firmware_export.firmware.elfsize import RegionUsage

__all__ = ["FirmwareOptions", "FirmwareResult", "FirmwareSources", "RegionUsage",
           "UnsupportedTargetError", "build_firmware", "plan_sources"]
