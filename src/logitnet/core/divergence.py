"""When a fit has gone wrong: a cost that rises, weights that overflow.

Gradient descent with too large a learning rate is the course's classic
failure; :mod:`logitnet.core.solvers` asks these functions whether it is
happening, and the estimator refuses a fit whose result left the float
range.
"""

from __future__ import annotations

import itertools
import math

import numpy as np

from logitnet.exceptions import DivergenceError

__all__ = ["RISES_TO_DIVERGE", "diverged", "diverging", "require_finite_result"]

#: Gradient descent is said to diverge when the cost, looked at every
#: COST_EVERY iterations (as the course prints it), rises this many times in a
#: row. Not every iteration: the course's own run wobbles from one step to the
#: next while falling steadily over a hundred.
RISES_TO_DIVERGE = 3


def diverging(costs: list[float]) -> bool:
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


def diverged(iteration: int, learning_rate: float) -> DivergenceError:
    """The error for weights that overflowed to inf or NaN at ``iteration``."""
    return DivergenceError(
        f"gradient descent diverged at iteration {iteration}: the weights "
        f"overflowed to inf or NaN; use a smaller learning rate "
        f"(got {learning_rate:g})"
    )


def require_finite_result(coef: np.ndarray, intercept: np.ndarray, costs) -> None:
    """A fit that ends outside the float range is an error, never a model:
    weights, bias and final cost must all be finite (in the fitted dtype)."""
    with np.errstate(invalid="ignore"):
        parts = {
            "weights": bool(np.isfinite(coef).all()),
            "bias": bool(np.isfinite(intercept).all()),
            "final cost": not costs or bool(np.isfinite(costs[-1])),
        }
    bad = [name for name, finite in parts.items() if not finite]
    if bad:
        raise DivergenceError(
            f"training ended with a non-finite {' and '.join(bad)} (inf or NaN): "
            "the steps left the float range; use a smaller "
            "learning rate or more regularization (alpha)"
        )
