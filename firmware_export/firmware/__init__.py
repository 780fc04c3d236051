"""Bare-metal firmware for Cortex-M targets: the generated C engine inside a benchmark harness
that speaks the MLPerf Tiny / EEMBC protocol on the board's UART."""
from firmware_export.firmware.build import FirmwareResult, FirmwareSources, build_firmware, plan_sources
from firmware_export.firmware.context import FirmwareOptions, UnsupportedTargetError
from firmware_export.firmware.elfsize import RegionUsage

__all__ = ["FirmwareOptions", "FirmwareResult", "FirmwareSources", "RegionUsage",
           "UnsupportedTargetError", "build_firmware", "plan_sources"]
