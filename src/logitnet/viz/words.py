"""A model's training in words, for the report and the model card: its
settings ("2,000 iterations of gradient descent, learning rate 0.005"),
where its cost ended, and what "converged" means for it."""

from __future__ import annotations

from collections.abc import Mapping

from logitnet.app.modelfile import SavedModel
from logitnet.viz import curves

__all__ = ["convergence", "final_cost", "settings_in_words"]


def settings_in_words(model: SavedModel) -> list[str]:
    """How the model was trained, one phrase per line, in words."""
    training = model.training
    lines = [curves.solver_in_words(training)]
    alpha = training.get("alpha")
    if not alpha:
        lines.append("no penalty on the weights")
    data = training.get("data")
    if isinstance(data, Mapping):
        kind = data.get("kind", "data")
        where = f" at {data['path']}" if data.get("path") else ""
        split = ""
        if data.get("test_fraction") is not None:
            split = (
                f", {float(data['test_fraction']):.0%} held out for testing "
                f"(seed {data.get('seed')})"
            )
        lines.append(f"trained on {kind}{where}{split}")
    counts = [
        f"{int(training[key]):,} {what} pictures"
        for key, what in (("n_train", "training"), ("n_test", "test"))
        if training.get(key) is not None
    ]
    if counts:
        lines.append(" and ".join(counts))
    lines.append(
        "classes: " + ", ".join(f"{i} = {c}" for i, c in enumerate(model.classes))
    )
    lines.append("input: " + " x ".join(str(n) for n in model.image_shape) + " pixels")
    if training.get("final_cost") is not None:
        lines.append(final_cost(training))
    return lines


def final_cost(training: Mapping) -> str:
    """The final cost and the iteration where training ended, after the
    last cost recorded every ``cost_every`` (the course prints 1,900's)."""
    line = f"final cost {float(training['final_cost']):.6f}"
    n_iter, every = training.get("n_iter"), int(training.get("cost_every") or 1)
    if n_iter is not None:
        line += f" at iteration {int(n_iter):,}, where training ended"
    last = (len(training.get("costs") or []) - 1) * every
    if n_iter is not None and 0 <= last < int(n_iter):
        return line + (
            f" (the learning curve's last point; the costs recorded every "
            f"{every:,} iterations end at {last:,})"
        )
    return line + " (the learning curve's last point)"


def convergence(training: Mapping) -> str:
    """What "converged" means for this model, and why it is or is not."""
    solver = training.get("solver")
    n_iter = training.get("n_iter")
    tol = training.get("tol")
    costs = training.get("costs") or []
    if training.get("converged"):
        return (
            f"Converged: yes. Training stopped after {int(n_iter or 0):,} "
            f"iterations because the largest component of the gradient fell "
            f"below tol = {float(tol or 0):g}: the cost was at its minimum, as "
            "closely as that tolerance asks."
        )
    if solver == "gd" and not tol:
        falling = ""
        if costs and training.get("final_cost") is not None:
            falling = (
                f" The cost was still falling (from {float(costs[0]):.4f} to "
                f"{float(training['final_cost']):.4f}): more iterations would "
                "fit the training pictures more closely, which is not the same "
                "as doing better on new ones."
            )
        return (
            f"Converged: no. Gradient descent ran the fixed {int(n_iter or 0):,} "
            "iterations it was given, as in the course; it has no stopping test "
            "(tol = 0), so it never reports convergence." + falling
        )
    return (
        f"Converged: no. Training reached its limit of {int(n_iter or 0):,} "
        f"iterations before the largest component of the gradient fell below "
        f"tol = {float(tol or 0):g}: the weights are near, not at, the minimum "
        "of the cost. More iterations (--iterations) would get closer."
    )
