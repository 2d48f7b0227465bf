"""The neuron's cost in the span of the examples: fast when m < n.

Every gradient of the cost is a combination of the examples plus the
penalty's pull toward zero:

    dw = X^T g,   g_i = s_i (sigma(z_i) - y_i) / sum_j s_j  (+ alpha c_i)

so every iterate of gradient descent or L-BFGS started from w = 0 stays in
the span of the m training examples: w = X^T c for some c of length m. With
the Gram matrix K = X X^T (m x m, one BLAS-3 product over X, made once):

    forward    z  = X w + b = K c + b
    backward   dw = X^T g  <=>  dc = g        (a step on w is the same step on c)
    penalty    ||w||^2 = c^T K c = c . (z - b)
    geometry   (X^T u) . (X^T v) = u^T K v    (L-BFGS's inner products)

An evaluation costs O(m^2) instead of O(m n), with the same iterates up to
rounding. X is read again only to turn c into w at the end and, near
convergence, to test the largest gradient component exactly.

Sharing the math with :mod:`logitnet.core.loss`: the two representations
differ only in how z is made and how the per-example dz is turned into a
gradient (X^T dz there, nothing here). Everything between, sigma, softplus,
a - y, the weights and the float64 sums, is one function,
:func:`logitnet.core.loss.example_sums`, which ``block_sums`` and
:class:`Span` both call. Passing K to ``block_sums`` as if it were X would
have shared more lines but computed K^T dz, a product this representation
does not need, on every evaluation.

Which representation runs is decided by :func:`pays`, a cost model in units
of the machine's measured speeds: K costs about m^2 n flops at BLAS-3 speed,
an evaluation in the primal two matrix-vector products over X.
"""

from __future__ import annotations

import math

import numpy as np
from array_api_compat import is_dask_array
from numpy.typing import NDArray

from logitnet.backends import Array, namespace, to_numpy
from logitnet.backends.array_api import as_weights
from logitnet.core.loss import example_sums
from logitnet.core.pixels import ScaledPixels
from logitnet.core.softmax import example_sums as softmax_sums

__all__ = ["GRAM_SPEEDUP", "Span", "available", "gram", "pays"]

#: How much faster, in flops per second, BLAS computes X X^T than a primal
#: fit spends per flop of its evaluations (two matrix-vector products over
#: X, 4 m n flops, plus the per-example work and the optimizer's own vectors
#: of n_features). Measured on the benchmark machine (2 cores, cat data,
#: float64, interleaved): X X^T (537 Mflop) 14-19 ms; L-BFGS to the
#: course's cost in the primal (20 evaluations of 10.3 Mflop) 32 ms on one
#: thread and 46 ms with two, so X X^T costs as much as 9 to 15 primal
#: evaluations: a speed-up of 5.8 to 3.5. The lower figure is taken, so that
#: the span is chosen only where it pays on either thread setting.
GRAM_SPEEDUP = 3.5


def pays(n_samples: int, n_features: int, evaluations: int, k: int = 1) -> bool:
    """Whether ``evaluations`` evaluations are cheaper in the span.

    Primal: evaluations * 4 m n k flops (two products of X with k weight
    columns). Span: m^2 n for K at ``GRAM_SPEEDUP`` times the speed, then
    evaluations * 4 m^2 k, and 2 m n k for W = X^T C at the end. Roughly:
    n_features > n_samples and more evaluations than m / (4 GRAM_SPEEDUP).
    With k columns the primal's products are matrix products too, faster
    per flop than one matrix-vector product: up to ``GRAM_SPEEDUP`` times,
    taken as min(k, GRAM_SPEEDUP), so that the span must pay for K by more.
    """
    m, n = n_samples, n_features
    primal = evaluations * 4.0 * m * n * k / min(k, GRAM_SPEEDUP)
    span = m * m * n / GRAM_SPEEDUP + evaluations * 4.0 * m * m * k + 2.0 * m * n * k
    return span < primal


def gram(X: Array) -> Array:
    """K = X X^T, in X's namespace, dtype and device.

    For NumPy, ``X @ X.T`` on one buffer is BLAS's symmetric rank-k update
    (syrk: half the flops of a general product; measured 20 ms against
    43 ms on the cat data, one thread), also when X is the transpose of the
    course's (n_x, m) array. BLAS works in cache-sized panels of X itself,
    and K is the only new memory: m^2 numbers, less than X when m < n.
    """
    return X @ X.T


class Span:
    """The problem (X, y, sample weights, L2) in the span of the examples.

    Parameters
    ----------
    X : array of shape (n_samples, n_features)
        In memory: NumPy or another array-API namespace.
    y : array of shape (n_samples,)
        Labels 0.0 / 1.0, X's namespace and dtype.
    sample_weight : array of shape (n_samples,) or None
    alpha : float
        L2 strength.

    The coefficients c (length n_samples) and the solvers' vectors live in
    NumPy; K stays in X's namespace and on its device.
    """

    name = "span"

    def __init__(self, X: Array, y: Array, sample_weight: Array | None, alpha: float):
        self.X, self.y, self.sample_weight, self.alpha = X, y, sample_weight, alpha
        self.K = gram(X)

    def loss_and_grad(
        self, c: NDArray[np.floating], b: float, compute_loss: bool = True
    ) -> tuple[float | None, NDArray[np.floating], float]:
        """Cost, dJ/dc (X^T of it is dJ/dw) and dJ/db at w = X^T c.

        The same numbers as :func:`logitnet.core.loss.loss_and_grad` at
        w = X^T c, up to rounding; the gradient is the NumPy vector g of
        length n_samples with dJ/dw = X^T g.
        """
        c = as_weights(c, self.K)
        sums = example_sums
        with np.errstate(over="ignore", invalid="ignore"):
            if c.ndim == 2:  # k classes: C of shape (m, k), b of shape (k,)
                b, sums = as_weights(b, self.K), softmax_sums
                z = _times_K(c, self.K)
            else:
                z = self.K @ c
            z += b
            cost_sum, dz, db_sum, total = sums(
                z, self.y, self.sample_weight, compute_loss
            )
            total = float(total)
            dz /= total
            cost = float(cost_sum) / total if compute_loss else None
            if self.alpha:
                dz += self.alpha * c
                if compute_loss:
                    # ||W||^2 = sum of c_i . (K c)_i over the classes
                    cost += 0.5 * self.alpha * _dot(c, z - b)
        db = to_numpy(db_sum) / total
        return cost, to_numpy(dz), float(db) if db.ndim == 0 else db

    def weights(self, *vectors: NDArray[np.floating] | None) -> tuple:
        """w = X^T c for each c given (None stays None): NumPy arrays in X's
        dtype (also dJ/dw from dJ/dc).

        Vectors: one matrix-vector product each (on the cat data two of
        them took 1.0 ms, one product with the two side by side 1.5 ms).
        Matrices C of shape (m, k): one product for all of them side by
        side, as (C^T X)^T, which reads a row-major X along its rows (on
        500 x 12,288, 10 classes, one thread: 4.7 ms for two C, against
        7.3 ms for one X^T C).
        """
        given = [c for c in vectors if c is not None]
        with np.errstate(over="ignore", invalid="ignore"):
            if not given or given[0].ndim == 1:
                out = [to_numpy(self.X.T @ as_weights(c, self.X)) for c in given]
            else:
                xp = namespace(self.X)
                C = xp.concat([as_weights(c, self.X) for c in given], axis=1)
                W = to_numpy((C.T @ self.X).T)
                k = given[0].shape[1]
                out = [W[:, i * k : (i + 1) * k] for i in range(len(given))]
        found = iter(out)
        return tuple(None if c is None else next(found) for c in vectors)

    def metric(self, v: NDArray[np.float64]) -> NDArray[np.float64]:
        """K v for a NumPy float64 v (or K V for V of shape (m, k)):
        (X^T u) . (X^T v) = u . (K v)."""
        v = as_weights(v, self.K)
        Kv = _times_K(v, self.K) if v.ndim == 2 else self.K @ v
        return np.asarray(to_numpy(Kv), dtype=np.float64)

    def within(self, g: NDArray[np.floating], db: float, tol: float) -> bool:
        """Whether max(|X^T g|, |db|) <= tol, reading X only when needed.

        ||X^T g||_2 = sqrt(g . K g) costs O(m^2); the largest component is
        at least that over sqrt(n_features). Only when this lower bound is
        within twice tol (near convergence) is X^T g computed exactly.
        """
        if float(np.max(np.abs(db))) > tol:
            return False
        norm = math.sqrt(max(_dot(np.asarray(g, np.float64), self.metric(g)), 0.0))
        if norm > 2.0 * tol * math.sqrt(self.X.shape[1]):
            return False
        (dw,) = self.weights(g)
        return (float(np.max(np.abs(dw))) if dw.size else 0.0) <= tol


def _times_K(C: Array, K: Array) -> Array:
    """K C for C of shape (m, k), as (C^T K)^T (K is symmetric): column-major,
    as the softmax's sums take it best, and faster (measured, m = 500,
    k = 10, one thread: 0.23 ms against 0.32 ms for K C)."""
    return (C.T @ K).T


def _dot(u: Array, v: Array) -> float:
    """sum_ij u_ij v_ij: the inner product of vectors or of (m, k) arrays."""
    xp = namespace(u)
    return float(xp.sum(u * v))


def available(X: Array) -> bool:
    """Whether X can be worked on in the span: an in-memory array (NumPy or
    another array-API library), not Dask and not stored pixels (those are
    read a chunk at a time, and K would need every pair of chunks)."""
    return not isinstance(X, ScaledPixels) and not is_dask_array(X)
