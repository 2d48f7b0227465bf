"""Pictures of a model of k >= 3 classes: one class's explanation
(:func:`class_push`, drawn by :func:`logitnet.viz.plots.explanation`) and
the weight templates, one picture per class (:func:`weight_templates`)."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from matplotlib.figure import Figure
from numpy.typing import ArrayLike

from logitnet.checks import float_array
from logitnet.core.pixels import scale
from logitnet.viz.plots import Push, _literal, contributions, weights_picture

__all__ = ["class_push", "weight_templates"]


def weight_templates(
    w: ArrayLike, image_shape: Sequence[int], classes: Sequence[str]
) -> Figure:
    """The weights as pictures: :func:`weights_picture` for two classes; for
    k >= 3, one template per class (its column of w, each on its own
    symmetric scale) in a grid of k pictures titled with the class names.

    Parameters
    ----------
    w : array_like of shape (n_x,), or (n_x, k) for k >= 3 classes, float
    image_shape : sequence of 3 int
    classes : sequence of str
        The class names, one per column of w.

    Returns
    -------
    Figure
    """
    w = float_array(w, "w")
    if w.ndim != 2 or w.shape[1] == 1:
        return weights_picture(w, image_shape)
    k = w.shape[1]
    if len(classes) != k:
        raise ValueError(
            f"classes must be {k} names, one per column of w; got {len(classes)}"
        )
    ncols = min(k, 5)
    nrows = math.ceil(k / ncols)
    fig = Figure(figsize=(2.2 * ncols, 2.5 * nrows), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
    for ax, column, name in zip(axes, w.T, classes, strict=False):
        weights_picture(column, image_shape, ax=ax)
        ax.set_title(_literal(str(name)), fontsize="small")
    for ax in axes[k:]:
        fig.delaxes(ax)
    fig.suptitle("weights of each class (grey = 0, red = more of it)", fontsize="small")
    return fig


def class_push(image, w, b, classes, target) -> Push:
    """The map of w[:, c] · x for k >= 3 classes, and its words (see
    :func:`logitnet.viz.plots.explanation`)."""
    k = w.shape[1]
    if (
        isinstance(classes, str)
        or len(classes) != k
        or not all(isinstance(c, str) for c in classes)
    ):
        raise ValueError(
            f"classes must be {k} names, one per column of w; got {classes!r}"
        )
    classes = list(classes)
    b = float_array(b, "b")
    if b.shape != (k,) or not np.isfinite(b).all():
        raise ValueError(f"b must be {k} finite numbers; got shape {b.shape}")
    if not np.isfinite(w).all():
        raise ValueError("w must be finite; it contains NaN or inf")
    x = scale(image).reshape(-1)
    if w.shape[0] != x.size:
        raise ValueError(
            f"w must have shape ({x.size}, {k}) for images of shape {image.shape}; "
            f"got shape {w.shape}"
        )
    z = x @ w.astype(np.float64) + b
    shifted = np.exp(z - z.max())
    p = shifted / shifted.sum()
    predicted = classes[int(np.argmax(z))]
    target = predicted if target is None else target
    if target not in classes:
        raise ValueError(f"target must be one of the classes {classes}; got {target!r}")
    c = classes.index(target)
    heat = contributions(image, w[:, c])
    name = _literal(target)
    return Push(
        heat,
        w[:, c],
        f"contribution of each pixel to {name},\nsum(w·x) + b = z = {z[c]:.3f}\n"
        f"predicted: {_literal(predicted)}, P({name}) = softmax(z) = {p[c]:.3f}",
        f"← away from {name}   w·x   towards {name} →",
        f"How to read it: red pixels pushed the decision towards {name}, blue "
        "ones away from it, the stronger the colour the larger the push; all "
        f"pushes plus b add up to {name}'s z.",
    )
