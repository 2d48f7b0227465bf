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

__all__ = ["decision_function", "loss_and_grad", "rows_per_block"]


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


#: Above this size X is processed in row blocks of about ``BLOCK_BYTES``: each
#: block is used for both products while it is still in cache, so X streams
#: from memory once per evaluation instead of twice. Below it, one BLAS call
#: per product is faster (X already sits in the last-level cache and BLAS
#: spreads one large call over all cores). Both sizes were chosen by
#: measurement on the benchmark machine; see ``benchmarks/RESULTS.md``.
SINGLE_PASS_BYTES = 64 * 2**20
BLOCK_BYTES = 4 * 2**20


def rows_per_block(X: NDArray[np.floating]) -> int:
    """Rows of X per block in :func:`loss_and_grad` (all of them when small)."""
    m = X.shape[0]
    if X.nbytes <= SINGLE_PASS_BYTES:
        return max(m, 1)
    row_bytes = max(X.nbytes // max(m, 1), 1)
    return max(BLOCK_BYTES // row_bytes, 1)


def loss_and_grad(
    w: NDArray[np.floating],
    b: float,
    X: NDArray[np.floating],
    y: NDArray[np.floating],
    *,
    sample_weight: NDArray[np.floating] | None = None,
    alpha: float = 0.0,
    compute_loss: bool = True,
) -> tuple[float | None, NDArray[np.floating], float]:
    """Cross-entropy cost of one sigmoid neuron and its gradient, in one pass.

    With sample weights s_i (all 1 by default) and L2 strength alpha:

        J  = sum_i s_i L(a_i, y_i) / sum_i s_i  +  (alpha / 2) ||w||^2
        dw = X^T (s * (a - y)) / sum_i s_i      +  alpha w
        db = sum_i s_i (a_i - y_i) / sum_i s_i

    The bias is never penalized.

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
    sample_weight : ndarray of shape (n_samples,), optional
        Non-negative weights with a positive sum, the dtype of ``X``.
    alpha : float, default=0.0
        L2 penalty strength, >= 0.
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
    rows = rows_per_block(X)
    dw = None
    cost_sum = db_sum = 0.0
    with np.errstate(over="ignore", invalid="ignore"):
        for start in range(0, m, rows):
            block = slice(start, start + rows)
            Xb = X[block]
            z = decision_function(w, b, Xb)
            dz = expit(z)  # a = sigma(z), overwritten in place by dz = a - y
            dz -= y[block]
            if sample_weight is not None:
                dz *= sample_weight[block]
            # Xb is still in cache from the first product: this one is cheap.
            part = Xb.T @ dz
            if dw is None:
                dw = part
            else:
                dw += part
            # Sums in float64 whatever X's dtype: O(n_samples), and the
            # optimizer compares costs that differ in their last digits.
            db_sum += float(np.sum(dz, dtype=np.float64))
            if compute_loss:
                # +1 for y = 0, -1 for y = 1: exact, and so is z * sign.
                losses = np.logaddexp(0, z * (1 - 2 * y[block]))
                if sample_weight is not None:
                    losses *= sample_weight[block]
                cost_sum += float(np.sum(losses, dtype=np.float64))
        total = m if sample_weight is None else float(np.sum(sample_weight))
        dw /= total
        db = db_sum / total
        cost = cost_sum / total if compute_loss else None
        if alpha:
            dw += alpha * w
            if compute_loss:
                cost += 0.5 * alpha * float(w @ w)
    return cost, dw, db
