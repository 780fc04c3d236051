from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from tests.toolchain.conftest import EXAMPLE_CALIB, EXAMPLE_MODEL
from toolchain.cli import cli


@pytest.fixture(scope="session")
def example_report(tmp_path_factory):
    """A real build of the bundled example: (output folder, report dict)."""
    out = tmp_path_factory.mktemp("report") / "out"
    result = CliRunner().invoke(cli, ["build", str(EXAMPLE_MODEL), "-t", "cortex-m7", "--calib", str(EXAMPLE_CALIB),
                                      "-o", str(out)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return out, json.loads((out / "report.json").read_text())


@pytest.fixture(scope="session")
def engine_report(tmp_path_factory):
    """A real build of the bundled example with the C engine and its CMake project: (output folder, report dict)."""
    from tests.conftest import require_tool

    require_tool("arm-none-eabi-gcc")
    out = tmp_path_factory.mktemp("report") / "engine"
    result = CliRunner().invoke(cli, ["build", str(EXAMPLE_MODEL), "-t", "cortex-m7", "--calib", str(EXAMPLE_CALIB),
                                      "--runtime", "c", "--project", "cmake", "-o", str(out)],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return out, json.loads((out / "report.json").read_text())


@pytest.fixture(scope="session")
def overflow_report(tmp_path_factory, ):
    """A check that does not fit (vww on a Cortex-M0+): (output folder, report dict)."""
    from tests.conftest import MLPERF_TINY

    out = tmp_path_factory.mktemp("report") / "vww"
    result = CliRunner().invoke(cli, ["check", str(MLPERF_TINY / "vww_96_int8.tflite"), "-t", "cortex-m0plus",
                                      "-o", str(out)], catch_exceptions=False)
    assert result.exit_code == 3
    return out, json.loads((out / "report.json").read_text())


@pytest.fixture(scope="session")
def firmware_report(tmp_path_factory):
    """A real build of the bundled example with the C engine and its firmware: (output folder, report dict)."""
    from tests.conftest import require_tool

    require_tool("arm-none-eabi-gcc")
    out = tmp_path_factory.mktemp("report") / "firmware"
    result = CliRunner().invoke(cli, ["build", str(EXAMPLE_MODEL), "-t", "cortex-m7", "--calib", str(EXAMPLE_CALIB),
                                      "--runtime", "c", "--firmware", "-o", str(out)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return out, json.loads((out / "report.json").read_text())


@pytest.fixture(scope="session")
def bench_report(firmware_report, tmp_path_factory):
    """`edgec bench` of that firmware on the emulator, with labelled inputs: (output folder, report dict)."""
    from tests.conftest import require_tool
    from tests.toolchain.conftest import EXAMPLE_EVAL

    require_tool("qemu-system-arm")
    build, _ = firmware_report
    out = tmp_path_factory.mktemp("report") / "bench"
    result = CliRunner().invoke(cli, ["bench", "-t", "cortex-m7", "--emulate", "--firmware", str(build / "firmware"),
                                      "--model", str(build / "model.tflite"), "--eval", str(EXAMPLE_EVAL),
                                      "--limit", "5", "-n", "5", "-q", "-o", str(out)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return out, json.loads((out / "report.json").read_text())
