"""logitnet.course.basics against the course's published values, and its safety."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from logitnet.course.basics import (
    basic_sigmoid,
    image2vector,
    l1,
    l2,
    normalize_rows,
    sigmoid,
    sigmoid_derivative,
    sigmoid_grad,
    softmax,
)

finite64 = st.floats(allow_nan=False, allow_infinity=False, width=64)
finite32 = st.floats(allow_nan=False, allow_infinity=False, width=32)


def float_matrices(elements=finite64, dtype=np.float64):
    shape = st.tuples(st.integers(1, 6), st.integers(1, 6))
    return arrays(dtype, shape, elements=elements)


# Published values --------------------------------------------------------


def test_basic_sigmoid_published():
    assert basic_sigmoid(3) == pytest.approx(0.9525741268224334, rel=1e-15)


def test_sigmoid_published():
    np.testing.assert_allclose(
        sigmoid(np.array([1, 2, 3])), [0.73105858, 0.88079708, 0.95257413], atol=1e-8
    )


def test_sigmoid_grad_published():
    np.testing.assert_allclose(
        sigmoid_grad(np.array([1, 2, 3])),
        [0.19661193, 0.10499359, 0.04517666],
        atol=1e-8,
    )
    assert sigmoid_derivative is sigmoid_grad


def test_image2vector_published():
    image = np.array(
        [
            [[0.67826139, 0.29380381], [0.90714982, 0.52835647], [0.4215251, 0.45017551]],
            [[0.92814219, 0.96677647], [0.85304703, 0.52351845], [0.19981397, 0.27417313]],
            [[0.60659855, 0.00533165], [0.10820313, 0.49978937], [0.34144279, 0.94630077]],
        ]
    )  # fmt: skip
    v = image2vector(image)
    assert v.shape == (18, 1)
    np.testing.assert_array_equal(
        v[:4, 0], [0.67826139, 0.29380381, 0.90714982, 0.52835647]
    )
    np.testing.assert_array_equal(v[-1, 0], 0.94630077)
    assert np.shares_memory(v, image)


def test_normalize_rows_published():
    np.testing.assert_allclose(
        normalize_rows(np.array([[0, 3, 4], [1, 6, 4]])),
        [[0.0, 0.6, 0.8], [0.13736056, 0.82416338, 0.54944226]],
        atol=1e-8,
    )


def test_softmax_published():
    expected = [
        [9.80897665e-01, 8.94462891e-04, 1.79657674e-02, 1.21052389e-04, 1.21052389e-04],
        [8.78679856e-01, 1.18916387e-01, 8.01252314e-04, 8.01252314e-04, 8.01252314e-04],
    ]  # fmt: skip
    got = softmax(np.array([[9, 2, 5, 0, 0], [7, 5, 0, 0, 0]]))
    np.testing.assert_allclose(got, expected, rtol=1e-8)


def test_l1_l2_published():
    yhat = np.array([0.9, 0.2, 0.1, 0.4, 0.9])
    y = np.array([1, 0, 0, 1, 1])
    assert l1(yhat, y) == pytest.approx(1.1, rel=1e-14)
    assert l2(yhat, y) == pytest.approx(0.43, rel=1e-14)


# Hand-computed edge cases ------------------------------------------------


def test_sigmoid_saturates_exactly():
    np.testing.assert_array_equal(
        sigmoid(np.array([-1000.0, 0.0, 1000.0])), [0, 0.5, 1]
    )
    assert basic_sigmoid(-1000) == 0.0
    assert basic_sigmoid(1000) == 1.0
    assert basic_sigmoid(-745.2) == 0.0  # exp(-745.2) underflows quietly


def test_basic_sigmoid_rejects_non_numbers():
    with pytest.raises(TypeError, match="real number"):
        basic_sigmoid("3")
    with pytest.raises(TypeError, match="real number"):
        basic_sigmoid(True)


def test_sigmoid_grad_at_zero_and_far_away():
    np.testing.assert_array_equal(
        sigmoid_grad(np.array([0.0, 1000.0, -1000.0])), [0.25, 0, 0]
    )


@pytest.mark.parametrize("fn", [sigmoid, sigmoid_grad, normalize_rows, softmax])
def test_float32_stays_float32(fn):
    x = np.array([[1.0, -2.0, 3.0]], dtype=np.float32)
    assert fn(x).dtype == np.float32


@pytest.mark.parametrize("fn", [sigmoid, sigmoid_grad, normalize_rows, softmax])
@pytest.mark.parametrize("dtype", [np.int64, np.uint8, np.float16])
def test_other_reals_compute_in_float64(fn, dtype):
    assert fn(np.array([[1, 2, 3]], dtype=dtype)).dtype == np.float64


def test_float16_is_not_held_to_its_range():
    # 300**2 * 3 = 270000 overflows float16 (max 65504), not the float result
    assert l2(np.float16([300, 300, 300]), np.zeros(3)) == 270000.0


def test_basic_sigmoid_any_real_number():
    assert basic_sigmoid(10**400) == 1.0
    assert basic_sigmoid(-(10**400)) == 0.0
    assert basic_sigmoid(np.float32(1)) == pytest.approx(0.7310585786300049)
    assert basic_sigmoid(np.int64(-1)) == pytest.approx(1 - 0.7310585786300049)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_softmax_differences_beyond_the_float_range(dtype):
    big = np.finfo(dtype).max
    s = softmax(np.array([[big, -big], [-big, big]], dtype=dtype))
    np.testing.assert_array_equal(s, [[1, 0], [0, 1]])
    assert s.dtype == dtype


def test_softmax_entries_in_the_thousands():
    s = softmax(np.array([[1000.0, 1001.0, 1002.0], [-5000.0, 0.0, 5000.0]]))
    e = np.exp([0.0, 1.0, 2.0])
    np.testing.assert_allclose(s[0], e / e.sum(), rtol=1e-12)
    np.testing.assert_array_equal(s[1], [0, 0, 1])


def test_normalize_rows_zero_row_stays_zero():
    out = normalize_rows(np.array([[0.0, 0.0], [3.0, 4.0]]))
    np.testing.assert_array_equal(out, [[0, 0], [0.6, 0.8]])


def test_normalize_rows_extreme_magnitudes():
    out = normalize_rows(np.array([[3e300, 4e300], [3e-320, 4e-320]]))
    np.testing.assert_allclose(out, [[0.6, 0.8], [0.6, 0.8]], rtol=1e-3)
    np.testing.assert_allclose(out[0], [0.6, 0.8], rtol=1e-15)


def test_l1_l2_overflow_to_inf_without_warning():
    assert l1([-1.7e308], [1.7e308]) == math.inf
    assert l2([1e200], [-1e200]) == math.inf


@pytest.mark.parametrize(
    ("fn", "arg", "message"),
    [
        (
            image2vector,
            np.zeros((3, 3)),
            r"\(length, height, depth\); got shape \(3, 3\)",
        ),
        (normalize_rows, np.zeros(3), r"\(n, m\); got shape \(3,\)"),
        (softmax, np.zeros((2, 2, 2)), r"\(n, m\); got shape \(2, 2, 2\)"),
    ],
)
def test_wrong_rank_is_named(fn, arg, message):
    with pytest.raises(ValueError, match=message):
        fn(arg)


def test_l1_l2_shape_mismatch():
    with pytest.raises(ValueError, match=r"same shape; got \(2,\) and \(3,\)"):
        l1([1, 2], [1, 2, 3])
    with pytest.raises(ValueError, match="same shape"):
        l2([[1, 2]], [1, 2])


@pytest.mark.parametrize("bad", [np.array(["a"]), np.array([1j]), np.array([True])])
def test_non_real_input_is_refused(bad):
    with pytest.raises(ValueError, match="x must hold real numbers; got dtype"):
        sigmoid(bad)


# Properties over every finite input -------------------------------------
# pytest turns any RuntimeWarning into an error, so each property also
# proves that no overflow, underflow-to-NaN or invalid operation is reported.


@given(st.one_of(finite64, st.integers(-(10**6), 10**6)))
def test_basic_sigmoid_property(x):
    s = basic_sigmoid(x)
    assert 0.0 <= s <= 1.0
    assert s == pytest.approx(float(sigmoid(np.array([x], dtype=float))[0]), rel=1e-12)


@given(st.integers())
def test_basic_sigmoid_any_integer(x):
    assert 0.0 <= basic_sigmoid(x) <= 1.0


@given(arrays(np.float64, st.integers(0, 20), elements=finite64))
def test_sigmoid_property(x):
    s = sigmoid(x)
    assert s.shape == x.shape
    assert np.all((s >= 0) & (s <= 1))
    # symmetry: sigma(-x) = 1 - sigma(x)
    np.testing.assert_allclose(sigmoid(-x), 1 - s, atol=1e-15)
    assert np.all(np.diff(sigmoid(np.sort(x))) >= 0)


@given(arrays(np.float32, st.integers(0, 20), elements=finite32))
def test_sigmoid_grad_property_float32(x):
    d = sigmoid_grad(x)
    assert d.dtype == np.float32
    assert np.all((d >= 0) & (d <= 0.25))


@given(float_matrices())
def test_normalize_rows_property(x):
    out = normalize_rows(x)
    assert np.isfinite(out).all()
    norms = np.linalg.norm(out, axis=1)
    nonzero = np.any(x != 0, axis=1)
    np.testing.assert_allclose(norms[nonzero], 1.0, rtol=1e-12)
    np.testing.assert_array_equal(out[~nonzero], 0.0)
    # direction is kept: same signs, except entries too small next to the
    # row's largest to be represented, which round to zero
    assert np.all((np.sign(out) == np.sign(x)) | (out == 0))


@given(float_matrices(finite32, np.float32))
def test_normalize_rows_property_float32(x):
    out = normalize_rows(x)
    assert out.dtype == np.float32
    nonzero = np.any(x != 0, axis=1)
    norms = np.sqrt(np.sum(out.astype(np.float64) ** 2, axis=1))
    np.testing.assert_allclose(norms[nonzero], 1.0, rtol=1e-5)


@given(float_matrices())
def test_softmax_property(x):
    s = softmax(x)
    assert np.isfinite(s).all()
    assert np.all(s >= 0)
    np.testing.assert_allclose(s.sum(axis=1), 1.0, rtol=1e-12)
    # the largest entry of each row gets the largest probability
    rows = np.arange(x.shape[0])
    assert np.all(s[rows, np.argmax(x, axis=1)] == s.max(axis=1))


@given(float_matrices(finite32, np.float32))
def test_softmax_property_float32(x):
    s = softmax(x)
    assert s.dtype == np.float32
    np.testing.assert_allclose(s.sum(axis=1), 1.0, rtol=1e-5)


@given(
    arrays(np.float64, 8, elements=finite64), arrays(np.float64, 8, elements=finite64)
)
def test_l1_l2_property(yhat, y):
    a, b = l1(yhat, y), l2(yhat, y)
    assert a >= 0 and b >= 0
    assert not math.isnan(a) and not math.isnan(b)
    assert l1(y, y) == 0.0 and l2(y, y) == 0.0
