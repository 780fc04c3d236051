"""One pipeline: `build()` runs every pass (firmware included) and returns one result; the CLI only
parses, calls and prints; `edgec bench` builds through the same passes, fit check included."""
from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

import targets
from tests.conftest import REPO, require_tool
from toolchain.build import BuildOptions, build
from toolchain.cli import cli
from toolchain.base.errors import ConversionError

M7 = targets.load_target("cortex-m7")

SMALL_M4 = '''extends = "cortex-m4"
name = "cortex-m4-64k"

[[memory]]
name = "flash"
kind = "flash"
start = 0x0000_0000
size_bytes = 65_536

[[memory]]
name = "sram"
kind = "ram"
start = 0x2000_0000
size_bytes = 262_144
'''

FLOOR_LAYER_SOURCE = '''
import keras


@keras.saving.register_keras_serializable(package="tests_pipeline")
class FloorLayer(keras.layers.Layer):
    """FLOOR: the converter leaves it in float32; TFLM runs it in float."""
    def call(self, x):
        return keras.ops.floor(x)
'''


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


def error_line(output: str) -> str:
    return next(line for line in output.splitlines() if line.startswith("Error: "))


def test_build_with_firmware_returns_the_firmware_and_its_elf_fit(mlperf_models, tmp_path):
    require_tool("arm-none-eabi-gcc")
    passes = []
    result = build(mlperf_models / "kws_ref_model.tflite", BuildOptions(target=M7, firmware=True), passes.append,
                   firmware_dir=tmp_path / "firmware")
    assert passes == ["load", "analyse", "measure", "engine", "firmware"]
    assert result.target == M7
    fw = result.firmware
    assert fw.elf == tmp_path / "firmware" / "firmware.elf" and fw.elf.is_file()
    assert fw.flash_used_bytes == (tmp_path / "firmware" / "firmware.bin").stat().st_size
    assert result.fit.runtime == "c" and result.fit.fits
    assert result.fit.flash.items == (("firmware (from the ELF)", fw.flash_used_bytes),)
    assert result.fit.sram.items == (("firmware incl. stack (from the ELF)", fw.sram_used_bytes),)
    assert result.fit.arena.used_bytes == result.engine.engine.sram_bytes
    assert result.engine.fit.flash.items[0][0] == "weights and constants (engine)"  # the estimate, kept


def test_firmware_without_a_folder_is_refused_before_any_pass():
    with pytest.raises(ValueError, match="firmware_dir"):
        build("no-such-model.tflite", BuildOptions(target=M7, firmware=True), lambda name: pytest.fail(name))


def test_no_command_patches_a_build_result():
    """The passes live in the library: no click command rebuilds a result with dataclasses.replace."""
    for path in sorted((REPO / "toolchain" / "cli").glob("*.py")):
        tree = ast.parse(path.read_text())
        calls = [n for n in ast.walk(tree) if isinstance(n, ast.Attribute) and n.attr == "replace"
                 and isinstance(n.value, ast.Name) and n.value.id == "dataclasses"]
        imports = [n for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module == "dataclasses"
                   and "replace" in {a.name for a in n.names}]
        assert not calls and not imports, path.name
    assert "build_firmware" not in (REPO / "toolchain" / "cli" / "build.py").read_text()


def test_bench_refuses_a_model_that_does_not_fit_as_build_does(mlperf_models, tmp_path):
    """The same fit check, the same message, the same exit code; bench stops before any device
    work and leaves its previous output as it was."""
    require_tool("arm-none-eabi-gcc")
    profile = tmp_path / "cortex-m4-64k.toml"
    profile.write_text(SMALL_M4)
    model = mlperf_models / "pretrainedResnet_quant.tflite"
    built = run("build", model, "--target-file", profile, "--firmware", "-o", tmp_path / "build")
    assert built.exit_code == 3, built.output
    message = error_line(built.output)
    assert message.startswith("Error: pretrainedResnet_quant does not fit cortex-m4-64k (c runtime): flash: needs ")
    report = json.loads((tmp_path / "build" / "report.json").read_text())
    assert report["firmware"] is None and not (tmp_path / "build" / "firmware").exists()
    assert "the firmware was not built: the C engine does not fit the target" in report["warnings"]

    previous = tmp_path / "bench" / "report.json"
    previous.parent.mkdir()
    previous.write_text("the previous run's report")
    benched = run("bench", "--target-file", profile, "--emulate", "--model", model, "-o", tmp_path / "bench")
    assert benched.exit_code == 3, benched.output
    assert error_line(benched.output) == message
    assert sorted(p.name for p in previous.parent.iterdir()) == ["report.json"]
    assert previous.read_text() == "the previous run's report"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no staging left behind


@pytest.fixture(scope="module")
def floor_model(tmp_path_factory) -> tuple[Path, Path]:
    """A .keras model whose FLOOR layer stays float in an int8 conversion, and the file defining it."""
    import importlib.util

    import keras

    folder = tmp_path_factory.mktemp("floor")
    source = folder / "floor_layer.py"
    source.write_text(FLOOR_LAYER_SOURCE)
    spec = importlib.util.spec_from_file_location("floor_layer_for_save", source)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    keras.utils.set_random_seed(2)
    model = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Conv2D(4, 3, name="conv"),
                              module.FloorLayer(name="my_floor"), keras.layers.Flatten(name="flat"),
                              keras.layers.Dense(3, name="head")])
    path = folder / "floor.keras"
    model.save(path)
    return path, source


def test_a_compressed_build_refuses_float_ops_as_a_plain_build_does(floor_model):
    from toolchain.compress.recipe import PruneOptions, Recipe

    path, source = floor_model
    with pytest.raises(ConversionError) as plain:
        build(path, BuildOptions(target=M7, calib_random=True, custom_objects=source))
    with pytest.raises(ConversionError) as compressed:
        build(path, BuildOptions(target=M7, calib_random=True, custom_objects=source,
                                 recipe=Recipe(prune=PruneOptions(sparsity=0.5))))
    assert plain.value.message == "float ops left in the int8 build: FLOOR (from layer 'my_floor')"
    assert compressed.value.message == plain.value.message
