"""A trained model's report: one self-contained HTML page.

The page holds everything in one file: inline CSS, and every picture as a
``data:image/png;base64,...`` URI. It has no scripts and no link to anything
outside itself, and its Content-Security-Policy tells the browser so, so it
can be mailed, archived or opened offline and looks the same. Every piece of
text is HTML-escaped: class names and settings come from user files.

Written for a person: the model file, the date and logitnet's version at
the top; then the settings in words and what "converged" means for this
model, the learning curve (titled with the solver and its settings, ending
at the final cost), each metric once with what it means, the confusion
matrix as a picture with counts, the weights, the misclassified pictures
with the probability the model gave them, an explanation of one of them
laid over the picture, and the computation graph of the first picture
scored (:mod:`logitnet.viz.graph`, what ``logitnet graph`` draws).
"""

from __future__ import annotations

import base64
import contextlib
import datetime
import html
import os
from collections.abc import Iterator, Mapping, Sequence
from numbers import Real
from pathlib import Path

import numpy as np
from numpy.typing import ArrayLike

from logitnet import __version__
from logitnet.app.evaluation import SPLITS, undefined_as_none, undefined_in_words
from logitnet.app.modelfile import SavedModel
from logitnet.app.prediction import classify
from logitnet.files import atomic_path
from logitnet.viz import curves, plots, words
from logitnet.viz.classes import (
    MULTICLASS_MEANINGS,
    class_table,
    explanation_note,
    weight_templates,
    weights_note,
)

__all__ = ["model_card", "render_report", "write_report"]

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
td.number { text-align: right; font-variant-numeric: tabular-nums;
            white-space: nowrap; }
img { max-width: 100%; height: auto; }
.note { color: #555; }
"""


def _text(value: object) -> str:
    return html.escape(str(value), quote=True)


def _table(rows: Sequence[tuple[str, str]], *, numbers: bool = False) -> str:
    """Two columns of plain text, escaped here; with ``numbers``, the second
    aligned as numbers and never broken over two lines."""
    cell = '<td class="number">' if numbers else "<td>"
    body = "\n".join(
        f'<tr><th scope="row">{_text(name)}</th>{cell}{_text(value)}</td></tr>'
        for name, value in rows
    )
    return f"<table>\n{body}\n</table>"


def _percent(fraction: float) -> str:
    """``70.0 %``, its space a no-break space: "%" never starts a line."""
    return f"{100 * fraction:.1f}\u00a0%"


#: What each of scikit-learn's metrics says, in a few words; {pos} and {neg}
#: are the class names. Fractions are shown in percent, the others as numbers.
_METRICS = {
    "accuracy": ("accuracy", True, "share of the pictures classified right"),
    "precision": (
        "precision",
        True,
        "of the pictures the model calls {pos}, the share that are",
    ),
    "recall": ("recall", True, "of the {pos} pictures, the share the model finds"),
    "f1": ("F1 score", True, "the harmonic mean of precision and recall"),
    "roc_auc": (
        "ROC AUC",
        False,
        "the chance that a {pos} picture gets a higher P({pos}) than a {neg} "
        "one (0.5 is guessing, 1 is perfect)",
    ),
    "log_loss": (
        "log loss",
        False,
        "the cost the model was trained to lower, measured on these pictures "
        "(lower is better; guessing 50/50 gives 0.693)",
    ),
}


def _metric_rows(
    metrics: dict[str, float | None], classes: Sequence[str], split: str
) -> str:
    """Each metric once: its name, its value (or why it is undefined), what
    it means."""
    rows = []
    for key, value in metrics.items():
        name, percent, meaning = _METRICS.get(key, (key, False, ""))
        if value is None:
            shown = f"<td>{_text(undefined_in_words(key, classes, split))}</td>"
        else:
            number = _percent(value) if percent else f"{value:.4g}"
            shown = f'<td class="number">{_text(number)}</td>'
        if len(classes) > 2:
            meaning = MULTICLASS_MEANINGS.get(key, meaning)
        meaning = meaning.format(pos=classes[1], neg=classes[0])
        rows.append(
            f'<tr><th scope="row">{_text(name)}</th>{shown}'
            f"<td>{_text(meaning)}</td></tr>"
        )
    return "<table>\n" + "\n".join(rows) + "\n</table>"


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


def _check_metrics(metrics: Mapping[str, float | None]) -> dict[str, float | None]:
    """The metrics as floats, None where undefined (NaN too)."""
    if not isinstance(metrics, Mapping):
        raise ValueError(
            f"metrics must be a mapping of name to number; got {metrics!r}"
        )
    for name, value in metrics.items():
        if value is not None and (
            isinstance(value, bool) or not isinstance(value, Real)
        ):
            raise ValueError(
                f"metric {name!r} must be a number, or None where undefined; "
                f"got {value!r}"
            )
    return {
        str(k): None if v is None else float(v)
        for k, v in undefined_as_none(dict(metrics)).items()
    }


def _provenance(model: SavedModel, model_path, created) -> str:
    """The model file's name, the date the page is written (default: now,
    UTC) and logitnet's version, as one line."""
    created = created or datetime.datetime.now(datetime.UTC)
    made_by = f"logitnet {__version__}"
    if model.logitnet_version and model.logitnet_version != __version__:
        made_by += f" (the model was written by logitnet {model.logitnet_version})"
    if model_path is None:
        name = "(not a file)"
    elif isinstance(model_path, str | os.PathLike):
        name = Path(model_path).name
    else:  # a URL (data/storage's Url), shown whole: its str() has no secret
        name = str(model_path)
    written = created.strftime("%Y-%m-%d %H:%M %Z").strip()
    return (
        f'<p class="note">Model file <strong>{_text(name)}</strong>\n'
        f"&middot; report written {_text(written)}\n&middot; {_text(made_by)}</p>"
    )


def _explanation(model: SavedModel, misclassified_images: ArrayLike) -> str:
    """The first misclassified picture explained pixel by pixel, with one
    sentence on how to read it; a note when there is none."""
    classes = list(model.classes)
    explained = np.asarray(misclassified_images)
    if len(explained):
        with _about("model"):
            explanation = _figure(
                plots.explanation(
                    explained[0],
                    model.w,
                    model.b,
                    classes=classes,
                    image_shape=model.image_shape,
                ),
                "the first misclassified picture with each pixel's contribution "
                "laid over it",
            )
        if len(classes) > 2:
            predicted = classes[
                int(classify(model, explained[:1]).probabilities.argmax())
            ]
            return explanation_note(classes, predicted) + "\n" + explanation
        explanation = (
            '<p class="note">Why the model got the first misclassified picture '
            f"wrong. Red pixels pushed towards {_text(classes[1])}, blue ones "
            f"towards {_text(classes[0])}; the stronger the colour, the larger "
            "the push, and all pushes plus the bias add up to the decision "
            f"value z (above 0: {_text(classes[1])}).</p>\n{explanation}"
        )
    else:
        explanation = '<p class="note">No misclassified picture to explain.</p>'
    return explanation


def _graph(model: SavedModel, picture, label: str | None, split: str) -> str:
    """The first picture's computation graph under its heading, with a
    sentence on how to read it; nothing when there is no picture."""
    if picture is None:
        return ""
    from logitnet.app.graph import neuron_graph
    from logitnet.viz.graph import graph_figure

    which = "test picture" if split == "test" else "picture scored"
    with _about("model"):
        drawn = _figure(
            graph_figure(neuron_graph(model, picture, label)),
            f"the computation graph of the first {which}",
        )
    return (
        "<h2>How it decided: the computation graph</h2>\n"
        f'<p class="note">The neuron at work on the first {which}, as the course '
        "draws it: left to right, z = w\N{MIDDLE DOT}x + b and a = "
        "\N{GREEK SMALL LETTER SIGMA}(z) (the softmax for more than two "
        "classes) and the loss against its true class; in red, right to left, "
        "the derivatives of the chain rule, down to dL/dw = x\N{MIDDLE DOT}dz, "
        "checked by finite differences.</p>\n" + drawn
    )


def _curve(training: Mapping) -> str:
    """The learning curve as an image, or a note when no costs were kept."""
    costs = training.get("costs")
    if costs is not None and len(costs) > 0:
        with _about("model.training"):
            fig = curves.training_curve(training)
        curve = _figure(fig, "learning curve: cost against iterations")
    else:
        curve = '<p class="note">No costs were recorded for this model.</p>'
    return curve


def _tells(classes: Sequence[str]) -> str:
    """What the model tells apart, escaped: its classes by name."""
    if len(classes) == 2:
        return (
            f"A logistic-regression neuron that tells {_text(classes[1])}\n"
            f"from {_text(classes[0])}."
        )
    names = ", ".join(_text(c) for c in classes)
    return f"A softmax regression of {len(classes)} classes: {names}."


def model_card(model: SavedModel) -> str:
    """What the report says about the model itself, as an HTML fragment.

    The settings in words and what "converged" means for the model, the
    accuracies recorded in the model file when it was trained, the learning
    curve and the weights picture: the parts of :func:`render_report` that
    need no test data. ``logitnet serve``'s page shows it. Text is escaped;
    pictures are ``data:`` URIs.

    Parameters
    ----------
    model : SavedModel

    Returns
    -------
    str
        A ``<section>`` element.
    """
    classes = list(model.classes)
    with _about("model"):
        weights_png = _figure(
            weight_templates(model.w, model.image_shape, model.classes),
            "the learned weights drawn as a picture"
            + ("" if len(model.classes) == 2 else ", one per class"),
        )
    settings = "\n".join(
        f"<li>{_text(line)}</li>" for line in words.settings_in_words(model)
    )
    recorded = [
        (
            str(name).replace("_", " "),
            "undefined" if value is None else _percent(float(value) / 100),
        )
        for name, value in undefined_as_none(model.metrics).items()
        if value is None or (isinstance(value, Real) and not isinstance(value, bool))
    ]
    metrics_html = (
        _table(recorded, numbers=True)
        if recorded
        else '<p class="note">No metrics were recorded in the model file.</p>'
    )
    return f"""<section class="card" aria-labelledby="card-title">
<h2 id="card-title">The model</h2>
<p class="note">{_tells(classes)}</p>
<ul>
{settings}
</ul>
<p>{_text(words.convergence(model.training))}</p>
<h3>Metrics recorded when it was trained</h3>
{metrics_html}
<h3>Learning curve</h3>
{_curve(model.training)}
<h3>Weights</h3>
<p class="note">Each weight is one colour channel of one pixel; grey is 0.</p>
{weights_png}
</section>"""


def render_report(
    model: SavedModel,
    *,
    metrics: Mapping[str, float | None],
    confusion: ArrayLike,
    misclassified_images: ArrayLike,
    misclassified_true: Sequence[str],
    misclassified_predicted: Sequence[str],
    data_source: str,
    misclassified_probability: Sequence[float] | None = None,
    model_path: str | os.PathLike[str] | None = None,
    created: datetime.datetime | None = None,
    split: str = "test",
    first_picture: ArrayLike | None = None,
    first_label: str | None = None,
) -> str:
    """One self-contained HTML page describing a trained model, for a person.

    Parameters
    ----------
    model : SavedModel
        Its ``training`` record is told in words (solver, learning rate,
        iterations, penalty, data), with what "converged" means for it; its
        ``costs`` (with ``cost_every``), ending at ``final_cost``, become the
        learning curve (:func:`logitnet.viz.curves.training_curve`).
    metrics : mapping of str to float or None
        Measured on ``data_source`` (accuracy, precision, recall, f1,
        roc_auc, log_loss), each shown once with what it means, in the
        given order. None (or NaN) is undefined, and shows why in words
        (:func:`logitnet.app.evaluation.undefined_in_words`).
    confusion : array_like of shape (2, 2), int
        ``confusion[i, j]``: examples of true class i predicted as class j.
    misclassified_images : ndarray of shape (k, height, width, channels), uint8
        k may be 0. The first is also explained pixel by pixel.
    misclassified_true, misclassified_predicted : sequence of k str
        Class names of each misclassified image.
    data_source : str
        What the metrics were measured on, in words (a file, "the course's
        test set").
    misclassified_probability : sequence of k float, optional
        The model's probability of the (wrongly) predicted class of each.
    model_path : path-like or data.storage.Url, optional
        The model file, named at the top of the page (a URL whole, without
        its secrets).
    created : datetime, optional
        When the page is written (default: now, UTC).
    split : {"test", "train", "all"}, default="test"
        Which pictures of ``data_source`` the metrics were measured on: an
        undefined metric's reason names them ("the test pictures hold one
        class").
    first_picture : ndarray of shape ``model.image_shape``, uint8, optional
        The first picture scored: its computation graph is drawn, in a last
        section (none without it)
        (:func:`logitnet.app.graph.neuron_graph`), forward and, with
        ``first_label`` (its true class), backward.
    first_label : str, optional

    Returns
    -------
    str
        An HTML5 document, to be written as UTF-8 (:func:`write_report`).

    Raises
    ------
    ValueError
        If a metric is not a number or None, ``split`` is not one of
        ``SPLITS``, the confusion matrix is not 2 x 2 counts,
        or the misclassified images and their labels do not match.
    """
    metrics = _check_metrics(metrics)
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}; got {split!r}")
    classes = list(model.classes)
    training = model.training

    # Figures first: they validate their inputs before any HTML is built.
    with _about("confusion"):
        confusion_png = _figure(
            plots.confusion_matrix(confusion, classes),
            "confusion matrix with the count of each pair of true and predicted class",
        )
    with _about("misclassified images"):
        gallery = plots.gallery(
            misclassified_images,
            misclassified_true,
            misclassified_predicted,
            probabilities=misclassified_probability,
            arrows=len(classes) > 2,
        )
    gallery_png = _figure(
        gallery,
        "misclassified pictures with their true and predicted classes and the "
        "probability the model gave its answer",
    )
    with _about("model"):
        weights_png = _figure(
            weight_templates(model.w, model.image_shape, classes),
            "the learned weights drawn as a picture"
            + ("" if len(classes) == 2 else ", one per class"),
        )
    explanation = _explanation(model, misclassified_images)
    graph = _graph(model, first_picture, first_label, split)
    curve = _curve(training)

    settings = "\n".join(
        f"<li>{_text(line)}</li>" for line in words.settings_in_words(model)
    )
    preprocessing = _table(
        [(name, str(step)) for name, step in model.preprocessing.items()]
    )
    if metrics:
        metrics_html = _metric_rows(metrics, classes, split)
    else:
        metrics_html = '<p class="note">No metrics were given.</p>'
    if len(classes) > 2:
        metrics_html += "\n<h3>Each class</h3>\n" + class_table(confusion, classes)

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
<p class="note">{_tells(classes)[:-1]}; metrics measured on {_text(data_source)}.</p>
{_provenance(model, model_path, created)}

<h2>Settings</h2>
<ul>
{settings}
</ul>
<p>{_text(words.convergence(training))}</p>
<details><summary>How a picture becomes the model's input</summary>
{preprocessing}
</details>

<h2>Learning curve</h2>
{curve}

<h2>Metrics</h2>
<p class="note">Measured on {_text(data_source)}.</p>
{metrics_html}

<h2>Confusion matrix</h2>
<p class="note">Rows: the true class; columns: the class the model chose.</p>
{confusion_png}

<h2>Weights</h2>
{weights_note(classes)}
{weights_png}

<h2>Misclassified pictures ({k})</h2>
<p class="note">Each with its true class, the class the model chose, and the
probability the model gave that choice.</p>
{gallery_png}

<h2>Explanation</h2>
{explanation}
{graph}
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
