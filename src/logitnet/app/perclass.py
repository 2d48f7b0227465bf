"""Each class's precision, recall and F1, from a confusion matrix.

What ``evaluate`` and the report show beside the overall metrics
(:func:`logitnet.app.evaluation.classification_metrics`): for k classes,
one row per class, the macro and weighted averages, and the confusion
matrix as row shares. Computed from the counts alone, so that the numbers
shown are the numbers of the matrix shown.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

__all__ = ["class_report", "row_shares"]


def _ratio(top: float, bottom: float) -> float | None:
    return float(top / bottom) if bottom else None


def row_shares(confusion: ArrayLike) -> list[list[float] | None]:
    """The confusion matrix with each row divided by its sum: of the
    pictures of class i, the share predicted as class j. A class with no
    picture is None."""
    cm = np.asarray(confusion, dtype=np.float64)
    return [(row / row.sum()).tolist() if row.sum() else None for row in cm]


def _mean(values: list[float | None], weights: Sequence[float]) -> float | None:
    """The weighted mean of the defined values; None when none is."""
    pairs = [(v, w) for v, w in zip(values, weights, strict=True) if v is not None]
    total = sum(w for _, w in pairs)
    return float(sum(v * w for v, w in pairs) / total) if total else None


def class_report(confusion: ArrayLike, classes: Sequence[str]) -> dict[str, Any]:
    """Per-class precision, recall, F1 and support, and their averages.

    Parameters
    ----------
    confusion : array_like of shape (k, k), int
        Row i, column j: pictures of class i predicted as class j.
    classes : sequence of k str

    Returns
    -------
    dict
        ``per_class``: {class: {"precision", "recall", "f1", "support"}}, in
        the model's order; precision = TP / (TP + FP) (None when no picture
        was called the class), recall = TP / (TP + FN) (None when none is
        of it), F1 = 2 TP / (2 TP + FP + FN) (None when both). ``macro``:
        each metric's mean over the classes where it is defined (as
        ``evaluate``'s ``precision``, ``recall`` and ``f1`` for k >= 3);
        ``weighted``: the same weighted by support. ``shares``:
        :func:`row_shares`.
    """
    cm = np.asarray(confusion, dtype=np.int64)
    true_sums, called_sums = cm.sum(axis=1), cm.sum(axis=0)
    per_class = {}
    for i, name in enumerate(classes):
        hit = cm[i, i]
        per_class[name] = {
            "precision": _ratio(hit, called_sums[i]),
            "recall": _ratio(hit, true_sums[i]),
            "f1": _ratio(2 * hit, true_sums[i] + called_sums[i]),
            "support": int(true_sums[i]),
        }
    rows = list(per_class.values())
    support = [row["support"] for row in rows]
    averages = {
        kind: {
            metric: _mean([row[metric] for row in rows], weights)
            for metric in ("precision", "recall", "f1")
        }
        for kind, weights in (("macro", [1] * len(rows)), ("weighted", support))
    }
    return {"per_class": per_class, **averages, "shares": row_shares(cm)}
