"""`edgec bench` and `edgec flash` as a user runs them (click command objects)."""
from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from tests.conftest import require_tool
from toolchain.cli.bench import bench
from toolchain.cli.flash import flash
from toolchain.base.errors import EXIT_DEVICE


def test_bench_json_on_the_emulator(tiny, tiny_firmware, tmp_path):
    require_tool("qemu-system-arm")
    fw_dir = tiny_firmware["cortex-m7"].elf.parent
    result = CliRunner().invoke(bench, ["--target", "cortex-m7", "--emulate", "--firmware", str(fw_dir),
                                        "-n", "3", "--warmup", "0", "--json", "-o", str(tmp_path)])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report == json.loads((tmp_path / "report.json").read_text())
    assert report["device"] == "edgec tiny" and report["runs"] == 3 and report["emulated"] is True
    assert report["timing_unit"] == "instructions" and report["latency_is_estimate"] is True
    assert report["comparison"] is None and report["latency_estimate"] is None  # no --model: nothing to compare
    assert [row["op"] for row in report["layers"]] == ["CONV_2D", "MAX_POOL_2D", "RESHAPE", "FULLY_CONNECTED"]
    assert tuple(row["op"] for row in report["layers"]) == tiny.engine.op_names
    assert report["flash_used_bytes"] == tiny_firmware["cortex-m7"].flash_used_bytes


def test_bench_table(tiny_firmware, tmp_path):
    require_tool("qemu-system-arm")
    fw_dir = tiny_firmware["netduinoplus2"].elf.parent
    result = CliRunner().invoke(bench, ["--target", "netduinoplus2", "--emulate", "--firmware", str(fw_dir),
                                        "-n", "2", "-o", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "instructions per inference (median / min / max)" in result.output
    assert "ESTIMATE at 168 MHz" in result.output
    assert f"report: {tmp_path / 'report.html'}" in result.output
    assert (tmp_path / 'report.json').is_file()


def test_bench_missing_port_is_a_device_error(tmp_path):
    result = CliRunner().invoke(bench, ["--target", "nucleo-h743zi", "--port", "/dev/ttyNOPE0", "-o", str(tmp_path)],
                                standalone_mode=False)
    assert result.exception.exit_code == EXIT_DEVICE
    assert "cannot open serial port /dev/ttyNOPE0" in result.exception.message


def test_bench_needs_port_or_emulate():
    result = CliRunner().invoke(bench, ["--target", "cortex-m7"])
    assert result.exit_code == 2
    assert "give --port PORT (a board) or --emulate (QEMU)" in result.output


def test_flash_dry_run_on_the_emulator(tiny_firmware):
    fw = tiny_firmware["cortex-m4"]
    result = CliRunner().invoke(flash, ["--target", "cortex-m4", str(fw.elf.parent), "--dry-run"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("would run: qemu-system-arm -machine mps2-an386 -cpu cortex-m4")
    assert f"-serial pty -kernel {fw.elf}" in result.output


def test_flash_refuses_a_firmware_too_large(tmp_path):
    big = tmp_path / "firmware.bin"
    big.write_bytes(bytes(2 * 1024 * 1024 + 1))
    result = CliRunner().invoke(flash, ["--target", "rp2040-pico", str(tmp_path), "--drive", str(tmp_path)],
                                standalone_mode=False)
    assert result.exception.exit_code == 3
    assert "needs 2,097,153 bytes of flash; target 'rp2040-pico' has 2,097,152" in result.exception.message
    assert sorted(p.name for p in tmp_path.iterdir()) == ["firmware.bin"]


def test_bench_over_a_port_takes_latency_at_the_clock_the_device_reports(tiny_firmware, tmp_path):
    """The board path (--port): QEMU stands in for the board. The lm3s6965evb firmware says its
    core runs at 12.5 MHz (edgec-timing core_hz); the profile's full speed is 50 MHz: latency is
    the ticks at the device's clock, never at the profile's."""
    require_tool("qemu-system-arm")
    from toolchain.device.emulator import QemuRunner

    fw = tiny_firmware["lm3s6965evb"]
    with QemuRunner("lm3s6965evb", fw.elf) as q:
        result = CliRunner().invoke(bench, ["--target", "lm3s6965evb", "--port", q.url, "-n", "2", "--warmup", "0",
                                            "--json", "-o", str(tmp_path)])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["timing_unit"] == "cycles" and report["latency_is_estimate"] is False
    assert (report["clock_hz"], report["profile_clock_hz"]) == (12_500_000, 50_000_000)
    cycles, latency_ms = report["per_inference"]["median"], report["latency_ms"]["median"]
    # the median of per-run latencies vs the latency of the median count: equal up to float rounding
    assert cycles > 0 and latency_ms == pytest.approx(cycles / 12_500_000 * 1e3, rel=1e-12)
