"""Solvers: how the neuron steps toward lower cost.

Solvers differ only in how they step; the cost and gradient they follow come
from :func:`logitnet.core.loss.loss_and_grad`. X may be an array of any array-API
library, Dask included: it is only ever handed to ``loss_and_grad``, while the
solver's own state (w, b, the L-BFGS memory) is small and stays in NumPy.
Both take the same problem (X, y, optional sample weights, L2 strength,
whether the bias is learned) and return a :class:`SolverResult`.

- :func:`gradient_descent`: the course's fixed-step descent.
- :func:`lbfgs`: limited-memory BFGS with a strong-Wolfe line search. It is
  written here rather than wrapped from SciPy because measurement said so:
  on the cat data (12,288 weights) ``scipy.optimize.minimize(method="L-BFGS-B")``
  spends about 15 ms of its own per iteration, against under 1 ms for a
  loss-and-gradient evaluation; this implementation spends tens of
  microseconds (``benchmarks/RESULTS.md``).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from logitnet.backends import numpy_dtype, to_numpy
from logitnet.core.loss import loss_and_grad
from logitnet.exceptions import DivergenceError

__all__ = ["COST_EVERY", "SolverResult", "gradient_descent", "lbfgs"]

#: The course records (and prints) the cost every 100 iterations.
COST_EVERY = 100

#: Gradient descent is said to diverge when the cost, looked at every
#: COST_EVERY iterations (as the course prints it), rises this many times in a
#: row. Not every iteration: the course's own run wobbles from one step to the
#: next while falling steadily over a hundred.
RISES_TO_DIVERGE = 3

#: L-BFGS keeps this many (step, gradient change) pairs.
LBFGS_MEMORY = 10


@dataclass
class SolverResult:
    """What a solver ends with.

    Attributes
    ----------
    w : ndarray of shape (n_features,)
        Final weights, the dtype of X.
    b : float
        Final bias (0.0 when the bias is not learned).
    dw : ndarray of shape (n_features,) or None
        Gradient at the last point evaluated: for gradient descent the last
        iteration's (before its step), as the course's ``optimize`` returns
        it; None after zero iterations.
    db : float or None
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
    """

    w: NDArray[np.floating]
    b: float
    dw: NDArray[np.floating] | None = None
    db: float | None = None
    costs: list[float] = field(default_factory=list)
    n_iter: int = 0
    converged: bool = False
    diverging: bool = False
    message: str = ""


def gradient_descent(
    w: NDArray[np.floating],
    b: float,
    X: NDArray[np.floating],
    y: NDArray[np.floating],
    *,
    learning_rate: float,
    num_iterations: int,
    sample_weight: NDArray[np.floating] | None = None,
    alpha: float = 0.0,
    fit_intercept: bool = True,
    tol: float = 0.0,
    record_every: int = COST_EVERY,
    on_record: Callable[[int, float], None] | None = None,
    on_iteration: Callable[[int], None] | None = None,
) -> SolverResult:
    """The course's fixed-step gradient descent.

    For i = 0 .. num_iterations - 1: evaluate the gradient at (w, b), then
    step w <- w - learning_rate * dw, b <- b - learning_rate * db.

    Parameters
    ----------
    w : ndarray of shape (n_features,)
        Starting weights, the dtype of X; never modified.
    b : float
        Starting bias.
    X : array of shape (n_samples, n_features)
        NumPy, another array-API namespace, or Dask.
    y : array of shape (n_samples,)
        Labels 0.0 / 1.0 in the dtype of ``X``, as
        :func:`logitnet.core.loss.loss_and_grad` takes them.
    learning_rate : float
        Step size, > 0.
    num_iterations : int
        Largest number of steps, >= 0.
    sample_weight : ndarray of shape (n_samples,), optional
    alpha : float, default=0.0
        L2 penalty strength (see :func:`logitnet.core.loss.loss_and_grad`).
    fit_intercept : bool, default=True
        False keeps b at its starting value.
    tol : float, default=0.0
        Stop (converged) before stepping once max(|dw|, |db|) <= tol;
        0 never stops early, as in the course.
    record_every : int, default=100
        The cost is computed (and recorded) only at iterations that are
        multiples of this, before that iteration's step.
    on_record : callable (iteration, cost) -> None, optional
        Called with each recorded cost, as it is recorded.
    on_iteration : callable (iteration) -> None, optional
        Called after every step, for progress reporting.

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
    result = SolverResult(w=w.copy(), b=float(b))
    w, b = result.w, result.b
    dw: NDArray[np.floating] | None = None
    db: float | None = None
    checkpoints: list[float] = []  # the cost every COST_EVERY iterations
    i = 0
    for i in range(num_iterations):
        record = i % record_every == 0
        cost, dw, db = loss_and_grad(
            w, b, X, y, sample_weight=sample_weight, alpha=alpha, compute_loss=record
        )
        dw = to_numpy(dw)
        if i == 0:
            _check_start(cost, dw, db)
        if not fit_intercept:
            db = 0.0
        if record:
            if math.isnan(cost):
                raise _diverged(i, learning_rate)
            result.costs.append(cost)
            if i % COST_EVERY == 0:
                checkpoints.append(cost)
            if on_record is not None:
                on_record(i, cost)
        if tol > 0 and _max_abs(dw, db) <= tol:
            result.converged = True
            break
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
    else:
        i = num_iterations
    result.b, result.dw, result.db, result.n_iter = b, dw, db, i
    result.message = (
        f"the largest gradient component fell to tol={tol:g} after {i} iterations"
        if result.converged
        else f"stopped after {i} iterations (the iteration limit)"
    )
    # Judged at the end: a run that recovers from a bad start is not diverging.
    result.diverging = bool(checkpoints) and _diverging(checkpoints)
    if result.diverging:
        result.message = (
            f"the cost rose instead of falling (every {COST_EVERY} iterations: "
            f"{', '.join(f'{c:.4g}' for c in checkpoints[-RISES_TO_DIVERGE - 1 :])}"
            "): "
            f"the learning rate {learning_rate:g} is too large; try a smaller one"
        )
    return result


def _diverging(costs: list[float]) -> bool:
    """Whether gradient descent's costs every COST_EVERY iterations show a
    step that is too large: the last is not finite or above the first, or
    each of the last :data:`RISES_TO_DIVERGE` rose."""
    last = costs[-1]
    if not math.isfinite(last) or last > costs[0]:
        return True
    recent = costs[-RISES_TO_DIVERGE - 1 :]
    return len(recent) > RISES_TO_DIVERGE and all(
        a < b for a, b in itertools.pairwise(recent)
    )


def lbfgs(
    w: NDArray[np.floating],
    b: float,
    X: NDArray[np.floating],
    y: NDArray[np.floating],
    *,
    max_iter: int,
    tol: float,
    sample_weight: NDArray[np.floating] | None = None,
    alpha: float = 0.0,
    fit_intercept: bool = True,
    memory: int = LBFGS_MEMORY,
    on_record: Callable[[int, float], None] | None = None,
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
    w : ndarray of shape (n_features,)
        Starting weights.
    b : float
        Starting bias.
    X : array of shape (n_samples, n_features)
        NumPy, another array-API namespace, or Dask.
    y : array of shape (n_samples,)
        Labels 0.0 / 1.0 in the dtype of ``X``, as
        :func:`logitnet.core.loss.loss_and_grad` takes them.
    max_iter : int
        Largest number of iterations, >= 0.
    tol : float
        Converged once max(|dw|, |db|) <= tol.
    sample_weight, alpha, fit_intercept
        As for :func:`gradient_descent`.
    memory : int, default=10
        Number of correction pairs kept.
    on_record : callable (iteration, cost) -> None, optional
        Called with the cost at every iterate, the start included.

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
    dtype = numpy_dtype(X)
    n = w.shape[0]
    evaluations = 0

    def evaluate(theta: NDArray[np.float64]) -> tuple[float, NDArray[np.float64]]:
        nonlocal evaluations
        evaluations += 1
        cost, dw, db = loss_and_grad(
            theta[:n].astype(dtype, copy=False),
            float(theta[n]),
            X,
            y,
            sample_weight=sample_weight,
            alpha=alpha,
        )
        grad = np.empty(n + 1)
        grad[:n] = to_numpy(dw)
        grad[n] = db if fit_intercept else 0.0
        return cost, grad

    theta = np.append(np.asarray(w, dtype=np.float64), float(b))
    cost, grad = evaluate(theta)
    _check_start(cost, grad[:n], grad[n])
    result = SolverResult(w=w, b=float(b), costs=[cost])
    if on_record is not None:
        on_record(0, cost)
    steps = _Memory(n + 1, memory)
    message = f"stopped after {max_iter} iterations (the iteration limit)"
    k = 0
    while True:
        if _max_abs(grad, 0.0) <= tol:
            result.converged = True
            message = (
                f"the largest gradient component fell to tol={tol:g} "
                f"after {k} iterations"
            )
            break
        if k >= max_iter:
            break
        direction = steps.direction(grad)
        slope = float(grad @ direction)
        if not slope < 0:  # the memory has gone stale: restart from -grad
            steps.clear()
            direction = -grad
            slope = -float(grad @ grad)
        # The first step is unscaled: keep it to about unit length.
        first = min(1.0, 1.0 / math.sqrt(-slope)) if not steps else 1.0

        def along(t: float, start=theta, direction=direction):
            f, g = evaluate(start + t * direction)
            return f, g, float(g @ direction)

        noise = 10 * float(np.finfo(dtype).eps) * abs(cost)
        found = _wolfe_line_search(along, cost, slope, first, noise=noise)
        if found is None:
            message = (
                f"the line search could not lower the cost further after {k} "
                f"iterations (the cost is flat to machine precision)"
            )
            break
        t, new_cost, new_grad = found
        s = t * direction
        dgrad = new_grad - grad
        curvature = float(s @ dgrad)
        if curvature > 1e-10 * float(dgrad @ dgrad):
            steps.push(s, dgrad)
        theta += s
        cost, grad = new_cost, new_grad
        k += 1
        result.costs.append(cost)
        if on_record is not None:
            on_record(k, cost)
    result.w = theta[:n].astype(dtype)
    result.b = float(theta[n])
    result.dw = grad[:n].astype(dtype)
    result.db = float(grad[n])
    result.n_iter = k
    result.message = f"{message}; {evaluations} cost evaluations"
    return result


class _Memory:
    """The last ``size`` correction pairs (s, dg) of L-BFGS, in compact form.

    The inverse-Hessian estimate is applied as H g = gamma g + S p + gamma Y q
    (Byrd, Nocedal and Schnabel 1994, eq. 3.1), with S and Y stacked in one
    (2 size, n) array, so a direction costs two matrix-vector products and a
    new pair one more. The textbook two-loop recursion does the same with
    4 size vector operations: on the cat data (12,289 parameters, size 10)
    it took 0.7 ms per iteration, as long as the loss and gradient
    themselves; this form takes a fraction of that.
    """

    def __init__(self, n: int, size: int) -> None:
        self.size = size
        self.SY = np.zeros((2 * size, n))  # rows: s_0..s_{size-1}, y_0..
        self.s_dot_y = np.zeros((size, size))  # [i, j] = s_i . y_j
        self.y_dot_y = np.zeros((size, size))
        self.order: list[int] = []  # slots in use, oldest first

    def __len__(self) -> int:
        return len(self.order)

    def clear(self) -> None:
        self.order.clear()

    def push(self, s: NDArray[np.float64], dg: NDArray[np.float64]) -> None:
        if len(self.order) == self.size:
            slot = self.order.pop(0)
        else:
            slot = min(set(range(self.size)) - set(self.order))
        self.SY[slot] = s
        self.SY[self.size + slot] = dg
        products = self.SY @ dg
        self.s_dot_y[:, slot] = products[: self.size]
        self.y_dot_y[:, slot] = self.y_dot_y[slot, :] = products[self.size :]
        self.order.append(slot)

    def direction(self, grad: NDArray[np.float64]) -> NDArray[np.float64]:
        """-H grad; -grad itself while the memory is empty."""
        if not self.order:
            return -grad
        idx = np.array(self.order)
        products = self.SY @ grad
        sg, yg = products[idx], products[self.size + idx]
        s_dot_y = self.s_dot_y[np.ix_(idx, idx)]
        R = np.triu(s_dot_y)
        newest = idx[-1]
        gamma = self.s_dot_y[newest, newest] / self.y_dot_y[newest, newest]
        r_sg = np.linalg.solve(R, sg)
        inner = np.diag(s_dot_y) * r_sg + gamma * (
            self.y_dot_y[np.ix_(idx, idx)] @ r_sg
        )
        coef = np.zeros(2 * self.size)
        coef[idx] = np.linalg.solve(R.T, inner - gamma * yg)
        coef[self.size + idx] = -gamma * r_sg
        hg = self.SY.T @ coef
        hg += gamma * grad
        return -hg


def _wolfe_line_search(
    along: Callable[[float], tuple[float, NDArray[np.float64], float]],
    f0: float,
    slope0: float,
    t: float,
    *,
    noise: float = 0.0,
    c1: float = 1e-4,
    c2: float = 0.9,
    max_evaluations: int = 30,
) -> tuple[float, float, NDArray[np.float64]] | None:
    """A step t satisfying the strong Wolfe conditions (N&W algorithms 3.5, 3.6).

    ``along(t)`` returns the cost, gradient and directional slope at
    theta + t d. Near the minimum the cost's decrease falls below its rounding
    error (soon in float32) while the slope is still accurate; there a step
    meeting Hager and Zhang's approximate Wolfe conditions is accepted: cost
    within ``noise`` of the start, and c2 slope0 <= slope <= (2 c1 - 1) slope0.
    Returns (t, cost, gradient), or None when no acceptable step was found.
    """

    def acceptable(t: float, f: float, slope: float) -> bool:
        if f <= f0 + c1 * t * slope0 and abs(slope) <= -c2 * slope0:
            return True
        return f <= f0 + noise and c2 * slope0 <= slope <= (2 * c1 - 1) * slope0

    # Points are (t, cost, slope, gradient); the start's gradient is not needed.
    prev = (0.0, f0, slope0, None)
    lo = hi = None
    for i in range(max_evaluations):
        f, g, slope = along(t)
        # Checked first, so the phases below only bracket and shrink.
        if math.isfinite(f) and acceptable(t, f, slope):
            return t, f, g
        if lo is None:  # bracketing phase
            if not math.isfinite(f) or f > f0 + c1 * t * slope0 or (i and f >= prev[1]):
                lo, hi = prev, (t, f, slope, g)
            elif slope >= 0:
                lo, hi = (t, f, slope, g), prev
            else:
                prev = (t, f, slope, g)
                t *= 4.0
                continue
        else:  # zoom phase: lo satisfies sufficient decrease, hi brackets
            if not math.isfinite(f) or f > f0 + c1 * t * slope0 or f >= lo[1]:
                hi = (t, f, slope, g)
            else:
                if slope * (hi[0] - lo[0]) >= 0:
                    hi = lo
                lo = (t, f, slope, g)
        if abs(hi[0] - lo[0]) <= 1e-12 * max(abs(lo[0]), 1e-300):
            break
        t = _interpolate(lo, hi)
    if lo is not None and lo[0] > 0 and lo[1] < f0:
        # No Wolfe point, but a step that lowers the cost: take it.
        return lo[0], lo[1], lo[3]
    return None


def _interpolate(lo: tuple, hi: tuple) -> float:
    """Trial step between lo and hi: the minimizer of the cubic through both
    points (values and slopes), else of the quadratic through lo's value and
    slope and hi's value, clipped to the middle 80 % of the interval."""
    (t0, f0, d0, _), (t1, f1, d1, _) = lo, hi
    width = t1 - t0
    low, high = sorted((t0 + 0.1 * width, t1 - 0.1 * width))
    if not math.isfinite(f1):
        return t0 + 0.5 * width
    t = math.nan
    d_1 = d0 + d1 - 3 * (f0 - f1) / (t0 - t1)
    disc = d_1 * d_1 - d0 * d1
    if disc >= 0:
        d_2 = math.copysign(math.sqrt(disc), width)
        denom = d1 - d0 + 2 * d_2
        if denom != 0:
            t = t1 - width * (d1 + d_2 - d_1) / denom
    if not math.isfinite(t):
        curvature = f1 - f0 - d0 * width
        if curvature > 0:
            t = t0 - d0 * width * width / (2 * curvature)
    if not math.isfinite(t):
        return t0 + 0.5 * width
    return min(max(t, low), high)


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
        math.isfinite(db) and np.isfinite(dw).all()
    ):
        raise ValueError(
            "the cost or gradient at the starting point is NaN or infinite: X "
            "must be finite (it holds NaN or inf), or w x + b overflows the "
            "float range"
        )


def _max_abs(dw: NDArray[np.floating], db: float) -> float:
    return max(float(np.max(np.abs(dw))) if dw.size else 0.0, abs(db))


def _diverged(iteration: int, learning_rate: float) -> DivergenceError:
    return DivergenceError(
        f"gradient descent diverged at iteration {iteration}: the weights "
        f"overflowed to inf or NaN; use a smaller learning rate "
        f"(got {learning_rate:g})"
    )
