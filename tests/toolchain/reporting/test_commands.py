"""report.json records the exact commands that compiled the engine and built the firmware."""
from __future__ import annotations

import subprocess

from tests.conftest import require_tool


def test_firmware_commands_are_the_ones_run(firmware_report):
    """One compile per source of firmware/src, then the link of exactly those objects: run again
    where the report says, the link command gives the same ELF, byte for byte."""
    out, report = firmware_report
    commands = report["firmware"]["commands"]
    compiles = [c for c in commands if "-c" in c["args"]]
    sources = sorted(p.relative_to(out / "firmware" / "src").as_posix()
                     for p in (out / "firmware" / "src").rglob("*.c"))
    assert sorted(c["args"][c["args"].index("-c") + 1] for c in compiles) == sources
    assert {c["cwd"] for c in compiles} == {"firmware/src"}
    link = next(c for c in commands if "-Tfirmware.ld" in c["args"])
    objects = [a for a in link["args"] if a.endswith(".o")]
    assert objects == [c["args"][c["args"].index("-o") + 1] for c in compiles]
    assert [c["args"][:2] for c in commands[-2:]] == [["arm-none-eabi-objcopy", "-O"]] * 2
    elf = (out / "firmware" / "firmware.elf").read_bytes()
    require_tool("arm-none-eabi-gcc")
    args = [a if a != "../firmware.elf" else "../relinked.elf" for a in link["args"]]
    args = [a if a != "-Wl,-Map=../firmware.map" else "-Wl,-Map=../relinked.map" for a in args]
    proc = subprocess.run(args, cwd=out / link["cwd"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert (out / "firmware" / "relinked.elf").read_bytes() == elf


def test_engine_build_lists_its_project(engine_report):
    out, report = engine_report
    (project,) = report["projects"]
    assert project["kind"] == "cmake" and project["runtime"] == "c" and project["folder"] == "cmake"
    assert project["core_flags"] == ["-mcpu=cortex-m7", "-mthumb", "-mfloat-abi=hard", "-mfpu=fpv5-d16"]
    assert all((out / f).is_file() for f in project["files"])
    assert "cmake/CMakeLists.txt" in project["files"] and "cmake/example/main.c" in project["files"]
    example = (out / "cmake" / "example" / "fashion_cnn_example.h").read_text()
    assert "A sample input: the first calibration sample, quantized." in example
