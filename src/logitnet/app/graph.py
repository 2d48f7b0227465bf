"""The neuron's computation graph for one picture: every value on it.

The course draws the neuron as a graph, left to right, and derives the
gradient by walking it back with the chain rule:

    forward    x, w, b  ->  z = w . x + b  ->  a = sigma(z)  ->  L(a, y)
    backward   dL/da = -y/a + (1 - y)/(1 - a)
               dL/dz = dL/da * da/dz = a - y
               dL/dw = x dL/dz,   dL/db = dL/dz

For a model of k >= 3 classes the graph is the softmax's: z_j = w_j . x +
b_j, a = softmax(z), L = -log a_y, dL/dz = a - onehot(y), dL/dW = x dz^T.

:func:`neuron_graph` computes them all for one picture, and computes none
of them itself: the forward values are :func:`logitnet.app.prediction.
classify`'s (the path every prediction takes, so ``a`` is ``predict``'s
probability to the last bit), and the loss and its gradient are
:func:`logitnet.core.loss.loss_and_grad`'s on the one picture as a batch of
one (m = 1, so the cost J is the loss L, dw = x dz and db = dz). The
finite-difference check evaluates the same ``loss_and_grad`` at b +- h and
at one weight +- h. Only dL/da, which no solver needs, is written here: the
course's formula evaluated with both classes' probabilities, so that
1 - a is never a rounded subtraction.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

if TYPE_CHECKING:
    from logitnet.app.modelfile import SavedModel

__all__ = ["FINITE_DIFFERENCE_STEP", "FiniteDifference", "NeuronGraph", "neuron_graph"]

#: h of the central differences (L(t + h) - L(t - h)) / 2h: their error is
#: h^2 |L'''| / 6 (about 1e-13 here, |L'''| <= 0.1 for a sigmoid's loss)
#: plus the loss's rounding over h (about 1e-10), far below what the check
#: must tell apart (a wrong derivative is wrong in its first digits).
FINITE_DIFFERENCE_STEP = 1e-6


@dataclass(frozen=True)
class FiniteDifference:
    """One derivative checked against the loss itself.

    Attributes
    ----------
    name : str
        What was checked: ``"dL/db"``, ``"dL/dw[1234]"``.
    analytic : float
        The gradient's value (:func:`logitnet.core.loss.loss_and_grad`).
    numeric : float
        (L(t + h) - L(t - h)) / 2h, with the same function's loss.
    """

    name: str
    analytic: float
    numeric: float

    @property
    def difference(self) -> float:
        """|analytic - numeric|."""
        return abs(self.analytic - self.numeric)


@dataclass(frozen=True)
class NeuronGraph:
    """Every value on the computation graph of one picture.

    Two classes: z, a, dL/da, dL/dz and dL/db are floats, ``a`` the
    probability of ``classes[1]``. k >= 3 classes: arrays of shape (k,), in
    the order of ``classes``. The backward values are None without a label.

    Attributes
    ----------
    image : ndarray of shape (height, width, channels), uint8
        The picture as the model takes it.
    x : ndarray of shape (n_x,), float64
        The picture flattened (C order) and divided by 255: the input.
    w : ndarray of shape (n_x,), or (n_x, k)
    b : float, or ndarray of shape (k,)
    classes : list of str
    predicted : str
        The most probable class (``predict``'s label).
    z, a : float, or ndarray of shape (k,), float64
        The decision value(s) and the probability (probabilities).
    label : str or None
        The picture's true class, when given; ``y`` is its index (0 or 1
        for two classes, as the course writes y).
    y : int or None
    loss : float or None
        L(a, y).
    dL_da, dL_dz, dL_db : float, or ndarray of shape (k,), or None
        For k classes, dL/da is 0 but at the true class, -1/a_y.
    dL_dw : ndarray of the shape of w, float64, or None
        x dL/dz: what one gradient-descent step would change, pixel by pixel.
    checks : tuple of FiniteDifference
        dL/db (the true class's for k classes) and the dL/dw component
        largest in size; empty without a label.
    step : float
        h of the finite differences.
    """

    image: NDArray[np.uint8]
    x: NDArray[np.float64]
    w: NDArray[np.float64]
    b: float | NDArray[np.float64]
    classes: list[str]
    predicted: str
    z: float | NDArray[np.float64]
    a: float | NDArray[np.float64]
    label: str | None = None
    y: int | None = None
    loss: float | None = None
    dL_da: float | NDArray[np.float64] | None = None
    dL_dz: float | NDArray[np.float64] | None = None
    dL_db: float | NDArray[np.float64] | None = None
    dL_dw: NDArray[np.float64] | None = None
    checks: tuple[FiniteDifference, ...] = ()
    step: float = FINITE_DIFFERENCE_STEP

    @property
    def multiclass(self) -> bool:
        """Whether this is the softmax neuron of k >= 3 classes."""
        return np.ndim(self.z) == 1

    def as_json(self) -> dict[str, Any]:
        """Every number of the graph under a plain name (``graph --json``).

        The pictures (x, w, dL/dw) are given by their size and range; each
        class's values are lists in the order of ``classes``; a value that
        is infinite (dL/da where a probability rounded to 0) is None.
        """

        def number(value) -> float | None:
            # JSON has no inf: dL/da of a probability that rounded to 0.
            value = float(value)
            return value if np.isfinite(value) else None

        def plain(value):
            if value is None:
                return None
            if np.ndim(value) == 0:
                return number(value)
            return [number(v) for v in value]

        def span(values):
            return (
                None if values is None else [float(values.min()), float(values.max())]
            )

        answer = {
            "classes": list(self.classes),
            "predicted": self.predicted,
            "softmax": self.multiclass,
            "n_x": int(self.x.size),
            "x_range": span(self.x),
            "w_range": span(self.w),
            "b": plain(self.b),
            "z": plain(self.z),
            "a": plain(self.a),
            "label": self.label,
            "y": self.y,
            "loss": plain(self.loss),
            "dL_da": plain(self.dL_da),
            "dL_dz": plain(self.dL_dz),
            "dL_db": plain(self.dL_db),
            "dL_dw_range": span(self.dL_dw),
            "finite_difference": None,
        }
        if self.checks:
            answer["finite_difference"] = {
                "step": self.step,
                "checks": [
                    {
                        "name": check.name,
                        "analytic": check.analytic,
                        "numeric": check.numeric,
                        "difference": check.difference,
                    }
                    for check in self.checks
                ],
            }
        return answer


def neuron_graph(
    model: SavedModel, image: NDArray[np.uint8], label: str | None = None
) -> NeuronGraph:
    """The computation graph of ``model`` for one picture, forward and, with
    its true class, backward.

    Parameters
    ----------
    model : SavedModel
        A model of pictures (``image_shape`` set).
    image : ndarray of shape ``model.image_shape``, uint8
    label : str, optional
        One of ``model.classes``: the picture's true class, y.

    Returns
    -------
    NeuronGraph

    Raises
    ------
    ValueError
        If the image does not have the model's shape, or ``label`` is not
        one of its classes (naming them).
    """
    from logitnet.app.prediction import classify, model_input

    image = np.asarray(image)
    X = model_input(model, image[None])  # (1, n_x): one picture, one row
    answer = classify(model, image[None])
    multiclass = answer.decision_values.ndim == 2
    probabilities = answer.probabilities[0]
    if multiclass:
        z, a = answer.decision_values[0], probabilities
    else:
        # Both are predict's numbers: z itself, and sigma(z) as classes[1]'s
        # probability, bit for bit.
        z, a = float(answer.decision_values[0]), float(probabilities[1])
    forward = NeuronGraph(
        image=image,
        x=X[0],
        w=np.asarray(model.w),
        b=model.b,
        classes=list(model.classes),
        predicted=answer.labels[0],
        z=z,
        a=a,
    )
    if label is None:
        return forward
    if label not in model.classes:
        known = ", ".join(repr(c) for c in model.classes)
        raise ValueError(f"label {label!r} is not a class of the model ({known})")
    y = model.classes.index(label)
    return _backward(forward, X, probabilities, label, y)


def _backward(
    graph: NeuronGraph,
    X: NDArray[np.float64],
    probabilities: NDArray[np.float64],
    label: str,
    y: int,
) -> NeuronGraph:
    """``graph`` with its backward values for the true class ``y``."""
    from dataclasses import replace

    from logitnet.core.loss import loss_and_grad

    labels = np.array([float(y)])
    loss, dw, db = loss_and_grad(graph.w, graph.b, X, labels)
    h = FINITE_DIFFERENCE_STEP

    def loss_at(w, b) -> float:
        return loss_and_grad(w, b, X, labels)[0]

    if graph.multiclass:
        # L = -log a_y: only a_y moves it.
        dL_da = np.zeros_like(probabilities)
        with np.errstate(divide="ignore"):  # a_y rounded to 0: inf, shown so
            dL_da[y] = -1.0 / probabilities[y]
        dL_dz = dL_db = np.asarray(db, np.float64)
        b_step = np.zeros_like(dL_db)
        b_step[y] = h
        b_check = FiniteDifference(
            f"dL/db[{graph.classes[y]}]",
            float(dL_db[y]),
            (loss_at(graph.w, graph.b + b_step) - loss_at(graph.w, graph.b - b_step))
            / (2 * h),
        )
    else:
        # -y/a + (1 - y)/(1 - a), one term of which is 0; 1 - a is
        # classes[0]'s probability sigma(-z), exact where a is near 1.
        with np.errstate(divide="ignore"):  # the class's a rounded to 0: inf
            dL_da = float(
                np.float64(-1.0) / probabilities[1]
                if y == 1
                else np.float64(1.0) / probabilities[0]
            )
        dL_dz = dL_db = float(db)
        b_check = FiniteDifference(
            "dL/db",
            dL_db,
            (loss_at(graph.w, graph.b + h) - loss_at(graph.w, graph.b - h)) / (2 * h),
        )
    dL_dw = np.asarray(dw, np.float64)
    # The weight whose derivative is largest: x_j dz is checked where it
    # is far from 0, so the relative difference means something.
    j = int(np.argmax(np.abs(dL_dw)))
    w_step = np.zeros(dL_dw.size)
    w_step[j] = h
    w_step = w_step.reshape(dL_dw.shape)
    where = np.unravel_index(j, dL_dw.shape)
    name = f"dL/dw[{where[0]}]" if len(where) == 1 else f"dL/dW[{where[0]}, {where[1]}]"
    w_check = FiniteDifference(
        name,
        float(dL_dw.flat[j]),
        (loss_at(graph.w + w_step, graph.b) - loss_at(graph.w - w_step, graph.b))
        / (2 * h),
    )
    return replace(
        graph,
        label=label,
        y=y,
        loss=float(loss),
        dL_da=float(dL_da) if np.ndim(dL_da) == 0 else dL_da,
        dL_dz=dL_dz,
        dL_db=dL_db,
        dL_dw=dL_dw,
        checks=(b_check, w_check),
    )
