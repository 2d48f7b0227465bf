"""Training on pictures: from a data set to a model file's contents.

The data is the course's two HDF5 files, or a folder of your own photos
(``DIR/<class name>/<images>``, two classes or more) split into training
and test images with a seed. Training is :class:`logitnet.LogisticRegression`
on the flattened, scaled pictures (two classes: the course's sigmoid neuron;
k >= 3: the softmax one, an output per class); the result is a
:class:`~logitnet.app.modelfile.SavedModel` with the settings, the cost
curve and the metrics on both sets, ready to save.
:func:`train_cat_classifier` is the course's run (and ``logitnet train``'s
default) as one call; :func:`train_on_file` trains out of core, with Dask,
on a file larger than memory.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from logitnet.app.model import SavedModel, cost_every
from logitnet.app.modelschema import check_picture_shape
from logitnet.core.solvers import Step
from logitnet.data.storage import recorded
from logitnet.exceptions import DataError

__all__ = [
    "ImageData",
    "accuracy_lines",
    "cost_every",
    "cost_printer",
    "load_data",
    "score",
    "train",
    "train_cat_classifier",
    "train_on_file",
]


@dataclass
class ImageData:
    """Labelled pictures, split into a training and a test set.

    Attributes
    ----------
    train_images : ndarray of shape (m, height, width, 3), uint8
    train_labels : ndarray of shape (m,), int64
        0 .. k-1, indices into ``classes``.
    test_images : ndarray of shape (k, height, width, 3), uint8
        k may be 0: no test set.
    test_labels : ndarray of shape (k,), int64
    classes : list of str
        The class names, two or more; label i is ``classes[i]``.
    source : dict
        Where the pictures came from, recorded in the model file.
    """

    train_images: NDArray[np.uint8]
    train_labels: NDArray[np.int64]
    test_images: NDArray[np.uint8]
    test_labels: NDArray[np.int64]
    classes: list[str]
    source: dict[str, Any] = field(default_factory=dict)

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return tuple(int(n) for n in self.train_images.shape[1:])


def load_data(
    *,
    data_dir: str | os.PathLike[str] | None = None,
    verify: bool = True,
    images: str | os.PathLike[str] | None = None,
    test_fraction: float = 0.2,
    seed: int = 0,
    image_shape: tuple[int, int, int] = (64, 64, 3),
    progress: Callable[[Iterable[Path]], Iterable[Path]] | None = None,
    splits: tuple[str, ...] = ("train", "test"),
) -> ImageData:
    """The course's data, or a folder of your own pictures.

    Parameters
    ----------
    data_dir : path-like, optional
        The course's files (see :func:`logitnet.data.cats.load_dataset`);
        used when ``images`` is None.
    verify : bool, default=True
        Refuse course files whose SHA-256 is not the course's.
    images : path-like, optional
        An image folder, ``DIR/<class name>/<images>`` with two classes or
        more (:func:`logitnet.data.images.load_image_folder`).
    test_fraction : float in [0, 1), default=0.2
        Share of an image folder held out for testing (stratified: each
        class in its share).
    seed : int, default=0
        Seed of that split: the same seed, the same split.
    image_shape : (height, width, 3), default=(64, 64, 3)
        The size an image folder's pictures are brought to: height and
        width at most :data:`~logitnet.app.modelschema.MAX_IMAGE_SIDE`.
    progress : callable, optional
        Wraps the list of image files being read (a progress bar).
    splits : tuple of {"train", "test"}, default=("train", "test")
        The course's files to read (and download, where they are fetched):
        a split left out holds no pictures. An image folder is read whole,
        as its split needs it.

    Returns
    -------
    ImageData
    """
    if images is not None:
        from logitnet.data.images import load_image_folder, split_dataset

        check_picture_shape(image_shape, "image_shape")  # before any is read
        pictures, labels, classes, _ = load_image_folder(
            images, image_shape, progress=progress
        )
        train_x, train_y, test_x, test_y = split_dataset(
            pictures, labels, test_fraction=test_fraction, seed=seed
        )
        source = {
            "kind": "image folder",
            "path": str(Path(images).resolve()),
            "test_fraction": test_fraction,
            "seed": seed,
        }
        return ImageData(train_x, train_y, test_x, test_y, classes, source)
    from logitnet.data.cats import load_dataset, load_split, resolve_data_dir
    from logitnet.data.layout import class_names

    if set(splits) >= {"train", "test"}:
        train_x, train_y, test_x, test_y, classes = load_dataset(
            data_dir, verify=verify
        )
    else:
        (split,) = splits
        x, y, classes = load_split(split, data_dir, verify=verify)
        none = (x[:0], y[:, :0])
        train_x, train_y, test_x, test_y = (
            (x, y, *none) if split == "train" else (*none, x, y)
        )
    directory = resolve_data_dir(data_dir)
    return ImageData(
        train_x,
        train_y.reshape(-1),
        test_x,
        test_y.reshape(-1),
        class_names(classes),
        {
            "kind": "course HDF5",
            "path": str(directory.resolve()) if directory else "download cache",
            "verified": verify,
        },
    )


def train(
    data: ImageData,
    *,
    solver: str = "gd",
    learning_rate: float = 0.005,
    max_iter: int = 2000,
    alpha: float = 0.0,
    tol: float | None = None,
    class_weight: str | dict | None = None,
    callback: Callable[[Step], object] | None = None,
) -> tuple[SavedModel, str | None]:
    """Fit one neuron to ``data``'s training pictures; score both sets.

    Parameters
    ----------
    data : ImageData
    solver : {"gd", "lbfgs"}, default="gd"
        ``"gd"`` is the course's fixed-step gradient descent from zeros;
        with the defaults on the course's data it reproduces the course's
        published run. ``"lbfgs"`` reaches a lower cost much faster.
    learning_rate : float, default=0.005
        Step size of ``"gd"``.
    max_iter : int, default=2000
        Iterations (``"gd"`` runs exactly this many unless ``tol`` is met).
    alpha : float, default=0.0
        L2 penalty strength.
    tol : float, optional
        Stop once the largest gradient component is below it. Default: 0
        for ``"gd"`` (run every iteration, as the course does), 1e-4 for
        ``"lbfgs"``.
    class_weight : None, "balanced" or dict {class index: weight}, optional
        Weights of the classes (labels 0 .. k-1, see
        :class:`logitnet.LogisticRegression`).
    callback : callable, optional
        ``callback(step)`` once per iteration with a
        :class:`~logitnet.core.solvers.Step` (iteration, cost, the
        gradient's size against ``tol``): a progress display.

    Returns
    -------
    model : SavedModel
        Weights, classes, image shape, made by
        :meth:`logitnet.app.model.SavedModel.from_estimator`. ``training``
        holds

        - ``data`` (``data.source``), ``n_train``, ``n_test``: the pictures;
        - ``solver``, ``learning_rate``, ``num_iterations`` (``max_iter``),
          ``alpha``, ``tol``, ``class_weight`` (by class name),
          ``fit_intercept``, ``dtype`` (``"float64"``),
          ``representation_setting``: the estimator's settings;
        - ``representation``: where the solver computed, ``"primal"`` or
          ``"span"`` (the span of the examples, when there are fewer
          pictures than pixels);
        - ``n_iter``, ``converged``: the iterations run, and whether the
          gradient fell below ``tol``;
        - ``final_cost``: the cost at the returned weights;
        - ``cost_every``, ``costs``: the cost at iterations 0,
          ``cost_every``, 2 * ``cost_every``, ... before ``n_iter`` (every
          100 for ``"gd"``, as the course records it; every one for
          ``"lbfgs"``).

        ``metrics`` holds ``train_accuracy`` and ``test_accuracy`` in
        percent (the course's numbers) and the full metrics of each set
        under ``train`` and ``test`` (see :mod:`logitnet.app.evaluation`);
        the test entries only when there is a test set.
    warning : str or None
        Why an ``"lbfgs"`` fit stopped before ``tol``, if it did.
    """
    from logitnet.app.prediction import pictures_to_X

    check_picture_shape(data.image_shape, "the pictures' shape")
    X = pictures_to_X(data.train_images)
    estimator, warning = _fit(
        X,
        data.train_labels,
        solver=solver,
        learning_rate=learning_rate,
        max_iter=max_iter,
        alpha=alpha,
        tol=tol,
        class_weight=class_weight,
        dtype=np.float64,
        callback=callback,
    )
    model = SavedModel.from_estimator(
        estimator,
        classes=list(data.classes),
        image_shape=data.image_shape,
        training={
            "data": data.source,
            "n_train": int(data.train_labels.size),
            "n_test": int(data.test_labels.size),
        },
    )
    model.metrics = score(model, data)
    return model, warning


def train_cat_classifier(
    data_dir: str | os.PathLike[str] | None = None,
    *,
    num_iterations: int = 2000,
    learning_rate: float = 0.005,
    print_cost: bool = False,
    verify: bool = True,
) -> SavedModel:
    """The course's main job: train on the cat data with gradient descent.

    Exactly what ``logitnet train`` does with these settings, as one call:
    :func:`load_data` then :func:`train` with ``solver="gd"``; the returned
    model is the one ``logitnet train --out`` saves.

    Parameters
    ----------
    data_dir : path-like, optional
        Where the course's files are (see :func:`load_data`).
    num_iterations : int, default=2000
    learning_rate : float, default=0.005
        The course's settings for its published run.
    print_cost : bool, default=False
        Print the course's report on stdout: ``Cost after iteration i: c``
        every 100 iterations, then ``train accuracy: ... %`` and
        ``test accuracy: ... %``.
    verify : bool, default=True
        Refuse course files whose SHA-256 is not the course's.

    Returns
    -------
    SavedModel
        As :func:`train` returns it, ready for
        :func:`logitnet.app.modelfile.save_model`.

    Raises
    ------
    DataError
        When the data cannot be found or is not valid.
    ValueError
        For settings out of range.
    DivergenceError
        When the learning rate is so large that the weights overflow.

    Examples
    --------
    With the course's files in ``LOGITNET_DATA_DIR`` (or downloaded on
    first use), 100 of the course's iterations reach the cost it prints
    after iteration 100:

    >>> from logitnet.app.training import train_cat_classifier
    >>> model = train_cat_classifier(num_iterations=100)
    >>> model.classes
    ['non-cat', 'cat']
    >>> round(model.training["final_cost"], 6)
    0.584508
    """
    data = load_data(data_dir=data_dir, verify=verify)
    # A fixed number of gradient-descent steps never warns: no warning to show.
    model, _ = train(
        data,
        solver="gd",
        learning_rate=learning_rate,
        max_iter=num_iterations,
        callback=cost_printer("gd") if print_cost else None,
    )
    if print_cost:
        for line in accuracy_lines(model.metrics):
            print(line)
    return model


def cost_printer(
    solver: str, write: Callable[[str], object] = print
) -> Callable[[Step], None]:
    """A ``callback(step)`` for :func:`train` that writes the
    course's line ``Cost after iteration i: c`` every :func:`cost_every`
    iterations.

    Parameters
    ----------
    solver : {"gd", "lbfgs"}
    write : callable, default=print
        Takes one line (a progress bar's ``write``, so the bar is not torn).
    """
    from logitnet.course.neuron import cost_line

    every = cost_every(solver)

    def print_cost(step: Step) -> None:
        if step.iteration % every == 0:
            write(cost_line(step.iteration, step.cost))

    return print_cost


def accuracy_lines(metrics: dict[str, Any]) -> list[str]:
    """The course's ``train accuracy: ... %`` and ``test accuracy: ... %``
    lines for a model's metrics (the test line only when there is a test set).
    """
    from logitnet.course.neuron import accuracy_line

    return [
        accuracy_line(split, metrics[f"{split}_accuracy"])
        for split in ("train", "test")
        if f"{split}_accuracy" in metrics
    ]


def score(model: SavedModel, data: ImageData) -> dict[str, Any]:
    """The model's metrics on ``data``'s training and (if any) test pictures."""
    from logitnet.app.evaluation import evaluate

    metrics: dict[str, Any] = {}
    for split, images, labels in (
        ("train", data.train_images, data.train_labels),
        ("test", data.test_images, data.test_labels),
    ):
        if labels.size:
            _record(metrics, split, evaluate(model, images, labels))
    return metrics


def _record(metrics: dict[str, Any], split: str, result) -> None:
    """One split's metrics, and its accuracy in percent by the course's own
    formula, 100 - mean(|prediction - y|) * 100, so that the report prints
    the course's digits. |prediction - y| is read as prediction != y, which
    holds for k classes and, for two, is the same 0 or 1 (the mean of whole
    numbers: the same bits)."""
    wrong = result.predicted != result.labels
    metrics[f"{split}_accuracy"] = float(100 - np.mean(wrong) * 100)
    metrics[split] = result.metrics


def train_on_file(
    path: str | os.PathLike[str],
    *,
    solver: str = "lbfgs",
    learning_rate: float = 0.005,
    max_iter: int = 100,
    alpha: float = 0.0,
    tol: float | None = None,
    class_weight: str | dict | None = None,
    scheduler: str | None = None,
    callback: Callable[[Step], object] | None = None,
) -> tuple[SavedModel, str | None]:
    """Train out of core on a file too large for memory, with Dask.

    The file (HDF5 or zarr, the course's layout) is opened lazily with
    :func:`logitnet.data.reader.open_images` in float32; each loss and gradient
    evaluation is one pass over it, chunk by chunk, in bounded memory, on
    this machine's threads or, with ``scheduler``, on that Dask cluster
    (whose workers must see the file at the same path).

    Parameters
    ----------
    path : path-like
    solver, learning_rate, max_iter, alpha, tol, class_weight, callback
        As :func:`train`; ``max_iter`` is the number of passes at most.
    scheduler : str, optional
        Address of a running Dask scheduler, e.g. ``"tcp://10.0.0.1:8786"``.

    Returns
    -------
    model : SavedModel
        As :func:`train`, with ``dtype`` ``"float32"`` and ``scheduler``
        in ``training``; the metrics are computed in one more pass over each
        split (the test split only when the file has ``test_set_x``).
    warning : str or None

    Raises
    ------
    DataError
        As :func:`logitnet.data.reader.open_images`, or when the file's
        pictures are larger than a model of pictures takes
        (:func:`logitnet.app.modelschema.check_picture_shape`): found from
        the file's metadata, before any work.
    """
    from logitnet.backends.dask import connect
    from logitnet.data.reader import describe_images, open_images

    info = describe_images(path)
    try:
        check_picture_shape(info["image_shape"], "the pictures' shape")
    except ValueError as e:
        raise DataError(f"{path}: {e}") from None  # found before any work
    X, y = open_images(path, "train", dtype=np.float32)
    splits = {"train": (X, y)}
    if info["n_test"]:
        splits["test"] = open_images(path, "test", dtype=np.float32)
    with connect(scheduler):
        estimator, warning = _fit(
            X,
            y,
            solver=solver,
            learning_rate=learning_rate,
            max_iter=max_iter,
            alpha=alpha,
            tol=tol,
            class_weight=class_weight,
            dtype=np.float32,
            callback=callback,
        )
        metrics = _score_lazily(estimator, splits)
    model = SavedModel.from_estimator(
        estimator,
        classes=info["classes"],
        image_shape=info["image_shape"],
        training={
            "data": {"kind": "out-of-core file", "path": recorded(path)},
            "n_train": info["n_train"],
            "n_test": info["n_test"],
            "scheduler": scheduler,
        },
    )
    model.metrics = metrics
    return model, warning


def _fit(
    X, y, *, solver, learning_rate, max_iter, alpha, tol, class_weight, dtype, callback
):
    """The fitted estimator, and why it stopped before ``tol`` if that matters."""
    from sklearn.exceptions import ConvergenceWarning

    from logitnet.core.estimator import DivergenceWarning, LogisticRegression

    if tol is None:
        tol = 0.0 if solver == "gd" else 1e-4
    estimator = LogisticRegression(
        solver=solver,
        learning_rate=learning_rate,
        max_iter=max_iter,
        alpha=alpha,
        tol=tol,
        class_weight=class_weight,
        dtype=dtype,
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        estimator.fit(X, y, callback=callback)
    warning = None
    # A fixed step count is not a failure; a cost that rises always is.
    diverging = [w for w in caught if issubclass(w.category, DivergenceWarning)]
    if diverging:
        warning = str(diverging[-1].message)
    elif caught and not (solver == "gd" and tol == 0):
        warning = str(caught[-1].message)
    return estimator, warning


def _score_lazily(estimator, splits: dict) -> dict[str, Any]:
    """Metrics of each split, from one pass each over the lazy arrays."""
    from logitnet.app.evaluation import from_decision_values
    from logitnet.backends.dask import compute

    metrics: dict[str, Any] = {}
    for split, (X, y) in splits.items():
        z, labels = compute(estimator.decision_function(X), y)
        _record(metrics, split, from_decision_values(labels, z))
    return metrics
