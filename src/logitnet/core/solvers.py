"""Solvers: how the neuron steps toward lower cost.

Solvers differ only in how they step; the cost and gradient they follow come
from :func:`logitnet.core.loss.loss_and_grad`. X may be an array of any array-API
library, Dask included: it is only ever handed to ``loss_and_grad``, while the
solver's own state (w, b, the L-BFGS memory) is small and stays in NumPy.
Both take the same :class:`Problem` (X, y, the starting point, optional
sample weights, L2 strength, whether the bias is learned), their own
settings, and one progress callback, called with a :class:`Step` at every
iteration; both return a :class:`SolverResult`.

- :func:`gradient_descent`: the course's fixed-step descent.
- :func:`lbfgs`: limited-memory BFGS with a strong-Wolfe line search. It is
  written here rather than wrapped from SciPy because measurement said so:
  on the cat data (12,288 weights) ``scipy.optimize.minimize(method="L-BFGS-B")``
  spends about 15 ms of its own per iteration, against under 1 ms for a
  loss-and-gradient evaluation; this implementation spends tens of
  microseconds (``benchmarks/RESULTS.md``).

Both run in one of two representations of the same iterates: the primal
(w itself, each evaluation two passes over X) or, when X is in memory, the
solvers start from w = 0 and :func:`logitnet.core.span.pays` says so, the
span of the examples (w = X^T c, each evaluation O(n_samples^2) after one
X X^T; :mod:`logitnet.core.span`). ``representation`` forces one; the
result says which ran. The loops below are written once for both: they
call the representation's ``loss_and_grad``, ``within`` (the stopping
test), ``metric`` (inner products) and ``weights`` (w at the end).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from logitnet.backends import numpy_dtype, to_numpy
from logitnet.core import span
from logitnet.core.divergence import RISES_TO_DIVERGE, diverged, diverging
from logitnet.core.loss import loss_and_grad
from logitnet.core.quasinewton import Memory, iterate

__all__ = [
    "COST_EVERY",
    "LBFGS_EVALUATIONS",
    "REPRESENTATIONS",
    "Problem",
    "Progress",
    "SolverResult",
    "Step",
    "gradient_descent",
    "lbfgs",
]

#: ``representation``: chosen by the cost model, or forced.
REPRESENTATIONS = ("auto", "primal", "span")

#: Evaluations an L-BFGS fit is expected to need, for the cost model (the
#: cat data: 20 to the course's cost, hundreds to tol=1e-4).
LBFGS_EVALUATIONS = 50

#: The course records (and prints) the cost every 100 iterations.
COST_EVERY = 100

#: L-BFGS keeps this many (step, gradient change) pairs at least, and at
#: most LBFGS_MAX_MEMORY: one pair per LBFGS_ROWS_PER_PAIR rows of X.
#: More pairs, fewer iterations (scikit-learn's digits, 1,797 x 64, 10
#: classes, to scikit-learn's converged cost: 83 iterations with 10 pairs,
#: 61 with 30, 46 with 44 or 50). Applying a pair costs about 8 p flops (p
#: the number of weights), an evaluation 4 m p (two products over m rows):
#: with a pair per 40 rows the direction stays within 5 % of an
#: evaluation, and few rows (the cat data's 209) keep 10.
LBFGS_MEMORY = 10
LBFGS_MAX_MEMORY = 50
LBFGS_ROWS_PER_PAIR = 40


def lbfgs_memory(rows: int) -> int:
    """The correction pairs L-BFGS keeps for X of ``rows`` rows."""
    return int(min(LBFGS_MAX_MEMORY, max(LBFGS_MEMORY, rows // LBFGS_ROWS_PER_PAIR)))


@dataclass(frozen=True)
class Problem:
    """What a solver minimizes, and where it starts.

    J(w, b) = sum_i s_i L(x_i . w + b, y_i) / sum_i s_i + (alpha / 2) ||w||^2,
    as :func:`logitnet.core.loss.loss_and_grad` computes it. Checked where
    it is built (the estimator, the course's functions); trusted here.

    Attributes
    ----------
    X : array of shape (n_samples, n_features), or ScaledPixels
        NumPy, another array-API namespace, Dask, or stored pixels; only
        ever handed to ``loss_and_grad`` (or, in the span, to ``gram``).
    y : array of shape (n_samples,)
        Labels 0.0 / 1.0 (k classes: 0.0 .. k-1) in the dtype of X, as
        ``loss_and_grad`` takes them.
    w0 : ndarray of shape (n_features,) or (n_features, k)
        Starting weights in the dtype of X, never modified; two dimensions:
        k >= 3 classes, the softmax neuron.
    b0 : float, or ndarray of shape (k,), default=0.0
        Starting bias (k classes: one per class).
    sample_weight : array of shape (n_samples,), optional
        Like ``y``.
    alpha : float, default=0.0
        L2 strength; the bias is never penalized.
    fit_intercept : bool, default=True
        False keeps b at ``b0``.
    """

    X: Any
    y: Any
    w0: NDArray[np.floating]
    b0: float | NDArray[np.floating] = 0.0
    sample_weight: Any = None
    alpha: float = 0.0
    fit_intercept: bool = True


@dataclass
class SolverResult:
    """What a solver ends with.

    Attributes
    ----------
    w : ndarray of the shape of ``Problem.w0``
        Final weights, the dtype of X.
    b : float, or ndarray of shape (k,)
        Final bias (the start's when the bias is not learned).
    dw : ndarray of the shape of w, or None
        Gradient at the last point evaluated: for gradient descent the last
        iteration's (before its step), as the course's ``optimize`` returns
        it; None after zero iterations.
    db : float, ndarray of shape (k,), or None
        Likewise for the bias.
    costs : list of float
        Recorded costs (see each solver).
    n_iter : int
        Iterations (steps) taken.
    converged : bool
        Whether the largest gradient component fell to ``tol``.
    diverging : bool
        Gradient descent only: the cost every COST_EVERY iterations stopped
        being finite, rose above the starting cost, or rose
        :data:`RISES_TO_DIVERGE` times in a row; the learning rate is too
        large (said in ``message``).
    message : str
        Why the solver stopped, for warnings and logs.
    representation : {"primal", "span"}
        Where the iterates were computed.
    """

    w: NDArray[np.floating]
    b: Any
    dw: NDArray[np.floating] | None = None
    db: Any = None
    costs: list[float] = field(default_factory=list)
    n_iter: int = 0
    converged: bool = False
    diverging: bool = False
    message: str = ""
    representation: str = "primal"


@dataclass(frozen=True)
class Step:
    """What a solver reports (its ``progress`` callback) at an iterate: for
    a progress display or a log, never needed by the fit itself.

    Attributes
    ----------
    iteration : int
        Steps taken so far (0: the start).
    cost : float or None
        The cost J there; None where gradient descent did not compute it
        (it records one iteration in ``record_every``).
    evaluations : int
        Cost-and-gradient evaluations so far, this iterate's included; in
        the primal each is a pass over X (an L-BFGS line search may make
        several in one iteration).
    tol : float
        The solver stops once :attr:`gradient` is at most this (0: never).
    """

    iteration: int
    cost: float | None
    evaluations: int
    tol: float
    largest: Callable[[], float] = field(repr=False, compare=False)

    @functools.cached_property
    def gradient(self) -> float:
        """max(|dw|, |db|) there, what the stopping test compares with ``tol``;
        in the span computed when first asked (a product with X)."""
        return self.largest()


#: A solver's one callback: called with the :class:`Step` at each iteration.
Progress = Callable[[Step], object]


class _Primal:
    """The problem in w itself: :func:`loss_and_grad` over X's rows."""

    name = "primal"

    def __init__(self, problem: Problem) -> None:
        self.problem = problem

    def loss_and_grad(self, w, b, compute_loss: bool = True):
        p = self.problem
        cost, dw, db = loss_and_grad(
            w,
            b,
            p.X,
            p.y,
            sample_weight=p.sample_weight,
            alpha=p.alpha,
            compute_loss=compute_loss,
        )
        return cost, to_numpy(dw), db

    def weights(self, *vectors):
        return vectors

    def metric(self, v):
        return v

    def within(self, dw, db, tol: float) -> bool:
        return _max_abs(dw, db) <= tol


def _representation(problem: Problem, representation: str, evaluations: int):
    """The representation to run in (see the module's docstring)."""
    X, w = problem.X, problem.w0
    from_zero = not np.any(w)
    if representation == "span":
        if not span.available(X):
            raise ValueError(
                "representation='span' needs X in memory (a NumPy or other "
                "array-API array); Dask arrays and stored pixels run in the "
                "primal: use representation='primal' or 'auto'"
            )
        if not from_zero:
            raise ValueError(
                "representation='span' starts from w = 0; got nonzero starting "
                "weights: use representation='primal' or 'auto'"
            )
    elif representation == "auto":
        k = w.shape[1] if w.ndim == 2 else 1
        if not (
            span.available(X) and from_zero and span.pays(*X.shape, evaluations, k)
        ):
            representation = "primal"
        else:
            representation = "span"
    if representation == "span":
        return span.Span(X, problem.y, problem.sample_weight, problem.alpha)
    return _Primal(problem)


def gradient_descent(
    problem: Problem,
    *,
    learning_rate: float,
    num_iterations: int,
    tol: float = 0.0,
    record_every: int = COST_EVERY,
    representation: str = "auto",
    progress: Progress | None = None,
) -> SolverResult:
    """The course's fixed-step gradient descent.

    For i = 0 .. num_iterations - 1: evaluate the gradient at (w, b), then
    step w <- w - learning_rate * dw, b <- b - learning_rate * db.

    Parameters
    ----------
    problem : Problem
        The cost and the starting point (w0, b0).
    learning_rate : float
        Step size, > 0.
    num_iterations : int
        Largest number of steps, >= 0.
    tol : float, default=0.0
        Stop (converged) before stepping once max(|dw|, |db|) <= tol;
        0 never stops early, as in the course.
    record_every : int, default=100
        The cost is computed (and recorded) only at iterations that are
        multiples of this, before that iteration's step.
    representation : {"auto", "primal", "span"}, default="auto"
        Where the iterates are computed (see the module's docstring);
        "span" needs an in-memory X and w = 0.
    progress : callable (Step) -> None, optional
        Called at every iteration, before its step (the cost None between
        recorded iterations).

    Returns
    -------
    SolverResult

    Raises
    ------
    DivergenceError
        When a step leaves w or b inf or NaN (the learning rate is far too
        large for the data). Before that, a cost that rises is recorded in
        ``diverging`` and ``message``.
    ValueError
        When the cost or gradient at the start is NaN or infinite (see
        :func:`_check_start`).
    """
    space = _representation(problem, representation, num_iterations)
    # In the span, w below holds the coefficients c of w = X^T c (from 0).
    w0 = problem.w0
    if space.name == "primal":
        start = w0.copy()
    else:
        start = np.zeros((problem.X.shape[0], *w0.shape[1:]), w0.dtype)
    result = SolverResult(w=start, b=_bias(problem.b0), representation=space.name)
    w, b = result.w, result.b
    dw: NDArray[np.floating] | None = None
    db: float | None = None
    checkpoints: list[float] = []  # the cost every COST_EVERY iterations
    i = 0
    for i in range(num_iterations):
        record = i % record_every == 0
        cost, dw, db = space.loss_and_grad(w, b, record)
        if i == 0:
            _check_start(cost, dw, db)
        if not problem.fit_intercept:
            db = db * 0.0
        if record:
            if math.isnan(cost):
                raise diverged(i, learning_rate)
            result.costs.append(cost)
            if i % COST_EVERY == 0:
                checkpoints.append(cost)
        if progress is not None:
            progress(_step(space, i, cost, i + 1, tol, dw, db))
        if tol > 0 and space.within(dw, db, tol):
            result.converged = True
            break
        # In place on our own copy: the caller's w is never touched.
        with np.errstate(over="ignore", invalid="ignore"):
            w -= learning_rate * dw
        b -= learning_rate * db  # b: a float, or our own array of k biases
        # One pass over n_features values, against the two passes over
        # n_samples * n_features of the gradient: cheap enough to do always.
        if not (np.isfinite(b).all() and np.isfinite(w).all()):
            raise diverged(i, learning_rate)
    else:
        i = num_iterations
    result.w, dw = space.weights(w, dw)
    result.b, result.dw, result.db, result.n_iter = b, dw, db, i
    _gd_message(result, tol, learning_rate, checkpoints)
    return result


def _gd_message(result: SolverResult, tol, learning_rate, checkpoints) -> None:
    """Why gradient descent stopped, and whether it was diverging, in
    ``result``: judged at the end, so that a run that recovers from a bad
    start is not diverging."""
    i = result.n_iter
    result.message = (
        f"the largest gradient component fell to tol={tol:g} after {i} iterations"
        if result.converged
        else f"stopped after {i} iterations (the iteration limit)"
    )
    result.diverging = bool(checkpoints) and diverging(checkpoints)
    if result.diverging:
        result.message = (
            f"the cost rose instead of falling (every {COST_EVERY} iterations: "
            f"{', '.join(f'{c:.4g}' for c in checkpoints[-RISES_TO_DIVERGE - 1 :])}"
            "): "
            f"the learning rate {learning_rate:g} is too large; try a smaller one"
        )


def lbfgs(
    problem: Problem,
    *,
    max_iter: int,
    tol: float,
    memory: int | None = None,
    representation: str = "auto",
    progress: Progress | None = None,
) -> SolverResult:
    """Limited-memory BFGS on the neuron's cost.

    Each iteration builds a quasi-Newton direction from the last ``memory``
    steps (the two-loop recursion), then finds a step along it satisfying
    the strong Wolfe conditions (sufficient decrease c1 = 1e-4, curvature
    c2 = 0.9). The optimizer's state (a few vectors of n_features + 1) is
    kept in float64 whatever the dtype of X; the weights are cast to that
    dtype for each evaluation.

    Parameters
    ----------
    problem : Problem
        The cost and the starting point (w0, b0).
    max_iter : int
        Largest number of iterations, >= 0.
    tol : float
        Converged once max(|dw|, |db|) <= tol.
    memory : int, optional
        Number of correction pairs kept; by default :func:`lbfgs_memory` of
        X's rows (10 to 50).
    representation : {"auto", "primal", "span"}, default="auto"
        As for :func:`gradient_descent`. In the span the optimizer's
        vectors are (c, b) and its inner products those of (X^T c, b).
    progress : callable (Step) -> None, optional
        Called at every iterate, the start included, before the stopping
        test.

    Returns
    -------
    SolverResult
        ``costs`` holds the cost at every iterate: n_iter + 1 values.

    Raises
    ------
    ValueError
        When the cost or gradient at the start is NaN or infinite (see
        :func:`_check_start`).
    """
    dtype = numpy_dtype(problem.X)
    evaluations = min(max_iter, LBFGS_EVALUATIONS) + 1
    space = _representation(problem, representation, evaluations)
    w, b = problem.w0, problem.b0
    if space.name == "span":
        # The coefficients c of w = X^T c: one per example (and class).
        w = np.zeros((problem.X.shape[0], *w.shape[1:]))
    # theta = (w, b) flattened: n weights, then one bias (k for k classes).
    shape, n, scalar = w.shape, w.size, np.ndim(b) == 0
    evaluations = 0

    def parts(v: NDArray[np.float64]):
        """(w, b) of a vector theta (or of a gradient or direction)."""
        return v[:n].reshape(shape), float(v[n]) if scalar else v[n:]

    def evaluate(theta: NDArray[np.float64]) -> tuple[float, NDArray[np.float64]]:
        nonlocal evaluations
        evaluations += 1
        w_, b_ = parts(theta)
        cost, dw, db = space.loss_and_grad(w_.astype(dtype, copy=False), b_)
        grad = np.empty(theta.size)
        grad[:n] = np.ravel(dw)
        grad[n:] = db if problem.fit_intercept else 0.0
        return cost, grad

    def metric(v: NDArray[np.float64]) -> NDArray[np.float64]:
        """M v, with u . M v the inner product of the weights u and v stand
        for, in the span (the identity in the primal)."""
        return np.append(np.ravel(space.metric(v[:n].reshape(shape))), v[n:])

    theta = np.append(np.ravel(np.asarray(w, dtype=np.float64)), np.ravel(b))
    cost, grad = evaluate(theta)
    _check_start(cost, *parts(grad))
    result = SolverResult(w=w, b=_bias(b), costs=[cost], representation=space.name)
    if memory is None:
        memory = lbfgs_memory(problem.X.shape[0])
    steps = Memory(theta.size, memory, None if space.name == "primal" else metric)
    message = f"stopped after {max_iter} iterations (the iteration limit)"
    k = 0
    while True:
        if progress is not None:
            progress(_step(space, k, cost, evaluations, tol, *parts(grad)))
        if space.within(*parts(grad), tol):
            result.converged = True
            message = (
                f"the largest gradient component fell to tol={tol:g} "
                f"after {k} iterations"
            )
            break
        if k >= max_iter:
            break
        noise = 10 * float(np.finfo(dtype).eps) * abs(cost)
        found = iterate(steps, evaluate, theta, cost, grad, noise=noise)
        if found is None:
            message = (
                f"the line search could not lower the cost further after {k} "
                f"iterations (the cost is flat to machine precision)"
            )
            break
        s, cost, grad = found
        theta += s
        k += 1
        result.costs.append(cost)
    (w, b), (dw, db) = parts(theta), parts(grad)
    result.w, result.dw = space.weights(w.astype(dtype), dw.astype(dtype))
    result.b, result.db = _bias(b), _bias(db)
    result.n_iter = k
    result.message = f"{message}; {evaluations} cost evaluations"
    return result


def _step(space, iteration: int, cost, evaluations: int, tol: float, dw, db):
    """The :class:`Step` at an iterate whose gradient is (dw, db), dw in the
    representation's own terms: its size computed now in the primal (one
    pass over n_features values), when asked in the span, where it is a
    product with X that costs more than an evaluation."""
    if space.name == "primal":
        size = _max_abs(dw, db)
        return Step(iteration, cost, evaluations, tol, lambda: size)
    return Step(
        iteration, cost, evaluations, tol, lambda: _max_abs(*space.weights(dw), db)
    )


def _check_start(cost: float | None, dw: NDArray[np.floating], db: float) -> None:
    """Refuse a start whose cost is NaN or whose gradient is not finite.

    From finite weights this happens only when X holds NaN or inf (any such
    value reaches the gradient: NaN and inf times anything, zero included,
    stay non-finite) or when X w overflows with both signs. In-memory inputs
    are checked before they get here; for a Dask X this check *is* the
    finiteness check, made on the first pass the fit needs anyway rather
    than on a pass of its own over data that may not fit in memory.
    """
    if (cost is not None and math.isnan(cost)) or not (
        np.isfinite(db).all() and np.isfinite(dw).all()
    ):
        raise ValueError(
            "the cost or gradient at the starting point is NaN or infinite: X "
            "must be finite (it holds NaN or inf), or w x + b overflows the "
            "float range"
        )


def _max_abs(dw: NDArray[np.floating], db) -> float:
    """The largest |component| of (dw, db); db a float or k biases."""
    return max(float(np.max(np.abs(dw))) if dw.size else 0.0, float(np.max(np.abs(db))))


def _bias(b):
    """b as the solvers keep it: a float, or a float64 copy of k biases."""
    return float(b) if np.ndim(b) == 0 else np.array(b, np.float64)
