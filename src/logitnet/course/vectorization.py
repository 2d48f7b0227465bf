"""The lesson's vectorization demo, measured: explicit loops vs NumPy.

Three operations, each written twice: once with the explicit Python ``for``
loops of the lecture, once vectorized. Both versions run on the same input;
the timings and the largest difference between their results are reported.

The loop versions index NumPy arrays element by element, exactly as the
lecture's code does; they are the reference for what vectorizing saves.
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from logitnet.course.basics import basic_sigmoid
from logitnet.course.neuron import propagate
from logitnet.exceptions import LogitnetError

__all__ = [
    "compare",
    "dot_loop",
    "exp_loop",
    "gradient_step_loop",
    "gradient_step_vectorized",
]


def dot_loop(a: np.ndarray, b: np.ndarray) -> float:
    """Dot product of two vectors of shape (n,), one element at a time."""
    c = 0.0
    for i in range(a.shape[0]):
        c += a[i] * b[i]
    return float(c)


def exp_loop(v: np.ndarray) -> np.ndarray:
    """exp of each element of a vector of shape (n,), one element at a time."""
    u = np.zeros(v.shape[0])
    for i in range(v.shape[0]):
        u[i] = math.exp(v[i])
    return u


def gradient_step_loop(
    w: np.ndarray, b: float, X: np.ndarray, Y: np.ndarray, learning_rate: float
) -> tuple[np.ndarray, float, float]:
    """One gradient-descent step with loops over examples and features.

    Parameters
    ----------
    w : ndarray of shape (n_x, 1)
    b : float
    X : ndarray of shape (n_x, m)
    Y : ndarray of shape (1, m)
    learning_rate : float

    Returns
    -------
    w : ndarray of shape (n_x, 1)
        Weights after the step.
    b : float
        Bias after the step.
    cost : float
        Cost before the step.
    """
    n_x, m = X.shape
    J, dw, db = 0.0, np.zeros(n_x), 0.0
    for i in range(m):
        z = b
        for j in range(n_x):
            z += w[j, 0] * X[j, i]
        a = basic_sigmoid(float(z))
        y = Y[0, i]
        # -[y log a + (1 - y) log(1 - a)], written so that it never takes log(0)
        J += max(z, 0) + math.log1p(math.exp(-abs(z))) - y * z
        dz = a - y
        for j in range(n_x):
            dw[j] += X[j, i] * dz
        db += dz
    J, dw, db = J / m, dw / m, db / m
    return w - learning_rate * dw.reshape(-1, 1), b - learning_rate * db, float(J)


def gradient_step_vectorized(
    w: np.ndarray, b: float, X: np.ndarray, Y: np.ndarray, learning_rate: float
) -> tuple[np.ndarray, float, float]:
    """The same step as :func:`gradient_step_loop`, with :func:`propagate`."""
    grads, cost = propagate(w, b, X, Y)
    return w - learning_rate * grads["dw"], b - learning_rate * grads["db"], cost


def _median_seconds(
    fn: Callable[[], Any], repeat: int, min_time: float
) -> tuple[float, Any]:
    """Median over ``repeat`` rounds of the time per call, and fn's result.

    A round repeats the call until it has run ``min_time`` seconds, so that
    sub-millisecond calls are not lost in the timer's resolution.
    """
    rounds = []
    for _ in range(repeat):
        calls, start = 0, time.perf_counter()
        while True:
            result = fn()
            calls += 1
            elapsed = time.perf_counter() - start
            if elapsed >= min_time:
                break
        rounds.append(elapsed / calls)
    return statistics.median(rounds), result


def _row(
    operation: str,
    loop: Callable[[], Any],
    vectorized: Callable[[], Any],
    difference: Callable[[Any, Any], float],
    scale: float,
    repeat: int,
) -> dict[str, Any]:
    """Time both versions and check they agree to rounding, relative to
    ``scale``, the magnitude of the result."""
    loop_seconds, loop_result = _median_seconds(loop, repeat, min_time=0.0)
    vectorized_seconds, vectorized_result = _median_seconds(
        vectorized, repeat, min_time=0.05
    )
    max_abs_difference = float(difference(loop_result, vectorized_result))
    # Summation order differs, so the results differ by rounding: about
    # 1e-16 per term; 1e-9 of the magnitude leaves room and still catches
    # any real disagreement.
    if not max_abs_difference <= 1e-9 * max(scale, 1.0):
        raise LogitnetError(
            f"{operation}: loop and vectorized results differ by "
            f"{max_abs_difference:.3g}, more than rounding explains"
        )
    return {
        "operation": operation,
        "loop_seconds": loop_seconds,
        "vectorized_seconds": vectorized_seconds,
        "speedup": loop_seconds / vectorized_seconds,
        "max_abs_difference": max_abs_difference,
    }


def compare(
    X: np.ndarray,
    Y: np.ndarray,
    *,
    size: int = 1_000_000,
    repeat: int = 3,
    learning_rate: float = 0.005,
    seed: int = 0,
) -> list[dict[str, Any]]:
    """Time the loop and vectorized versions of each operation.

    Parameters
    ----------
    X : ndarray of shape (n_x, m)
        Examples for the gradient step (the scaled cat images).
    Y : ndarray of shape (1, m)
        Their labels.
    size : int, default=1_000_000
        Length of the random vectors for the dot product and exp.
    repeat : int, default=3
        Rounds per timing; the median is reported.
    learning_rate : float, default=0.005
    seed : int, default=0
        Seed of the random vectors.

    Returns
    -------
    list of dict
        One per operation, with keys ``operation``, ``loop_seconds``,
        ``vectorized_seconds``, ``speedup`` and ``max_abs_difference``.

    Raises
    ------
    LogitnetError
        If a loop version and its vectorized version disagree by more than
        rounding explains.
    """
    rng = np.random.default_rng(seed)
    u, v = rng.random(size), rng.random(size)
    # A random start, not zeros: at w = 0 every z is 0 and a loop that mixed
    # up its indices would still agree with the vectorized step.
    w = rng.normal(scale=0.01, size=(X.shape[0], 1))
    b = 0.1

    def step_difference(p, q):
        return max(np.max(np.abs(p[0] - q[0])), abs(p[1] - q[1]), abs(p[2] - q[2]))

    return [
        _row(
            f"dot product of two {size:,}-vectors",
            lambda: dot_loop(u, v),
            lambda: np.dot(u, v),
            lambda p, q: abs(p - q),
            float(np.dot(u, v)),
            repeat,
        ),
        _row(
            f"exp of a {size:,}-vector",
            lambda: exp_loop(u),
            lambda: np.exp(u),
            lambda p, q: np.max(np.abs(p - q)),
            float(np.exp(u.max())),
            repeat,
        ),
        _row(
            f"one gradient step, {X.shape[1]} examples x {X.shape[0]:,} features",
            lambda: gradient_step_loop(w, b, X, Y, learning_rate),
            lambda: gradient_step_vectorized(w, b, X, Y, learning_rate),
            step_difference,
            1.0,
            repeat,
        ),
    ]
