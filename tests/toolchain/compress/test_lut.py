import numpy as np
import pytest

from tests.toolchain.compress.conftest import blob_data, keras, small_cnn
from toolchain.compress.clustering import cluster_weights, strip_clustering
from toolchain.compress.measure import convert_keras_int8, measure_arena_bytes
from toolchain.compress.lut import _run_tflm, lut_compress
from toolchain.compress.measure import quantize_input

tflm = pytest.importorskip("tflite_micro")


@pytest.fixture(scope="module")
def int8_models():
    x, _ = blob_data(64)
    model = small_cnn()
    clustered = strip_clustering(cluster_weights(model, 16))
    return x, convert_keras_int8(model, x), convert_keras_int8(clustered, x)


def test_lut_compressed_model_gives_the_uncompressed_outputs_in_tflm(int8_models):
    x, _, clustered = int8_models
    inputs = quantize_input(clustered, x[:12])
    result = lut_compress(clustered, 4, check_samples=12, check_inputs=inputs)
    assert result.identical_outputs is True and result.samples_checked == 12
    assert len(result.model) == result.bytes_after < result.bytes_before == len(clustered)
    names = [t.tensor for t in result.tensors]
    assert any("dense_mid" in n for n in names)  # the 256x32 kernel pays; conv_in (72 weights) cannot
    assert all(t.model_bytes_saved > 0 and t.index_bits == 4 for t in result.tensors)
    # Independently of the pass's own check: every output equal, on more inputs than it checked.
    more = quantize_input(clustered, blob_data(40, seed=3)[0])
    a = _run_tflm(clustered, more, len(clustered))
    b = _run_tflm(result.model, more, len(clustered))
    assert all(np.array_equal(p, q) for p, q in zip(a, b))


def test_per_channel_tables_take_the_clustered_int8_weights(int8_models):
    _, _, clustered = int8_models
    result = lut_compress(clustered, 4)
    # Per-channel int8 scales give each channel its own 16 values: more than 16 per tensor.
    assert {t.mode for t in result.tensors} == {"per_channel(axis=0)"}


def test_unclustered_weights_are_left_alone(int8_models):
    _, plain, _ = int8_models
    result = lut_compress(plain, 4)
    assert result.model == plain and result.tensors == []
    why = {name.split("/")[1].rsplit("_", 1)[0]: reason for name, reason in result.skipped}
    assert why["conv_mid"] == why["dense_mid"] == "more than 16 distinct values per channel"
    # 3x3x1 filters have at most 9 values per channel, but tables and indices outweigh 72 weights.
    assert why["conv_in"].startswith("per_channel(axis=0): ") and why["conv_in"].endswith("bytes larger")


def test_decoded_weights_take_arena_space(int8_models):
    _, _, clustered = int8_models
    result = lut_compress(clustered, 4)
    assert measure_arena_bytes(result.model) > measure_arena_bytes(clustered)
