"""Files a user names that are not what they claim: devices, FIFOs, lying array headers,
decompression bombs, misspelt profile keys, a custom-objects module that exits. Each is a clear
error (exit 2 at the command line), never a hang, an internal error or a silent success."""
from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

from tests.conftest import MLPERF_TINY, REPO
from toolchain.base.errors import DataError, InputFileError, UnknownKeyError

KWS = MLPERF_TINY / "kws_ref_model.tflite"
TIMEOUT_S = 120


def _edgec(*args, cwd) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "toolchain.cli", *map(str, args)], cwd=cwd, capture_output=True,
                          text=True, timeout=TIMEOUT_S, env={**os.environ, "PYTHONPATH": str(REPO)})


@pytest.fixture
def fifo(tmp_path):
    path = tmp_path / "model.tflite"
    os.mkfifo(path)
    return path


@pytest.mark.parametrize("args", [
    ["validate", "{fifo}"], ["validate", "/dev/zero"], ["inspect", "{fifo}"], ["check", "{fifo}", "-t", "cortex-m7"],
    ["check", str(KWS), "--target-file", "/dev/zero"], ["check", str(KWS), "--target-file", "{fifo}"],
])
def test_devices_and_fifos_are_refused_without_reading(args, fifo, tmp_path):
    args = [a.format(fifo=fifo) for a in args]
    proc = _edgec(*args, cwd=tmp_path)  # a read of /dev/zero or a FIFO would hang: the timeout fails it
    assert proc.returncode == 2, proc.stderr
    named = "/dev/zero" if "/dev/zero" in args else str(fifo)
    assert proc.stderr.startswith(f"Error: {named}: is not a regular file (a device, FIFO or socket)"), proc.stderr


def test_a_misspelt_profile_key_is_refused(tmp_path):
    profile = tmp_path / "my-m7.toml"
    text = (REPO / "targets" / "profiles" / "cortex-m7.toml").read_text()
    profile.write_text(text + "\n[reserves]\nstak_bytes = 600000\n")
    proc = _edgec("check", KWS, "--target-file", profile, cwd=tmp_path)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert f"Error: {profile}: field 'reserves.stak_bytes': unknown key; did you mean 'stack_bytes'" in proc.stderr
    assert "FITS" not in proc.stdout


def _npy_header(shape, dtype="<f4") -> bytes:
    header = repr({"descr": dtype, "fortran_order": False, "shape": tuple(shape)}).encode()
    header += b" " * (63 - (10 + len(header)) % 64) + b"\n"
    return b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header


def test_an_npy_header_declaring_terabytes_is_refused(tmp_path):
    from toolchain.data import read_array_file

    path = tmp_path / "bomb.npy"
    path.write_bytes(_npy_header((1 << 22, 1 << 20, 1 << 20)) + bytes(64))  # 2^62 float32
    with pytest.raises(DataError) as exc:
        read_array_file(path)
    assert exc.value.message == (f"{path}: the header declares shape (4194304, 1048576, 1048576) of float32 "
                                 "(18,446,744,073,709,551,616 B), the file holds 192 B")


def test_an_npz_member_declaring_terabytes_is_refused(tmp_path):
    import zipfile

    from toolchain.compress.data import load_dataset
    from toolchain.data import read_array_file

    path = tmp_path / "bomb.npz"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("x.npy", _npy_header((1 << 40, 28, 28, 1)) + bytes(64))
    expected = (f"{path}: array 'x': the header declares shape (1099511627776, 28, 28, 1) of float32 "
                f"(3,448,068,464,705,536 B), the file holds 192 B")
    with pytest.raises(DataError) as exc:
        read_array_file(path)
    assert exc.value.message == expected
    with pytest.raises(DataError) as exc:
        load_dataset(path)
    assert exc.value.message == expected


def test_validate_refuses_lying_inputs_with_exit_2(tmp_path):
    path = tmp_path / "inputs.npy"
    path.write_bytes(_npy_header((1 << 30, 49, 10, 1)) + bytes(16))
    proc = _edgec("validate", KWS, "--inputs", path, cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr
    assert "the header declares shape (1073741824, 49, 10, 1) of float32" in proc.stderr


def test_training_data_with_nan_or_negative_labels_is_refused(tmp_path):
    from toolchain.compress.data import load_dataset

    x = np.zeros((4, 8, 8, 1), np.float32)
    x[2, 3, 3, 0] = np.nan
    np.savez(tmp_path / "nan.npz", x=x, y=np.arange(4))
    with pytest.raises(DataError, match="'x' holds 1 NaN or infinite values"):
        load_dataset(tmp_path / "nan.npz")
    np.savez(tmp_path / "neg.npz", x=np.zeros((4, 8, 8, 1), np.float32), y=np.array([0, 1, -3, 2]))
    with pytest.raises(DataError, match=r"'y' holds a negative label \(-3\)"):
        load_dataset(tmp_path / "neg.npz")


def test_an_image_decompression_bomb_is_a_data_error(tmp_path):
    from PIL import Image

    from toolchain.compress.data import load_dataset
    from toolchain.data import read_images

    folder = tmp_path / "images" / "cls"
    folder.mkdir(parents=True)
    Image.new("1", (18000, 18000)).save(folder / "bomb.png")  # 324 Mpixel in a few kB
    with pytest.raises(DataError, match="bomb.png: not a readable image .*decompression bomb"):
        read_images(folder, (28, 28, 1))
    with pytest.raises(InputFileError, match="bomb.png: not a readable image: .*decompression bomb"):
        load_dataset(tmp_path / "images", (28, 28), 1)


def test_a_custom_objects_module_that_exits_is_an_error(tmp_path):
    from toolchain.loader import load_custom_objects

    module = tmp_path / "exits.py"
    module.write_text("import sys\nsys.exit(0)\n")
    with pytest.raises(InputFileError) as exc:
        load_custom_objects(module)
    assert exc.value.message == f"{module}: cannot import it: it called sys.exit(0)"


def test_inspect_takes_the_custom_objects_its_message_asks_for(custom_layer_model):
    from click.testing import CliRunner

    from toolchain.cli import cli

    model, source = custom_layer_model
    result = CliRunner().invoke(cli, ["inspect", str(model), "--custom-objects", str(source), "--json"])
    assert result.exit_code == 0, result.output
    assert "SIGN" in result.stdout


@pytest.mark.parametrize("command", ["inspect", "compress", "build"])
def test_every_keras_command_accepts_the_loading_options(command):
    from click.testing import CliRunner

    from toolchain.cli import cli

    help_text = CliRunner().invoke(cli, [command, "--help"]).output
    assert "--custom-objects" in help_text and "--trust-lambda" in help_text


def test_out_of_range_labels_are_refused_before_training(tmp_path, tiny_keras):
    """A label >= the model's outputs (3) made TensorFlow print 61 lines of frames; now exit 2 with the label."""
    from click.testing import CliRunner

    from toolchain.cli import cli

    x = np.zeros((4, 12, 12, 1), np.float32)
    np.savez(tmp_path / "train.npz", x=x, y=np.array([0, 1, 3, 2]))
    result = CliRunner().invoke(cli, ["compress", str(tiny_keras), "--prune", "0.5", "--train",
                                      str(tmp_path / "train.npz"), "-o", str(tmp_path / "out.keras")])
    assert result.exit_code == 2, result.output
    assert (f"{tmp_path / 'train.npz'}: 'y' holds label 3 (1 sample out of range), but the model has 3 outputs: "
            "labels are class indices 0 to 2") in result.output
    assert "Traceback" not in result.output and not (tmp_path / "out.keras").exists()


def test_labels_are_checked_against_the_model_outputs():
    from toolchain.compress.data import Dataset, check_labels

    def data(y):
        return Dataset(np.zeros((len(y), 2), np.float32), np.asarray(y), "d.npz")

    check_labels(data([0, 1, 2]), (3,))
    check_labels(data(np.eye(3, dtype=np.float32)), (3,))  # one-hot rows
    check_labels(data([[0.5], [7.25], [-3.0]]), (1,))  # a regression model's targets
    with pytest.raises(DataError, match=r"'y' holds a negative label \(-1\)"):
        check_labels(data([[0], [-1]]), (3,))
    with pytest.raises(DataError, match="'y' holds one-hot rows of 4 classes, the model has 3 outputs"):
        check_labels(data(np.eye(4, dtype=np.int64)), (3,))
    with pytest.raises(DataError, match=r"label 1 .* the model has 1 output: .* give float 0/1 targets"):
        check_labels(data([0, 1]), (1,))
    with pytest.raises(DataError, match="'y' must hold numbers"):
        check_labels(data(np.array(["cat", "dog"])), (2,))


def test_bench_evaluation_labels_outside_the_classes_are_refused(tmp_path):
    from toolchain.benchmark.reference import TensorSpec, load_samples

    spec = TensorSpec(shape=(4,), dtype="int8", scale=0.5, zero_point=0)
    x = np.zeros((3, 4), np.int8)
    np.savez(tmp_path / "ok.npz", x=x, y=np.array([0, 9, 1]))
    assert load_samples(tmp_path / "ok.npz", spec, 10, classes=10).labels.tolist() == [0, 9, 1]
    with pytest.raises(DataError, match=r"label 9 is not a class index of this model \(0 to 5: it has 6 outputs\)"):
        load_samples(tmp_path / "ok.npz", spec, 10, classes=6)
    np.savez(tmp_path / "nan.npz", x=x, y=np.array([0.0, np.nan, 1.0]))
    with pytest.raises(DataError, match="the labels hold NaN or infinite values"):
        load_samples(tmp_path / "nan.npz", spec, 10, classes=6)
    np.savez(tmp_path / "neg.npz", x=x, y=np.array([0, -2, 1]))
    with pytest.raises(DataError, match="label -2 is not a class index"):
        load_samples(tmp_path / "neg.npz", spec, 10, classes=6)
