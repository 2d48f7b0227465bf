"""The checks shared by every door: each names what was expected and given."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from logitnet import checks


@pytest.mark.parametrize(
    ("call", "message"),
    [(lambda: checks.check_int(True, "n", minimum=0), "n must be an integer; got True"),
     (lambda: checks.check_int(2.0, "n", minimum=0), "n must be an integer; got 2.0"),
     (lambda: checks.check_int(-1, "n", minimum=0), "n must be >= 0; got -1"),
     (lambda: checks.check_real(float("nan"), "a", minimum=0.0), "a must be a finite number > 0"),
     (lambda: checks.check_real(0.0, "a", minimum=0.0), "> 0; got 0.0"),
     (lambda: checks.check_real("1", "a", minimum=0.0), "a must be a number; got '1'"),
     (lambda: checks.check_learning_rate(-0.1), "learning_rate must be a finite number > 0"),
     (lambda: checks.check_X(np.zeros((3,))), r"X must have shape \(n_x, m\)"),
     (lambda: checks.check_X(np.array([[np.inf]])), "X must be finite; it contains inf"),
     (lambda: checks.check_X(np.array([["a"]])), "X must hold real numbers; got dtype <U1"),
     (lambda: checks.check_w(np.zeros(3), 3, np.float64), r"w must have shape \(3, 1\); got shape \(3,\) \(a rank-1 array"),
     (lambda: checks.check_w(np.full((1, 1), 1e39), 1, np.float32), "beyond the range of float32"),
     (lambda: checks.check_b(np.zeros(2)), r"b must be a scalar; got an array of shape \(2,\)"),
     (lambda: checks.check_Y(np.array([[0, 1, 2]]), 3, np.float64), "Y must hold labels 0 and 1 only; got 2"),
     (lambda: checks.check_Y(np.array([0, 1]), 2, np.float64), r"Y must have shape \(1, 2\).*rank-1"),
     (lambda: checks.check_weight_shape((2, 1), 2), r"sample_weight must have shape \(2,\).*got shape \(2, 1\)"),
     (lambda: checks.check_weight_values(-1.0, 3.0), "sample_weight must be non-negative"),
     (lambda: checks.check_weight_values(0.0, 0.0), "sample_weight must have a positive sum"),
     (lambda: checks.check_image_shape((64, 64)), r"image_shape must be \(height, width, channels\), 3 positive integers; got \(64, 64\)"),
     (lambda: checks.check_image_shape([64, True, 3]), "3 positive integers; got \\[64, True, 3\\]"),
     (lambda: checks.check_image_shape("64x64"), "3 positive integers; got '64x64'"),
     (lambda: checks.check_image_shape((8, 8, 4), channels=(1, 3)), r"must have 1 \(grey\) or 3 \(RGB\) channels; got \(8, 8, 4\)"),
     (lambda: checks.check_binary_labels(np.array([1.0, 0.5]), "labels"), "labels must hold labels 0 and 1 only; got 0.5")],
)  # fmt: skip
def test_each_bad_value_is_named(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_good_values_come_back_as_logitnet_computes_with_them():
    assert checks.check_int(np.int64(3), "n", minimum=1) == 3
    assert checks.check_image_shape([4, 5, 3]) == (4, 5, 3)
    assert checks.check_image_shape((4, 5, np.int64(1)), channels=(1, 3)) == (4, 5, 1)
    assert checks.float_array(np.array([1, 2], np.int8), "x").dtype == np.float64
    assert checks.float_array(np.zeros(2, np.float32), "x").dtype == np.float32
    assert checks.float_array(np.zeros(2, np.float16), "x").dtype == np.float64
    w = checks.check_w(np.zeros((2, 1), np.int64), 2, np.dtype(np.float32))
    assert w.dtype == np.float32 and w.shape == (2, 1)
    assert checks.check_b(np.array([[0.5]])) == 0.5
    Y = checks.check_Y(np.array([[True, False]]).astype(int), 2, np.float32)
    assert Y.dtype == np.float32 and Y.tolist() == [[1.0, 0.0]]


@given(st.lists(st.sampled_from([0, 1]), min_size=1, max_size=50))
def test_labels_of_zeros_and_ones_always_pass(labels):
    checks.check_binary_labels(np.array(labels), "y")
    checks.check_binary_labels(np.array(labels, np.float32), "y")
