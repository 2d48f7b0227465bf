"""Solvers: gradient descent's stopping rule, L-BFGS against SciPy's."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.optimize

from logitnet.core.loss import loss_and_grad
from logitnet.core.solvers import Problem, gradient_descent, lbfgs


def problem(seed, m=60, n=8, dtype=np.float64):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(m, n)) * rng.uniform(0.1, 5, size=n)  # badly scaled
    y = (X @ rng.normal(size=n) + rng.logistic(size=m) > 0).astype(float)
    return X.astype(dtype), y.astype(dtype)


def scipy_minimum(X, y, alpha, fit_intercept=True):
    n = X.shape[1]

    def fun(theta):
        b = theta[n] if fit_intercept else 0.0
        cost, dw, db = loss_and_grad(theta[:n], b, X, y, alpha=alpha)
        return cost, np.append(dw, db if fit_intercept else 0.0)

    res = scipy.optimize.minimize(
        fun,
        np.zeros(n + 1),
        jac=True,
        method="L-BFGS-B",
        options={"gtol": 1e-12, "ftol": 0, "maxiter": 10_000},
    )
    return res.x, res.fun


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("alpha", [1e-3, 0.1])
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_lbfgs_finds_scipys_minimum(seed, alpha, fit_intercept):
    X, y = problem(seed)
    theta, best = scipy_minimum(X, y, alpha, fit_intercept)
    r = lbfgs(
        Problem(X, y, np.zeros(X.shape[1]), alpha=alpha, fit_intercept=fit_intercept),
        max_iter=500,
        tol=1e-9,
    )
    assert r.converged, r.message
    assert r.costs[-1] == pytest.approx(best, rel=1e-10)
    np.testing.assert_allclose(r.w, theta[:-1], rtol=1e-5, atol=1e-7)
    if not fit_intercept:
        assert r.b == 0.0
    assert len(r.costs) == r.n_iter + 1
    assert all(b <= a + 1e-12 for a, b in zip(r.costs, r.costs[1:], strict=False))


def test_lbfgs_float32_converges_without_float64_weights():
    X, y = problem(7, dtype=np.float32)
    r = lbfgs(
        Problem(X, y, np.zeros(8, np.float32), alpha=0.01), max_iter=500, tol=1e-4
    )
    assert r.converged, r.message
    assert r.w.dtype == np.float32
    ref = lbfgs(
        Problem(X.astype(float), y.astype(float), np.zeros(8), alpha=0.01),
        max_iter=500,
        tol=1e-10,
    )
    assert r.costs[-1] == pytest.approx(ref.costs[-1], abs=1e-5)


def test_lbfgs_reports_the_iteration_limit():
    X, y = problem(1)
    r = lbfgs(Problem(X, y, np.zeros(8)), max_iter=3, tol=1e-12)
    assert (r.n_iter, r.converged) == (3, False)
    assert "iteration limit" in r.message


def test_lbfgs_zero_iterations_returns_the_start():
    X, y = problem(1)
    r = lbfgs(Problem(X, y, np.zeros(8), 0.5), max_iter=0, tol=0.0)
    assert r.n_iter == 0 and r.b == 0.5 and not r.w.any()
    assert r.costs == [loss_and_grad(np.zeros(8), 0.5, X, y)[0]]


def test_gradient_descent_stops_at_tol_and_counts_iterations():
    X, y = problem(2)
    r = gradient_descent(
        Problem(X, y, np.zeros(8), alpha=0.5),
        learning_rate=0.01,
        num_iterations=100_000,
        tol=1e-6,
        record_every=1,
    )
    assert r.converged and 0 < r.n_iter < 100_000
    _, dw, db = loss_and_grad(r.w, r.b, X, y, alpha=0.5)
    assert max(np.abs(dw).max(), abs(db)) <= 1e-6
    assert len(r.costs) == r.n_iter + 1


def test_gradient_descent_without_intercept_keeps_b():
    X, y = problem(3)
    r = gradient_descent(
        Problem(X, y, np.zeros(8), 0.25, fit_intercept=False),
        learning_rate=0.01,
        num_iterations=50,
    )
    assert r.b == 0.25 and r.n_iter == 50 and not r.converged
