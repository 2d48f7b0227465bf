"""Solvers in the span of the examples give the primal solvers' iterates."""

from __future__ import annotations

import dask.array as da
import numpy as np
import pytest
import torch

from logitnet import LogisticRegression
from logitnet.core import span
from logitnet.core.loss import loss_and_grad
from logitnet.core.solvers import Problem, gradient_descent, lbfgs


def wide(seed, m=40, n=300, dtype=np.float64):
    """Fewer examples than features, as the cat data."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(m, n)) / np.sqrt(n)
    y = (X @ rng.normal(size=n) * 3 + rng.logistic(size=m) > 0).astype(float)
    return X.astype(dtype), y.astype(dtype)


PROBLEM = ("sample_weight", "alpha", "fit_intercept")


def both(solver, X, y, **kw):
    """The solver's result in the primal and in the span; ``kw`` holds the
    problem's terms (sample weights, alpha, fit_intercept) and the solver's
    settings."""
    terms = {k: kw.pop(k) for k in PROBLEM if k in kw}
    problem = Problem(X, y, np.zeros(X.shape[1], X.dtype), **terms)
    return [solver(problem, representation=r, **kw) for r in ("primal", "span")]


CASES = {
    "plain": {},
    "weights": {"sample_weight": "random"},
    "l2": {"alpha": 0.05},
    "no intercept": {"fit_intercept": False},
    "all": {"sample_weight": "random", "alpha": 0.01, "fit_intercept": False},
}


def options(case, m, dtype=np.float64):
    kw = dict(CASES[case])
    if "sample_weight" in kw:
        kw["sample_weight"] = np.random.default_rng(5).uniform(0, 3, m).astype(dtype)
    return kw


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_gradient_descent_same_iterates(case, dtype):
    X, y = wide(0, dtype=dtype)
    kw = options(case, X.shape[0], dtype)
    primal, spanned = both(
        gradient_descent, X, y, learning_rate=0.5, num_iterations=300, **kw
    )
    assert (primal.representation, spanned.representation) == ("primal", "span")
    tol = 1e-12 if dtype == np.float64 else 2e-5
    assert spanned.w.dtype == dtype and spanned.w.shape == primal.w.shape
    np.testing.assert_allclose(spanned.w, primal.w, atol=tol, rtol=0)
    assert spanned.b == pytest.approx(primal.b, abs=tol)
    np.testing.assert_allclose(spanned.costs, primal.costs, atol=tol, rtol=0)
    np.testing.assert_allclose(spanned.dw, primal.dw, atol=tol, rtol=0)
    assert spanned.n_iter == primal.n_iter == 300
    if case in ("no intercept", "all"):
        assert spanned.b == 0.0


@pytest.mark.parametrize("case", CASES)
def test_lbfgs_same_iterates_and_stopping(case):
    X, y = wide(1)
    kw = options(case, X.shape[0])
    primal, spanned = both(lbfgs, X, y, max_iter=200, tol=1e-6, **kw)
    assert spanned.converged and primal.converged
    assert spanned.n_iter == primal.n_iter
    np.testing.assert_allclose(spanned.costs, primal.costs, rtol=1e-9)
    np.testing.assert_allclose(spanned.w, primal.w, atol=1e-6)
    # The same convergence test: the largest component of dJ/dw.
    _, dw, _ = loss_and_grad(
        spanned.w,
        spanned.b,
        X,
        y,
        **{k: v for k, v in kw.items() if k != "fit_intercept"},
    )
    assert np.max(np.abs(dw)) <= 1e-6


def test_gradient_descent_stops_at_the_same_iteration():
    X, y = wide(2)
    primal, spanned = both(
        gradient_descent, X, y, learning_rate=1.0, num_iterations=5000, tol=1e-3
    )
    assert primal.converged and spanned.converged
    assert spanned.n_iter == primal.n_iter < 5000


def test_the_cost_model_chooses():
    assert span.pays(209, 12288, 2000)  # the course's run
    assert span.pays(209, 12288, 18)  # L-BFGS to the course's cost: 17 iterations
    assert not span.pays(20_000, 12288, 50)  # more examples than features
    assert not span.pays(209, 12288, 1)
    X, y = wide(3)
    assert (
        gradient_descent(
            Problem(X, y, np.zeros(300)), learning_rate=0.1, num_iterations=100
        ).representation
        == "span"
    )
    tall = np.ascontiguousarray(X.T[:, :20])  # 300 examples, 20 features
    labels = (tall[:, 0] > 0).astype(float)
    r = gradient_descent(
        Problem(tall, labels, np.zeros(20)), learning_rate=0.1, num_iterations=100
    )
    assert r.representation == "primal"


def test_a_nonzero_start_stays_primal():
    X, y = wide(4)
    w0 = np.full(300, 0.01)
    problem = Problem(X, y, w0)
    r = gradient_descent(problem, learning_rate=0.1, num_iterations=100)
    assert r.representation == "primal"
    with pytest.raises(ValueError, match="starts from w = 0"):
        gradient_descent(
            problem, learning_rate=0.1, num_iterations=1, representation="span"
        )


def test_estimator_records_and_forces_the_representation():
    X, y = wide(5)
    fits = {
        r: LogisticRegression(representation=r, alpha=0.01).fit(X, y)
        for r in ("auto", "primal", "span")
    }
    assert fits["auto"].representation_ == "span"
    assert fits["primal"].representation_ == "primal"
    np.testing.assert_allclose(fits["span"].coef_, fits["primal"].coef_, atol=1e-6)
    assert fits["span"].n_iter_[0] == fits["primal"].n_iter_[0]
    assert len(fits["span"].loss_curve_) == len(fits["primal"].loss_curve_)
    with pytest.raises(ValueError, match="representation must be one of"):
        LogisticRegression(representation="dual").fit(X, y)


def test_dask_stays_primal():
    X, y = wide(6)
    Xd = da.from_array(X, chunks=(20, 300))
    clf = LogisticRegression(alpha=0.01).fit(Xd, y)
    assert clf.representation_ == "primal"
    with pytest.raises(ValueError, match="needs X in memory"):
        LogisticRegression(representation="span").fit(Xd, y)


def test_other_array_api_libraries_in_the_span():
    X, y = wide(7)
    ours = LogisticRegression(alpha=0.01, representation="span").fit(X, y)
    theirs = LogisticRegression(alpha=0.01, representation="span").fit(
        torch.from_numpy(X), y
    )
    assert theirs.representation_ == "span"
    np.testing.assert_allclose(theirs.coef_.numpy(), ours.coef_, atol=1e-10)


def test_estimator_gd_curve_and_stopping_mean_the_same():
    X, y = wide(8)
    fits = [
        LogisticRegression(
            solver="gd", learning_rate=1.0, max_iter=3000, tol=1e-3, representation=r
        ).fit(X, y)
        for r in ("primal", "span")
    ]
    primal, spanned = fits
    assert (
        spanned.representation_ == "span" and primal.converged_ and spanned.converged_
    )
    assert spanned.n_iter_[0] == primal.n_iter_[0] < 3000
    np.testing.assert_allclose(spanned.loss_curve_, primal.loss_curve_, rtol=1e-12)
    np.testing.assert_allclose(spanned.coef_, primal.coef_, atol=1e-12)


# What the solvers report at each iterate (a progress display's Step) --------


@pytest.mark.parametrize("case", ["plain", "all"])
def test_lbfgs_reports_the_same_steps_in_both_representations(case):
    X, y = wide(3)
    kw = options(case, X.shape[0])
    steps = {"primal": [], "span": []}
    problem = Problem(X, y, np.zeros(X.shape[1]), **kw)
    results = {
        r: lbfgs(
            problem, max_iter=200, tol=1e-6, representation=r,
            progress=steps[r].append,
        )
        for r in steps
    }  # fmt: skip
    for name, result in results.items():
        reported = steps[name]
        assert result.converged
        assert [s.iteration for s in reported] == list(range(result.n_iter + 1))
        assert [s.cost for s in reported] == result.costs
        assert all(s.tol == 1e-6 for s in reported)
        # One evaluation at the start, then at least one per iteration.
        evaluations = [s.evaluations for s in reported]
        assert evaluations[0] == 1
        assert (np.diff(evaluations) > 0).all()
        # The last gradient is the stopping test's: at most tol, and the
        # largest component of the gradient at the weights returned.
        _, dw, db = loss_and_grad(
            result.w, result.b, X, y, sample_weight=kw.get("sample_weight"),
            alpha=kw.get("alpha", 0.0),
        )  # fmt: skip
        if not kw.get("fit_intercept", True):
            db = 0.0
        assert reported[-1].gradient <= 1e-6
        assert reported[-1].gradient == pytest.approx(
            max(np.abs(dw).max(), abs(db)), rel=1e-6
        )
        assert reported[0].gradient > 1e-3
    np.testing.assert_allclose(
        [s.gradient for s in steps["span"]],
        [s.gradient for s in steps["primal"]],
        rtol=1e-6,
    )


def test_the_span_computes_a_reported_gradient_only_when_asked(monkeypatch):
    X, y = wide(4)
    products = []
    original = span.Span.weights

    def counted(self, *vectors):
        products.append(len(vectors))
        return original(self, *vectors)

    monkeypatch.setattr(span.Span, "weights", counted)
    w0 = np.zeros(X.shape[1])
    fit = {"max_iter": 30, "tol": 0.0, "representation": "span"}
    lbfgs(Problem(X, y, w0), progress=lambda step: None, **fit)
    unread = len(products)
    products.clear()
    read = []
    lbfgs(Problem(X, y, w0), progress=lambda step: read.append(step.gradient), **fit)
    assert len(products) == unread + len(read) == unread + 31
    # Read twice, computed once.
    steps = []
    lbfgs(Problem(X, y, w0), progress=steps.append, **fit)
    products.clear()
    assert steps[-1].gradient == steps[-1].gradient and len(products) == 1


def test_gradient_descent_reports_a_step_per_iteration_and_recorded_costs():
    X, y = wide(5)
    every = []
    result = gradient_descent(
        Problem(X, y, np.zeros(X.shape[1])), learning_rate=0.5, num_iterations=30,
        record_every=10, progress=every.append, representation="span",
    )  # fmt: skip
    assert [s.iteration for s in every] == list(range(30))
    assert [s.evaluations for s in every] == list(range(1, 31))
    steps = [s for s in every if s.cost is not None]
    assert [s.iteration for s in steps] == [0, 10, 20]
    assert [s.evaluations for s in steps] == [1, 11, 21]
    assert [s.cost for s in steps] == result.costs
    assert all(s.tol == 0.0 for s in steps)
    _, dw, db = loss_and_grad(np.zeros(X.shape[1]), 0.0, X, y)
    assert steps[0].gradient == pytest.approx(max(np.abs(dw).max(), abs(db)))
