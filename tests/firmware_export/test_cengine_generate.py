"""Generated files: deterministic, complete, C99 that compiles warning-free for the host and for
every Cortex-M core, with the per-layer hook, and one error listing every unsupported op."""
from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest

from firmware_export.cengine import UnsupportedOpsError, generate_engine
from firmware_export.cengine import emit
from firmware_export.cengine.host import compile_host, host_compiler
from tests.conftest import require_tool
from tests.firmware_export.conftest import mlperf_path
from toolchain.base.tflite_reader import read_tflite, read_tflite_file

KERNELS = Path(emit.__file__).parent / "kernels"
GOLDEN = Path(__file__).parent / "golden"
CORES = ("cortex-m0plus", "cortex-m4", "cortex-m7", "cortex-m33", "cortex-m55")


def _kws():
    return generate_engine(read_tflite_file(mlperf_path("kws_ref_model")), "kws_ref_model", "kws_ref_model.tflite")


def test_same_model_gives_byte_identical_files():
    a, b = _kws(), _kws()
    assert list(a.files) == sorted(a.files)
    assert a.files == b.files


def test_engine_files_and_figures():
    e = _kws()
    assert set(e.files) == {"kws_ref_model.c", "kws_ref_model.h", "edgec_common.h", "edgec_conv.c", "edgec_conv.h",
                            "edgec_dwconv.c", "edgec_dwconv.h", "edgec_fc.c", "edgec_fc.h", "edgec_pool.c",
                            "edgec_pool.h", "edgec_softmax.c", "edgec_softmax.h"}
    header = e.files["kws_ref_model.h"]
    for macro in ("KWS_REF_MODEL_INPUT_BYTES 490", "KWS_REF_MODEL_OUTPUT_BYTES 12",
                  f"KWS_REF_MODEL_ARENA_BYTES {e.activation_bytes}", "KWS_REF_MODEL_NUM_OPS 13",
                  "KWS_REF_MODEL_INPUT_IS_FLOAT 0"):
        assert f"#define {macro}\n" in header
    assert "int kws_ref_model_invoke(const int8_t *input, int8_t *output);" in header
    assert e.input_bytes == 490 and e.output_bytes == 12 and e.input_dtype == "int8"
    # weights + biases + multipliers + shifts + softmax table of the 13 ops
    assert 20000 < e.weight_bytes < 60000
    assert len(e.plan.timeline) == len(e.op_names) == 13
    for path, text in e.files.items():
        assert "/work" not in text and "/tmp" not in text, path  # no absolute paths


def test_header_matches_golden_file():
    """Catches unintended changes of the C API (regenerate the golden file on purpose)."""
    assert _kws().files["kws_ref_model.h"] == (GOLDEN / "kws_ref_model.h").read_text()


@pytest.mark.parametrize("template,context", [("model.h.tmpl", emit.HeaderContext), ("model.c.tmpl", emit.SourceContext),
                                              ("host_main.c.tmpl", emit.HostContext)])
def test_templates_use_exactly_their_context(template, context):
    assert emit.template_fields(template) == set(context.__dataclass_fields__)


def test_c_identifiers():
    assert emit.c_identifier("vww_96_int8") == "vww_96_int8"
    assert emit.c_identifier("My-Model.v2") == "my_model_v2"
    assert emit.c_identifier("3dnet") == "m_3dnet"
    assert emit.c_float(0.1) == "0x1.99999a0000000p-4f"


def test_unsupported_ops_are_all_listed():
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(0)
    x = keras.Input((8, 8, 3), batch_size=1)
    y = keras.layers.LeakyReLU(0.2)(keras.layers.Conv2D(4, 3, padding="same")(x))
    y = keras.layers.UpSampling2D(2)(y)
    model = keras.Model(x, y)
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = lambda: ([np.random.default_rng(i).normal(size=(1, 8, 8, 3)).astype(np.float32)]
                                                for i in range(4))
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter.inference_input_type = converter.inference_output_type = tf.int8
    model_bytes = converter.convert()
    ops = read_tflite(model_bytes).op_names
    assert "LEAKY_RELU" in ops and "TILE" in ops  # UpSampling2D converts to RESHAPE + TILE
    with pytest.raises(UnsupportedOpsError) as info:
        generate_engine(read_tflite(model_bytes), "unsupported")
    listed = {name for _, name, _ in info.value.ops}
    assert listed == {"LEAKY_RELU", "TILE"}
    assert "LEAKY_RELU" in str(info.value) and "TILE" in str(info.value)
    assert sum(1 for _, name, _ in info.value.ops if name == "TILE") == ops.count("TILE")  # every one listed


HOOK_HARNESS = """
#include <stdio.h>
#include "kws_ref_model.h"
static int calls[KWS_REF_MODEL_NUM_OPS];
void edgec_layer_hook(int op_index) { calls[op_index]++; }
int main(void) {
    static int8_t in[KWS_REF_MODEL_INPUT_BYTES], out[KWS_REF_MODEL_OUTPUT_BYTES];
    int i;
    kws_ref_model_invoke(in, out);
    kws_ref_model_invoke(in, out);
    for (i = 0; i < KWS_REF_MODEL_NUM_OPS; i++) printf("%d %s\\n", calls[i], kws_ref_model_op_names[i]);
    return 0;
}
"""


def test_layer_hook_is_called_after_each_op(tmp_path):
    engine = _kws()
    engine.write(tmp_path)
    (tmp_path / "main.c").write_text(HOOK_HARNESS)
    sources = [str(p) for p in sorted(tmp_path.glob("*.c"))]
    exe = tmp_path / "hook"
    subprocess.run([host_compiler(), "-O1", "-std=c99", "-Wall", "-Wextra", "-Werror", "-DEDGEC_LAYER_HOOK",
                    "-o", str(exe), *sources], check=True)
    lines = subprocess.run([str(exe)], check=True, capture_output=True, text=True).stdout.splitlines()
    assert lines == [f"2 {name}" for name in engine.op_names]


def test_without_the_hook_macro_there_is_no_hook_symbol(tmp_path):
    host = compile_host(_kws(), tmp_path)
    symbols = subprocess.run(["nm", str(host.executable)], capture_output=True, text=True).stdout
    assert "edgec_layer_hook" not in symbols


@pytest.mark.parametrize("cpu", CORES)
def test_arm_cross_compile_is_warning_free(cpu, tmp_path, single_op_models):
    """Every kernel and two generated models (one with float I/O) with arm-none-eabi-gcc."""
    compiler = require_tool("arm-none-eabi-gcc")
    _kws().write(tmp_path)
    _, float_model = single_op_models["float_io"]
    generate_engine(read_tflite(float_model), "float_io").write(tmp_path)
    sources = sorted({*tmp_path.glob("*.c"), *KERNELS.glob("*.c")}, key=lambda p: p.name)
    for source in sources:
        result = subprocess.run([compiler, "-O2", f"-mcpu={cpu}", "-mthumb", "-std=c99", "-Wall", "-Wextra", "-Werror",
                                 "-I", str(KERNELS), "-c", str(source), "-o", str(tmp_path / (source.stem + ".o"))],
                                capture_output=True, text=True)
        assert result.returncode == 0, result.stderr
    if cpu != "cortex-m0plus":  # the DSP path is the one compiled there
        defines = subprocess.run([compiler, f"-mcpu={cpu}", "-mthumb", "-dM", "-E", "-"], input="",
                                 capture_output=True, text=True).stdout
        assert "__ARM_FEATURE_DSP 1" in defines


@pytest.mark.parametrize("cpu", CORES)
def test_kernels_compile_at_every_optimisation_level(cpu, tmp_path):
    """A user's build picks its own -O: the inline assembly must leave gcc registers at each (and the
    Armv6-M assembly gives way to C where it cannot: -O0, -Os, or EDGEC_NO_ASM with a frame pointer)."""
    compiler = require_tool("arm-none-eabi-gcc")
    levels = (["-O0"], ["-Os"], ["-O2", "-fno-omit-frame-pointer", "-DEDGEC_NO_ASM"])  # -O2: the test above
    with_asm = [p for p in sorted(KERNELS.glob("*.c")) if "__asm__" in p.read_text()
                or any(h.stem in p.read_text() for h in KERNELS.glob("*.h") if "__asm__" in h.read_text())]
    assert len(with_asm) >= 8
    for source in with_asm:
        for flags in levels:
            result = subprocess.run([compiler, *flags, f"-mcpu={cpu}", "-mthumb", "-std=c99", "-Wall", "-Werror",
                                     "-I", str(KERNELS), "-c", str(source), "-o", str(tmp_path / "k.o")],
                                    capture_output=True, text=True)
            assert result.returncode == 0, (source.name, flags, result.stderr)


def test_layers_report_each_mac_op_and_unknown_weight_mode_is_refused():
    from firmware_export.cengine.storage import WEIGHT_MODES
    from toolchain.base.errors import EdgecError

    model = read_tflite_file(mlperf_path("kws_ref_model"))
    e = generate_engine(model, "kws", weights="dense")
    macs = [i for i, n in enumerate(e.op_names) if n in ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED")]
    assert [layer.op_index for layer in e.layers] == macs
    assert all(layer.format == "dense" and layer.stored_bytes == layer.dense_bytes for layer in e.layers)
    assert all(layer.tensor and layer.index_bits == 0 and layer.clusters == 0 for layer in e.layers)
    assert WEIGHT_MODES == ("auto", "dense")
    with pytest.raises(EdgecError, match="sparse"):
        generate_engine(model, "kws", weights="sparse")
