"""logitnet.LogisticRegression: scikit-learn's own checks, the course, safety."""

from __future__ import annotations

import pickle
import re
import warnings

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression as SklearnLogisticRegression
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

import logitnet
from logitnet import LogisticRegression
from logitnet.core.estimator import DivergenceWarning
from logitnet.course import neuron
from logitnet.data import cats


@parametrize_with_checks(
    [
        LogisticRegression(),
        LogisticRegression(fit_intercept=False),
        LogisticRegression(solver="gd", learning_rate=0.01, alpha=1.0, max_iter=5000),
        LogisticRegression(alpha=1.0, tol=1e-8),
    ],
    expected_failed_checks=lambda estimator: (
        {}
        if estimator.fit_intercept
        else {
            "check_class_weight_classifiers": "without a bias the boundary "
            "passes through the origin, and the check's uncentred blobs need "
            "it moved (scikit-learn's own fit_intercept=False fails it too)"
        }
    ),
)
def test_scikit_learn_estimator_checks(estimator, check):
    """Every check; one expected failure, explained above.

    float32 is left out: several checks compare two fits to 1e-7 relative,
    below float32's resolution; ``test_float32_*`` cover it. Fixed-step gd
    cannot converge on some checks' unscaled data (features near 100 need a
    step below 1e-4); its ConvergenceWarning there is the right answer, so
    for gd alone it is not an error.
    """
    with warnings.catch_warnings():
        if estimator.solver == "gd":
            warnings.simplefilter("ignore", ConvergenceWarning)
        check(estimator)


def blobs(seed=0, m=200, n=4, dtype=np.float64):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(m, n))
    w = rng.normal(size=n)
    y = (X @ w + 0.3 + rng.logistic(size=m) > 0).astype(int)
    return X.astype(dtype), y


def test_importable_from_package():
    assert logitnet.LogisticRegression is LogisticRegression
    with pytest.raises(AttributeError):
        logitnet.NoSuchThing


@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("alpha", [0.0, 0.1])
def test_lbfgs_matches_scikit_learn(fit_intercept, alpha):
    X, y = blobs()
    ours = LogisticRegression(alpha=alpha, fit_intercept=fit_intercept, tol=1e-10)
    ours.fit(X, y)
    # scikit-learn minimizes C * sum(losses) + ||w||^2 / 2; ours is
    # mean(losses) + alpha ||w||^2 / 2: the same minimizer for C = 1/(alpha m).
    C = np.inf if alpha == 0 else 1 / (alpha * len(y))
    ref = SklearnLogisticRegression(
        C=C, fit_intercept=fit_intercept, tol=1e-12, max_iter=10_000
    ).fit(X, y)
    np.testing.assert_allclose(ours.coef_, ref.coef_, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(ours.intercept_, ref.intercept_, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(
        ours.predict_proba(X), ref.predict_proba(X), rtol=1e-6, atol=1e-9
    )
    assert ours.converged_


def test_solvers_agree():
    X, y = blobs(1)
    a = LogisticRegression(alpha=0.05, tol=1e-9).fit(X, y)
    b = LogisticRegression(
        solver="gd", alpha=0.05, learning_rate=1.0, tol=1e-9, max_iter=20_000
    ).fit(X, y)
    np.testing.assert_allclose(a.coef_, b.coef_, rtol=1e-6)
    np.testing.assert_allclose(a.intercept_, b.intercept_, rtol=1e-6)


def test_any_two_labels():
    X, y = blobs(2)
    names = np.array(["non-cat", "cat"])[y]
    clf = LogisticRegression().fit(X, names)
    assert clf.classes_.tolist() == ["cat", "non-cat"]
    num = LogisticRegression().fit(X, 1 - y)  # "cat" (index 0) <-> label 1
    np.testing.assert_allclose(clf.coef_, num.coef_)
    assert set(clf.predict(X)) <= {"cat", "non-cat"}
    proba = clf.predict_proba(X)
    assert proba.shape == (len(y), 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    np.testing.assert_allclose(np.exp(clf.predict_log_proba(X)), proba, rtol=1e-12)
    assert clf.score(X, names) > 0.7


def test_log_proba_is_finite_where_proba_rounds_to_zero():
    clf = LogisticRegression().fit([[-1.0], [1.0], [-2.0], [2.0]], [0, 1, 0, 1])
    clf.coef_ = np.array([[1000.0]])
    log_proba = clf.predict_log_proba([[1.0], [-1.0]])
    assert np.isfinite(log_proba).all()
    assert log_proba[0, 0] == pytest.approx(-1000.0)


def test_sample_weight_two_equals_duplicate():
    X, y = blobs(3, m=50)
    weights = np.ones(50)
    weights[:10] = 2
    a = LogisticRegression(alpha=0.01, tol=1e-10).fit(X, y, sample_weight=weights)
    b = LogisticRegression(alpha=0.01, tol=1e-10).fit(
        np.vstack([X, X[:10]]), np.concatenate([y, y[:10]])
    )
    np.testing.assert_allclose(a.coef_, b.coef_, rtol=1e-6)


@pytest.mark.parametrize(
    ("weights", "message"),
    [
        (-np.ones(20), "non-negative"),
        (np.zeros(20), "positive sum"),
        (np.ones(19), r"shape \(20,\)"),
        (np.full(20, np.nan), "NaN"),
    ],
)
def test_bad_sample_weight(weights, message):
    X, y = blobs(m=20)
    with pytest.raises(ValueError, match=message):
        LogisticRegression().fit(X, y, sample_weight=weights)


def test_float32_end_to_end():
    X, y = blobs(4, dtype=np.float32)
    clf = LogisticRegression(dtype=np.float32).fit(X, y)
    assert clf.coef_.dtype == clf.intercept_.dtype == np.float32
    # Fitted in float32; each row's z is summed in float64 (one answer).
    assert clf.decision_function(X).dtype == np.float64
    ref = LogisticRegression().fit(X.astype(np.float64), y)
    np.testing.assert_allclose(clf.coef_, ref.coef_, rtol=1e-3, atol=1e-4)


def test_float32_fit_makes_no_float64_copy_of_X(monkeypatch):
    from logitnet.core import loss

    X, y = blobs(5, dtype=np.float32)
    seen = []
    original = loss.loss_and_grad

    def spy(w, b, X_, y_, **kw):
        seen.append((w.dtype, X_.dtype, X_.base is X or X_ is X))
        return original(w, b, X_, y_, **kw)

    monkeypatch.setattr("logitnet.core.solvers.loss_and_grad", spy)
    LogisticRegression(dtype=np.float32).fit(X, y)
    assert seen and all(s == (np.float32, np.float32, True) for s in seen)


@pytest.mark.parametrize(
    ("X", "y", "message"),
    [
        ([[0.0], [1.0]], [1, 1], "2 classes.*got 1 class"),
        ([[0.0], [1.0], [2.0]], ["a", "a", "a"], "at least 2 classes.*got 1 class"),
        ([[np.nan], [1.0]], [0, 1], "NaN"),
        ([[np.inf], [1.0]], [0, 1], "infinity"),
        ([0.0, 1.0], [0, 1], "2D array"),
        ([[0.0], [1.0]], [0, 1, 1], "inconsistent numbers of samples"),
        ([[0.0], [1.0]], [0.5, 1.5], "continuous"),
    ],
)
def test_bad_data(X, y, message):
    with pytest.raises(ValueError, match=message):
        LogisticRegression().fit(X, y)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"solver": "newton"}, "solver must be one of"),
        ({"alpha": -1.0}, "alpha must be a finite number >= 0"),
        ({"alpha": np.inf}, "alpha must be a finite number >= 0"),
        ({"learning_rate": 0.0}, "learning_rate must be a finite number > 0"),
        ({"tol": -1e-3}, "tol must be"),
        ({"max_iter": 1.5}, "max_iter must be an integer"),
        ({"max_iter": -1}, "max_iter must be >= 0"),
        ({"fit_intercept": "yes"}, "fit_intercept must be True or False"),
        ({"dtype": np.float16}, "dtype must be numpy.float64 or numpy.float32"),
        ({"dtype": "not a dtype"}, "dtype must be"),
        ({"verbose": 0.5}, "verbose must be an integer"),
    ],
)
def test_bad_parameters(params, message):
    X, y = blobs()
    with pytest.raises(ValueError, match=message):
        LogisticRegression(**params).fit(X, y)


def test_non_convergence_warns_and_says_why():
    X, y = blobs()
    with pytest.warns(ConvergenceWarning, match=re.escape("lbfgs did not converge")):
        clf = LogisticRegression(max_iter=2).fit(X, y)
    assert clf.n_iter_[0] == 2
    assert not clf.converged_
    assert len(clf.loss_curve_) == 3


def test_loss_curve_decreases_and_convergence_is_silent():
    X, y = blobs()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        clf = LogisticRegression().fit(X, y)
    assert clf.converged_
    curve = np.array(clf.loss_curve_)
    assert curve[0] == pytest.approx(np.log(2))
    assert (np.diff(curve) <= 1e-12).all()


def test_verbose_prints_costs(capsys):
    X, y = blobs()
    LogisticRegression(verbose=1).fit(X, y)
    out = capsys.readouterr().out
    assert out.startswith("iteration 0: cost 0.693147\n")
    with pytest.warns(ConvergenceWarning):
        LogisticRegression(solver="gd", learning_rate=0.5, verbose=1, tol=0).fit(X, y)
    lines = capsys.readouterr().out.splitlines()
    assert lines[1].startswith("iteration 100: cost ")


def test_works_in_pipeline_grid_search_and_cross_validation():
    X, y = blobs(6)
    pipe = make_pipeline(StandardScaler(), LogisticRegression())
    assert cross_val_score(pipe, X, y, cv=3).mean() > 0.7
    alphas = [0.0, 0.1, 10.0]
    grid = GridSearchCV(
        LogisticRegression(), {"alpha": alphas}, cv=3, scoring="neg_log_loss"
    ).fit(X, y)
    by_hand = [
        cross_val_score(
            LogisticRegression(alpha=a), X, y, cv=3, scoring="neg_log_loss"
        ).mean()
        for a in alphas
    ]
    np.testing.assert_allclose(grid.cv_results_["mean_test_score"], by_hand, rtol=1e-9)
    assert grid.best_params_["alpha"] == alphas[int(np.argmax(by_hand))]
    # A strong penalty pulls every probability toward 1/2: a worse log loss.
    assert by_hand[2] < max(by_hand[:2])
    assert grid.best_estimator_.alpha == grid.best_params_["alpha"]
    copy = clone(LogisticRegression(solver="gd", alpha=0.3))
    assert copy.get_params()["alpha"] == 0.3
    assert copy.set_params(alpha=0.5).alpha == 0.5
    fitted = LogisticRegression().fit(X, y)
    again = pickle.loads(pickle.dumps(fitted))
    np.testing.assert_array_equal(again.predict(X), fitted.predict(X))


def test_predict_before_fit_raises():
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        LogisticRegression().predict([[0.0]])


def test_wrong_number_of_features_at_predict():
    X, y = blobs()
    clf = LogisticRegression().fit(X, y)
    with pytest.raises(ValueError, match="X has 3 features, but LogisticRegression"):
        clf.predict(X[:, :3])


@pytest.mark.slow
def test_gd_reproduces_the_course_model(data_dir):
    train_x, train_y, test_x, test_y, _ = cats.load_dataset(data_dir)
    X = train_x.reshape(train_x.shape[0], -1) / 255
    y = train_y.ravel()
    clf = LogisticRegression(solver="gd", learning_rate=0.005, max_iter=2000)
    with pytest.warns(ConvergenceWarning):
        clf.fit(X, y)
    course = neuron.model(
        X.T,
        train_y,
        test_x.reshape(test_x.shape[0], -1).T / 255,
        test_y,
        num_iterations=2000,
        learning_rate=0.005,
    )
    np.testing.assert_allclose(
        clf.coef_.ravel(), course["w"].ravel(), rtol=0, atol=1e-10
    )
    assert abs(clf.intercept_[0] - course["b"]) <= 1e-10
    assert len(clf.loss_curve_) == 2001
    assert clf.loss_curve_[:2000:100] == pytest.approx(course["costs"], rel=1e-12)
    assert clf.loss_curve_[-1] == pytest.approx(0.135608, abs=5e-7)


@pytest.mark.slow
def test_lbfgs_reaches_the_course_cost_in_few_iterations(data_dir):
    train_x, train_y, *_ = cats.load_dataset(data_dir)
    X = train_x.reshape(train_x.shape[0], -1) / 255
    clf = LogisticRegression().fit(X, train_y.ravel())
    first = next(i for i, c in enumerate(clf.loss_curve_) if c <= 0.135608)
    assert first < 40
    assert clf.score(X, train_y.ravel()) == 1.0


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_fit_that_ends_non_finite_is_an_error(dtype):
    # Steps of 1e308 leave the weights finite (|w| ~ 1e307) for a few
    # iterations but the cost at inf: an error, never a fitted model.
    from logitnet.exceptions import DivergenceError

    rng = np.random.default_rng(0)
    X = rng.random((20, 5)).astype(dtype)
    y = np.arange(20) % 2
    est = LogisticRegression(solver="gd", learning_rate=1e308, max_iter=6)
    with pytest.raises(DivergenceError, match="non-finite"):
        est.fit(X, y)
    assert not hasattr(est, "coef_")


# -- class_weight ---------------------------------------------------------------


def _imbalanced(seed=0, m=120, n=5):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(m, n))
    y = np.where(X @ rng.normal(size=n) + rng.logistic(size=m) > 1.5, "cat", "dog")
    return X, y


@pytest.mark.parametrize(
    "class_weight", ["balanced", {"cat": 4.0}, {"cat": 2, "dog": 0.5}]
)
def test_class_weight_is_scikit_learns_sample_weight(class_weight):
    from sklearn.utils.class_weight import compute_sample_weight

    X, y = _imbalanced()
    sw = np.random.default_rng(1).uniform(0.5, 2, y.size)
    ours = LogisticRegression(class_weight=class_weight, alpha=0.01, tol=1e-10)
    ours.fit(X, y, sample_weight=sw)
    expected = (
        compute_sample_weight(class_weight if class_weight != "balanced" else None, y)
        * sw
    )
    if class_weight == "balanced":  # counts weighted by sample_weight, as sklearn
        from sklearn.utils.class_weight import compute_class_weight

        per_class = compute_class_weight(
            "balanced", classes=np.unique(y), y=y, sample_weight=sw
        )
        expected = per_class[np.searchsorted(np.unique(y), y)] * sw
    plain = LogisticRegression(alpha=0.01, tol=1e-10).fit(X, y, sample_weight=expected)
    np.testing.assert_allclose(ours.coef_, plain.coef_, atol=1e-8)
    np.testing.assert_allclose(ours.intercept_, plain.intercept_, atol=1e-8)


def test_balanced_without_sample_weight_is_compute_sample_weight():
    from sklearn.utils.class_weight import compute_sample_weight

    X, y = _imbalanced(2)
    ours = LogisticRegression(class_weight="balanced", tol=1e-10).fit(X, y)
    plain = LogisticRegression(tol=1e-10).fit(
        X, y, sample_weight=compute_sample_weight("balanced", y)
    )
    np.testing.assert_allclose(ours.coef_, plain.coef_, atol=1e-8)


@pytest.mark.parametrize("class_weight", ["balanced", {"cat": 5.0, "dog": 0.7}])
@pytest.mark.parametrize("with_sample_weight", [False, True])
def test_class_weight_matches_scikit_learns_coefficients(
    class_weight, with_sample_weight
):
    """scikit-learn minimizes C sum_i s_i L_i + ||w||^2 / 2; logitnet
    sum_i s_i L_i / sum_i s_i + alpha ||w||^2 / 2, the same minimum when
    alpha = 1 / (C sum_i s_i), s_i the sample weights times the class weights."""
    from sklearn.linear_model import LogisticRegression as Theirs
    from sklearn.utils.class_weight import compute_class_weight

    X, y = _imbalanced(3)
    sw = (
        np.random.default_rng(4).uniform(0.5, 2, y.size) if with_sample_weight else None
    )
    C = 0.3
    theirs = Theirs(C=C, class_weight=class_weight, tol=1e-12, max_iter=10_000)
    theirs.fit(X, y, sample_weight=sw)
    classes = np.unique(y)
    per_class = compute_class_weight(
        class_weight, classes=classes, y=y, sample_weight=sw
    )
    s = per_class[np.searchsorted(classes, y)] * (1.0 if sw is None else sw)
    ours = LogisticRegression(
        class_weight=class_weight, alpha=1 / (C * s.sum()), tol=1e-10
    ).fit(X, y, sample_weight=sw)
    np.testing.assert_allclose(ours.coef_, theirs.coef_, atol=1e-5)
    np.testing.assert_allclose(ours.intercept_, theirs.intercept_, atol=1e-5)


@pytest.mark.parametrize(
    ("class_weight", "message"),
    [
        ("balance", "class_weight must be None, 'balanced' or a dict"),
        ({"cow": 2.0}, "not classes of y"),
        ({"cat": -1.0}, r"class_weight\['cat'\] must be a finite number >= 0"),
        ({"cat": 0.0}, "with this class_weight only one class"),
    ],
)
def test_bad_class_weight(class_weight, message):
    X, y = _imbalanced()
    with pytest.raises(ValueError, match=message):
        LogisticRegression(class_weight=class_weight).fit(X, y)


def test_a_rising_cost_warns_naming_the_learning_rate():
    rng = np.random.default_rng(0)
    X = rng.random((200, 30))
    y = rng.integers(0, 2, 200)  # not separable: the cost has a finite minimum
    with pytest.warns(ConvergenceWarning, match=re.escape("learning rate 1e+06")) as w:
        LogisticRegression(solver="gd", learning_rate=1e6, max_iter=400).fit(X, y)
    assert any(issubclass(r.category, DivergenceWarning) for r in w)
    assert "try a smaller one" in str(w[-1].message)


def test_a_sane_rate_never_says_divergence():
    rng = np.random.default_rng(0)
    X = rng.random((200, 30))
    y = (X[:, 0] > 0.5).astype(int)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        LogisticRegression(solver="gd", learning_rate=0.05, max_iter=400).fit(X, y)
    assert not [w for w in caught if issubclass(w.category, DivergenceWarning)]
