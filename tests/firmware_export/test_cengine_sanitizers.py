"""The generated C engine under AddressSanitizer and UndefinedBehaviorSanitizer, on the host: every
model of the test suite (each single-op model, the five MLPerf Tiny models, the bundled example)
runs on random inputs (the int8 extremes included) with no report. Kernels are compiled once for
the module (tests/firmware_export/sanitized.py)."""
from __future__ import annotations

import os

import numpy as np
import pytest

from tests.firmware_export.conftest import MLPERF_MODELS, mlperf_path
from tests.firmware_export.sanitized import ENVIRONMENT, SanitizedBuilder
from tests.firmware_export.single_op_models import CASES


@pytest.fixture(scope="module")
def sanitized(tmp_path_factory):
    saved = {key: os.environ.get(key) for key in ENVIRONMENT}
    os.environ.update(ENVIRONMENT)  # HostEngine.run's child inherits it
    try:
        yield SanitizedBuilder(tmp_path_factory.mktemp("sanitized"))
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _run(host, count: int = 3):
    shape = (count,) + tuple(host.engine.input_shape[1:])
    rng = np.random.default_rng(23)
    if host.engine.input_dtype == "float32":
        x = rng.normal(0.0, 4.0, shape).astype(np.float32)
    else:
        x = rng.integers(-128, 128, shape).astype(np.int8)
        x[0], x[1] = -128, 127  # every value at an end of the range
    out = host.run(x)  # a sanitizer report aborts the run: ToolchainError with the report
    assert out.shape[0] == count


@pytest.mark.parametrize("name", [case.name for case in CASES])
def test_single_op_model_is_clean(name, single_op_models, sanitized):
    _, model_bytes = single_op_models[name]
    _run(sanitized.build(name, model_bytes))


@pytest.mark.parametrize("stem", MLPERF_MODELS)
def test_mlperf_model_is_clean(stem, sanitized):
    _run(sanitized.build(stem, mlperf_path(stem).read_bytes()))


def test_bundled_example_is_clean(sanitized):
    from tests.toolchain.conftest import EXAMPLE_CALIB, EXAMPLE_MODEL
    from toolchain.convert import convert_int8
    from toolchain.data import load_samples
    from toolchain.loader import load_model

    model = load_model(EXAMPLE_MODEL)
    calib = load_samples(EXAMPLE_CALIB, model.input_shapes[0], model.input_dtypes[0])
    _run(sanitized.build("fashion_cnn", convert_int8(model, calib).tflite_bytes))


def test_a_sanitizer_report_fails_the_run(single_op_models, sanitized):
    """The check can fail: a harness that hands the engine its input one byte late (the engine
    reads one byte past the harness's static buffer) is stopped with AddressSanitizer's report."""
    from toolchain.base.errors import ToolchainError

    _, model_bytes = single_op_models["dense_relu"]
    late = sanitized.build("dense_relu_late_input", model_bytes,
                           harness=lambda text: text.replace("_invoke(input, output)", "_invoke(input + 1, output)", 1))
    with pytest.raises(ToolchainError) as report:
        late.run(np.zeros((1,) + tuple(late.engine.input_shape[1:]), np.int8))
    assert "AddressSanitizer: global-buffer-overflow" in report.value.output
