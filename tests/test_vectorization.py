"""The loop versions of the demo compute what the vectorized ones do."""

from __future__ import annotations

import numpy as np
import pytest

from logitnet.course import vectorization
from logitnet.course.vectorization import (
    compare,
    dot_loop,
    exp_loop,
    gradient_step_loop,
    gradient_step_vectorized,
)
from logitnet.exceptions import LogitnetError


def test_dot_loop(rng):
    a, b = rng.random(1000), rng.random(1000)
    assert dot_loop(a, b) == pytest.approx(np.dot(a, b), rel=1e-13)


def test_exp_loop(rng):
    v = rng.normal(size=100)
    np.testing.assert_allclose(exp_loop(v), np.exp(v), rtol=1e-15)


@pytest.mark.parametrize("scale", [0.0, 0.5, 20.0])
def test_gradient_step_loop_matches_propagate(rng, scale):
    X = rng.normal(size=(6, 9))
    Y = (rng.random((1, 9)) > 0.5).astype(int)
    w = rng.normal(scale=scale, size=(6, 1))
    loop = gradient_step_loop(w, 0.3, X, Y, 0.1)
    vec = gradient_step_vectorized(w, 0.3, X, Y, 0.1)
    np.testing.assert_allclose(loop[0], vec[0], rtol=1e-12, atol=1e-15)
    assert loop[1] == pytest.approx(vec[1], rel=1e-12)
    assert loop[2] == pytest.approx(vec[2], rel=1e-12)


def test_disagreement_is_an_error(rng, monkeypatch):
    monkeypatch.setattr(vectorization, "dot_loop", lambda a, b: float(np.dot(a, b)) + 1)
    with pytest.raises(LogitnetError, match=r"dot product .* differ by 1"):
        compare(rng.random((5, 4)), np.array([[0, 1, 1, 0]]), size=100, repeat=1)


def test_a_wrong_loop_gradient_step_is_caught(rng, monkeypatch):
    """compare starts from random weights: at w = 0 every z is 0, and a loop
    that read the wrong example would agree by accident."""
    right = vectorization.gradient_step_loop

    def wrong(w, b, X, Y, learning_rate):  # every example reads example 0
        return right(w, b, np.repeat(X[:, :1], X.shape[1], axis=1), Y, learning_rate)

    monkeypatch.setattr(vectorization, "gradient_step_loop", wrong)
    with pytest.raises(LogitnetError, match="one gradient step"):
        compare(rng.random((5, 4)), np.array([[0, 1, 1, 0]]), size=10, repeat=1)


def test_median_seconds_is_per_call(monkeypatch):
    clock = iter(np.arange(0.0, 100.0, 0.01))  # each reading 10 ms later
    monkeypatch.setattr(vectorization.time, "perf_counter", lambda: next(clock))
    calls = []
    seconds, result = vectorization._median_seconds(
        lambda: calls.append(1) or "done", repeat=3, min_time=0.05
    )
    # each call costs one clock reading, 10 ms: five calls per round
    assert seconds == pytest.approx(0.01)
    assert len(calls) == 15 and result == "done"


def test_compare_rows(rng):
    X = rng.random((5, 4))
    Y = np.array([[0, 1, 1, 0]])
    rows = compare(X, Y, size=100, repeat=1)
    assert [r["operation"] for r in rows] == [
        "dot product of two 100-vectors",
        "exp of a 100-vector",
        "one gradient step, 4 examples x 5 features",
    ]
    assert all(r["max_abs_difference"] < 1e-12 for r in rows)
