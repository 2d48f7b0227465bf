"""The one implementation of the neuron's math: cross-entropy cost and gradient.

Every caller goes through :func:`loss_and_grad`: the course API in
:mod:`logitnet.neuron`, every solver in :mod:`logitnet.solvers`, and the
command line. Inputs are trusted here; they are checked where they enter.

For one neuron with weights w and bias b on examples x_i with labels y_i:

    forward    z_i = w . x_i + b
               a_i = sigma(z_i)
               J   = -(1/m) sum_i [ y_i log a_i + (1 - y_i) log(1 - a_i) ]
    backward   dz_i = a_i - y_i
               dw   = (1/m) sum_i x_i dz_i
               db   = (1/m) sum_i dz_i

Since log a = -softplus(-z) and log(1 - a) = -softplus(z), with
softplus(t) = log(1 + e^t), the loss of one example is softplus(-z) when
y = 1 and softplus(z) when y = 0, that is softplus((1 - 2y) z). The cost is
evaluated in that form, with a stable softplus (``np.logaddexp(0, t)``): it
never takes log(0), stays finite and right for |z| in the thousands, where a
rounds to exactly 0 or 1, and has no y * z product that could make inf - inf.

Overflow is not warned about here: a z beyond the float range becomes +-inf,
where sigma and softplus still give the right limits (0, 1, inf). Only absurd
inputs (|w| |x| near 1e308 with mixed signs) can make inf - inf = NaN; the
callers check that their results are finite and say what went wrong.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray
from scipy.special import expit

__all__ = ["decision_function", "loss_and_grad"]


def decision_function(
    w: NDArray[np.floating], b: float, X: NDArray[np.floating]
) -> NDArray[np.floating]:
    """Pre-activation z = X w + b.

    Parameters
    ----------
    w : ndarray of shape (n_features,)
    b : float
    X : ndarray of shape (n_samples, n_features)
        Any memory layout; the course's (n_x, m) array is passed as its
        transpose ``X.T``, a view, so no copy is made.

    Returns
    -------
    z : ndarray of shape (n_samples,)
    """
    with np.errstate(over="ignore", invalid="ignore"):
        z = X @ w
        z += b
    return z


def loss_and_grad(
    w: NDArray[np.floating],
    b: float,
    X: NDArray[np.floating],
    y: NDArray[np.floating],
    *,
    compute_loss: bool = True,
) -> tuple[float | None, NDArray[np.floating], float]:
    """Cross-entropy cost of one sigmoid neuron and its gradient, in one pass.

    Parameters
    ----------
    w : ndarray of shape (n_features,)
        Weights, the same float dtype as ``X``.
    b : float
        Bias.
    X : ndarray of shape (n_samples, n_features)
        Examples, one per row (a transposed view of the course's (n_x, m)).
    y : ndarray of shape (n_samples,)
        Labels 0.0 or 1.0, the same float dtype as ``X``.
    compute_loss : bool, default=True
        Skip the cost (one log per example) when only the gradient is needed.

    Returns
    -------
    cost : float or None
        J(w, b), or None when ``compute_loss`` is False.
    dw : ndarray of shape (n_features,)
        dJ/dw, the dtype of ``X``.
    db : float
        dJ/db.
    """
    m = X.shape[0]
    z = decision_function(w, b, X)
    dz = expit(z)  # a = sigma(z), overwritten in place by dz = a - y
    dz -= y
    with np.errstate(over="ignore", invalid="ignore"):
        dw = X.T @ dz
        dw /= m
        db = float(np.sum(dz)) / m
        cost = None
        if compute_loss:
            sign = 1 - 2 * y  # +1 for y = 0, -1 for y = 1: exact, so is z * sign
            cost = float(np.mean(np.logaddexp(0, z * sign)))
    return cost, dw, db
