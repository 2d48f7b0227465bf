"""Pixels to numbers: flatten, scale, and ScaledPixels."""

from __future__ import annotations

import dask.array as da
import numpy as np
import pytest

from logitnet.core.pixels import ScaledPixels, flatten, scale


def test_flatten_is_a_view_in_the_course_order():
    images = np.arange(2 * 2 * 2 * 3, dtype=np.uint8).reshape(2, 2, 2, 3)
    X = flatten(images)
    assert X.shape == (12, 2)
    assert np.shares_memory(X, images)
    np.testing.assert_array_equal(X[:, 1], images[1].ravel())
    # the course's own recipe
    np.testing.assert_array_equal(X, images.reshape(images.shape[0], -1).T)


@pytest.mark.parametrize("shape", [(5,), (2, 5), (2, 4, 4)])
def test_flatten_wants_a_stack_of_images(shape):
    with pytest.raises(ValueError, match=r"\(m, height, width, channels\)"):
        flatten(np.zeros(shape))


def test_scale_matches_the_course_division():
    x = np.arange(256, dtype=np.uint8).reshape(16, 16)
    np.testing.assert_array_equal(scale(x), x / 255)
    assert scale(x, np.float32).dtype == np.float32
    np.testing.assert_allclose(scale(x, np.float32), x / 255, rtol=1e-7)
    np.testing.assert_array_equal(scale(x.astype(np.int64)), x / 255)
    with pytest.raises(ValueError, match="floating dtype"):
        scale(x, np.int32)


@pytest.mark.parametrize(
    ("x", "message"),
    [(np.array([-1, 0, 255]), "got values from -1 to 255"),
     (np.array([0.0, 256.0]), "got values from 0.0 to 256.0"),
     (np.array(["a"]), "got dtype <U1")],
)  # fmt: skip
def test_scale_refuses_what_is_not_pixels(x, message):
    with pytest.raises(ValueError, match=message):
        scale(x)


def test_scaled_pixels_stand_for_their_floats():
    pixels = np.arange(24, dtype=np.uint8).reshape(4, 6) * 10
    X = ScaledPixels(pixels, np.float32)
    assert X.shape == (4, 6) and X.ndim == 2 and X.dtype == np.float32
    assert not X.from_file
    np.testing.assert_array_equal(X.to_floats(), scale(pixels, np.float32))
    lazy = ScaledPixels(da.from_array(pixels, chunks=(3, 6)), "float64")
    assert lazy.chunks == ((3, 1), (6,))
    np.testing.assert_array_equal(lazy.to_floats().compute(), pixels / 255)


@pytest.mark.parametrize(
    ("pixels", "dtype", "message"),
    [(np.zeros((2, 3), np.uint8), np.float16, "float64 or numpy.float32; got float16"),
     (np.zeros((2, 3), np.int64), np.float64, "uint8 of shape .*got int64"),
     (np.zeros((2, 3, 1), np.uint8), np.float64, r"got uint8 of shape \(2, 3, 1\)")],
)  # fmt: skip
def test_scaled_pixels_refuse_what_they_cannot_stand_for(pixels, dtype, message):
    with pytest.raises(ValueError, match=message):
        ScaledPixels(pixels, dtype)
