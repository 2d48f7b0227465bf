"""L-BFGS's parts: its memory in compact form, its strong-Wolfe line search,
and one iteration made of the two (:func:`iterate`).

:func:`logitnet.core.solvers.lbfgs` drives them; they see only vectors of
the optimizer's parameters, and an inner product given as a metric (the
identity for w itself, K for the coefficients of the span of the examples,
see :mod:`logitnet.core.span`).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
from numpy.typing import NDArray

__all__ = ["Memory", "interpolate", "iterate", "wolfe_line_search"]


class Memory:
    """The last ``size`` correction pairs (s, dg) of L-BFGS, in compact form.

    The inverse-Hessian estimate is applied as H g = gamma g + S p + gamma Y q
    (Byrd, Nocedal and Schnabel 1994, eq. 3.1), with S and Y stacked in one
    (2 size, n) array, so a direction costs two matrix-vector products and a
    new pair one more. The textbook two-loop recursion does the same with
    4 size vector operations: on the cat data (12,289 parameters, size 10)
    it took 0.7 ms per iteration, as long as the loss and gradient
    themselves; this form takes a fraction of that.

    ``metric(v)`` is M v, with u . M v the inner product the vectors stand
    for: None for the identity (in the primal), K and 1 in the span of the
    examples. There M is a product with K, as costly as an evaluation, and
    the memory keeps M S and M Y beside S and Y: M of a direction is then
    the same combination of them, and an iteration applies M twice (to the
    gradient and to its change) instead of four times.
    """

    def __init__(self, n: int, size: int, metric=None) -> None:
        self.size = size
        self.metric = metric
        self.SY = np.zeros((2 * size, n))  # rows: s_0..s_{size-1}, y_0..
        self.MSY = self.SY if metric is None else np.zeros((2 * size, n))
        self.s_dot_y = np.zeros((size, size))  # [i, j] = s_i . y_j
        self.y_dot_y = np.zeros((size, size))
        self.order: list[int] = []  # slots in use, oldest first

    def __len__(self) -> int:
        return len(self.order)

    def clear(self) -> None:
        self.order.clear()

    def apply(self, v: NDArray[np.float64]) -> NDArray[np.float64]:
        """M v."""
        return v if self.metric is None else self.metric(v)

    def push(self, s, dg, m_s, m_dg) -> None:
        """Keep the pair (s, dg), given with M s and M dg."""
        if len(self.order) == self.size:
            slot = self.order.pop(0)
        else:
            slot = min(set(range(self.size)) - set(self.order))
        self.SY[slot] = s
        self.SY[self.size + slot] = dg
        if self.metric is not None:
            self.MSY[slot] = m_s
            self.MSY[self.size + slot] = m_dg
        products = self.SY @ m_dg
        self.s_dot_y[:, slot] = products[: self.size]
        self.y_dot_y[:, slot] = self.y_dot_y[slot, :] = products[self.size :]
        self.order.append(slot)

    def direction(
        self, grad, m_grad
    ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """-H grad and M of it, given M grad; -grad while the memory is empty."""
        if not self.order:
            return -grad, -m_grad
        idx = np.array(self.order)
        products = self.SY @ m_grad
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
        if self.metric is None:
            return -hg, -hg
        m_hg = self.MSY.T @ coef
        m_hg += gamma * m_grad
        return -hg, -m_hg


def iterate(
    memory: Memory,
    evaluate: Callable[[NDArray[np.float64]], tuple[float, NDArray[np.float64]]],
    theta: NDArray[np.float64],
    cost: float,
    grad: NDArray[np.float64],
    *,
    noise: float,
) -> tuple[NDArray[np.float64], float, NDArray[np.float64]] | None:
    """One L-BFGS iteration from ``theta``: the direction -H grad, a
    strong-Wolfe step along it, and the new pair kept in ``memory``.

    ``evaluate(theta)`` returns the cost and gradient there; ``cost`` and
    ``grad`` are theta's. Returns the step s and the cost and gradient at
    theta + s, or None when the line search found no acceptable step
    (``noise`` as :func:`wolfe_line_search` takes it).
    """
    m_grad = memory.apply(grad)
    direction, m_direction = memory.direction(grad, m_grad)
    slope = float(grad @ m_direction)
    if not slope < 0:  # the memory has gone stale: restart from -grad
        memory.clear()
        direction, m_direction = -grad, -m_grad
        slope = float(grad @ m_direction)
    # The first step is unscaled: keep it to about unit length.
    first = min(1.0, 1.0 / math.sqrt(-slope)) if not memory else 1.0

    def along(t: float) -> tuple[float, NDArray[np.float64], float]:
        f, g = evaluate(theta + t * direction)
        return f, g, float(g @ m_direction)

    found = wolfe_line_search(along, cost, slope, first, noise=noise)
    if found is None:
        return None
    t, new_cost, new_grad = found
    s = t * direction
    dgrad = new_grad - grad
    m_dgrad = memory.apply(dgrad)
    if float(s @ m_dgrad) > 1e-10 * float(dgrad @ m_dgrad):
        memory.push(s, dgrad, t * m_direction, m_dgrad)
    return s, new_cost, new_grad


def wolfe_line_search(
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
            # A cost within noise of lo's is no higher: the slope decides.
            # Near the minimum, where the cost is flat to its last bit, a
            # tie sent as "higher" to hi moved the bracket away from the
            # minimum, which the slope placed on the other side.
            higher = f > lo[1] + noise if noise else f >= lo[1]
            if not math.isfinite(f) or f > f0 + c1 * t * slope0 or higher:
                hi = (t, f, slope, g)
            else:
                if slope * (hi[0] - lo[0]) >= 0:
                    hi = lo
                lo = (t, f, slope, g)
        if abs(hi[0] - lo[0]) <= 1e-12 * max(abs(lo[0]), 1e-300):
            break
        t = interpolate(lo, hi)
    if lo is not None and lo[0] > 0 and lo[1] < f0:
        # No Wolfe point, but a step that lowers the cost: take it.
        return lo[0], lo[1], lo[3]
    return None


def interpolate(lo: tuple, hi: tuple) -> float:
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
