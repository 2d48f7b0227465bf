"""The course API: published values, shapes checked at the door, printing."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from logitnet.course.neuron import (
    accuracy,
    initialize_with_zeros,
    model,
    optimize,
    predict,
    propagate,
)
from logitnet.exceptions import DivergenceError

# The course's own test inputs, in its two published versions.
W1, B1 = np.array([[1.0], [2.0]]), 1.5
X1 = np.array([[1.0, -2.0, -1.0], [3.0, 0.5, -3.2]])
Y1 = np.array([[1, 1, 0]])
W2, B2 = np.array([[1.0], [2.0]]), 2.0
X2 = np.array([[1.0, 2.0, -1.0], [3.0, 4.0, -3.2]])
Y2 = np.array([[1, 0, 1]])


def test_initialize_with_zeros():
    w, b = initialize_with_zeros(2)
    assert w.shape == (2, 1) and w.dtype == np.float64
    assert not w.any()
    assert type(b) is float and b == 0.0


@pytest.mark.parametrize("dim", [0, -1, 2.0, "2", True])
def test_initialize_with_zeros_rejects(dim):
    with pytest.raises(ValueError, match="dim must be"):
        initialize_with_zeros(dim)


@pytest.mark.parametrize(
    ("w", "b", "X", "Y", "dw", "db", "cost"),
    [
        (W1, B1, X1, Y1, [[0.25071532], [-0.06604096]], -0.1250040450043965,
         0.15900537707692405),
        (W2, B2, X2, Y2, [[0.99845601], [2.39507239]], 0.00145557813678,
         5.801545319394553),
    ],
)  # fmt: skip
def test_propagate_published(w, b, X, Y, dw, db, cost):
    grads, got_cost = propagate(w, b, X, Y)
    assert grads["dw"].shape == (2, 1)
    np.testing.assert_allclose(grads["dw"], dw, atol=1e-8)
    assert type(grads["db"]) is float
    assert grads["db"] == pytest.approx(db, abs=1e-12)
    assert type(got_cost) is float
    assert got_cost == pytest.approx(cost, rel=1e-12)


@pytest.mark.parametrize(
    ("w", "b", "X", "Y", "w_out", "b_out", "dw", "db", "costs"),
    [
        (W1, B1, X1, Y1, [[0.80956046], [2.0508202]], 1.5948713189708588,
         [[0.17860505], [-0.04840656]], -0.08888460336847771,
         [0.15900537707692405]),
        (W2, B2, X2, Y2, [[0.19033591], [0.12259159]], 1.92535983008,
         [[0.67752042], [1.41625495]], 0.219194504541, [5.801545319394553]),
    ],
)  # fmt: skip
def test_optimize_published(w, b, X, Y, w_out, b_out, dw, db, costs):
    w_before = w.copy()
    params, grads, got_costs = optimize(
        w, b, X, Y, num_iterations=100, learning_rate=0.009
    )
    np.testing.assert_allclose(params["w"], w_out, atol=1e-8)
    assert params["b"] == pytest.approx(b_out, abs=1e-10)
    np.testing.assert_allclose(grads["dw"], dw, atol=1e-8)
    assert grads["db"] == pytest.approx(db, abs=1e-10)
    np.testing.assert_allclose(got_costs, costs, rtol=1e-12)
    np.testing.assert_array_equal(w, w_before)  # the caller's w is untouched


def test_optimize_records_every_100th_cost_and_prints(capsys):
    _, _, costs = optimize(W1, B1, X1, Y1, num_iterations=301, print_cost=True)
    assert len(costs) == 4
    lines = capsys.readouterr().out.splitlines()
    assert lines == [f"Cost after iteration {i}: {c:.6f}" for i, c in
                     zip((0, 100, 200, 300), costs, strict=True)]  # fmt: skip
    assert all(len(line.split(": ")[1].split(".")[1]) == 6 for line in lines)


def test_optimize_costs_decrease_and_match_propagate():
    params, _, costs = optimize(W1, B1, X1, Y1, num_iterations=1000)
    assert costs == sorted(costs, reverse=True)
    # iteration 0's cost is the cost at the starting point
    assert costs[0] == propagate(W1, B1, X1, Y1)[1]
    assert propagate(params["w"], params["b"], X1, Y1)[1] < costs[-1]


def test_optimize_zero_iterations_returns_start_and_its_gradient():
    params, grads, costs = optimize(W1, B1, X1, Y1, num_iterations=0)
    np.testing.assert_array_equal(params["w"], W1)
    assert params["b"] == B1 and costs == []
    ref, _ = propagate(W1, B1, X1, Y1)
    np.testing.assert_array_equal(grads["dw"], ref["dw"])
    assert type(grads["db"]) is float and grads["db"] == ref["db"]


def test_predict_published():
    w = np.array([[0.1124579], [0.23106775]])
    X = np.array([[1.0, -1.1, -3.2], [1.2, 2.0, 0.1]])
    got = predict(w, -0.3, X)
    assert got.shape == (1, 3)
    np.testing.assert_array_equal(got, [[1.0, 1.0, 0.0]])


def test_predict_threshold_is_strictly_above_one_half():
    # sigma(0) = 0.5 is not > 0.5; nor is sigma(1e-17), which rounds to 0.5
    X = np.array([[0.0, 1e-17, 1e-3, -1e-3]])
    np.testing.assert_array_equal(predict(np.ones((1, 1)), 0.0, X), [[0, 0, 1, 0]])


def test_float32_data_is_computed_in_float32():
    grads, _ = propagate(W1, B1, X1.astype(np.float32), Y1)
    assert grads["dw"].dtype == np.float32
    assert predict(W1, B1, X1.astype(np.float32)).dtype == np.float32


def test_integer_X_is_accepted():
    grads, cost = propagate(W1, B1, np.array([[1, 2, -1], [3, 4, -3]]), Y2)
    assert grads["dw"].dtype == np.float64 and np.isfinite(cost)


# Shapes and values checked at the door -----------------------------------


@pytest.mark.parametrize(
    ("w", "X", "Y", "message"),
    [
        (W1.ravel(), X1, Y1, r"w must have shape \(2, 1\); got shape \(2,\) \(a rank-1"),
        (np.ones((3, 1)), X1, Y1, r"w must have shape \(2, 1\); got shape \(3, 1\)"),
        (W1.T, X1, Y1, r"w must have shape \(2, 1\); got shape \(1, 2\)"),
        (W1, X1, Y1.ravel(), r"Y must have shape \(1, 3\).*got shape \(3,\) \(a rank-1"),
        (W1, X1, Y1.T, r"Y must have shape \(1, 3\).*got shape \(3, 1\)"),
        (W1, X1, np.array([[1, 0]]), r"Y must have shape \(1, 3\).*got shape \(1, 2\)"),
        (W1, X1.ravel(), Y1, r"X must have shape \(n_x, m\).*got shape \(6,\)"),
        (W1, X1[:, :0], Y1[:, :0], r"at least one feature and one example"),
        (W1, X1, np.array([[1, 2, 0]]), r"labels 0 and 1 only; got 2"),
        (W1, X1, np.array([[1, 0.5, 0]]), r"labels 0 and 1 only; got 0.5"),
        (W1, np.where(X1 > 0, np.nan, X1), Y1, r"X must be finite; it contains NaN"),
        (W1, np.where(X1 > 0, np.inf, X1), Y1, r"X must be finite; it contains inf"),
        (np.array([[np.nan], [1.0]]), X1, Y1, r"w must be finite"),
        (W1, X1.astype(str), Y1, r"X must hold real numbers; got dtype <U"),
    ],
)  # fmt: skip
def test_propagate_bad_input(w, X, Y, message):
    with pytest.raises(ValueError, match=message):
        propagate(w, B1, X, Y)


@pytest.mark.parametrize("b", [np.nan, np.inf, np.array([1.0, 2.0]), "x"])
def test_bad_bias(b):
    with pytest.raises(ValueError, match="b must"):
        propagate(W1, b, X1, Y1)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"num_iterations": -1}, "num_iterations must be >= 0; got -1"),
        ({"num_iterations": 1.5}, "num_iterations must be an integer"),
        ({"learning_rate": 0}, "learning_rate must be a finite number > 0; got 0"),
        ({"learning_rate": -0.1}, "learning_rate must be a finite number > 0"),
        ({"learning_rate": float("nan")}, "learning_rate must be a finite number"),
        ({"learning_rate": "0.1"}, "learning_rate must be a number"),
    ],
)
def test_optimize_bad_settings(kwargs, message):
    with pytest.raises(ValueError, match=message):
        optimize(W1, B1, X1, Y1, **kwargs)


def test_model_checks_both_sets():
    with pytest.raises(ValueError, match=r"X_test must have 2 rows"):
        model(X1, Y1, np.ones((3, 2)), np.array([[0, 1]]))
    with pytest.raises(ValueError, match=r"Y_test must have shape \(1, 2\)"):
        model(X1, Y1, X1[:, :2], Y1)
    with pytest.raises(ValueError, match="Y_train must hold labels 0 and 1"):
        model(X1, Y1 * 3, X1, Y1)


def test_model_returns_the_course_dictionary():
    d = model(X1, Y1, X2, Y2, num_iterations=150, learning_rate=0.1)
    assert {"costs", "Y_prediction_test", "Y_prediction_train", "w", "b",
            "learning_rate", "num_iterations"} <= d.keys()  # fmt: skip
    assert d["Y_prediction_train"].shape == (1, 3)
    assert d["w"].shape == (2, 1) and len(d["costs"]) == 2
    assert d["learning_rate"] == 0.1 and d["num_iterations"] == 150
    params, _, costs = optimize(np.zeros((2, 1)), 0.0, X1, Y1, 150, 0.1)
    np.testing.assert_array_equal(d["w"], params["w"])
    assert d["costs"] == costs
    assert d["train_accuracy"] == accuracy(d["Y_prediction_train"], Y1)


def test_accuracy_is_the_course_formula():
    assert accuracy([[1, 0, 1, 1]], [[1, 1, 1, 1]]) == 75.0
    with pytest.raises(ValueError, match=r"Y_prediction must have shape \(1, 3\)"):
        accuracy([[1, 0]], [[1, 0, 1]])
    with pytest.raises(ValueError, match="Y_prediction must hold labels 0 and 1"):
        accuracy([[5.0]], [[0]])
    with pytest.raises(ValueError, match=r"Y must have shape \(1, m\) with m >= 1"):
        accuracy([1, 0], [1, 0])
    with pytest.raises(ValueError, match=r"got shape \(1, 0\)"):
        accuracy(np.zeros((1, 0)), np.zeros((1, 0)))


def test_propagate_gradient_matches_central_differences():
    rng = np.random.default_rng(3)
    X, Y = rng.normal(size=(4, 6)), (rng.random((1, 6)) > 0.5).astype(int)
    w, b = rng.normal(size=(4, 1)), 0.7
    grads, _ = propagate(w, b, X, Y)
    eps = 1e-6
    numeric = np.empty(5)
    for j in range(4):
        e = np.zeros((4, 1))
        e[j] = eps
        numeric[j] = (propagate(w + e, b, X, Y)[1] - propagate(w - e, b, X, Y)[1]) / (
            2 * eps
        )
    numeric[4] = (propagate(w, b + eps, X, Y)[1] - propagate(w, b - eps, X, Y)[1]) / (
        2 * eps
    )
    analytic = np.append(grads["dw"], grads["db"])
    rel = np.linalg.norm(analytic - numeric) / (
        np.linalg.norm(analytic) + np.linalg.norm(numeric)
    )
    assert rel < 1e-7


def test_divergence_is_an_error_not_nan():
    # Pixel-like data with random labels: steps of 1e308 overflow the weights.
    rng = np.random.default_rng(0)
    X, Y = rng.random((100, 60)), (rng.random((1, 60)) > 0.5).astype(int)
    with pytest.raises(
        DivergenceError, match=r"diverged at iteration \d+.*got 1e\+308"
    ):
        optimize(np.zeros((100, 1)), 0.0, X, Y, num_iterations=500, learning_rate=1e308)


def test_a_huge_step_on_separable_data_stays_finite():
    params, _, costs = optimize(np.zeros((2, 1)), 0.0, X1, Y1, 201, 1e308)
    assert np.isfinite(params["w"]).all() and costs[-1] == 0.0


@pytest.mark.parametrize(
    ("w", "b", "message"),
    [(np.array([[1e39]]), 0.0, "w has values beyond the range of float32"),
     (np.ones((1, 1)), 1e39, "b has values beyond the range of float32")],
)  # fmt: skip
def test_float32_data_refuses_weights_it_cannot_hold(w, b, message):
    with pytest.raises(ValueError, match=message):
        propagate(w, b, np.ones((1, 1), np.float32), [[1]])


def test_float16_data_is_computed_in_float64():
    grads, cost = propagate([[300.0]], 0.0, np.float16([[300]]), [[1]])
    assert grads["dw"].dtype == np.float64 and cost == 0.0


def test_cost_beyond_the_float_range_is_inf_not_a_warning():
    grads, cost = propagate(np.full((2, 1), 1e300), 0.0, np.full((2, 3), 1e300), Y2)
    assert cost == np.inf
    assert np.isfinite(grads["dw"]).all()


@given(
    arrays(np.float64, (3, 4), elements=st.floats(-1e6, 1e6)),
    arrays(np.float64, (3, 1), elements=st.floats(-1e3, 1e3)),
    st.floats(-1e3, 1e3),
    arrays(np.int64, (1, 4), elements=st.integers(0, 1)),
)
def test_propagate_never_warns_or_returns_nan(X, w, b, Y):
    # |w^T x + b| reaches the billions here: the plain formula takes log(0)
    grads, cost = propagate(w, b, X, Y)
    assert np.isfinite(cost) and cost >= 0
    assert np.isfinite(grads["dw"]).all() and np.isfinite(grads["db"])
    assert set(np.unique(predict(w, b, X))) <= {0.0, 1.0}


finite = st.floats(allow_nan=False, allow_infinity=False)


@given(
    arrays(np.float64, (3, 4), elements=finite),
    arrays(np.float64, (3, 1), elements=finite),
    finite,
    arrays(np.int64, (1, 4), elements=st.integers(0, 1)),
)
def test_any_finite_input_gives_an_answer_or_a_clear_error(X, w, b, Y):
    # Over the whole float range w^T x + b can overflow: the result is then
    # an honest inf cost, or a ValueError that says so; never NaN or a warning.
    try:
        grads, cost = propagate(w, b, X, Y)
    except ValueError as e:
        assert "overflows the float range" in str(e)
    else:
        assert not np.isnan(cost) and cost >= 0
        assert np.isfinite(grads["dw"]).all() and np.isfinite(grads["db"])
