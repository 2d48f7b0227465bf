"""Pictures of a trained neuron: weights, explanations, mistakes (the
learning curves are in :mod:`logitnet.viz.curves`).

Every function builds a :class:`matplotlib.figure.Figure` directly, never
through ``pyplot``: no global "current figure", no GUI backend, so the
functions work on a headless server and a figure is freed like any other
object once dropped. The single-panel functions also draw into an ``ax``
that the caller provides, so that a figure can be composed from several.
:func:`save_png` writes a figure atomically; :func:`png_bytes` gives the PNG
for embedding (the HTML report).

Text that may come from user files (class names) is drawn literally: a
``$`` in a name does not switch matplotlib into math mode.

Examples
--------
The weights of a model of 8 x 8 RGB pictures, drawn and saved:

>>> import numpy as np
>>> from logitnet.viz.plots import save_png, weights_picture
>>> w = np.linspace(-1.0, 1.0, 8 * 8 * 3)
>>> fig = weights_picture(w, (8, 8, 3))
>>> fig.axes[0].get_title()
'weights (grey = 0)'
>>> save_png(fig, "weights.png").read_bytes()[1:4]
b'PNG'
"""

from __future__ import annotations

import io
import math
import os
import textwrap
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from numpy.typing import ArrayLike, NDArray

from logitnet.app.prediction import format_probabilities
from logitnet.checks import (
    check_image_shape,
    check_int,
    float_array,
)
from logitnet.core.pixels import scale
from logitnet.files import atomic_path

__all__ = [
    "confusion_matrix",
    "contributions",
    "explanation",
    "gallery",
    "png_bytes",
    "save_png",
    "weights_picture",
    "weights_to_rgb",
]

#: Resolution of saved and embedded PNGs, in dots per inch.
DPI = 100

#: Diverging colormap for signed values: blue for negative, red for positive,
#: near-white for 0, so the eye reads sign and size at once.
DIVERGING = "RdBu_r"


# --- checks at the door ---------------------------------------------------


def _finite_vector(values: ArrayLike, name: str) -> NDArray[np.floating]:
    arr = float_array(values, name)
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError(
            f"{name} must be a non-empty 1-D sequence of numbers; got shape {arr.shape}"
        )
    if not np.isfinite(arr).all():
        bad = "NaN" if np.isnan(arr).any() else "inf"
        raise ValueError(f"{name} must be finite; it contains {bad}")
    return arr


def _check_weights(w: ArrayLike, image_shape: tuple[int, ...]) -> NDArray[np.floating]:
    """w of shape (n_x,) or (n_x, 1) as a finite float vector of n_x values."""
    arr = float_array(w, "w")
    n_x = math.prod(image_shape)
    if arr.shape not in ((n_x,), (n_x, 1)):
        raise ValueError(
            f"w must have shape ({n_x},) or ({n_x}, 1) for images of shape "
            f"{image_shape}; got shape {arr.shape}"
        )
    return _finite_vector(arr.ravel(), "w")


def _check_images(images: ArrayLike, name: str, ndim: int) -> NDArray[np.uint8]:
    """uint8 pixels of ``ndim`` dimensions, the last axis 1 (grey) or 3 (RGB)."""
    arr = np.asarray(images)
    layout = "(height, width, channels)"
    if ndim == 4:
        layout = "(k, " + layout[1:]
    if arr.ndim != ndim:
        raise ValueError(f"{name} must have shape {layout}; got shape {arr.shape}")
    if arr.shape[-1] not in (1, 3):
        raise ValueError(
            f"{name} must have 1 (grey) or 3 (RGB) channels on the last axis; "
            f"got {arr.shape[-1]}"
        )
    if arr.dtype != np.uint8:
        raise ValueError(
            f"{name} must be uint8 pixels 0..255, as the course's files hold them; "
            f"got dtype {arr.dtype}"
        )
    return arr


def _check_labels(labels: Sequence[str], name: str, k: int) -> list[str]:
    if isinstance(labels, str) or not all(isinstance(s, str) for s in labels):
        raise ValueError(f"{name} must be a sequence of strings; got {labels!r}")
    labels = list(labels)
    if len(labels) != k:
        raise ValueError(
            f"{name} must have one label per image ({k}); got {len(labels)}"
        )
    return labels


def _check_classes(classes: Sequence[str]) -> list[str]:
    if (
        isinstance(classes, str)
        or len(classes) != 2
        or not all(isinstance(c, str) for c in classes)
    ):
        raise ValueError(
            f"classes must be two names (label 0, label 1); got {classes!r}"
        )
    return list(classes)


def _literal(text: str) -> str:
    # matplotlib reads text between two unescaped '$' as math (and fails on
    # bad math at draw time); escaping each '$' shows it as typed.
    return text.replace("$", r"\$")


def _axes(ax: Axes | None, figsize: tuple[float, float]) -> Axes:
    if ax is None:
        return Figure(figsize=figsize, layout="constrained").add_subplot()
    return ax


def _show(ax: Axes, image: NDArray, title: str) -> None:
    """An image without ticks: pixels, not a chart."""
    if image.shape[-1] == 1:
        ax.imshow(image[..., 0], cmap="gray", vmin=0, vmax=255)
    else:
        ax.imshow(image, interpolation="nearest")
    ax.set_axis_off()
    ax.set_title(title, fontsize="small")


# --- what the neuron learned -----------------------------------------------


def weights_to_rgb(w: ArrayLike, image_shape: Sequence[int]) -> NDArray[np.float64]:
    """Colours that show the weights as a picture of the input's shape.

    Each weight becomes one colour channel of one pixel:
    ``0.5 + 0.5 * w / max|w|``. So a weight of 0 is mid-grey, the largest
    positive weight is full intensity (1.0) and the most negative weight is
    0.0. The scale is symmetric, so that grey always means "no influence",
    and global (one ``max|w|`` for all channels), so that a pixel's hue says
    which channel's weights are larger: scaling each channel on its own
    would blow up a channel whose weights are all small.

    Parameters
    ----------
    w : array_like of shape (n_x,) or (n_x, 1), float
        The weights, in the model's input order (C order of ``image_shape``).
    image_shape : sequence of 3 int
        (height, width, channels) with height * width * channels == n_x.

    Returns
    -------
    ndarray of shape (height, width, channels), float64
        Values in [0, 1]; all 0.5 when every weight is 0.

    Raises
    ------
    ValueError
        If ``w`` does not fit ``image_shape`` or holds NaN or inf.
    """
    shape = check_image_shape(image_shape, channels=(1, 3))
    w = _check_weights(w, shape).astype(np.float64)
    largest = np.max(np.abs(w))
    scaled = w / largest if largest > 0 else np.zeros_like(w)
    # Clipped because w / max|w| can miss 1 by a rounding error.
    return np.clip(0.5 + 0.5 * scaled, 0.0, 1.0).reshape(shape)


def weights_picture(
    w: ArrayLike, image_shape: Sequence[int], *, ax: Axes | None = None
) -> Figure:
    """The learned weights drawn as an image (see :func:`weights_to_rgb`).

    Parameters
    ----------
    w : array_like of shape (n_x,) or (n_x, 1), float
    image_shape : sequence of 3 int
        (height, width, channels) with height * width * channels == n_x.
    ax : matplotlib Axes, optional
        Where to draw; a new figure is made when omitted.

    Returns
    -------
    Figure
    """
    rgb = weights_to_rgb(w, image_shape)
    ax = _axes(ax, (4, 4.3))
    if rgb.shape[-1] == 3:
        ax.imshow(rgb, interpolation="nearest")
    else:
        ax.imshow(rgb[..., 0], cmap="gray", vmin=0, vmax=1, interpolation="nearest")
    ax.set_axis_off()
    ax.set_title("weights (grey = 0)", fontsize="small")
    return ax.figure


def contributions(image: ArrayLike, w: ArrayLike) -> NDArray[np.float64]:
    """Each pixel's share of the decision value z = w . x + b.

    With x = image / 255 flattened in C order (height, width, channels), the
    contribution of pixel p is sum over channels c of w[p, c] * x[p, c].
    The contributions sum to w . x, so adding b gives z.

    Parameters
    ----------
    image : ndarray of shape (height, width, channels), uint8
        The picture as the model sees it (already resized).
    w : array_like of shape (n_x,) or (n_x, 1), float
        n_x = height * width * channels.

    Returns
    -------
    ndarray of shape (height, width), float64

    Raises
    ------
    ValueError
        If ``image`` is not uint8 (height, width, channels) or ``w`` does not
        fit it.
    """
    image = _check_images(image, "image", 3)
    w = _check_weights(w, image.shape).astype(np.float64)
    return np.einsum("hwc,hwc->hw", w.reshape(image.shape), scale(image))


def explanation(
    image: ArrayLike,
    w: ArrayLike,
    b: float | ArrayLike,
    *,
    classes: Sequence[str],
    image_shape: Sequence[int],
    layout: str = "wide",
    target: str | None = None,
) -> Figure:
    """Why the neuron decided as it did on one image.

    Three panels: the image; a map of each pixel's contribution to z
    (:func:`contributions`) laid over the picture in grey (red pushes
    towards ``classes[1]``, blue towards ``classes[0]``, a diverging colour
    scale centred at 0 with its colour bar), titled with z, the predicted
    class and sigma(z); and the weights (:func:`weights_picture`); above
    them, one sentence on how to read the map. For k >= 3 classes the map
    is one class's: w[:, c] * x, red towards class c, blue away from it,
    titled with its z_c and softmax probability, beside its weights.

    Parameters
    ----------
    image : ndarray of shape ``image_shape``, uint8
        The model's input picture (already resized).
    w : array_like of shape (n_x,) or (n_x, 1), or (n_x, k) for k >= 3 classes, float
    b : float, or array_like of shape (k,)
    classes : sequence of str
        Class names (2, or k); label i is ``classes[i]``.
    image_shape : sequence of 3 int
        (height, width, channels) the model takes.
    layout : {"wide", "tall"}
        ``"wide"``: the three panels side by side (12 x 5 inches), for a
        screen or a file. ``"tall"``: one above the other, the colour bar
        beneath the map and the text in lines that fit (4.2 inches wide,
        1.2 times larger text), so that a phone shows it near its drawn
        size and the words stay readable.
    target : str, optional
        k >= 3 classes: the class whose map is drawn (default: the
        predicted one). Two classes: one of them; the map shows both.

    Returns
    -------
    Figure

    Raises
    ------
    ValueError
        If the image does not have ``image_shape``, ``w`` does not fit it,
        ``b`` is not a finite number, ``layout`` is neither, or ``target``
        is not one of ``classes``.
    """
    if layout not in ("wide", "tall"):
        raise ValueError(f'layout must be "wide" or "tall"; got {layout!r}')
    tall = layout == "tall"
    shape = check_image_shape(image_shape, channels=(1, 3))
    image = _check_images(image, "image", 3)
    if image.shape != shape:
        raise ValueError(
            f"image must have the model's shape {shape}; got shape {image.shape}"
        )
    from logitnet.viz.classes import push_of  # it draws on this module

    push = push_of(image, w, b, classes, target)
    text_size = "medium" if tall else "small"
    fig = Figure(figsize=(4.2, 12.5) if tall else (12, 5), layout="constrained")
    image_ax, heat_ax, weights_ax = fig.subplots(3, 1) if tall else fig.subplots(1, 3)
    _show(image_ax, image, "input picture")
    heat = push.heat
    limit = float(np.max(np.abs(heat))) or 1.0
    # The map over the photo, faded to grey so that the colours are the
    # map's: where in the picture the push came from.
    grey = scale(image).mean(axis=2)
    heat_ax.imshow(grey, cmap="gray", vmin=0, vmax=1, interpolation="nearest")
    shown = heat_ax.imshow(
        heat,
        cmap=DIVERGING,
        vmin=-limit,
        vmax=limit,
        alpha=0.65,
        interpolation="nearest",
    )
    heat_ax.set_axis_off()
    heat_ax.set_title(
        push.title.replace("\n", chr(10) if tall else " ", 1), fontsize=text_size
    )
    colorbar = fig.colorbar(
        shown,
        ax=heat_ax,
        shrink=0.8,
        orientation="horizontal" if tall else "vertical",
    )
    colorbar.set_label(push.bar_label, fontsize=text_size)
    weights_picture(push.weights, shape, ax=weights_ax)
    weights_ax.set_title(push.weights_title, fontsize="small")
    how_to_read = push.how_to_read
    if tall:
        how_to_read = textwrap.fill(how_to_read, 46)
    fig.suptitle(how_to_read, fontsize=text_size)
    return fig


# --- results on a test set ----------------------------------------------------


def gallery(
    images: ArrayLike,
    true_labels: Sequence[str],
    predicted_labels: Sequence[str],
    *,
    probabilities: Sequence[float] | None = None,
    columns: int = 6,
    arrows: bool = False,
) -> Figure:
    """Images in a grid, each titled with its true and predicted label.

    Meant for the misclassified test images.

    Parameters
    ----------
    images : ndarray of shape (k, height, width, channels), uint8
        k may be 0: the figure then says there is nothing to show.
    true_labels, predicted_labels : sequence of k str
    probabilities : sequence of k float, optional
        The model's probability of its predicted class for each image, shown
        under the labels as "cat 73.0 %" (the text of
        :func:`logitnet.app.prediction.format_probabilities`).
    columns : int, default=6
        Images per row at most.
    arrows : bool, default=False
        Caption each tile "true → predicted (p)" on one line (the report
        of k >= 3 classes) instead of on two or three.

    Returns
    -------
    Figure
        ceil(k / columns) rows of tiles titled "true: X / predicted: Y".

    Raises
    ------
    ValueError
        If ``images`` is not uint8 (k, height, width, channels), the label
        lists do not have k strings each, or ``columns`` < 1.
    """
    images = _check_images(images, "images", 4)
    k = images.shape[0]
    true_labels = _check_labels(true_labels, "true_labels", k)
    predicted_labels = _check_labels(predicted_labels, "predicted_labels", k)
    columns = check_int(columns, "columns", minimum=1)
    shares = [""] * k
    if probabilities is not None:
        p = _finite_vector(probabilities, "probabilities") if k else []
        if len(p) != k:
            raise ValueError(
                f"probabilities must have one value per image ({k}); got {len(p)}"
            )
        if arrows:
            shares = [f" ({value:.2f})" for value in p]
        else:
            shares = [
                f"\n{_literal(format_probabilities({name: float(value)}))}"
                for name, value in zip(predicted_labels, p, strict=True)
            ]
    if k == 0:
        fig = Figure(figsize=(6, 1.2), layout="constrained")
        ax = fig.add_subplot()
        ax.set_axis_off()
        ax.text(0.5, 0.5, "No misclassified pictures.", ha="center", va="center")
        return fig
    ncols = min(k, columns)
    nrows = math.ceil(k / ncols)
    fig = Figure(figsize=(2.1 * ncols, 2.4 * nrows), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
    for ax, image, true, predicted, share in zip(
        axes, images, true_labels, predicted_labels, shares, strict=False
    ):
        caption = (
            f"{_literal(true)} → {_literal(predicted)}{share}"
            if arrows
            else f"true: {_literal(true)}\npredicted: {_literal(predicted)}{share}"
        )
        _show(ax, image, caption)
    for ax in axes[k:]:
        fig.delaxes(ax)  # the last row's empty slots
    return fig


def confusion_matrix(cm: ArrayLike, classes: Sequence[str]) -> Figure:
    """A k x k confusion matrix with counts and class names.

    Parameters
    ----------
    cm : array_like of shape (k, k), int
        ``cm[i, j]`` is the number of examples of true class i predicted as
        class j (scikit-learn's layout).
    classes : sequence of k str
        Class names; label i is ``classes[i]``. Two: drawn as ever; up to
        20 stay readable (the figure grows with k, the names of the columns
        turn, the counts get smaller).

    Returns
    -------
    Figure

    Raises
    ------
    ValueError
        If ``cm`` is not a k x k array of non-negative integers, or
        ``classes`` is not k >= 2 names.
    """
    from sklearn.metrics import ConfusionMatrixDisplay  # slow to import

    cm = np.asarray(cm)
    if isinstance(classes, str) or len(classes) < 2:
        _check_classes(classes)
    k = len(classes)
    if cm.shape != (k, k) or not np.issubdtype(cm.dtype, np.integer) or (cm < 0).any():
        raise ValueError(
            f"cm must be a {k} x {k} array of counts (non-negative integers); "
            f"got {cm.dtype} of shape {cm.shape}"
        )
    classes = _check_classes(classes) if k == 2 else [str(c) for c in classes]
    side = 0.5 * k
    ax = _axes(
        None, (4.2, 3.6) if k == 2 else (max(4.2, side + 2), max(3.6, side + 1.5))
    )
    display = ConfusionMatrixDisplay(cm, display_labels=[_literal(c) for c in classes])
    display.plot(
        ax=ax,
        cmap="Blues",
        colorbar=False,
        values_format="d",
        xticks_rotation="horizontal" if k <= 4 else "vertical",
        text_kw=None if k <= 8 else {"fontsize": "small" if k <= 14 else "x-small"},
    )
    ax.set_title("Confusion matrix")
    return ax.figure


# --- output -------------------------------------------------------------------


def save_png(fig: Figure, path: str | os.PathLike[str]) -> Path:
    """Write ``fig`` as a PNG at ``path``, atomically.

    Returns
    -------
    Path
        ``path``.

    Raises
    ------
    OutputPathError
        If the directory is missing or ``path`` is a directory.
    OSError
        If the disk refuses the write; ``path`` is then left as it was.
    """
    with atomic_path(path) as tmp:
        # The format is named: the temporary file's suffix is ".tmp".
        fig.savefig(tmp, format="png", dpi=DPI, bbox_inches="tight")
    return Path(path)


def png_bytes(fig: Figure) -> bytes:
    """``fig`` as the bytes of a PNG file, as :func:`save_png` would write it."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI, bbox_inches="tight")
    return buffer.getvalue()
