"""Solvers: how the neuron steps toward lower cost.

Solvers differ only in how they step; the cost and gradient they follow come
from :func:`logitnet.loss.loss_and_grad`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from logitnet.exceptions import DivergenceError
from logitnet.loss import loss_and_grad

__all__ = ["RECORD_EVERY", "GradientDescentResult", "gradient_descent"]

#: The course records (and prints) the cost every 100 iterations.
RECORD_EVERY = 100


@dataclass
class GradientDescentResult:
    """What :func:`gradient_descent` ends with.

    Attributes
    ----------
    w : ndarray of shape (n_features,)
        Final weights.
    b : float
        Final bias.
    dw : ndarray of shape (n_features,) or None
        Gradient evaluated at the last iteration (before its step), as the
        course's ``optimize`` returns it; None after zero iterations.
    db : float or None
        Likewise for the bias.
    costs : list of float
        Cost at iterations 0, record_every, 2 * record_every, ...
    """

    w: NDArray[np.floating]
    b: float
    dw: NDArray[np.floating] | None = None
    db: float | None = None
    costs: list[float] = field(default_factory=list)


def gradient_descent(
    w: NDArray[np.floating],
    b: float,
    X: NDArray[np.floating],
    y: NDArray[np.floating],
    *,
    learning_rate: float,
    num_iterations: int,
    record_every: int = RECORD_EVERY,
    on_record: Callable[[int, float], None] | None = None,
    on_iteration: Callable[[int], None] | None = None,
) -> GradientDescentResult:
    """The course's fixed-step gradient descent.

    For i = 0 .. num_iterations - 1: evaluate the gradient at (w, b), then
    step w <- w - learning_rate * dw, b <- b - learning_rate * db.

    Parameters
    ----------
    w : ndarray of shape (n_features,)
        Starting weights; never modified.
    b : float
        Starting bias.
    X : ndarray of shape (n_samples, n_features)
    y : ndarray of shape (n_samples,)
        Labels 0.0 / 1.0 in the dtype of ``X``.
    learning_rate : float
        Step size, > 0.
    num_iterations : int
        Number of steps, >= 0.
    record_every : int, default=100
        The cost is computed (and recorded) only at iterations that are
        multiples of this, before that iteration's step.
    on_record : callable (iteration, cost) -> None, optional
        Called with each recorded cost, as it is recorded.
    on_iteration : callable (iteration) -> None, optional
        Called after every step, for progress reporting.

    Returns
    -------
    GradientDescentResult

    Raises
    ------
    DivergenceError
        When a step leaves w or b inf or NaN (the learning rate is far too
        large for the data); nothing is warned about before that.
    """
    result = GradientDescentResult(w=w.copy(), b=float(b))
    w, b = result.w, result.b
    dw: NDArray[np.floating] | None = None
    db: float | None = None
    for i in range(num_iterations):
        record = i % record_every == 0
        cost, dw, db = loss_and_grad(w, b, X, y, compute_loss=record)
        if record:
            if math.isnan(cost):
                raise _diverged(i, learning_rate)
            result.costs.append(cost)
            if on_record is not None:
                on_record(i, cost)
        # In place on our own copy: the caller's w is never touched.
        with np.errstate(over="ignore", invalid="ignore"):
            w -= learning_rate * dw
        b -= learning_rate * db
        # One pass over n_features values, against the two passes over
        # n_samples * n_features of the gradient: cheap enough to do always.
        if not (math.isfinite(b) and np.isfinite(w).all()):
            raise _diverged(i, learning_rate)
        if on_iteration is not None:
            on_iteration(i)
    result.b, result.dw, result.db = b, dw, db
    return result


def _diverged(iteration: int, learning_rate: float) -> DivergenceError:
    return DivergenceError(
        f"gradient descent diverged at iteration {iteration}: the weights "
        f"overflowed to inf or NaN; use a smaller learning rate "
        f"(got {learning_rate:g})"
    )
