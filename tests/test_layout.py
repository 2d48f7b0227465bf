"""The course's HDF5 layout: every bad file named, and the writer."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import LFS_POINTER, write_split
from logitnet.data.layout import read_split, write_course_file
from logitnet.exceptions import DataError


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: None, "no such file"),
        (lambda p: p.mkdir(), "is a directory"),
        (lambda p: p.write_bytes(b""), "is empty"),
        (lambda p: p.write_bytes(LFS_POINTER), "Git LFS pointer file, not the data"),
        (lambda p: p.write_text("x,y\n1,2\n"), "is not an HDF5 file"),
        (lambda p: write_split(p, skip=("train_set_y",)),
         "missing dataset 'train_set_y' .*has: list_classes, train_set_x"),
        (lambda p: write_split(p, split="test"), "missing dataset 'train_set_x'"),
        (lambda p: write_split(p, x=np.zeros((3, 4, 4), np.uint8)),
         r"train_set_x must have shape \(m, height, width, 3\).*got \(3, 4, 4\)"),
        (lambda p: write_split(p, x=np.zeros((3, 4, 4, 1), np.uint8)),
         r"got \(3, 4, 4, 1\)"),
        (lambda p: write_split(p, x=np.zeros((3, 4, 4, 3), np.float32)),
         "train_set_x must be uint8 pixels; got float32"),
        (lambda p: write_split(p, y=np.array([0, 1])),
         r"train_set_y must have shape \(3,\), one label per image; got \(2,\)"),
        (lambda p: write_split(p, y=np.array([0.0, 1.0, 1.0])),
         "train_set_y must hold integer labels; got float64"),
        (lambda p: write_split(p, y=np.array([0, 2, 1])),
         "train_set_y must hold labels 0 and 1 only; got 2"),
        (lambda p: write_split(p, y=np.array([0, -1, 1])), "got -1"),
        (lambda p: write_split(p, classes=np.array([b"a"])),
         r"list_classes must be 2 to 10000 class names, one per label; got shape \(1,\)"),
        (lambda p: write_split(p, classes=np.array([[b"a", b"b"]])),
         r"list_classes must be 2 to 10000 class names.*got shape \(1, 2\)"),
        (lambda p: write_split(p, x=np.zeros((0, 4, 4, 3), np.uint8), y=np.zeros(0, int)),
         "with m >= 1"),
    ],
)  # fmt: skip
def test_bad_file_is_named(tmp_path, make, message):
    path = tmp_path / "train_catvnoncat.h5"
    make(path)
    with pytest.raises(DataError, match=message) as info:
        read_split(path, "train")
    assert str(path) in str(info.value)
    assert "\n" not in str(info.value)


def test_write_course_file_round_trips(tmp_path):
    rng = np.random.default_rng(0)
    train_x = rng.integers(0, 256, size=(6, 64, 64, 3), dtype=np.uint8)
    test_x = rng.integers(0, 256, size=(2, 64, 64, 3), dtype=np.uint8)
    path = write_course_file(
        tmp_path / "d.h5", train_x, np.array([0, 1] * 3), ["cat", "dog"], test_x, [1, 0]
    )
    x, y, classes = read_split(path, "train")
    assert np.array_equal(x, train_x) and y.tolist() == [[0, 1] * 3]
    assert classes.tolist() == [b"cat", b"dog"]
    x, y, _ = read_split(path, "test")
    assert np.array_equal(x, test_x) and y.tolist() == [[1, 0]]
    assert [p.name for p in tmp_path.iterdir()] == ["d.h5"]
