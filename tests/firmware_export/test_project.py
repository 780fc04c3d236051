"""`edgec build --project`: the CMake, make and Arduino projects, built here with the real compilers.

The engine of MLPerf Tiny's keyword-spotting model (kws_ref_model.tflite, shipped) is generated once;
each project is rendered for a core and built once (cmake, make, arm-none-eabi-gcc for five cores, the
host's cc). The host builds run the example program and their outputs are compared with tflite-micro's
byte for byte.
"""
from __future__ import annotations

import dataclasses
import json
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import MLPERF_TINY, REPO, require_tool

MODEL = MLPERF_TINY / "kws_ref_model.tflite"
NAME = "kws_ref_model"
CORES = ("cortex-m0plus", "cortex-m4", "cortex-m7", "cortex-m33", "cortex-m55")
# What readelf -A says of an object built for each architecture in targets/cores.toml.
READELF_ARCH = {"armv6-m": "v6S-M", "armv7e-m": "v7E-M", "armv8-m.main": "v8-M.mainline",
                "armv8.1-m.main": "v8.1-M.mainline"}
ARDUINO_FLAGS = ("-mcpu=cortex-m4", "-mthumb", "-mfloat-abi=hard", "-mfpu=fpv4-sp-d16", "-Os")
# The Arduino core's declarations that the example sketch uses, and nothing else: the test compiles
# the sketch (as C++) against them; it does not link or run it (no Arduino core is installed here).
ARDUINO_DECLARATIONS = """\
#include <stddef.h>
class HardwareSerial {
public:
    void begin(unsigned long baud);
    size_t println(const char *text);
};
extern HardwareSerial Serial;
extern "C" void delay(unsigned long ms);
"""


def _run(args, cwd, env=None):
    proc = subprocess.run(args, cwd=cwd, capture_output=True, text=True, env=env)
    assert proc.returncode == 0, f"{' '.join(map(str, args))}\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout


@pytest.fixture(scope="module")
def model():
    """The project's model: the engine and a sample input (seeded: no calibration data for a .tflite)."""
    from firmware_export.cengine import generate_engine
    from firmware_export.project import ProjectModel, sample_input
    from toolchain.base.tflite_reader import read_tflite

    engine = generate_engine(read_tflite(MODEL.read_bytes(), NAME), NAME, MODEL.name)
    sample, note = sample_input(engine, None)
    return ProjectModel(NAME, MODEL.name, engine=engine, sample=sample, sample_note=note)


@pytest.fixture(scope="module")
def inputs() -> np.ndarray:
    """16 inputs from quiet to loud, so that the outputs differ from one another."""
    rng = np.random.default_rng(3)
    std = np.repeat([4.0, 12.0, 20.0, 40.0], 4)[:, None]
    return np.clip(np.round(rng.normal(0, 1, (16, 490)) * std), -128, 127).astype(np.int8).reshape(16, 1, 49, 10, 1)


def write(project, folder: Path) -> Path:
    for rel, text in project.files.items():
        path = folder / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8", newline="\n")
    return folder


def build_folder(where: str) -> str:
    return "build-host" if where == "host" else "build"


@pytest.fixture(scope="module")
def reference(model, inputs) -> np.ndarray:
    """tflite-micro's outputs for `inputs`, then for the sample input, one row each."""
    from toolchain.oracle import run_tflm

    outputs = run_tflm(MODEL.read_bytes(), np.concatenate([inputs, model.sample.reshape(1, 1, 49, 10, 1)]))
    return outputs.reshape(len(outputs), -1).astype(int)


def printed_outputs(program: Path, inputs: np.ndarray, folder: Path) -> list[list[int]]:
    batch = folder / "inputs.bin"
    batch.write_bytes(inputs.tobytes())
    return [[int(v) for v in line.split()] for line in _run([str(program), str(batch)], folder).splitlines()]


@pytest.fixture(scope="module")
def built(model, tmp_path_factory):
    """(kind, target name or "host") -> the built project folder, each built once."""
    from firmware_export.project import render_project
    from targets import load_target

    cache = {}

    def build(kind: str, where: str) -> Path:
        if (kind, where) not in cache:
            target = load_target("cortex-m4" if where == "host" else where)
            folder = write(render_project(kind, model, target), tmp_path_factory.mktemp(f"{kind}-{where}"))
            if kind == "cmake":
                require_tool("cmake")
                cross = [] if where == "host" else ["-DCMAKE_TOOLCHAIN_FILE=arm-none-eabi.cmake"]
                _run(["cmake", "-S", ".", "-B", build_folder(where), *cross], folder)
                _run(["cmake", "--build", build_folder(where), "-j2"], folder)
            else:
                require_tool("make")
                _run(["make", "-j2"] + (["HOST=1"] if where == "host" else []), folder)
            cache[kind, where] = folder
        return cache[kind, where]

    return build


@pytest.mark.parametrize("kind", ["cmake", "make"])
@pytest.mark.parametrize("core", CORES)
def test_cross_build_for_each_core(built, kind, core):
    """The library and the example link with arm-none-eabi-gcc; their objects are the core's."""
    from targets import cores

    require_tool("arm-none-eabi-gcc")
    folder = built(kind, core) / build_folder(core)
    library, example = folder / f"lib{NAME}_model.a", folder / f"{NAME}_example"
    assert library.is_file() and example.is_file()
    attributes = _run(["arm-none-eabi-readelf", "-A", str(library)], folder)
    arch = [line.split(":", 1)[1].strip() for line in attributes.splitlines() if "Tag_CPU_arch:" in line]
    assert set(arch) == {READELF_ARCH[cores()[core].arch]}
    hard_float = "-mfloat-abi=hard" in cores()[core].cflags
    assert ("Tag_ABI_VFP_args: VFP registers" in attributes) == hard_float
    assert _run(["arm-none-eabi-readelf", "-h", str(example)], folder).count("Machine:                           ARM") == 1


@pytest.mark.parametrize("kind", ["cmake", "make"])
def test_host_build_outputs_equal_tflite_micro(built, inputs, reference, kind, tmp_path):
    """The example program built with the host's compiler prints, for each input, what tflite-micro
    computes, value for value; without an argument, the outputs of its built-in sample."""
    program = built(kind, "host") / "build-host" / f"{NAME}_example"
    assert printed_outputs(program, inputs, tmp_path) == reference[:-1].tolist()
    assert len({tuple(row) for row in reference[:-1]}) > 8  # the inputs give different outputs
    sample_line = _run([str(program)], tmp_path).split()
    assert [int(v) for v in sample_line] == reference[-1].tolist()


FIRMWARE_MAIN = """\
/* A firmware of the test's own: it calls the engine through its header only. */
#include <stdio.h>
#include "kws_ref_model.h"

int main(int argc, char **argv)
{
    static kws_ref_model_input_t input[KWS_REF_MODEL_INPUT_COUNT];
    static kws_ref_model_output_t output[KWS_REF_MODEL_OUTPUT_COUNT];
    FILE *f = fopen(argv[argc - 1], "rb");
    int i;
    while (f != NULL && fread(input, 1, sizeof input, f) == sizeof input) {
        if (kws_ref_model_invoke(input, output) != 0) return 1;
        for (i = 0; i < KWS_REF_MODEL_OUTPUT_COUNT; i++) printf(i ? " %d" : "%d", output[i]);
        printf("\\n");
    }
    return f == NULL;
}
"""


def test_a_cmake_firmware_takes_the_library_by_add_subdirectory(model, inputs, reference, tmp_path):
    """Another CMake project adds the project's folder with add_subdirectory and links <name>_model:
    it builds (without the example, which is only built top-level) and computes what TFLM does."""
    from firmware_export.project import render_project
    from targets import load_target

    require_tool("cmake")
    write(render_project("cmake", model, load_target("cortex-m4")), tmp_path / "models" / "kws")
    firmware = tmp_path / "firmware"
    firmware.mkdir()
    (firmware / "main.c").write_text(FIRMWARE_MAIN)
    (firmware / "CMakeLists.txt").write_text(
        "cmake_minimum_required(VERSION 3.13)\nproject(firmware LANGUAGES C)\n"
        f"add_subdirectory(../models/kws {NAME}_model)\nadd_executable(firmware main.c)\n"
        f"target_link_libraries(firmware PRIVATE {NAME}_model)\n")
    _run(["cmake", "-S", ".", "-B", "build"], firmware)
    _run(["cmake", "--build", "build", "-j2"], firmware)
    assert not list((firmware / "build").rglob(f"{NAME}_example*"))
    assert printed_outputs(firmware / "build" / "firmware", inputs, tmp_path) == reference[:-1].tolist()


def test_a_make_firmware_takes_the_sources_by_include(model, inputs, reference, tmp_path):
    """Another Makefile includes <name>_model.mk from elsewhere and compiles its sources."""
    from firmware_export.project import render_project
    from targets import load_target

    require_tool("make")
    write(render_project("make", model, load_target("cortex-m4")), tmp_path / "models" / "kws")
    firmware = tmp_path / "firmware"
    firmware.mkdir()
    (firmware / "main.c").write_text(FIRMWARE_MAIN)
    (firmware / "Makefile").write_text(
        f"include ../models/kws/{NAME}_model.mk\n"
        f"firmware: main.c $(KWS_REF_MODEL_MODEL_SRCS)\n"
        f"\tcc -O2 -std=c99 -I$(KWS_REF_MODEL_MODEL_INC) $^ -o $@\n")
    _run(["make"], firmware)
    assert printed_outputs(firmware / "firmware", inputs, tmp_path) == reference[:-1].tolist()


def test_arduino_library_compiles_for_a_cortex_m4_board(model, tmp_path):
    """src/ (C) and the example sketch (C++) compile with the flags an Arduino core for a Cortex-M4
    board passes. The sketch is compiled against ARDUINO_DECLARATIONS: Serial.begin, Serial.println
    and delay declared as the Arduino core declares them (no Arduino core is installed here)."""
    from firmware_export.project import render_project
    from targets import load_target

    gcc, gxx = require_tool("arm-none-eabi-gcc"), require_tool("arm-none-eabi-g++")
    project = render_project("arduino", model, load_target("cortex-m4"))
    assert project.folder == f"arduino/{NAME}_model"
    library = write(project, tmp_path / project.folder)
    properties = dict(line.split("=", 1) for line in project.files["library.properties"].splitlines())
    assert properties["name"] == f"{NAME}_model" and properties["includes"] == f"{NAME}_model.h"
    assert set(properties) >= {"version", "author", "maintainer", "sentence", "paragraph", "category", "architectures"}
    assert sorted(p for p in project.files if not p.startswith("src/")) == [
        f"examples/{NAME}/{NAME}.ino", "library.properties"]
    sources = sorted((library / "src").glob("*.c"))
    assert {s.name for s in sources} >= {f"{NAME}.c", f"{NAME}_example.c"}
    for source in sources:
        _run([gcc, *ARDUINO_FLAGS, "-Wall", "-Wextra", "-Werror", "-Isrc", "-c", str(source), "-o",
              str(tmp_path / (source.stem + ".o"))], library)
    (tmp_path / "arduino_declarations.h").write_text(ARDUINO_DECLARATIONS)
    sketch = library / "examples" / NAME / f"{NAME}.ino"
    _run([gxx, *ARDUINO_FLAGS, "-Wall", "-Wextra", "-Werror", "-x", "c++", "-include",
          str(tmp_path / "arduino_declarations.h"), "-Isrc", "-c", str(sketch), "-o", str(tmp_path / "sketch.o")],
         library)
    symbols = _run(["arm-none-eabi-nm", str(tmp_path / "sketch.o")], tmp_path)
    assert f"U {NAME}_example_run" in symbols and f"U {NAME}_example_input" in symbols


@pytest.mark.parametrize("kind", ["cmake", "make"])
def test_tflm_project_holds_the_c_array_and_the_tflm_version(kind, tmp_path):
    """Without the engine, the library is TFLM's C array (it compiles with arm-none-eabi-g++), with
    the tflite-micro version that measured the arena."""
    from importlib.metadata import version

    from firmware_export.project import ProjectModel, render_project
    from targets import load_target

    require_tool("arm-none-eabi-g++")
    model = ProjectModel(NAME, MODEL.name, tflite_bytes=MODEL.read_bytes(), arena_bytes=12345,
                         arena_note="a note", tflm_version=f"tflite-micro {version('tflite-micro')}")
    project = render_project(kind, model, load_target("cortex-m7"))
    assert project.runtime == "tflm"
    build_files = ["Makefile"] if kind == "make" else ["CMakeLists.txt", "arm-none-eabi.cmake"]
    assert sorted(project.files) == build_files + [f"model/{NAME}_tflm.h", "model/model_data.cc", "model/model_data.h"]
    assert f'#define KWS_REF_MODEL_TFLM_VERSION "tflite-micro {version("tflite-micro")}"' in \
        project.files[f"model/{NAME}_tflm.h"]
    folder = write(project, tmp_path)
    if kind == "make":
        _run(["make"], folder)
        obj = "build/model_data.o"
    else:
        require_tool("cmake")
        _run(["cmake", "-S", ".", "-B", "build", "-DCMAKE_TOOLCHAIN_FILE=arm-none-eabi.cmake"], folder)
        _run(["cmake", "--build", "build"], folder)
        obj = f"build/lib{NAME}_model.a"
    assert "Tag_CPU_arch: v7E-M" in _run(["arm-none-eabi-readelf", "-A", obj], folder)
    objects = _run(["arm-none-eabi-size", "-A", obj], folder)
    rodata = [line.split() for line in objects.splitlines() if line.startswith(".rodata")]
    assert sum(int(r[1]) for r in rodata) >= len(MODEL.read_bytes())


def test_templates_use_exactly_their_context():
    from firmware_export.project import emit

    groups = {emit.ExampleContext: ("example.h.tmpl", "example.c.tmpl", "main.c.tmpl", "sketch.ino.tmpl"),
              emit.BuildContext: ("CMakeLists.txt.tmpl", "Makefile.tmpl", "model.mk.tmpl", "arm-none-eabi.cmake.tmpl"),
              emit.TflmContext: ("CMakeLists_tflm.txt.tmpl", "Makefile_tflm.tmpl", "tflm_note.h.tmpl"),
              emit.ArduinoContext: ("library.properties.tmpl", "arduino_model.h.tmpl")}
    for context, templates in groups.items():
        used = set().union(*(emit.template_fields(t) for t in templates))
        assert used == {f.name for f in dataclasses.fields(context)}, context.__name__
    listed = {t for ts in groups.values() for t in ts}
    assert sorted(p.name for p in emit.TEMPLATES.iterdir()) == sorted(listed)


def test_cli_writes_the_projects_and_records_the_commands(model, tmp_path):
    """`edgec build --project` (a separate process) writes the same bytes as the emitter here: the
    projects are deterministic. report.json lists them and the engine's compile commands, which
    compile the engine when run again in the output's engine/ folder."""
    from firmware_export.project import render_project
    from targets import load_target

    require_tool("arm-none-eabi-gcc")
    out = tmp_path / "out"
    env = dict(os.environ, PYTHONPATH=str(REPO))
    proc = subprocess.run([os.sys.executable, "-m", "toolchain.cli", "build", str(MODEL), "--target", "cortex-m4",
                           "--runtime", "c", "--project", "cmake", "--project", "make", "--project", "arduino",
                           "-o", str(out)], capture_output=True, text=True, env=env, cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"project cmake/ (C engine): cd {out}/cmake && cmake -S . -B build" in proc.stdout.replace("\n", " ")
    report = json.loads((out / "report.json").read_text())
    target = load_target("cortex-m4")
    for entry in report["projects"]:
        project = render_project(entry["kind"], model, target)
        assert entry["folder"] == project.folder and entry["runtime"] == "c"
        assert entry["files"] == [f"{project.folder}/{f}" for f in project.files]
        for rel, text in project.files.items():
            assert (out / project.folder / rel).read_bytes() == text.encode(), rel
    assert [e["kind"] for e in report["projects"]] == ["cmake", "make", "arduino"]
    commands = report["engine"]["commands"]
    # each source compiled, then the link that sizes the engine as a firmware links it (--gc-sections)
    compiles, link = commands[:-1], commands[-1]
    assert all("-c" in c["args"] for c in compiles) and "-Wl,--gc-sections" in link["args"]
    assert [c["args"][-3] for c in compiles] == sorted(f for f in model.engine.files if f.endswith(".c"))
    for command in commands:
        assert command["cwd"] == "engine" and command["args"][0] == "arm-none-eabi-gcc"
        _run(command["args"], out / command["cwd"])
    assert all((out / "engine" / (Path(c["args"][-3]).stem + ".o")).is_file() for c in compiles)
    assert (out / "engine" / link["args"][-1]).is_file()


def test_projects_need_a_cortex_m_target():
    from targets import load_target
    from toolchain.base.errors import OptionError
    from toolchain.build import BuildOptions

    with pytest.raises(OptionError, match="a Cortex-M target"):
        BuildOptions(target=load_target("esp32-s3-devkitc"), projects=("cmake",))
    with pytest.raises(OptionError, match="one of cmake, make, arduino"):
        BuildOptions(target=load_target("cortex-m4"), projects=("meson",))


def test_cli_offers_every_project_kind():
    from firmware_export.project import PROJECT_KINDS
    from toolchain.cli.build import PROJECT_KINDS as OFFERED

    assert OFFERED == PROJECT_KINDS
