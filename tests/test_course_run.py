"""The full cat run reproduces the course's published figures."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import COURSE_COSTS, COURSE_REPORT
from logitnet.course.neuron import model


@pytest.fixture(scope="module")
def course_run(cat_arrays):
    return model(*cat_arrays, num_iterations=2000, learning_rate=0.005)


def test_data_as_the_course_prepares_it(cat_arrays):
    X_train, Y_train, X_test, Y_test = cat_arrays
    assert X_train.shape == (12288, 209) and X_test.shape == (12288, 50)
    assert X_train.dtype == np.float64
    assert Y_train.shape == (1, 209) and Y_test.shape == (1, 50)
    assert X_train.min() >= 0 and X_train.max() <= 1


def test_costs_to_six_decimals(course_run):
    assert [f"{c:f}" for c in course_run["costs"]] == COURSE_COSTS


def test_accuracies_digit_for_digit(course_run):
    assert str(course_run["train_accuracy"]) == "99.04306220095694"
    assert str(course_run["test_accuracy"]) == "70.0"
    assert int(course_run["Y_prediction_train"].sum()) > 0


def test_printed_report(cat_arrays, capsys):
    model(*cat_arrays, num_iterations=2000, learning_rate=0.005, print_cost=True)
    assert capsys.readouterr().out.splitlines() == COURSE_REPORT


def test_float32_run_reaches_the_same_cost(cat_arrays, course_run):
    X_train, Y_train, X_test, Y_test = (a.astype(np.float32) for a in cat_arrays)
    d = model(X_train, Y_train, X_test, Y_test, 2000, 0.005)
    assert d["w"].dtype == np.float32
    np.testing.assert_allclose(d["costs"], course_run["costs"], atol=1e-4)


def test_weights_are_the_course_algorithms(cat_arrays, course_run):
    """The course's own loop (two products over X per iteration), written out
    here, against ``model``, which runs in the span of the examples."""
    X, Y = cat_arrays[0], cat_arrays[1]
    w, b = np.zeros((X.shape[0], 1)), 0.0
    m = X.shape[1]
    for _ in range(2000):
        A = 1 / (1 + np.exp(-(w.T @ X + b)))
        w = w - 0.005 * (X @ (A - Y).T) / m
        b = b - 0.005 * float(np.sum(A - Y)) / m
    np.testing.assert_allclose(course_run["w"], w, atol=1e-10, rtol=0)
    assert course_run["b"] == pytest.approx(b, abs=1e-10)


def test_the_course_run_is_in_the_span(cat_arrays):
    from logitnet.core.solvers import Problem, gradient_descent

    X, Y = cat_arrays[0], cat_arrays[1]
    r = gradient_descent(
        Problem(X.T, Y.ravel(), np.zeros(X.shape[0])),
        learning_rate=0.005,
        num_iterations=2000,
    )
    assert r.representation == "span"
