"""A bench whose host reference fails after the device run keeps the device's results."""
from __future__ import annotations

import json

from click.testing import CliRunner

from tests.conftest import require_tool
from tests.firmware_export.firmware.conftest import tiny, tiny_firmware  # noqa: F401  (session fixtures)
from tests.toolchain.hardening import malformed
from toolchain.cli import cli


def test_bench_writes_the_device_results_before_failing_on_the_host(tiny, tiny_firmware, tmp_path):  # noqa: F811
    require_tool("qemu-system-arm")
    model = tmp_path / "tiny_no_kernel.tflite"
    model.write_bytes(malformed.op_without_tflm_kernel(tiny.tflite_bytes, "MAX_POOL_2D"))
    out = tmp_path / "out"
    result = CliRunner().invoke(cli, ["bench", "--target", "cortex-m7", "--emulate", "--firmware",
                                      str(tiny_firmware["cortex-m7"].elf.parent), "--model", str(model),
                                      "-n", "2", "--warmup", "0", "-o", str(out)])
    assert result.exit_code == 2, result.output
    assert f"Error: {model}: tflite-micro failed while running 2 inference(s)" in result.output
    assert f"the device results are saved in {out / 'report.json'}" in result.output
    report = json.loads((out / "report.json").read_text())
    assert report["runs"] == 2 and report["comparison"] is None
    assert report["host_error"].startswith(f"{model}: tflite-micro failed while running 2 inference(s)")
