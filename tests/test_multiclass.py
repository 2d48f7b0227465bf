"""k >= 3 classes: the softmax neuron through the estimator, its solvers
(primal and span), float32 and float64, NumPy, PyTorch and Dask, against
scikit-learn's multinomial logistic regression at equal penalty."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression as SklearnLR

from logitnet import LogisticRegression


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return X[:600] / 16.0, y[:600]


def sklearn_fit(X, y, C, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # its own convergence chatter
        return SklearnLR(C=C, tol=1e-10, max_iter=20_000, **kw).fit(X, y)


@pytest.mark.parametrize(
    "weights", ["none", "sample", "class dict", "balanced"], ids=lambda w: w
)
def test_ten_classes_equal_scikit_learns_coefficients(digits, weights):
    X, y = digits
    C = 0.5
    sample_weight = class_weight = None
    if weights == "sample":
        sample_weight = np.random.default_rng(0).uniform(0.2, 3.0, y.size)
    elif weights == "class dict":
        class_weight = {0: 3.0, 4: 0.5, 7: 2.0}
    elif weights == "balanced":
        class_weight = "balanced"
        keep = (y != 3) | (np.arange(y.size) % 3 == 0)  # class 3 made rare
        X, y = X[keep], y[keep]
    # scikit-learn minimizes C sum_i s_i L_i + ||W||^2 / 2; logitnet
    # sum_i s_i L_i / sum_i s_i + alpha ||W||^2 / 2: equal at this alpha.
    s = np.ones(y.size) if sample_weight is None else sample_weight
    if class_weight == "balanced":
        counts = np.bincount(y, minlength=10)
        s = s * (y.size / (10 * counts))[y]
    elif class_weight is not None:
        s = s * np.array([class_weight.get(c, 1.0) for c in range(10)])[y]
    alpha = 1.0 / (C * s.sum())
    ours = LogisticRegression(
        alpha=alpha, tol=1e-9, max_iter=5000, class_weight=class_weight
    )
    ours.fit(X, y, sample_weight=sample_weight)
    theirs = sklearn_fit(X, y, C, class_weight=class_weight).fit(
        X, y, sample_weight=sample_weight
    )
    assert ours.coef_.shape == (10, 64) and ours.intercept_.shape == (10,)
    np.testing.assert_allclose(ours.coef_, theirs.coef_, atol=1e-5)
    np.testing.assert_array_equal(ours.classes_, theirs.classes_)
    np.testing.assert_allclose(
        ours.predict_proba(X), theirs.predict_proba(X), atol=1e-5
    )


def test_any_labels_and_the_answers_shapes(digits):
    X, y = digits
    names = np.array(["zero", "one", "two"])
    keep = y < 3
    X3, y3 = X[keep], names[y[keep]]
    clf = LogisticRegression(alpha=1e-2).fit(X3, y3)
    assert clf.classes_.tolist() == ["one", "two", "zero"]
    Z = clf.decision_function(X3)
    P = clf.predict_proba(X3)
    assert Z.shape == P.shape == (X3.shape[0], 3)
    np.testing.assert_allclose(P.sum(axis=1), 1.0, rtol=1e-12)
    np.testing.assert_allclose(np.exp(clf.predict_log_proba(X3)), P, rtol=1e-12)
    assert (clf.predict(X3) == clf.classes_[Z.argmax(axis=1)]).all()
    assert (clf.predict(X3) == y3).mean() > 0.95


def test_two_classes_keep_the_sigmoid(digits):
    X, y = digits
    keep = y < 2
    clf = LogisticRegression(alpha=1e-2).fit(X[keep], y[keep])
    assert clf.coef_.shape == (1, 64) and clf.intercept_.shape == (1,)
    assert clf.decision_function(X[keep]).shape == (keep.sum(),)


@pytest.mark.parametrize("solver", ["lbfgs", "gd"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_primal_and_span_give_the_same_fit(solver, dtype):
    # Fewer examples than features: where the span pays.
    rng = np.random.default_rng(1)
    X = rng.normal(size=(40, 300)).astype(dtype)
    y = np.arange(40) % 4
    params = {"solver": solver, "alpha": 0.05, "dtype": dtype, "max_iter": 300,
              "tol": 1e-5, "learning_rate": 0.5}  # fmt: skip
    fits = {}
    for representation in ("primal", "span"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # gd stops at max_iter
            fits[representation] = LogisticRegression(
                representation=representation, **params
            ).fit(X, y)
        assert fits[representation].representation_ == representation
    rtol = 1e-9 if dtype == np.float64 else 2e-3
    np.testing.assert_allclose(
        fits["span"].coef_, fits["primal"].coef_, rtol=rtol, atol=rtol * 1e-1
    )
    assert fits["span"].coef_.dtype == dtype


def test_pytorch_fits_on_its_device(digits):
    import torch

    X, y = digits
    keep = y < 5
    ours = LogisticRegression(alpha=1e-3).fit(X[keep], y[keep])
    there = LogisticRegression(alpha=1e-3).fit(
        torch.asarray(X[keep]), torch.asarray(y[keep])
    )
    assert isinstance(there.coef_, torch.Tensor) and there.coef_.shape == (5, 64)
    np.testing.assert_allclose(there.coef_.numpy(), ours.coef_, atol=1e-7)
    P = there.predict_proba(torch.asarray(X[keep]))
    np.testing.assert_allclose(P.numpy(), ours.predict_proba(X[keep]), atol=1e-9)
    assert (
        there.predict(torch.asarray(X[keep])).numpy() == ours.predict(X[keep])
    ).all()


def test_dask_fit_equals_the_in_memory_fit(digits):
    import dask.array as da

    X, y = digits
    # Strongly convex enough that tol bounds the distance to the optimum:
    # |W - W*| <= |grad| / alpha, 5e-7 for each fit, so 1e-6 between them.
    # (Much below 5e-9 the cost no longer changes in float64 along a step,
    # and a line search cannot tell a better point.)
    ours = LogisticRegression(alpha=1e-2, tol=5e-9, max_iter=2000).fit(X, y)
    lazy = LogisticRegression(alpha=1e-2, tol=5e-9, max_iter=2000).fit(
        da.from_array(X, chunks=(97, 64)), da.from_array(y, chunks=97)
    )
    np.testing.assert_allclose(lazy.coef_, ours.coef_, atol=1e-6)
    np.testing.assert_allclose(lazy.intercept_, ours.intercept_, atol=1e-6)
    predicted = lazy.predict(da.from_array(X, chunks=(50, 64)))
    assert (predicted.compute() == ours.predict(X)).all()
    Z = lazy.decision_function(da.from_array(X, chunks=(50, 64)))
    assert Z.shape == (X.shape[0], 10)
    assert np.array_equal(Z.compute(), lazy.decision_function(X))


def test_one_answer_per_picture_with_k_classes(digits):
    X, y = digits
    clf = LogisticRegression(alpha=1e-3).fit(X, y)
    P = clf.predict_proba(X)
    for rows in ([0], [599, 3], list(range(0, 600, 7))[::-1]):
        assert np.array_equal(clf.predict_proba(X[rows]), P[rows])


def test_every_class_needs_a_positive_weight(digits):
    X, y = digits
    keep = y < 3
    weights = np.where(y[keep] == 2, 0.0, 1.0)
    with pytest.raises(ValueError, match=r"all 3 classes.*only 2 classes have any"):
        LogisticRegression().fit(X[keep], y[keep], sample_weight=weights)
