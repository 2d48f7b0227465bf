"""The neuron's computation graph for one picture, drawn as the course draws it.

Left to right, the forward pass: the picture, its flattened and scaled x
(a strip: the picture's rows one after another, as the neuron reads them),
the weights w as a picture, b, then z = w.x + b, a = sigma(z) and, with the
picture's true class y, the loss L(a, y). Right to left, in red, the
backward pass: dL/da, dL/dz = a - y, dL/db = dz and dL/dw = x dz as a
picture (what one gradient-descent step would change, pixel by pixel).
At the bottom, one line: the finite-difference check of dL/db and of one
dL/dw component. A model of k >= 3 classes shows the softmax: z_k, a_k,
L = -log a_y, dz = a - onehot(y), and the true (else the predicted)
class's weights and gradient.

The values are :class:`logitnet.app.graph.NeuronGraph`'s: nothing is
computed here but the layout. :func:`graph_figure` builds the figure
(``layout="tall"``: one step above the other, for a phone);
:func:`save_graph` writes it as PNG or SVG by the file's suffix;
:func:`graph_bytes` gives the bytes (the server, the report).
"""

from __future__ import annotations

import io
import os
import textwrap
from pathlib import Path
from typing import NamedTuple

import numpy as np
from matplotlib.figure import Figure

from logitnet.app.graph import NeuronGraph
from logitnet.files import atomic_path
from logitnet.viz.plots import DIVERGING, DPI, _literal, _show, weights_to_rgb

__all__ = ["FORMATS", "graph_bytes", "graph_figure", "save_graph"]

#: The formats a graph is written in, by file suffix, and their media types.
FORMATS = {".png": "image/png", ".svg": "image/svg+xml"}

#: Forward arrows and nodes; the backward pass's colour.
FORWARD, BACKWARD = "#222222", "#c01c28"

#: The most classes listed in a node of the softmax graph.
LISTED = 4


class _Places(NamedTuple):
    """Where each part of the graph goes, in figure fractions: axes as
    (left, bottom, width, height), nodes as (x, y) centres."""

    size: tuple[float, float]
    picture: tuple[float, float, float, float]
    strip: tuple[float, float, float, float]
    weights: tuple[float, float, float, float]
    gradient: tuple[float, float, float, float]
    b: tuple[float, float]
    z: tuple[float, float]
    a: tuple[float, float]
    loss: tuple[float, float]
    y: tuple[float, float]
    check: tuple[float, float]
    wrap: int
    vertical: bool
    font: float


WIDE = _Places(
    size=(15.0, 7.4),
    picture=(0.01, 0.55, 0.13, 0.36),
    strip=(0.165, 0.55, 0.016, 0.36),
    weights=(0.01, 0.06, 0.13, 0.36),
    gradient=(0.60, 0.06, 0.12, 0.26),
    b=(0.33, 0.45),
    z=(0.43, 0.73),
    a=(0.61, 0.73),
    loss=(0.83, 0.73),
    y=(0.83, 0.94),
    check=(0.5, 0.0),
    wrap=170,
    vertical=False,
    font=10.0,
)

TALL = _Places(
    size=(3.35, 13.0),
    picture=(0.04, 0.815, 0.42, 0.15),
    strip=(0.04, 0.78, 0.42, 0.012),
    weights=(0.54, 0.815, 0.42, 0.15),
    gradient=(0.22, 0.13, 0.56, 0.15),
    b=(0.78, 0.715),
    z=(0.30, 0.655),
    a=(0.30, 0.54),
    loss=(0.30, 0.425),
    y=(0.80, 0.355),
    check=(0.5, 0.0),
    wrap=34,
    vertical=True,
    font=10.5,
)


def _number(value: float) -> str:
    """Four significant digits, with a real minus sign."""
    return f"{value:.4g}".replace("-", "\N{MINUS SIGN}")


def _shown_classes(graph: NeuronGraph) -> list[int]:
    """The classes a softmax node lists: the most probable, and y."""
    order = [int(i) for i in np.argsort(-np.asarray(graph.a), kind="stable")]
    chosen = order[:LISTED]
    if graph.y is not None and graph.y not in chosen:
        chosen[-1] = graph.y
    return chosen


def _per_class(graph: NeuronGraph, values) -> str:
    """One line per listed class: its name and its value."""
    lines = [
        f"{_literal(graph.classes[i])[:14]}: {_number(values[i])}"
        for i in _shown_classes(graph)
    ]
    hidden = len(graph.classes) - len(lines)
    return "\n".join(lines + ([f"(+{hidden} more)"] if hidden > 0 else []))


def _node_texts(graph: NeuronGraph) -> dict[str, str]:
    """The text of each node and backward edge."""
    if graph.multiclass:
        texts = {
            "z": "z_k = w_k\N{MIDDLE DOT}x + b_k\n" + _per_class(graph, graph.z),
            "a": "a = softmax(z)\n" + _per_class(graph, graph.a),
            "loss": "L = \N{MINUS SIGN}log a_y",
        }
    else:
        positive = _literal(graph.classes[1])
        texts = {
            "z": f"z = w\N{MIDDLE DOT}x + b\n= {_number(graph.z)}",
            "a": f"a = \N{GREEK SMALL LETTER SIGMA}(z)\n= {_number(graph.a)}\n"
            f"= P({positive[:16]})",
            "loss": "L(a, y) = \N{MINUS SIGN}[y log a\n"
            "+ (1\N{MINUS SIGN}y) log(1\N{MINUS SIGN}a)]",
        }
    texts["a"] += f"\npredicted: {_literal(graph.predicted)[:20]}"
    which = (
        f"_{_literal(graph.classes[_column(graph)])[:12]}" if graph.multiclass else ""
    )
    texts["b"] = f"b{which} = {_number(float(np.ravel(graph.b)[_column(graph)]))}"
    if graph.label is None:
        return texts
    texts["loss"] += f"\n= {_number(graph.loss)}"
    texts["y"] = f"y = {graph.y} ({_literal(graph.label)[:20]})"
    if graph.multiclass:
        y = graph.y
        texts["dL_da"] = f"dL/da_y = \N{MINUS SIGN}1/a_y\n= {_number(graph.dL_da[y])}"
        texts["dL_dz"] = "dL/dz = a \N{MINUS SIGN} onehot(y)\n" + _per_class(
            graph, graph.dL_dz
        )
        texts["dL_db"] = f"dL/db_y = dz_y\n= {_number(graph.dL_db[y])}"
    else:
        texts["dL_da"] = (
            "dL/da = \N{MINUS SIGN}y/a + (1\N{MINUS SIGN}y)/(1\N{MINUS SIGN}a)\n"
            f"= {_number(graph.dL_da)}"
        )
        texts["dL_dz"] = f"dL/dz = a \N{MINUS SIGN} y\n= {_number(graph.dL_dz)}"
        texts["dL_db"] = f"dL/db = dz\n= {_number(graph.dL_db)}"
    return texts


def _column(graph: NeuronGraph) -> int:
    """The class whose weights are drawn: y, else the predicted one (0 for
    two classes, whose w is one vector)."""
    if not graph.multiclass:
        return 0
    if graph.y is not None:
        return graph.y
    return graph.classes.index(graph.predicted)


def check_line(graph: NeuronGraph) -> str:
    """The finite-difference check in one line (empty without a label)."""
    return "; ".join(_checks(graph))


def _checks(graph: NeuronGraph) -> list[str]:
    """The finite-difference check: what was done, then each derivative."""
    if not graph.checks:
        return []
    return [
        f"Finite differences, (L(t+h) \N{MINUS SIGN} L(t\N{MINUS SIGN}h))/2h, "
        f"h = {graph.step:g}",
        *(
            f"{check.name}: {check.analytic:.9g} analytic, {check.numeric:.9g} "
            f"numeric, differ by {check.difference:.1e}"
            for check in graph.checks
        ),
    ]


def graph_figure(graph: NeuronGraph, *, layout: str = "wide") -> Figure:
    """The computation graph of one picture (see the module's docstring).

    Parameters
    ----------
    graph : NeuronGraph
        From :func:`logitnet.app.graph.neuron_graph`.
    layout : {"wide", "tall"}
        ``"wide"``: left to right, 15 x 7.4 inches, for a screen or a file.
        ``"tall"``: top to bottom, 3.35 inches wide, its text 1.05 times
        larger, so that a phone shows it near its drawn size.

    Returns
    -------
    Figure

    Raises
    ------
    ValueError
        If ``layout`` is neither.
    """
    if layout not in ("wide", "tall"):
        raise ValueError(f'layout must be "wide" or "tall"; got {layout!r}')
    import matplotlib

    places = TALL if layout == "tall" else WIDE
    # Relative sizes ("small") are fixed when each text is made.
    with matplotlib.rc_context({"font.size": places.font}):
        return _draw(graph, places)


def _draw(graph: NeuronGraph, places: _Places) -> Figure:
    fig = Figure(figsize=places.size)
    _draw_pictures(fig, graph, places)
    over = fig.add_axes((0, 0, 1, 1), zorder=-1)
    over.set_axis_off()
    over.set_xlim(0, 1)
    over.set_ylim(0, 1)
    texts = _node_texts(graph)
    _draw_forward(over, texts, places, graph.label is not None)
    if graph.label is not None:
        _draw_backward(over, texts, places)
        if places.vertical:
            lines = "\n".join(
                textwrap.fill(line, places.wrap) for line in _checks(graph)
            )
        else:
            lines = textwrap.fill(check_line(graph), places.wrap)
        over.text(
            *places.check,
            lines,
            ha="center",
            va="bottom",
            fontsize="small",
        )
    else:
        over.text(
            *places.loss,
            textwrap.fill(
                "Give the picture's true class to see y, the loss L(a, y) "
                "and the derivatives flowing back.",
                30 if places.vertical else 34,
            ),
            ha="center",
            va="center",
            fontsize="small",
            color="#555555",
        )
    return fig


def _draw_pictures(fig: Figure, graph: NeuronGraph, places: _Places) -> None:
    """The input picture, the x strip, the weights and dL/dw."""
    shape = graph.image.shape
    n_x = graph.x.size
    picture = fig.add_axes(places.picture)
    _show(
        picture,
        graph.image,
        f"your picture, {shape[0]}\N{MULTIPLICATION SIGN}{shape[1]}",
    )
    strip = fig.add_axes(places.strip)
    # The pixels in the order the neuron reads them: row after row.
    pixels = graph.x.reshape(-1, shape[2])
    stripe = pixels[None] if places.vertical else pixels[:, None]
    if shape[2] == 1:
        strip.imshow(stripe[..., 0], cmap="gray", vmin=0, vmax=1, aspect="auto")
    else:
        strip.imshow(stripe, aspect="auto", interpolation="antialiased")
    strip.set_xticks([])
    strip.set_yticks([])
    title = f"x: {n_x:,} numbers\n= pixels / 255"
    if places.vertical:
        strip.set_xlabel(title.replace("\n", " "), fontsize="small")
    else:
        strip.set_title(title, fontsize="small")
    column = _column(graph)
    w = graph.w if graph.w.ndim == 1 else graph.w[:, column]
    weights = fig.add_axes(places.weights)
    _show_signed(weights, weights_to_rgb(w, shape))
    which = "" if not graph.multiclass else f"_{_literal(graph.classes[column])[:12]}"
    weights.set_title(f"w{which} (grey = 0)", fontsize="small")
    if graph.dL_dw is None:
        return
    gradient = fig.add_axes(places.gradient)
    dw = graph.dL_dw if graph.dL_dw.ndim == 1 else graph.dL_dw[:, column]
    # Each pixel's change summed over its channels: where the step acts (the
    # title says so: the bar's numbers are sums of 3 components, not one).
    per_pixel = dw.reshape(shape).sum(axis=2)
    limit = float(np.max(np.abs(per_pixel))) or 1.0
    shown = gradient.imshow(
        per_pixel, cmap=DIVERGING, vmin=-limit, vmax=limit, interpolation="nearest"
    )
    gradient.set_axis_off()
    gradient.set_title(
        f"dL/dw{which} = x\N{MIDDLE DOT}dz{_summed(shape[2])}\n"
        "(red: a gradient step lowers w)",
        fontsize="small",
        color=BACKWARD,
    )
    bar = fig.colorbar(
        shown, ax=gradient, shrink=0.8, orientation="horizontal", pad=0.03
    )
    bar.ax.tick_params(labelsize="x-small")


def _show_signed(ax, rgb) -> None:
    """A weights picture (:func:`logitnet.viz.plots.weights_to_rgb`)."""
    if rgb.shape[-1] == 3:
        ax.imshow(rgb, interpolation="nearest")
    else:
        ax.imshow(rgb[..., 0], cmap="gray", vmin=0, vmax=1, interpolation="nearest")
    ax.set_axis_off()


def _summed(channels: int) -> str:
    """What each pixel of the dL/dw picture adds up, said in its title."""
    if channels == 1:
        return ""
    return ", each pixel's R+G+B" if channels == 3 else f", {channels} channels summed"


def _centre(rect) -> tuple[float, float]:
    left, bottom, width, height = rect
    return left + width / 2, bottom + height / 2


def _node(ax, xy, text: str, colour: str = FORWARD, face: str = "#f4f6fb") -> None:
    ax.text(
        *xy,
        text,
        ha="center",
        va="center",
        fontsize="medium",
        color=colour,
        bbox={"boxstyle": "round,pad=0.45", "fc": face, "ec": colour},
    )


def _arrow(ax, start, end, colour: str = FORWARD) -> None:
    ax.annotate(
        "",
        xy=end,
        xytext=start,
        arrowprops={"arrowstyle": "-|>", "color": colour, "lw": 1.4, "shrinkA": 0},
    )


def _draw_forward(ax, texts: dict[str, str], places: _Places, labelled: bool) -> None:
    """The nodes and the forward arrows."""
    z, a, loss, b, y = places.z, places.a, places.loss, places.b, places.y
    strip = _centre(places.strip)
    picture = _centre(places.picture)
    weights = _centre(places.weights)
    if places.vertical:
        _arrow(
            ax, (picture[0], places.picture[1] - 0.004), (picture[0], strip[1] + 0.008)
        )
        _arrow(ax, (strip[0], places.strip[1] - 0.02), (z[0] - 0.05, z[1] + 0.035))
        _arrow(ax, (weights[0], places.weights[1] - 0.005), (z[0] + 0.08, z[1] + 0.035))
        _arrow(ax, (b[0] - 0.12, b[1]), (z[0] + 0.15, z[1] + 0.015))
        _arrow(ax, (z[0], z[1] - 0.03), (a[0], a[1] + 0.05))
        if labelled:
            _arrow(ax, (a[0], a[1] - 0.05), (loss[0], loss[1] + 0.045))
            _arrow(ax, (y[0], y[1] + 0.015), (loss[0] + 0.2, loss[1] - 0.035))
    else:
        picture_right = places.picture[0] + places.picture[2]
        strip_right = places.strip[0] + places.strip[2]
        _arrow(
            ax,
            (picture_right + 0.002, picture[1]),
            (places.strip[0] - 0.003, picture[1]),
        )
        _arrow(ax, (strip_right + 0.003, z[1]), (z[0] - 0.055, z[1]))
        weights_right = places.weights[0] + places.weights[2]
        _arrow(ax, (weights_right + 0.003, weights[1]), (z[0] - 0.05, z[1] - 0.03))
        _arrow(ax, (b[0] + 0.01, b[1] + 0.025), (z[0] - 0.01, z[1] - 0.055))
        _arrow(ax, (z[0] + 0.055, z[1]), (a[0] - 0.05, a[1]))
        if labelled:
            _arrow(ax, (a[0] + 0.05, a[1]), (loss[0] - 0.1, loss[1]))
            _arrow(ax, (y[0], y[1] - 0.03), (loss[0], loss[1] + 0.07))
    _node(ax, z, texts["z"])
    _node(ax, a, texts["a"])
    _node(ax, b, texts["b"])
    if labelled:
        _node(ax, loss, texts["loss"])
        _node(ax, y, texts["y"], face="#ffffff")


def _draw_backward(ax, texts: dict[str, str], places: _Places) -> None:
    """The derivatives, in red, flowing back along the edges."""
    z, a, loss, b = places.z, places.a, places.loss, places.b
    left, bottom, _, height = places.gradient
    label = {"fontsize": "small", "color": BACKWARD}
    if places.vertical:
        label["va"] = "center"
        x = 0.93
        _arrow(ax, (x, loss[1]), (x, a[1]), BACKWARD)
        ax.text(x - 0.03, (loss[1] + a[1]) / 2, texts["dL_da"], ha="right", **label)
        _arrow(ax, (x, a[1]), (x, z[1]), BACKWARD)
        ax.text(x - 0.03, (a[1] + z[1]) / 2, texts["dL_dz"], ha="right", **label)
        _arrow(ax, (x, z[1]), (x, b[1] - 0.012), BACKWARD)
        ax.text(
            x - 0.03, (z[1] + b[1]) / 2 - 0.005, texts["dL_db"], ha="right", **label
        )
        for node in (loss, a, z):
            ax.plot(
                [node[0] + 0.17, x], [node[1], node[1]], color=BACKWARD, lw=1, ls=":"
            )
        # dz goes on to every weight: down the left margin to dL/dw.
        ax.plot(
            [z[0] - 0.14, 0.05, 0.05],
            [z[1], z[1], bottom + height / 2],
            color=BACKWARD,
            lw=1.4,
        )
        _arrow(
            ax,
            (0.05, bottom + height / 2),
            (left - 0.01, bottom + height / 2),
            BACKWARD,
        )
        return
    row = 0.5
    label["ha"] = "center"
    for node in (loss, a, z):
        ax.plot([node[0], node[0]], [node[1] - 0.08, row], color=BACKWARD, lw=1, ls=":")
    _arrow(ax, (loss[0], row), (a[0], row), BACKWARD)
    ax.text((loss[0] + a[0]) / 2, row - 0.015, texts["dL_da"], va="top", **label)
    _arrow(ax, (a[0], row), (z[0], row), BACKWARD)
    ax.text((a[0] + z[0]) / 2 + 0.02, row - 0.015, texts["dL_dz"], va="top", **label)
    _arrow(ax, (z[0], row), (b[0] + 0.05, b[1] + 0.01), BACKWARD)
    ax.text(b[0], b[1] - 0.04, texts["dL_db"], va="top", **label)
    # dz goes on to every weight: down from z, then into dL/dw.
    middle = bottom + height / 2
    ax.plot([z[0], z[0]], [row, middle], color=BACKWARD, lw=1.4)
    _arrow(ax, (z[0], middle), (left - 0.005, middle), BACKWARD)


def save_graph(fig: Figure, path: str | os.PathLike[str]) -> Path:
    """Write ``fig`` at ``path``, atomically, as PNG or SVG by its suffix.

    Raises
    ------
    ValueError
        If the suffix is neither ``.png`` nor ``.svg``.
    OutputPathError
        If the directory is missing or ``path`` is a directory.
    """
    kind = _kind(Path(path).suffix)
    with atomic_path(path) as tmp:
        tmp.write_bytes(graph_bytes(fig, kind))
    return Path(path)


def _kind(suffix: str) -> str:
    if suffix.lower() not in FORMATS:
        raise ValueError(
            f"a graph is written as .png or .svg; got {suffix or 'no suffix'!r}"
        )
    return suffix.lower()[1:]


def graph_bytes(fig: Figure, kind: str = "png") -> bytes:
    """``fig`` as the bytes of a PNG or an SVG file (``kind``: "png", "svg").

    The SVG keeps its text as text (searchable, selectable, small), in the
    reader's sans-serif font.
    """
    import matplotlib

    buffer = io.BytesIO()
    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": "logitnet"}):
        fig.savefig(
            buffer,
            format=kind,
            dpi=DPI,
            bbox_inches="tight",
            metadata={"Date": None} if kind == "svg" else None,
        )
    return buffer.getvalue()
