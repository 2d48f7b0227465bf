"""A trained model's report: one self-contained HTML page.

The page holds everything in one file: inline CSS, and every picture as a
``data:image/png;base64,...`` URI. It has no scripts and no link to anything
outside itself, and its Content-Security-Policy tells the browser so, so it
can be mailed, archived or opened offline and looks the same. Every piece of
text is HTML-escaped: class names and settings come from user files.

Sections: settings, learning curve, metrics, confusion matrix, weights,
misclassified images.
"""

from __future__ import annotations

import base64
import contextlib
import html
import math
import os
from collections.abc import Iterator, Mapping, Sequence
from numbers import Integral, Real
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from logitnet.app.modelfile import SavedModel
from logitnet.files import atomic_path
from logitnet.viz import plots

__all__ = ["render_report", "write_report"]

#: Nothing may be fetched: only inline styles and images inside the page.
_CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"

_CSS = """
body { font-family: system-ui, sans-serif; max-width: 60rem; margin: 2rem auto;
       padding: 0 1rem; color: #222; line-height: 1.4; }
h1 { margin-bottom: 0.2rem; }
h2 { border-bottom: 1px solid #ccc; padding-bottom: 0.2rem; margin-top: 2rem; }
table { border-collapse: collapse; margin: 0.5rem 0; }
th, td { border: 1px solid #ccc; padding: 0.25rem 0.6rem; text-align: left; }
th { background: #f3f3f3; font-weight: 600; }
td.number { text-align: right; font-variant-numeric: tabular-nums; }
img { max-width: 100%; height: auto; }
.note { color: #555; }
"""

#: Longer lists (a cost curve) are summarised in the settings table.
_LIST_SHOWN = 8


def _text(value: object) -> str:
    return html.escape(str(value), quote=True)


def _number(value: float, digits: int) -> str:
    if math.isnan(value):
        return "n/a"
    return f"{value:.{digits}g}"


def _setting(value: Any) -> str:
    """A setting as short plain text (not yet escaped)."""
    if isinstance(value, bool) or value is None:
        return str(value)
    if isinstance(value, Integral):
        return str(int(value))
    if isinstance(value, Real):
        return _number(float(value), 6)
    if isinstance(value, Mapping):
        return ", ".join(f"{k}: {_setting(v)}" for k, v in value.items())
    if isinstance(value, list | tuple):
        if len(value) > _LIST_SHOWN:
            return (
                f"{len(value)} values, from {_setting(value[0])} "
                f"to {_setting(value[-1])}"
            )
        return "[" + ", ".join(_setting(v) for v in value) + "]"
    return str(value)


def _table(rows: Sequence[tuple[str, str]], *, numeric: bool = False) -> str:
    """Two columns of already-formatted text, escaped here."""
    cell = '<td class="number">' if numeric else "<td>"
    body = "\n".join(
        f'<tr><th scope="row">{_text(name)}</th>{cell}{_text(value)}</td></tr>'
        for name, value in rows
    )
    return f"<table>\n{body}\n</table>"


def _figure(fig, alt: str) -> str:
    uri = "data:image/png;base64," + base64.b64encode(plots.png_bytes(fig)).decode()
    return f'<img src="{uri}" alt="{_text(alt)}">'


@contextlib.contextmanager
def _about(argument: str) -> Iterator[None]:
    """Name the report's argument in errors raised by the plot it feeds."""
    try:
        yield
    except ValueError as e:
        raise ValueError(f"{argument}: {e}") from e


def _positive_number(value: object) -> float | None:
    number = isinstance(value, Real) and not isinstance(value, bool)
    return float(value) if number and math.isfinite(value) and value > 0 else None


def _check_metrics(metrics: Mapping[str, float]) -> dict[str, float]:
    if not isinstance(metrics, Mapping):
        raise ValueError(
            f"metrics must be a mapping of name to number; got {metrics!r}"
        )
    for name, value in metrics.items():
        if isinstance(value, bool) or not isinstance(value, Real):
            raise ValueError(f"metric {name!r} must be a number; got {value!r}")
    return {str(k): float(v) for k, v in metrics.items()}


def _confusion_table(cm: np.ndarray, classes: Sequence[str]) -> str:
    head = "".join(f'<th scope="col">predicted {_text(c)}</th>' for c in classes)
    rows = "\n".join(
        f'<tr><th scope="row">true {_text(c)}</th>'
        + "".join(f'<td class="number">{int(n)}</td>' for n in counts)
        + "</tr>"
        for c, counts in zip(classes, cm, strict=True)
    )
    return f"<table>\n<tr><td></td>{head}</tr>\n{rows}\n</table>"


def render_report(
    model: SavedModel,
    *,
    metrics: Mapping[str, float],
    confusion: ArrayLike,
    misclassified_images: ArrayLike,
    misclassified_true: Sequence[str],
    misclassified_predicted: Sequence[str],
    data_source: str,
) -> str:
    """One self-contained HTML page describing a trained model.

    Parameters
    ----------
    model : SavedModel
        Its ``training`` dict is shown in full (every key, whatever the
        solver recorded); its ``costs`` (with ``cost_every``, default 100)
        become the learning curve. The model's own ``metrics`` are shown as
        recorded at training.
    metrics : mapping of str to float
        Measured on ``data_source`` (e.g. accuracy, precision, recall, f1,
        roc_auc, log_loss), shown in the given order; NaN shows as "n/a".
    confusion : array_like of shape (2, 2), int
        ``confusion[i, j]``: examples of true class i predicted as class j.
    misclassified_images : ndarray of shape (k, height, width, channels), uint8
        k may be 0.
    misclassified_true, misclassified_predicted : sequence of k str
        Class names of each misclassified image.
    data_source : str
        What the metrics were measured on, in words (a file, "the course's
        test set").

    Returns
    -------
    str
        An HTML5 document, to be written as UTF-8 (:func:`write_report`).

    Raises
    ------
    ValueError
        If a metric is not a number, the confusion matrix is not 2 x 2 counts,
        or the misclassified images and their labels do not match.
    """
    metrics = _check_metrics(metrics)
    classes = list(model.classes)
    training = dict(model.training)
    costs = training.pop("costs", None)

    # Figures first: they validate their inputs before any HTML is built.
    with _about("confusion"):
        confusion_png = _figure(
            plots.confusion_matrix(confusion, classes), "confusion matrix"
        )
    with _about("misclassified images"):
        gallery = plots.gallery(
            misclassified_images, misclassified_true, misclassified_predicted
        )
    gallery_png = _figure(
        gallery, "misclassified images with their true and predicted classes"
    )
    with _about("model"):
        weights_png = _figure(
            plots.weights_picture(model.w, model.image_shape),
            "the learned weights drawn as a picture",
        )
    if costs is not None and len(costs) > 0:
        with _about("model.training"):
            fig = plots.learning_curve(
                costs,
                cost_every=training.get("cost_every", 100),
                # A title only: a solver whose rate is not one number has none.
                learning_rate=_positive_number(training.get("learning_rate")),
            )
        curve = _figure(fig, "learning curve: cost against iterations")
    else:
        curve = '<p class="note">No costs were recorded for this model.</p>'

    settings = [(name, _setting(value)) for name, value in training.items()]
    settings += [
        ("classes", ", ".join(f"{i}: {c}" for i, c in enumerate(classes))),
        ("image shape", " x ".join(str(n) for n in model.image_shape)),
    ]
    settings += [
        (f"preprocessing: {name}", _setting(step))
        for name, step in model.preprocessing.items()
    ]
    settings.append(("logitnet version", model.logitnet_version))

    measured = [(name, _number(value, 4)) for name, value in metrics.items()]
    if measured:
        metrics_html = _table(measured, numeric=True)
    else:
        metrics_html = '<p class="note">No metrics were given.</p>'
    if model.metrics:
        recorded = [(name, _setting(value)) for name, value in model.metrics.items()]
        metrics_html += "\n<h3>Recorded at training</h3>\n" + _table(
            recorded, numeric=True
        )

    k = len(misclassified_true)
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{_CSP}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>logitnet report: {_text(" / ".join(classes))}</title>
<style>{_CSS}</style>
</head>
<body>
<h1>logitnet report</h1>
<p class="note">A logistic-regression neuron that tells {_text(classes[1])}
from {_text(classes[0])}; metrics measured on {_text(data_source)}.</p>

<h2>Settings</h2>
{_table(settings)}

<h2>Learning curve</h2>
{curve}

<h2>Metrics</h2>
<p class="note">Measured on {_text(data_source)}.</p>
{metrics_html}

<h2>Confusion matrix</h2>
{_confusion_table(np.asarray(confusion), classes)}
{confusion_png}

<h2>Weights</h2>
<p class="note">Each weight is one colour channel of one pixel. Grey is 0;
a channel brighter than grey is a positive weight (light there pushes towards
{_text(classes[1])}), a darker one a negative weight (towards
{_text(classes[0])}).</p>
{weights_png}

<h2>Misclassified images ({k})</h2>
{gallery_png}
</body>
</html>
"""


def write_report(path: str | os.PathLike[str], html_text: str) -> Path:
    """Write a page from :func:`render_report` to ``path`` as UTF-8, atomically.

    Returns
    -------
    Path
        ``path``.

    Raises
    ------
    ValueError
        If ``html_text`` is not a string.
    OutputPathError
        If the directory is missing or ``path`` is a directory.
    OSError
        If the disk refuses the write; ``path`` is then left as it was.
    """
    if not isinstance(html_text, str):
        raise ValueError(f"html_text must be a str; got {type(html_text).__name__}")
    with atomic_path(path) as tmp:
        tmp.write_text(html_text, encoding="utf-8")
    return Path(path)
