from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from tests.toolchain.conftest import EXAMPLE_CALIB, EXAMPLE_MODEL
from toolchain.cli import cli


def _library_report(model, target: str, out, command: str, **options):
    """A build (or check) through the library as the command runs it, its outputs and reports written
    into `out`: the typed BuildReport that report.json and report.html render."""
    import targets
    from toolchain.build import BuildOptions, build, export
    from toolchain.outputs import staged_output
    from toolchain.report.build_result import build_report
    from toolchain.report_html import REPORT_FILES, write_reports

    result = build(model, BuildOptions(target=targets.load_target(target), **options))
    with staged_output(out) as stage:
        if command == "build":
            export(result, stage)
        report = build_report(result, stage.files + list(REPORT_FILES), command=command)
        write_reports(stage, report)
    return report


@pytest.fixture(scope="session")
def example_result(tmp_path_factory):
    """A real build of the bundled example: (output folder, typed BuildReport)."""
    out = tmp_path_factory.mktemp("report") / "out"
    return out, _library_report(EXAMPLE_MODEL, "cortex-m7", out, "build", calib=EXAMPLE_CALIB)


@pytest.fixture(scope="session")
def example_report(example_result):
    """That build: (output folder, report.json as written)."""
    out, _ = example_result
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
def overflow_result(tmp_path_factory):
    """A check that does not fit (vww on a Cortex-M0+): (output folder, typed BuildReport)."""
    from tests.conftest import MLPERF_TINY

    out = tmp_path_factory.mktemp("report") / "vww"
    report = _library_report(MLPERF_TINY / "vww_96_int8.tflite", "cortex-m0plus", out, "check")
    assert not report.fits
    return out, report


@pytest.fixture(scope="session")
def overflow_report(overflow_result):
    """That check: (output folder, report.json as written)."""
    out, _ = overflow_result
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
