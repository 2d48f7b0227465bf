"""What an explanation's map says (:func:`push_of`: sigma for two classes,
one class's softmax z for more; drawn by
:func:`logitnet.viz.plots.explanation`), and the pictures and tables of a
model of k >= 3 classes: the weight templates, one picture per class
(:func:`weight_templates`), the report's per-class table
(:func:`class_table`)."""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
from matplotlib.figure import Figure
from numpy.typing import ArrayLike, NDArray

from logitnet.app.prediction import format_probabilities
from logitnet.checks import check_b, float_array
from logitnet.core.loss import decision_function, probabilities
from logitnet.core.pixels import scale
from logitnet.viz.plots import _check_classes, _literal, contributions, weights_picture

__all__ = ["Push", "class_push", "class_table", "push_of", "weight_templates"]


class Push(NamedTuple):
    """One explanation's map and its words."""

    heat: NDArray[np.float64]
    weights: NDArray[np.floating]
    title: str
    bar_label: str
    how_to_read: str
    weights_title: str = "weights (grey = 0)"


def push_of(image, w, b, classes, target) -> Push:
    """The map :func:`explanation` draws, and its words: sigma for two classes
    (as the course reads it), one class's softmax z for more."""
    weights = float_array(w, "w")
    if weights.ndim == 2 and weights.shape[1] > 1:
        return class_push(image, weights, b, classes, target)
    classes = _check_classes(classes)
    if target is not None and target not in classes:
        raise ValueError(f"target must be one of the classes {classes}; got {target!r}")
    b = check_b(b)
    heat = contributions(image, weights)
    z = float(heat.sum() + b)
    p_negative, p_positive = probabilities(np.array([z]))[0]
    # The course's rule: sigma(z) > 0.5 is class 1.
    predicted = classes[1] if p_positive > 0.5 else classes[0]
    zero, one = _literal(classes[0]), _literal(classes[1])
    shares = format_probabilities(
        {classes[0]: float(p_negative), classes[1]: float(p_positive)}
    )
    return Push(
        heat,
        weights,
        f"contribution of each pixel,\nsum(w·x) + b = z = {z:.3f}\n"
        f"predicted: {_literal(predicted)} ({_literal(shares)})",
        f"← {zero}   w·x   {one} →",
        f"How to read it: red pixels pushed the decision towards {one}, blue "
        f"ones towards {zero}, the stronger the colour the larger the push; all "
        "pushes plus b add up to z.",
    )


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
    # The one answer for this picture: the core's z and softmax.
    z = decision_function(w, b, x[None, :])[0]
    p = probabilities(z[None, :])[0]
    predicted = classes[int(np.argmax(z))]
    ranked = sorted(zip(classes, map(float, p), strict=True), key=lambda cp: -cp[1])
    top = dict(ranked[:3])  # the title names the three most probable
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
        f"predicted: {_literal(predicted)} ({_literal(format_probabilities(top))})",
        f"← away from {name}   w·x   towards {name} →",
        f"How to read it: red pixels pushed the decision towards {name}, blue "
        "ones away from it, the stronger the colour the larger the push; all "
        f"pushes plus b add up to {name}'s z.",
        f"weights of {name} (grey = 0)",
    )


def class_table(confusion: ArrayLike, classes: Sequence[str]) -> str:
    """The report's per-class table (HTML): each class's precision, recall,
    F1 and pictures, then the macro and weighted averages; "undefined" where a
    metric divides by zero. Names are escaped."""
    from logitnet.app.perclass import class_report

    report = class_report(confusion, classes)

    def cells(row) -> str:
        return "".join(
            '<td class="number">'
            + ("undefined" if row[m] is None else f"{100 * row[m]:.1f} %")
            + "</td>"
            for m in ("precision", "recall", "f1")
        )

    rows = [
        f'<tr><th scope="row">{html.escape(str(name))}</th>{cells(row)}'
        f'<td class="number">{row["support"]}</td></tr>'
        for name, row in report["per_class"].items()
    ]
    rows += [
        f'<tr><th scope="row">{kind} average</th>{cells(report[kind])}<td></td></tr>'
        for kind in ("macro", "weighted")
    ]
    head = (
        '<tr><th scope="col">class</th><th scope="col">precision</th>'
        '<th scope="col">recall</th><th scope="col">F1</th>'
        '<th scope="col">pictures</th></tr>'
    )
    return f'<table class="classes">\n{head}\n' + "\n".join(rows) + "\n</table>"


#: What the averaged metrics mean for k >= 3 classes (the report's words).
MULTICLASS_MEANINGS = {
    "precision": "of the pictures the model calls a class, the share that are "
    "of it: the mean over the classes (macro average)",
    "recall": "of each class's pictures, the share the model finds: the mean "
    "over the classes (macro average)",
    "f1": "the harmonic mean of precision and recall, of each class, then "
    "averaged over the classes",
    "roc_auc": "each class against the rest, averaged: the chance that one of "
    "its pictures gets a higher probability of it than another picture (0.5 is "
    "guessing, 1 is perfect)",
    "log_loss": "the cost the model was trained to lower, measured on these "
    "pictures (lower is better)",
}


def weights_note(classes: Sequence[str]) -> str:
    """The report's words above the weights: of two classes, or of k >= 3
    (one template per class)."""
    if len(classes) == 2:
        pos, neg = (html.escape(str(c)) for c in (classes[1], classes[0]))
        return (
            '<p class="note">Each weight is one colour channel of one pixel. '
            "Grey is 0;\na channel brighter than grey is a positive weight "
            f"(light there pushes towards\n{pos}), a darker one a negative "
            f"weight (towards\n{neg}).</p>"
        )
    return (
        '<p class="note">One picture per class: its weights, each one colour '
        "channel of one pixel. Grey is 0; a channel brighter than grey is a "
        "positive weight (light there pushes towards that class), a darker one "
        "a negative weight (away from it).</p>"
    )


def explanation_note(classes: Sequence[str], predicted: str) -> str:
    """The report's words above the first mistake's map, k >= 3 classes."""
    name = html.escape(str(predicted))
    return (
        '<p class="note">Why the model got the first misclassified picture '
        f"wrong: the map of the class it chose, {name}. Red pixels pushed "
        f"towards {name}, blue ones away from it; the stronger the colour, the "
        f"larger the push, and all pushes plus the bias add up to {name}'s "
        "decision value z (the class of the largest z is chosen).</p>"
    )
