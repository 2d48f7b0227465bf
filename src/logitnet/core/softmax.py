"""The neuron with k outputs: softmax and its cross-entropy, one example at a time.

For k >= 3 classes the neuron has a weight column and a bias per class,
W of shape (n_features, k) and b of shape (k,), and for an example x with
label y in 0..k-1:

    forward    z_j = x . W[:, j] + b_j                 (j = 0 .. k-1)
               a_j = e^{z_j} / sum_l e^{z_l}           (softmax)
               L   = -log a_y = logsumexp(z) - z_y
    backward   dz_j = a_j - [j == y]                   (a - onehot(y))
               dW   = x dz^T,  db = dz

Two classes keep the sigmoid of :mod:`logitnet.core.loss`: the softmax of
(0, z) is (sigma(-z), sigma(z)), the same model with one weight vector.

Both functions here subtract each row's largest z before exponentiating:
every exponent is then <= 0, nothing overflows, the sum of the exponentials
is at least 1, and its log is finite, for any finite z.

:func:`softmax` gives answers about single pictures, so its exponential is
written out (:mod:`logitnet.core.portable`: the same bits on every CPU),
not NumPy's (which has AVX-512-only code whose last bits differ);
:func:`example_sums` feeds training sums and may use either.
"""

from __future__ import annotations

import numpy as np

from logitnet.backends import Array, namespace
from logitnet.backends.array_api import accumulator
from logitnet.core.portable import portable_exp

__all__ = ["example_sums", "log_softmax", "softmax"]


def _shifted(Z: Array, xp) -> tuple[Array, Array]:
    """Z minus each row's largest value, and that largest value (m, 1)."""
    top = xp.max(Z, axis=1, keepdims=True)
    return Z - top, top


def _exp_fixed(t: Array, xp) -> Array:
    """e^t, the same bits on every CPU for NumPy
    (:func:`logitnet.core.portable.portable_exp`)."""
    if xp is np:
        return portable_exp(t)
    return xp.exp(t)


def softmax(Z: Array) -> Array:
    """Each row's class probabilities, e^{z_j} / sum_l e^{z_l}.

    Parameters
    ----------
    Z : array of shape (n_samples, k), real floating dtype

    Returns
    -------
    array of shape (n_samples, k)
        Z's namespace and dtype; rows sum to 1 (to rounding). A row's
        probabilities depend on that row alone, bit for bit.
    """
    xp = namespace(Z)
    with np.errstate(over="ignore", invalid="ignore"):
        shifted, _ = _shifted(Z, xp)
        E = _exp_fixed(shifted, xp)
        return E / xp.sum(E, axis=1, keepdims=True)


def log_softmax(Z: Array) -> Array:
    """log of :func:`softmax`, without rounding small probabilities to log(0).

    Parameters
    ----------
    Z : array of shape (n_samples, k), real floating dtype

    Returns
    -------
    array of shape (n_samples, k), <= 0
    """
    xp = namespace(Z)
    with np.errstate(over="ignore", invalid="ignore"):
        shifted, _ = _shifted(Z, xp)
        return shifted - xp.log(xp.sum(_exp_fixed(shifted, xp), axis=1, keepdims=True))


def example_sums(
    Z: Array, y: Array, sample_weight: Array | None, compute_loss: bool = True
) -> tuple[Array | None, Array, Array, Array | float]:
    """The softmax neuron's per-example math, from Z to the sums.

    With s_i the sample weights (1 when None):

        dZ_i       = s_i (softmax(z_i) - onehot(y_i))
        cost_sum   = sum_i s_i (logsumexp(z_i) - z_{i, y_i})
        db_sum     = sum_i dZ_i                       (shape (k,))
        weight_sum = sum_i s_i

    Parameters
    ----------
    Z : array of shape (n_samples, k)
        Pre-activations X W + b (or K C + b in the span). Only read. Any
        memory layout; column-major (each class's column contiguous, as the
        callers make it) is fastest: the reductions over a row's k classes
        are then elementwise operations on whole columns (on the digits,
        1,797 x 10, a row maximum took 56 microseconds over rows of 10 and
        4 over columns).
    y : array of shape (n_samples,)
        Labels 0.0 .. k-1 in Z's namespace and dtype.
    sample_weight : array of shape (n_samples,) or None
    compute_loss : bool, default=True

    Returns
    -------
    cost_sum : 0-d array or None
        float64 where the namespace has it, as is db_sum.
    dZ : array of shape (n_samples, k)
        Z's namespace and dtype.
    db_sum : array of shape (k,)
    weight_sum : 0-d array or float
    """
    xp = namespace(Z)
    acc = np.float64 if xp is np else accumulator(Z)
    labels = _labels(y, Z.shape[1], xp)
    top = xp.max(Z, axis=1, keepdims=True)
    dZ = Z - top  # every entry <= 0
    # z_y - top for the loss, taken before dZ becomes the probabilities.
    at_label = _at_labels(dZ, labels, xp)
    dZ = _exp_in_place(dZ, xp)
    total = xp.sum(dZ, axis=1, keepdims=True)  # >= 1: the largest term is e^0
    dZ /= total
    dZ = _minus_onehot(dZ, labels, xp)
    if sample_weight is not None:
        dZ *= sample_weight[:, None]
    db_sum = xp.sum(dZ, axis=0, dtype=acc)
    cost_sum = None
    if compute_loss:
        # logsumexp(z) - z_y = log(total) - (z_y - top): no overflow, >= 0.
        losses = xp.log(total[:, 0]) - at_label
        if sample_weight is not None:
            losses *= sample_weight
        cost_sum = xp.sum(losses, dtype=acc)
    if sample_weight is None:
        weight_sum = float(Z.shape[0])
    else:
        weight_sum = xp.sum(sample_weight, dtype=acc)
    return cost_sum, dZ, db_sum, weight_sum


# Picking each row's label column. NumPy indexes the (row, label) pairs
# directly: a one-hot (n_samples, k) mask, built, converted and multiplied
# on every evaluation, took 60 of the 250 microseconds of the per-example
# work on the digits (1,797 x 10). The array API has no such indexing; there
# the mask is compared and selected from (never multiplied out: -inf * 0
# would be NaN).


def _labels(y: Array, k: int, xp):
    """Where each row's label is: NumPy's (rows, labels) index; elsewhere
    the (n_samples, k) mask of y_i == j."""
    if xp is np:
        return np.arange(y.shape[0]), y.astype(np.intp)
    return y[:, None] == xp.arange(k, dtype=y.dtype)


def _at_labels(S: Array, labels, xp) -> Array:
    """S[i, y_i] for each row i: shape (n_samples,)."""
    if xp is np:
        return S[labels]
    return xp.sum(xp.where(labels, S, xp.zeros_like(S)), axis=1)


def _minus_onehot(P: Array, labels, xp) -> Array:
    """P - onehot(y); NumPy's P is changed in place (P is ours)."""
    if xp is np:
        P[labels] -= 1
        return P
    return P - xp.astype(labels, P.dtype)


def _exp_in_place(S: Array, xp) -> Array:
    """e^S, into S itself for NumPy (S is ours: one array less per block)."""
    if xp is np:
        return np.exp(S, out=S)
    return xp.exp(S)
