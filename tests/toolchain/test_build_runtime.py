"""`edgec build --runtime c` and `--firmware`: figures measured from compiled objects and the ELF."""
from __future__ import annotations

import json

from click.testing import CliRunner

from tests.conftest import require_tool
from tests.toolchain.conftest import EXAMPLE_CALIB, EXAMPLE_MODEL
from toolchain.cli import cli


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


def test_runtime_c_reports_engine_figures_next_to_tflm(tmp_path):
    require_tool("arm-none-eabi-gcc")
    result = run("build", EXAMPLE_MODEL, "-t", "cortex-m4", "--calib", EXAMPLE_CALIB, "--runtime", "c", "-o", tmp_path)
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "report.json").read_text())
    engine, fit, tflm = report["engine"], report["fit"], report["tflm_fit"]
    assert fit["runtime"] == "c" and tflm["runtime"] == "tflm"
    assert engine["code_bytes"] > 0 and engine["const_bytes"] >= engine["weight_bytes"]
    assert fit["flash"]["items"][1] == {"label": "engine code", "bytes": engine["code_bytes"]}
    assert fit["sram"]["items"][0]["bytes"] == engine["bss_bytes"] + engine["data_bytes"]
    assert engine["bss_bytes"] >= engine["activation_bytes"]
    assert fit["sram"]["used_bytes"] < tflm["sram"]["used_bytes"]
    assert "with TFLM instead" in result.output
    assert (tmp_path / "engine" / "fashion_cnn.c").is_file()


def test_firmware_sizes_come_from_the_elf(tmp_path, mlperf_models, monkeypatch):
    require_tool("arm-none-eabi-gcc")
    from elftools.elf.elffile import ELFFile

    monkeypatch.chdir(tmp_path.parent)  # a relative output folder, as users type it
    result = run("build", mlperf_models / "kws_ref_model.tflite", "-t", "cortex-m7", "--firmware", "-o", tmp_path.name)
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "report.json").read_text())
    fw = report["firmware"]
    for name in ("firmware.elf", "firmware.bin", "firmware.hex", "firmware.map"):
        assert (tmp_path / "firmware" / name).is_file()
    with open(tmp_path / "firmware" / "firmware.elf", "rb") as fh:
        elf = ELFFile(fh)
        bss = sum(s["sh_size"] for s in elf.iter_sections() if s.name.startswith(".bss"))
    assert bss >= report["engine"]["activation_bytes"]
    assert report["fit"]["flash"]["items"] == [{"label": "firmware (from the ELF)", "bytes": fw["flash_used_bytes"]}]
    assert fw["flash_used_bytes"] == (tmp_path / "firmware" / "firmware.bin").stat().st_size


def test_unsupported_engine_target_is_a_clear_error(tmp_path, mlperf_models):
    result = run("build", mlperf_models / "kws_ref_model.tflite", "-t", "esp32-s3-devkitc", "--runtime", "c",
                 "-o", tmp_path)
    assert result.exit_code == 4
    assert "Cortex-M cores only" in result.output
