"""The one loss-and-gradient: finite differences, the plain formula, safety."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from logitnet.core.loss import loss_and_grad


def plain_cost(w, b, X, y):
    """The textbook formula, evaluated naively."""
    a = 1 / (1 + np.exp(-(X @ w + b)))
    return -np.mean(y * np.log(a) + (1 - y) * np.log(1 - a))


def random_problem(rng, m=7, n=5, scale=1.0):
    X = rng.normal(size=(m, n))
    y = (rng.random(m) > 0.5).astype(float)
    w = rng.normal(scale=scale, size=n)
    b = float(rng.normal())
    return w, b, X, y


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("scale", [0.1, 1.0, 3.0])
def test_gradient_matches_central_differences(seed, scale):
    w, b, X, y = random_problem(np.random.default_rng(seed), scale=scale)
    _, dw, db = loss_and_grad(w, b, X, y)
    eps = 1e-6

    def cost(w_, b_):
        return loss_and_grad(w_, b_, X, y)[0]

    numeric = []
    for j in range(w.size):
        e = np.zeros_like(w)
        e[j] = eps
        numeric.append((cost(w + e, b) - cost(w - e, b)) / (2 * eps))
    numeric.append((cost(w, b + eps) - cost(w, b - eps)) / (2 * eps))
    analytic = np.append(dw, db)
    numeric = np.array(numeric)
    rel = np.linalg.norm(analytic - numeric) / (
        np.linalg.norm(analytic) + np.linalg.norm(numeric)
    )
    assert rel < 1e-7


def test_hand_computed_two_examples():
    # z = [0, ln 3]: a = [1/2, 3/4]; y = [1, 0]
    X = np.array([[0.0], [np.log(3)]])
    y = np.array([1.0, 0.0])
    cost, dw, db = loss_and_grad(np.array([1.0]), 0.0, X, y)
    # J = -(log(1/2) + log(1/4)) / 2 = 1.5 log 2
    assert cost == pytest.approx(1.5 * np.log(2), rel=1e-15)
    # dz = [-1/2, 3/4]: dw = (0 * -1/2 + ln3 * 3/4) / 2, db = (1/4) / 2
    assert dw[0] == pytest.approx(0.375 * np.log(3), rel=1e-15)
    assert db == pytest.approx(0.125, rel=1e-15)


@pytest.mark.parametrize("seed", range(5))
def test_equals_plain_formula_where_finite(seed):
    w, b, X, y = random_problem(np.random.default_rng(seed), scale=2.0)
    assert loss_and_grad(w, b, X, y)[0] == pytest.approx(
        plain_cost(w, b, X, y), rel=1e-13
    )


@pytest.mark.parametrize(
    ("z", "y", "expected"),
    [
        (1000.0, 1.0, 0.0),
        (1000.0, 0.0, 1000.0),
        (-1000.0, 1.0, 1000.0),
        (-1000.0, 0.0, 0.0),
        (-5000.0, 1.0, 5000.0),
    ],
)
def test_cost_where_plain_formula_takes_log_zero(z, y, expected):
    cost, dw, db = loss_and_grad(np.array([z]), 0.0, np.ones((1, 1)), np.array([y]))
    assert cost == expected
    # the gradient is the saturated one: a - y is exactly 0 or +-1
    assert db == float(np.clip(np.sign(z), 0, 1) - y)
    assert dw[0] == db


def test_float32_in_float32_out():
    w, b, X, y = random_problem(np.random.default_rng(0))
    X32, y32, w32 = X.astype(np.float32), y.astype(np.float32), w.astype(np.float32)
    cost, dw, _ = loss_and_grad(w32, b, X32, y32)
    assert dw.dtype == np.float32
    ref = loss_and_grad(w, b, X, y)
    assert cost == pytest.approx(ref[0], rel=1e-6)
    np.testing.assert_allclose(dw, ref[1], rtol=1e-5, atol=1e-7)


def test_compute_loss_false_skips_only_the_cost():
    w, b, X, y = random_problem(np.random.default_rng(1))
    full = loss_and_grad(w, b, X, y)
    cost, dw, db = loss_and_grad(w, b, X, y, compute_loss=False)
    assert cost is None
    np.testing.assert_array_equal(dw, full[1])
    assert db == full[2]


def test_transposed_view_gives_the_same_result():
    """The course passes its (n_x, m) array as X.T; no copy, same numbers."""
    w, b, X, y = random_problem(np.random.default_rng(2), m=9, n=4)
    X_course = np.ascontiguousarray(X.T)
    a = loss_and_grad(w, b, X, y)
    c = loss_and_grad(w, b, X_course.T, y)
    assert a[0] == pytest.approx(c[0], rel=1e-15)
    np.testing.assert_allclose(a[1], c[1], rtol=1e-14)


@given(
    st.integers(1, 6).flatmap(
        lambda n: st.tuples(
            arrays(np.float64, (4, n), elements=st.floats(-1e100, 1e100)),
            arrays(np.float64, n, elements=st.floats(-1e100, 1e100)),
        )
    ),
    st.floats(-1e100, 1e100),
    arrays(np.float64, 4, elements=st.sampled_from([0.0, 1.0])),
)
def test_any_finite_problem_gives_finite_cost_and_gradient(Xw, b, y):
    X, w = Xw
    cost, dw, db = loss_and_grad(w, b, X, y)
    assert np.isfinite(cost) and cost >= 0
    assert np.isfinite(dw).all() and np.isfinite(db)
    assert -1 <= db <= 1
    # Where the naive formula is itself accurate (1 - a not yet lost to
    # rounding), the two agree.
    with np.errstate(all="ignore"):
        z = X @ w + b
    if np.all(np.abs(z) < 15):
        assert cost == pytest.approx(plain_cost(w, b, X, y), rel=1e-9, abs=1e-12)


@pytest.mark.parametrize("alpha", [0.0, 0.3])
@pytest.mark.parametrize("weighted", [False, True])
def test_weighted_penalized_gradient_matches_central_differences(alpha, weighted):
    rng = np.random.default_rng(11)
    w, b, X, y = random_problem(rng)
    s = rng.uniform(0, 3, size=y.size) if weighted else None
    _, dw, db = loss_and_grad(w, b, X, y, sample_weight=s, alpha=alpha)
    eps = 1e-6

    def cost(theta):
        return loss_and_grad(theta[:-1], theta[-1], X, y, sample_weight=s, alpha=alpha)[
            0
        ]

    theta = np.append(w, b)
    numeric = [
        (cost(theta + eps * e) - cost(theta - eps * e)) / (2 * eps)
        for e in np.eye(theta.size)
    ]
    np.testing.assert_allclose(np.append(dw, db), numeric, rtol=1e-6, atol=1e-9)


def test_weighted_cost_by_hand():
    # Two examples at z = 0 (loss log 2) and z = ln 3 with y = 0 (loss ln 4),
    # weighted 3 : 1, plus alpha/2 ||w||^2 with w = [1], alpha = 0.5.
    X = np.array([[0.0], [np.log(3)]])
    y = np.array([1.0, 0.0])
    cost, dw, db = loss_and_grad(
        np.array([1.0]), 0.0, X, y, sample_weight=np.array([3.0, 1.0]), alpha=0.5
    )
    assert cost == pytest.approx((3 * np.log(2) + np.log(4)) / 4 + 0.25, rel=1e-15)
    # dz = [-1/2, 3/4] weighted [3, 1]: db = (-3/2 + 3/4) / 4; dw adds alpha w.
    assert db == pytest.approx(-0.1875, rel=1e-15)
    assert dw[0] == pytest.approx(0.75 * np.log(3) / 4 + 0.5, rel=1e-15)
