"""logitnet.data.synth: synthetic images in the course's layout, with a known model."""

from __future__ import annotations

import h5py
import numpy as np
import pytest

from logitnet import LogisticRegression
from logitnet.data.layout import read_split
from logitnet.data.synth import CLASSES, ROWS_PER_BLOCK, make_images, true_model
from logitnet.exceptions import OutputPathError


def test_course_layout_and_planted_model(tmp_path):
    path = make_images(tmp_path / "s.h5", 300, image_shape=(4, 5, 3), test_samples=20)
    x, y, classes = read_split(path, "train")
    assert x.shape == (300, 4, 5, 3) and x.dtype == np.uint8
    assert y.shape == (1, 300)
    assert tuple(classes) == CLASSES
    test_x, test_y, _ = read_split(path, "test")
    assert test_x.shape == (20, 4, 5, 3) and test_y.shape == (1, 20)
    w, b = true_model(60, seed=0)
    with h5py.File(path) as f:
        np.testing.assert_array_equal(f["true_w"][()], w)
        assert f["true_b"][()] == b
    # Train and test images come from different streams.
    assert not np.array_equal(x[:20], test_x)


def test_same_seed_same_data_and_any_prefix_is_the_smaller_set(tmp_path):
    n = ROWS_PER_BLOCK + 37  # across a block boundary
    big = make_images(tmp_path / "a.h5", n, image_shape=(2, 2, 3), seed=3)
    again = make_images(tmp_path / "b.h5", n, image_shape=(2, 2, 3), seed=3)
    small = make_images(tmp_path / "c.h5", 50, image_shape=(2, 2, 3), seed=3)
    other = make_images(tmp_path / "d.h5", 50, image_shape=(2, 2, 3), seed=4)
    a, b, c, d = (read_split(p, "train") for p in (big, again, small, other))
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    np.testing.assert_array_equal(a[0][:50], c[0])
    np.testing.assert_array_equal(a[1][:, :50], c[1])
    assert not np.array_equal(c[0], d[0])


def test_labels_follow_the_planted_model(tmp_path):
    """A fit on enough images recovers the planted weights."""
    path = make_images(tmp_path / "s.h5", 20_000, image_shape=(2, 2, 3), seed=1)
    x, y, _ = read_split(path, "train")
    X = x.reshape(len(x), -1) / 255
    w, b = true_model(12, seed=1)
    assert 0.4 < y.mean() < 0.6
    clf = LogisticRegression().fit(X, y.ravel())
    np.testing.assert_allclose(clf.coef_[0], w, atol=0.35)
    assert np.corrcoef(clf.coef_[0], w)[0, 1] > 0.99
    assert clf.intercept_[0] == pytest.approx(b, abs=0.5)


def test_file_appears_only_when_complete(tmp_path):
    path = tmp_path / "s.h5"
    seen = []

    def progress(done):
        seen.append((done, path.exists()))

    make_images(path, 2 * ROWS_PER_BLOCK + 1, image_shape=(1, 1, 3), progress=progress)
    assert [done for done, _ in seen] == [1024, 2048, 2049]
    assert not any(exists for _, exists in seen)
    assert [p.name for p in tmp_path.iterdir()] == ["s.h5"]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"n_samples": 0}, "n_samples must be >= 1"),
        ({"n_samples": 2.5}, "n_samples must be an integer"),
        ({"seed": -1}, "seed must be >= 0"),
        ({"test_samples": -1}, "test_samples must be >= 0"),
        (
            {"image_shape": (64, 64)},
            "image_shape must be \\(height, width, channels\\), 3 positive integers",
        ),
        (
            {"image_shape": (64, 0, 3)},
            "image_shape must be \\(height, width, channels\\), 3 positive integers",
        ),
    ],
)
def test_bad_arguments(tmp_path, kwargs, message):
    args = {"n_samples": 10, **kwargs}
    with pytest.raises(ValueError, match=message):
        make_images(tmp_path / "s.h5", **args)
    assert list(tmp_path.iterdir()) == []


def test_unwritable_path(tmp_path):
    with pytest.raises(OutputPathError, match="is a directory"):
        make_images(tmp_path, 10)
    with pytest.raises(OutputPathError, match="does not exist"):
        make_images(tmp_path / "missing" / "s.h5", 10)
