"""Weights of examples: sample weights checked at the door, class weights.

Both end as one weight per example, s_i, that the cost uses as
sum_i s_i L_i / sum_i s_i (:mod:`logitnet.core.loss`).
"""

from __future__ import annotations

import numpy as np
from array_api_compat import is_dask_array
from numpy.typing import ArrayLike, NDArray
from sklearn.utils import check_array

from logitnet.backends import dask as dask_backend
from logitnet.backends import namespace, to_numpy
from logitnet.checks import check_real, check_weight_shape, check_weight_values

__all__ = [
    "check_class_weight",
    "check_sample_weight",
    "class_weighted",
    "require_every_class",
    "weighted",
]


def check_class_weight(class_weight) -> None:
    """``class_weight`` must be None, "balanced" or a dict."""
    if not (
        class_weight is None
        or class_weight == "balanced"
        or isinstance(class_weight, dict)
    ):
        raise ValueError(
            f"class_weight must be None, 'balanced' or a dict "
            f"{{label: weight}}; got {class_weight!r}"
        )


def weighted(codes, weights, class_weight, classes):
    """Each example's weight: its sample weight (checked: every class keeps
    a positive weight) times its class's weight (:func:`class_weighted`);
    None when there are neither."""
    k = len(classes)
    if weights is not None:
        require_every_class(codes, weights, "sample_weight", k)
    if class_weight is not None:
        weights = class_weighted(codes, weights, class_weight, classes)
        require_every_class(codes, weights, "class_weight", k)
    return weights


def require_every_class(codes, weights, given: str, k: int = 2) -> None:
    """Refuse weights that leave a class without an example of positive weight."""
    if is_dask_array(codes):
        kept = dask_backend.classes_with_positive_weight(codes, weights)
    else:
        positive = to_numpy(weights) > 0
        kept = np.unique(to_numpy(codes)[positive]).size
    if kept < k:
        which = "both classes" if k == 2 else f"all {k} classes"
        have = "only one class has" if kept == 1 else f"only {kept} classes have"
        raise ValueError(
            f"LogisticRegression needs examples of {which} with a positive "
            f"weight; with this {given} {have} any"
        )


def check_sample_weight(
    sample_weight: ArrayLike | None, n_samples: int, dtype: np.dtype
) -> NDArray[np.floating] | None:
    """Sample weights as a finite, non-negative array with a positive sum."""
    if sample_weight is None:
        return None
    weights = check_array(
        sample_weight, ensure_2d=False, dtype=dtype, input_name="sample_weight"
    )
    check_weight_shape(weights.shape, n_samples)
    check_weight_values(weights.min(), weights.sum())
    return weights


def class_weighted(codes, weights, class_weight, classes):
    """The sample weights times the weights of the examples' classes.

    Parameters
    ----------
    codes : array of shape (n_samples,)
        Labels as codes 0.0 .. k-1 (``classes[code]``): NumPy, Dask or
        another array-API library.
    weights : array of shape (n_samples,) or None
        Checked sample weights, like ``y01``.
    class_weight : None, "balanced" or dict {label: weight}
        As :class:`logitnet.LogisticRegression` takes it (scikit-learn's
        definition; "balanced" counts weighted by the sample weights, as
        ``sklearn.utils.class_weight.compute_class_weight`` does).
    classes : array of shape (k,)
        The labels, sorted.

    Returns
    -------
    array of shape (n_samples,) like ``y01``, or None when both are None.
    """
    if class_weight is None:
        return weights
    xp = namespace(codes)
    k = len(classes)
    if class_weight == "balanced":
        # Each class's total weight (its count without sample weights);
        # one pass for a Dask y.
        if k == 2:
            if weights is None:
                total, ones = float(codes.shape[0]), float(xp.sum(codes))
            else:
                total, ones = float(xp.sum(weights)), float(xp.sum(weights * codes))
            counts = [total - ones, ones]
        else:
            counts = _class_totals(codes, weights, k)
            total = sum(counts)
        per_class = [total / (k * count) for count in counts]
    else:
        labels = to_numpy(classes).tolist()
        unknown = [c for c in class_weight if c not in labels]
        if unknown:
            raise ValueError(
                f"class_weight has labels that are not classes of y: "
                f"{unknown!r}; the classes are {labels!r}"
            )
        per_class = [class_weight.get(label, 1.0) for label in labels]
        for label, value in zip(labels, per_class, strict=True):
            check_real(value, f"class_weight[{label!r}]", minimum=0.0, inclusive=True)
    if k == 2:
        w0, w1 = (float(v) for v in per_class)
        # w0 + (w1 - w0) y: the class's weight, for 0/1 labels of any library.
        by_class = codes * (w1 - w0) + w0
    else:
        by_class = xp.zeros_like(codes)
        for code, value in enumerate(per_class):
            by_class = by_class + xp.astype(codes == code, codes.dtype) * float(value)
    return by_class if weights is None else weights * by_class


def _class_totals(codes, weights, k: int) -> list[float]:
    """Each class's total sample weight (its count without weights)."""
    xp = namespace(codes)
    ones = xp.ones_like(codes) if weights is None else weights
    return [
        float(xp.sum(xp.where(codes == c, ones, xp.zeros_like(ones)))) for c in range(k)
    ]
