"""The project emitter: the generated engine (or TFLM's C array) and the files that build it.

For the C engine (runtime "c"), each kind holds the engine's sources, an example that runs the
model on a sample input and prints its outputs, and the build files:

    cmake     CMakeLists.txt (library <name>_model, example <name>_example when top-level),
              arm-none-eabi.cmake (toolchain file with the profile's core flags), model/, example/
    make      Makefile (library + example; HOST=1 builds with cc), <name>_model.mk (the sources,
              for a firmware's own Makefile), model/, example/
    arduino   library.properties, src/ (engine, example code, <name>_model.h), examples/<name>/<name>.ino
              (the sketch only wires Serial to the library's plain C example code)

For TFLM (runtime "tflm"), each holds the C array (model_data.cc/.h) and <name>_tflm.h, which names
the tflite-micro build that measured the arena; TFLM itself is the user's to link, so there is no
example program.

Templates live in templates/ with {{placeholders}} (CMake and make use `${}` and `$()`), filled
from dataclass contexts whose fields are exactly the templates' placeholders.
"""
from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from firmware_export.c_array import c_identifier, render_c_array

PROJECT_KINDS = ("cmake", "make", "arduino")
TEMPLATES = Path(__file__).resolve().parent / "templates"
CROSS_LINK_FLAGS = "--specs=nano.specs --specs=nosys.specs"
PRINTF_FLOAT = "-u _printf_float"  # newlib-nano's printf formats floats only when asked
_PLACEHOLDER = re.compile(r"\{\{(\w+)\}\}")
_VALUES_PER_LINE = {"int8": 16, "float32": 4}


@dataclass(frozen=True)
class ProjectModel:
    """What a project is made from: the engine (runtime "c") or the .tflite bytes (runtime "tflm")."""
    name: str  # the model's name; its C identifier names every symbol
    source: str  # the model file's name, for the generated comments
    engine: object = field(default=None, repr=False)  # firmware_export.cengine.GeneratedEngine
    tflite_bytes: bytes | None = field(default=None, repr=False)
    arena_bytes: int = 0  # TFLM: the measured arena (64-bit host figure, the safe upper bound)
    arena_note: str = ""
    tflm_version: str = ""  # TFLM: the tflite-micro build that measured the arena
    sample: np.ndarray | None = field(default=None, repr=False)  # one input as the engine reads it
    sample_note: str = ""

    @property
    def runtime(self) -> str:
        return "c" if self.engine is not None else "tflm"

    @property
    def ident(self) -> str:
        return c_identifier(self.name).lower()


@dataclass(frozen=True)
class ProjectSources:
    kind: str
    folder: str  # where in the output folder the project goes
    runtime: str
    core_flags: tuple[str, ...]
    files: dict[str, str] = field(repr=False)  # path in the project -> text, sorted
    commands: tuple[str, ...]  # what a person types in the project's folder to build it
    usage: str  # how a firmware takes the model in
    tflm_version: str | None = None  # TFLM projects: the tflite-micro build that measured the arena


def project_folder(kind: str, name: str) -> str:
    """cmake/ and make/; an Arduino library's folder bears the library's name."""
    return f"arduino/{c_identifier(name).lower()}_model" if kind == "arduino" else kind


def fill(template: str, context) -> str:
    """The template with every {{field}} replaced; a placeholder without a field is an error."""
    values = {k: str(v) for k, v in asdict(context).items()}
    return _PLACEHOLDER.sub(lambda m: values[m.group(1)], (TEMPLATES / template).read_text())


def template_fields(template: str) -> set[str]:
    return set(_PLACEHOLDER.findall((TEMPLATES / template).read_text()))


# --- contexts: exactly the fields of their templates ------------------------------------------------

@dataclass(frozen=True)
class ExampleContext:  # example.h.tmpl, example.c.tmpl, main.c.tmpl, sketch.ino.tmpl
    name: str
    NAME: str
    source: str
    sample_note: str
    sample_rows: str
    value_chars: int
    value_format: str
    value_cast: str


@dataclass(frozen=True)
class BuildContext:  # CMakeLists.txt.tmpl, Makefile.tmpl, model.mk.tmpl, arm-none-eabi.cmake.tmpl
    name: str
    NAME: str
    source: str
    target: str
    core: str
    core_flags: str
    model_sources: str
    cross_link_flags: str  # the toolchain file's and the Makefile's link flags
    example_link: str  # CMake: what the example adds to them (printf of floats from newlib-nano)


@dataclass(frozen=True)
class TflmContext:  # CMakeLists_tflm.txt.tmpl, Makefile_tflm.tmpl, tflm_note.h.tmpl
    name: str
    NAME: str
    source: str
    target: str
    core: str
    core_flags: str
    tflm_version: str
    array_name: str


@dataclass(frozen=True)
class ArduinoContext:  # library.properties.tmpl, arduino_model.h.tmpl
    name: str
    NAME: str
    source: str
    sentence: str
    paragraph: str
    includes: str


def sample_input(engine, samples: np.ndarray | None) -> tuple[np.ndarray, str]:
    """One input for the example, as the engine reads it, and what it is: the first calibration
    sample (quantized with the input's scale and zero point for an int8 input), else seeded random
    values in the input's range."""
    count = engine.input_bytes // (4 if engine.input_dtype == "float32" else 1)
    if samples is not None and len(samples):
        x = np.asarray(samples[0], dtype=np.float64).reshape(-1)[:count]
        if engine.input_dtype == "float32":
            return x.astype(np.float32), "the first calibration sample"
        scale, zero_point = engine.input_quant
        q = np.clip(np.floor(x / scale + 0.5) + zero_point, -128, 127)
        return q.astype(np.int8), "the first calibration sample, quantized"
    rng = np.random.default_rng(0)
    if engine.input_dtype == "float32":
        return rng.standard_normal(count).astype(np.float32), "seeded random values (no calibration data given)"
    return (rng.integers(-128, 128, size=count).astype(np.int8),
            "seeded random values (no calibration data given)")


def _rows(values: np.ndarray) -> str:
    from firmware_export.cengine.emit import c_float

    per_line = _VALUES_PER_LINE["float32" if values.dtype == np.float32 else "int8"]
    text = [c_float(v) if values.dtype == np.float32 else str(int(v)) for v in values]
    return "\n".join("    " + ", ".join(text[i:i + per_line]) + ","
                     for i in range(0, len(text), per_line))


def _example_context(model: ProjectModel) -> ExampleContext:
    e, name = model.engine, model.ident
    is_float = e.output_dtype == "float32"
    return ExampleContext(name=name, NAME=name.upper(), source=model.source, sample_note=model.sample_note,
                          sample_rows=_rows(model.sample), value_chars=16 if is_float else 5,
                          value_format="%.9g" if is_float else "%d", value_cast="(double)" if is_float else "(int)")


def _build_context(model: ProjectModel, target, sources: list[str], cmake: bool) -> BuildContext:
    name = model.ident
    listed = ("\n".join(f"  {s}" for s in sources) if cmake
              else " \\\n".join(f"    $({name.upper()}_MODEL_DIR){s}" for s in sources))
    floats = model.engine.output_dtype == "float32"
    example_link = (f"\n  if(CMAKE_CROSSCOMPILING)\n    target_link_options({name}_example PRIVATE {PRINTF_FLOAT})"
                    "\n  endif()" if floats else "")
    return BuildContext(name=name, NAME=name.upper(), source=model.source, target=target.name, core=target.core,
                        core_flags=" ".join(target.cflags), model_sources=listed,
                        cross_link_flags=CROSS_LINK_FLAGS + (f" {PRINTF_FLOAT}" if floats and not cmake else ""),
                        example_link=example_link)


def _engine_project(kind: str, model: ProjectModel, target) -> tuple[dict[str, str], tuple[str, ...]]:
    e, name = model.engine, model.ident
    example = _example_context(model)
    code = {f"{name}_example.h": fill("example.h.tmpl", example), f"{name}_example.c": fill("example.c.tmpl", example)}
    if kind == "arduino":
        files = {f"src/{f}": text for f, text in {**e.files, **code}.items()}
        includes = f'#include "{name}.h"\n#include "{name}_example.h"'
        files[f"src/{name}_model.h"] = fill("arduino_model.h.tmpl", _arduino_context(model, includes))
        files["library.properties"] = fill("library.properties.tmpl", _arduino_context(model, includes))
        files[f"examples/{name}/{name}.ino"] = fill("sketch.ino.tmpl", example)
        return files, ()
    files = {f"model/{f}": text for f, text in e.files.items()}
    files.update({f"example/{f}": text for f, text in code.items()})
    files["example/main.c"] = fill("main.c.tmpl", example)
    c_sources = sorted(f"model/{f}" for f in e.files if f.endswith(".c"))
    if kind == "cmake":
        build = _build_context(model, target, c_sources, cmake=True)
        files["CMakeLists.txt"] = fill("CMakeLists.txt.tmpl", build)
        files["arm-none-eabi.cmake"] = fill("arm-none-eabi.cmake.tmpl", build)
        return files, ("cmake -S . -B build -DCMAKE_TOOLCHAIN_FILE=arm-none-eabi.cmake", "cmake --build build")
    build = _build_context(model, target, c_sources, cmake=False)
    files["Makefile"] = fill("Makefile.tmpl", build)
    files[f"{name}_model.mk"] = fill("model.mk.tmpl", build)
    return files, ("make",)


def _arduino_context(model: ProjectModel, includes: str) -> ArduinoContext:
    name = model.ident
    if model.runtime == "c":
        e = model.engine
        sentence = f"The {name} model as a plain C inference engine generated by edgec (int8, bit-exact with TFLM)."
        paragraph = (f"Generated from {model.source}: {e.weight_bytes} B of weights in flash, one static arena of "
                     f"{e.activation_bytes} B; no interpreter, no malloc. Call {name}_invoke(input, output).")
    else:
        sentence = f"The {name} model as a TensorFlow Lite Micro C array generated by edgec."
        paragraph = (f"Generated from {model.source}: {len(model.tflite_bytes)} B; arena measured with "
                     f"{model.tflm_version}. Needs a TensorFlow Lite Micro library.")
    return ArduinoContext(name=name, NAME=name.upper(), source=model.source, sentence=sentence,
                          paragraph=paragraph, includes=includes)


def _tflm_project(kind: str, model: ProjectModel, target) -> tuple[dict[str, str], tuple[str, ...]]:
    name = model.ident
    array = render_c_array(model.tflite_bytes, model.name, model.arena_bytes, model.arena_note)
    context = TflmContext(name=name, NAME=name.upper(), source=model.source, target=target.name, core=target.core,
                          core_flags=" ".join(target.cflags), tflm_version=model.tflm_version,
                          array_name=f"{name}_model_data")
    code = {**array, f"{name}_tflm.h": fill("tflm_note.h.tmpl", context)}
    if kind == "arduino":
        files = {f"src/{f}": text for f, text in code.items()}
        includes = f'#include "{name}_tflm.h"'
        files[f"src/{name}_model.h"] = fill("arduino_model.h.tmpl", _arduino_context(model, includes))
        files["library.properties"] = fill("library.properties.tmpl", _arduino_context(model, includes))
        return files, ()
    files = {f"model/{f}": text for f, text in code.items()}
    if kind == "cmake":
        files["CMakeLists.txt"] = fill("CMakeLists_tflm.txt.tmpl", context)
        files["arm-none-eabi.cmake"] = fill("arm-none-eabi.cmake.tmpl", _tflm_build_context(context))
        return files, ("cmake -S . -B build -DCMAKE_TOOLCHAIN_FILE=arm-none-eabi.cmake", "cmake --build build")
    files["Makefile"] = fill("Makefile_tflm.tmpl", context)
    return files, ("make",)


def _tflm_build_context(c: TflmContext) -> BuildContext:
    return BuildContext(name=c.name, NAME=c.NAME, source=c.source, target=c.target, core=c.core,
                        core_flags=c.core_flags, model_sources="", cross_link_flags=CROSS_LINK_FLAGS,
                        example_link="")


def render_project(kind: str, model: ProjectModel, target) -> ProjectSources:
    """The files of a `kind` project (PROJECT_KINDS) for `target` (its core flags)."""
    if kind not in PROJECT_KINDS:
        raise ValueError(f"unknown project kind {kind!r}")
    render = _engine_project if model.runtime == "c" else _tflm_project
    files, commands = render(kind, model, target)
    return ProjectSources(kind=kind, folder=project_folder(kind, model.name), runtime=model.runtime,
                          core_flags=tuple(target.cflags), files=dict(sorted(files.items())), commands=commands,
                          usage=_usage(kind, model), tflm_version=model.tflm_version or None)


def _usage(kind: str, model: ProjectModel) -> str:
    name = model.ident
    if kind == "cmake":
        return (f"add_subdirectory(<this folder> {name}_model) and target_link_libraries(<your firmware> "
                f"PRIVATE {name}_model) in your CMakeLists.txt")
    if kind == "make":
        what = f"include {name}_model.mk in your Makefile" if model.runtime == "c" else "link build/lib{name}_model.a"
        return what + (" (with TFLM)" if model.runtime == "tflm" else "")
    example = f"; File > Examples > {name}_model > {name}" if model.runtime == "c" else " (with a TFLM library)"
    return f"copy the folder into your Arduino libraries folder (~/Arduino/libraries/){example}"
