import numpy as np
import pytest

from toolchain.compress.data import fit_to_input, load_dataset, sparse_labels
from toolchain.base.errors import DataError, InputFileError


def test_npz_with_x_and_y(tmp_path):
    x = np.arange(2 * 4 * 4, dtype=np.uint8).reshape(2, 4, 4)
    np.savez(tmp_path / "d.npz", x=x, y=np.array([1, 0]))
    data = fit_to_input(load_dataset(tmp_path / "d.npz"), (4, 4, 1))
    assert data.x.shape == (2, 4, 4, 1) and data.x.dtype == np.float32
    assert np.array_equal(data.x[..., 0], x) and data.y.tolist() == [1, 0]


def test_unlabeled_npz_and_one_hot_labels(tmp_path):
    np.savez(tmp_path / "u.npz", x=np.zeros((3, 2), np.float32))
    assert load_dataset(tmp_path / "u.npz").y is None
    assert sparse_labels(np.eye(3)[[2, 0, 1]]).tolist() == [2, 0, 1]


@pytest.mark.parametrize("arrays, message", [
    ({"images": np.zeros((2, 3))}, "no array named 'x' (found: images)"),
    ({"x": np.zeros((2, 3)), "y": np.zeros(3)}, "'x' has 2 samples but 'y' has 3"),
    ({"x": np.zeros((0, 3))}, "at least one sample"),
])
def test_bad_npz_files(tmp_path, arrays, message):
    np.savez(tmp_path / "bad.npz", **arrays)
    with pytest.raises(DataError) as info:
        load_dataset(tmp_path / "bad.npz")
    assert message in str(info.value)


def test_not_an_npz_and_missing_paths(tmp_path):
    (tmp_path / "t.npz").write_text("hello")
    with pytest.raises(InputFileError, match="not a readable .npz"):
        load_dataset(tmp_path / "t.npz")
    with pytest.raises(InputFileError, match="no such file"):
        load_dataset(tmp_path / "nope.npz")


def test_shape_mismatch_names_both_shapes(tmp_path):
    np.savez(tmp_path / "d.npz", x=np.zeros((2, 5, 5)))
    with pytest.raises(DataError, match=r"samples have shape \(5, 5, 1\), the model expects \(4, 4, 1\)"):
        fit_to_input(load_dataset(tmp_path / "d.npz"), (4, 4, 1))


def test_image_folder_with_class_subfolders(tmp_path):
    from PIL import Image

    for label, value in (("cat", 255), ("dog", 51)):
        (tmp_path / label).mkdir()
        for i in range(2):
            Image.fromarray(np.full((6, 8), value, np.uint8)).save(tmp_path / label / f"{i}.png")
    (tmp_path / "dog" / "notes.txt").write_text("not an image")
    data = load_dataset(tmp_path, image_size=(3, 4), channels=1)
    assert data.class_names == ("cat", "dog")
    assert data.x.shape == (4, 3, 4, 1) and data.y.tolist() == [0, 0, 1, 1]
    assert data.x[0].max() == 1.0 and data.x[3].max() == pytest.approx(0.2)
    with pytest.raises(DataError, match="one subfolder per class"):
        load_dataset(tmp_path / "cat")
