"""Learning curves: the cost against the iterations, as the course draws it.

:func:`training_curve` draws a saved model's curve (``train --plot`` and the
report): the recorded costs, then the final cost where the weights ended,
titled with the solver and its settings in words (:func:`solver_in_words`).
:func:`learning_rate_comparison` puts several rates' curves together
(``sweep --plot``). Figures are built as :mod:`logitnet.viz.plots` builds
them: no ``pyplot``, an optional ``ax``.

Examples
--------
>>> from logitnet.viz.curves import learning_curve
>>> from logitnet.viz.plots import save_png
>>> fig = learning_curve([0.69, 0.58, 0.47], cost_every=100, learning_rate=0.005)
>>> save_png(fig, "curve.png").read_bytes()[1:4]
b'PNG'
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from numpy.typing import ArrayLike

from logitnet.checks import check_int, check_learning_rate
from logitnet.viz.plots import _axes, _finite_vector, _literal

__all__ = [
    "learning_curve",
    "learning_rate_comparison",
    "solver_in_words",
    "training_curve",
]


def learning_curve(
    costs: ArrayLike,
    *,
    cost_every: int = 100,
    learning_rate: float | None = None,
    title: str | None = None,
    final: tuple[int, float] | None = None,
    ax: Axes | None = None,
) -> Figure:
    """The cost against the iteration it was recorded at, as in the course.

    Parameters
    ----------
    costs : array_like of shape (n_costs,), float
        The costs recorded during training; ``costs[i]`` is the cost after
        iteration ``i * cost_every``.
    cost_every : int, default=100
        Iterations between two recorded costs.
    learning_rate : float, optional
        Shown in the title when given (and ``title`` is not).
    title : str, optional
        The title (:func:`training_curve` gives the solver and its settings).
    final : (iteration, cost), optional
        The cost where the weights ended, after the last step: drawn as the
        curve's last point when it comes after the recorded ones.
    ax : matplotlib Axes, optional
        Where to draw; a new figure is made when omitted.

    Returns
    -------
    Figure
        The figure holding the curve.

    Raises
    ------
    ValueError
        If ``costs`` is empty, not 1-D, or holds NaN or inf, or
        ``cost_every`` or ``learning_rate`` is out of range.
    """
    costs = _finite_vector(costs, "costs")
    cost_every = check_int(cost_every, "cost_every", minimum=1)
    if learning_rate is not None:
        learning_rate = check_learning_rate(learning_rate)
    ax = _axes(ax, (6, 4))
    iterations = np.arange(costs.size) * cost_every
    if final is not None and final[0] > iterations[-1]:
        iterations = np.append(iterations, final[0])
        costs = np.append(costs, _finite_vector([final[1]], "final cost"))
    ax.plot(iterations, costs, marker="o", markersize=3)
    ax.set_xlabel("iterations")
    ax.set_ylabel("cost")
    if title is not None:
        ax.set_title(_literal(title), fontsize="medium")
    elif learning_rate is not None:
        ax.set_title(f"Learning rate = {learning_rate:g}")
    ax.grid(alpha=0.3)
    return ax.figure


def training_curve(training: Mapping, *, ax: Axes | None = None) -> Figure:
    """A saved model's learning curve, as ``train --plot`` and the report
    draw it: the recorded costs, then the final cost where the weights
    ended, titled with the solver and its settings
    (:func:`solver_in_words`).

    Parameters
    ----------
    training : mapping
        A model file's ``training`` record: ``costs``, ``cost_every``,
        ``n_iter``, ``final_cost``, ``solver``, ...

    Returns
    -------
    Figure
    """
    final = None
    if training.get("final_cost") is not None and training.get("n_iter") is not None:
        final = (int(training["n_iter"]), float(training["final_cost"]))
    return learning_curve(
        training["costs"],
        cost_every=int(training.get("cost_every", 100)),
        title=solver_in_words(training),
        final=final,
        ax=ax,
    )


def solver_in_words(training: Mapping) -> str:
    """How a model was trained, in words: "2,000 iterations of gradient
    descent, learning rate 0.005" or "38 iterations of L-BFGS (at most
    100)"."""
    solver = training.get("solver")
    n_iter = training.get("n_iter")
    planned = training.get("num_iterations")
    alpha = training.get("alpha") or 0
    if solver == "gd":
        words = (
            f"{int(n_iter if n_iter is not None else planned or 0):,} iterations "
            "of gradient descent"
        )
        if training.get("learning_rate") is not None:  # older files may lack it
            words += f", learning rate {float(training['learning_rate']):g}"
    elif solver == "lbfgs":
        words = f"{int(n_iter or 0):,} iterations of L-BFGS"
        if planned:
            words += f" (at most {int(planned):,})"
    else:
        words = str(solver)
    if alpha:
        words += f", L2 penalty alpha {float(alpha):g}"
    return words


def learning_rate_comparison(
    curves: Mapping[float, ArrayLike],
    *,
    cost_every: int = 100,
    ax: Axes | None = None,
) -> Figure:
    """Learning curves for several learning rates on one plot, as in the course.

    Parameters
    ----------
    curves : mapping of float to array_like of shape (n_costs,)
        For each learning rate, the costs recorded with it (the course: 0.01,
        0.001 and 0.0001 for 1500 iterations). Drawn in the mapping's order.
    cost_every : int, default=100
        Iterations between two recorded costs, the same for every curve.
    ax : matplotlib Axes, optional
        Where to draw; a new figure is made when omitted.

    Returns
    -------
    Figure
        One line per learning rate, labelled with it in the legend.

    Raises
    ------
    ValueError
        If ``curves`` is empty, a learning rate is not a finite number > 0, or
        a curve is empty or holds NaN or inf.
    """
    if not isinstance(curves, Mapping) or not curves:
        raise ValueError(
            f"curves must be a non-empty mapping of learning rate to costs; "
            f"got {curves!r}"
        )
    cost_every = check_int(cost_every, "cost_every", minimum=1)
    checked = [
        (check_learning_rate(rate), _finite_vector(costs, f"costs for {rate!r}"))
        for rate, costs in curves.items()
    ]
    ax = _axes(ax, (6, 4))
    for rate, costs in checked:
        ax.plot(np.arange(costs.size) * cost_every, costs, label=f"{rate:g}")
    ax.set_xlabel("iterations")
    ax.set_ylabel("cost")
    ax.set_title("Cost for each learning rate")
    ax.legend(title="learning rate", loc="best")
    ax.grid(alpha=0.3)
    return ax.figure
