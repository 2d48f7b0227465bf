"""How good a model is on labelled pictures: metrics from scikit-learn.

Accuracy, precision, recall, F1, ROC AUC, log loss and the confusion matrix
are scikit-learn's (``sklearn.metrics``), computed from the model's
probabilities; nothing here re-derives them. The positive class is label 1,
``classes[1]`` ("cat" in the course's data). With k >= 3 classes, precision,
recall and F1 are macro averages (over the classes where each is defined)
and ROC AUC is one-vs-rest.

A metric that is undefined on the pictures (ROC AUC when they hold one
class, precision when the model calls none of them positive, ...) is None:
``null`` in JSON, and :func:`undefined_in_words` says why in words. None is
logitnet's only way of saying it; a NaN from elsewhere (an older model
file) becomes None where it comes in (:func:`undefined_as_none`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from numbers import Real
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from logitnet.data.storage import recorded
from logitnet.exceptions import DataError

if TYPE_CHECKING:
    from logitnet.app.modelfile import SavedModel
    from logitnet.app.training import ImageData

__all__ = [
    "SPLITS",
    "Evaluation",
    "classification_metrics",
    "evaluate",
    "evaluate_file",
    "file_pictures",
    "from_decision_values",
    "labelled_pictures",
    "recorded_accuracy_in_words",
    "recorded_split",
    "undefined_as_none",
    "undefined_in_words",
]

#: The pictures :func:`labelled_pictures` can choose.
SPLITS = ("test", "train", "all")

#: Each split's pictures in words.
_PICTURES = {"test": "the test pictures", "train": "the training pictures"}

#: Why a metric is None, in words: when it is undefined, there is one
#: reason only (see :func:`classification_metrics`). {pictures} names the
#: pictures, {pos} and {neg} the classes.
_WHY_UNDEFINED = {
    "precision": "the model calls none of {pictures} {pos}",
    "recall": "{pictures} hold one class, {neg}",
    "f1": "{pictures} hold one class, {neg}, and the model calls none of them {pos}",
    "roc_auc": "{pictures} hold one class",
}


@dataclass
class Evaluation:
    """A model's results on one labelled set of pictures.

    Attributes
    ----------
    metrics : dict of str to float or None
        ``accuracy``, ``precision``, ``recall``, ``f1``, ``roc_auc`` and
        ``log_loss`` (fractions, not percent); None where undefined (see
        :func:`classification_metrics`).
    confusion : ndarray of shape (2, 2), or (n_classes, n_classes), int64
        Row i, column j: pictures of class i predicted as class j.
    labels : ndarray of shape (k,), int64
        The true labels, 0 or 1 (0 .. n_classes-1).
    predicted : ndarray of shape (k,), int64
        The predicted labels.
    probability : ndarray of shape (k,), or (k, n_classes), float64
        The probability of class 1 for each picture; for n_classes >= 3,
        the probability of each class.
    """

    metrics: dict[str, float | None]
    confusion: NDArray[np.int64]
    labels: NDArray[np.int64]
    predicted: NDArray[np.int64]
    probability: NDArray[np.float64]

    @property
    def misclassified(self) -> NDArray[np.intp]:
        """Indices of the pictures whose predicted label is wrong."""
        return np.flatnonzero(self.predicted != self.labels)


def classification_metrics(
    labels: NDArray[np.int64],
    predicted: NDArray[np.int64],
    probability: NDArray[np.float64],
) -> dict[str, float | None]:
    """scikit-learn's binary classification metrics; None where undefined.

    Parameters
    ----------
    labels : ndarray of shape (k,), int
        True labels, 0 or 1; k >= 1.
    predicted : ndarray of shape (k,), int
        Predicted labels, 0 or 1.
    probability : ndarray of shape (k,), float
        Predicted probability of label 1; or, of shape (k, n_classes) for
        n_classes >= 3 (labels 0 .. n_classes-1), each class's (see
        :func:`_multiclass_metrics`).

    Returns
    -------
    dict
        ``accuracy``, ``precision``, ``recall``, ``f1``, ``roc_auc`` and
        ``log_loss``. Each is None when it divides by zero on these
        pictures: precision = TP / (TP + FP) when the model calls none of
        them positive; recall = TP / (TP + FN) when none is positive;
        F1 = 2 TP / (2 TP + FP + FN) when both; ROC AUC when the labels
        hold one class. Accuracy and log loss are always defined (k >= 1).
    """
    from sklearn import metrics

    labels = np.asarray(labels)
    predicted = np.asarray(predicted)
    if np.ndim(probability) == 2:
        return _multiclass_metrics(labels, predicted, np.asarray(probability))
    positives = int(np.count_nonzero(labels == 1))
    called = int(np.count_nonzero(predicted == 1))
    # scikit-learn would warn and give 0 (or NaN) for an undefined metric:
    # it is not asked, and says None instead.
    return {
        "accuracy": float(metrics.accuracy_score(labels, predicted)),
        "precision": (
            float(metrics.precision_score(labels, predicted)) if called else None
        ),
        "recall": float(metrics.recall_score(labels, predicted)) if positives else None,
        "f1": (
            float(metrics.f1_score(labels, predicted)) if positives or called else None
        ),
        "roc_auc": (
            float(metrics.roc_auc_score(labels, probability))
            if 0 < positives < labels.size
            else None
        ),
        "log_loss": float(metrics.log_loss(labels, probability, labels=[0, 1])),
    }


def _multiclass_metrics(labels, predicted, probability) -> dict[str, float | None]:
    """:func:`classification_metrics` for k >= 3 classes (``probability``
    of shape (m, k)): precision, recall and F1 averaged over the classes
    where each is defined (None where it is for none), ROC AUC one-vs-rest
    (None unless every class is among the labels)."""
    from sklearn import metrics

    k = probability.shape[1]
    every = list(range(k))
    # zero_division=NaN: a class where a metric divides by zero is left out
    # of its average, without scikit-learn's warning.
    averaged = {"average": "macro", "labels": every, "zero_division": np.nan}
    result = {
        "accuracy": float(metrics.accuracy_score(labels, predicted)),
        "precision": float(metrics.precision_score(labels, predicted, **averaged)),
        "recall": float(metrics.recall_score(labels, predicted, **averaged)),
        "f1": float(metrics.f1_score(labels, predicted, **averaged)),
        "roc_auc": (
            float(metrics.roc_auc_score(labels, probability, multi_class="ovr"))
            if np.unique(labels).size == k
            else None
        ),
        "log_loss": float(metrics.log_loss(labels, probability, labels=every)),
    }
    return undefined_as_none(result)


def undefined_in_words(metric: str, classes: Sequence[str], split: str = "test") -> str:
    """What an undefined (None) metric says: "undefined: the test pictures
    hold one class".

    Parameters
    ----------
    metric : str
        A key of :func:`classification_metrics`' dict (another name is
        simply "undefined").
    classes : sequence of 2 str
        The class names; label 1, ``classes[1]``, is the positive class.
    split : {"test", "train", "all"}, default="test"
        The pictures the metric was measured on.
    """
    why = _WHY_UNDEFINED.get(metric)
    if why is None:
        return "undefined"
    pictures = _PICTURES.get(split, "the pictures")
    return "undefined: " + why.format(pictures=pictures, neg=classes[0], pos=classes[1])


def undefined_as_none(metrics: Any) -> Any:
    """``metrics`` (a dict, possibly nested, of numbers) with each NaN, how
    other tools and older model files say "undefined", made None."""
    if isinstance(metrics, dict):
        return {key: undefined_as_none(value) for key, value in metrics.items()}
    if isinstance(metrics, Real) and math.isnan(metrics):
        return None
    return metrics


def recorded_accuracy_in_words(model: SavedModel) -> str:
    """How good the model was on its test pictures when it was trained, in
    one phrase, as ``predict`` says it beside its answers and ``serve``'s
    page above them: "right on 70 % of its 50 test pictures".

    From the model file's own record (``metrics["test_accuracy"]`` in
    percent, or ``metrics["test"]["accuracy"]``, and ``training["n_test"]``);
    "no test accuracy recorded" where it holds none (a model trained without
    a test set, or fitted in Python and saved), with its training accuracy
    if it has one, so that nothing is claimed that was not measured.

    Parameters
    ----------
    model : SavedModel

    Returns
    -------
    str
    """
    metrics = model.metrics if isinstance(model.metrics, dict) else {}
    training = model.training if isinstance(model.training, dict) else {}
    test, n_test = metrics.get("test_accuracy"), training.get("n_test")
    split = metrics.get("test")
    if not _number(test) and isinstance(split, dict) and _number(split.get("accuracy")):
        test = 100 * split["accuracy"]
    if _number(test):
        counted = _number(n_test) and n_test >= 1
        of = (
            f"of its {int(n_test):,} test pictures"
            if counted
            else "of its test pictures"
        )
        return f"right on {_recorded_percent(test)} {of}"
    said = "no test accuracy recorded (logitnet evaluate measures one)"
    train = metrics.get("train_accuracy")
    if _number(train):
        said += (
            f"; right on {_recorded_percent(train)} of the pictures it was "
            "trained on, which says little of new ones"
        )
    return said


def _recorded_percent(value: float) -> str:
    """A recorded accuracy in percent: "70 %", "64.7 %"; never "100 %"
    unless every picture was right."""
    text = f"{float(value):.1f}".removesuffix(".0")
    if text == "100" and value < 100:
        text = "99.9"
    return f"{text} %"


def _number(value: Any) -> bool:
    """A real number, not a bool, not NaN."""
    return (
        isinstance(value, Real)
        and not isinstance(value, bool)
        and not math.isnan(value)
    )


def evaluate(model, images: NDArray[np.uint8], labels: NDArray[np.int64]) -> Evaluation:
    """Predict labelled pictures with ``model`` and score the predictions.

    Parameters
    ----------
    model : logitnet.app.modelfile.SavedModel
    images : ndarray of shape (k, height, width, 3), uint8
        The model's input pictures (``model.image_shape``), k >= 1.
    labels : ndarray of shape (k,), int
        True labels, 0 or 1, indices into ``model.classes``.

    Returns
    -------
    Evaluation

    Raises
    ------
    ValueError
        If ``images`` is not k >= 1 pictures of ``model.image_shape``, or
        there is not one label per picture.
    """
    from logitnet.app.prediction import classify

    images = np.asarray(images)
    answers = classify(model, images)  # checks the pictures' shape first
    labels = np.asarray(labels).reshape(-1).astype(np.int64)
    if labels.shape != (images.shape[0],):
        raise ValueError(
            f"expected {images.shape[0]} labels, one per image; got {labels.size}"
        )
    return from_decision_values(labels, answers.decision_values)


def from_decision_values(
    labels: NDArray[np.int64], z: NDArray[np.floating]
) -> Evaluation:
    """Score predictions given as decision values z = w . x + b.

    Parameters
    ----------
    labels : ndarray of shape (k,), int
        True labels, 0 or 1 (0 .. n_classes-1); k >= 1.
    z : ndarray of shape (k,), or (k, n_classes) for n_classes >= 3, float
        The model's decision values for each picture.

    Returns
    -------
    Evaluation
    """
    from sklearn.metrics import confusion_matrix

    from logitnet.core.loss import probabilities, sigmoid

    labels = np.asarray(labels, np.int64).reshape(-1)
    z = np.asarray(z, np.float64)
    if z.ndim == 2 and z.shape[1] > 1:  # k classes: softmax, the most probable
        probability = probabilities(z)
        predicted = z.argmax(axis=1).astype(np.int64)
    else:
        z = z.reshape(-1)
        probability = sigmoid(z)  # as the estimator's predict_proba
        # From z > 0, as the estimator predicts: sigma(z) rounds to 0.5 for tiny z.
        predicted = (z > 0).astype(np.int64)
    every = list(range(probability.shape[1] if probability.ndim == 2 else 2))
    return Evaluation(
        metrics=classification_metrics(labels, predicted, probability),
        confusion=confusion_matrix(labels, predicted, labels=every).astype(np.int64),
        labels=labels,
        predicted=predicted,
        probability=probability,
    )


def labelled_pictures(
    data: ImageData, model: SavedModel, split: str = "test", *, where: str | None = None
) -> tuple[NDArray[np.uint8], NDArray[np.int64], dict[str, Any]]:
    """The pictures of one split of ``data``, checked against ``model``.

    Parameters
    ----------
    data : logitnet.app.training.ImageData
        Loaded with the model's image shape
        (:func:`logitnet.app.training.load_data`).
    model : SavedModel
    split : {"test", "train", "all"}, default="test"
        The test set, the training set, or both (training pictures first).
    where : str, optional
        How errors name the data (what the user gave); default: the path in
        ``data.source``.

    Returns
    -------
    images : ndarray of shape (k, height, width, 3), uint8
    labels : ndarray of shape (k,), int64
        0 or 1, indices into ``model.classes``.
    source : dict
        ``data.source`` with ``split`` and ``n_images`` (k) added.

    Raises
    ------
    DataError
        If the data's class names or picture shape are not the model's, or
        the split holds no pictures.
    ValueError
        If ``split`` is not one of ``SPLITS``.
    """
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}; got {split!r}")
    if where is None:
        where = str(data.source.get("path", "the data"))
    _check_fits(model, where, data.classes, data.image_shape)
    parts = {
        "train": [(data.train_images, data.train_labels)],
        "test": [(data.test_images, data.test_labels)],
    }
    parts["all"] = parts["train"] + parts["test"]
    images = np.concatenate([x for x, _ in parts[split]])
    labels = np.concatenate([y for _, y in parts[split]])
    if labels.size == 0:
        raise DataError(
            f"{where}: no {split} pictures (--test-fraction is 0?); "
            "use --split train or all"
        )
    return images, labels, {**data.source, "split": split, "n_images": int(labels.size)}


def _check_fits(model: SavedModel, where, classes, image_shape) -> None:
    """Refuse pictures whose class names or shape are not the model's."""
    shape = tuple(model.image_shape)
    if list(classes) != list(model.classes):
        raise DataError(
            f"{where}: classes {classes} are not the model's {model.classes}"
        )
    if tuple(image_shape) != shape:
        raise DataError(
            f"{where}: pictures of shape {tuple(image_shape)} do not fit the "
            f"model's {shape}"
        )


def evaluate_file(
    model: SavedModel, path, split: str = "test"
) -> tuple[Evaluation, dict[str, Any]]:
    """Score ``model`` on the pictures of a file in the course's layout.

    The file (HDF5 or zarr: ``convert``'s, ``synth``'s, the course's) is
    read lazily, one pass per split, chunk by chunk, so it may be larger
    than memory (:func:`logitnet.data.reader.open_images`).

    Parameters
    ----------
    model : SavedModel
    path : path-like
    split : {"test", "train", "all"}, default="test"
        ``all``: the training pictures, then the test pictures.

    Returns
    -------
    result : Evaluation
    source : dict
        ``kind``, ``path``, ``split``, ``n_images``, and ``rows``: for each
        picture in ``result``'s order, its (split, row) in the file, to read
        it back with :func:`logitnet.data.reader.read_pictures`.

    Raises
    ------
    DataError
        If the file is not in the course's layout, its classes or picture
        shape are not the model's, or the split holds no pictures.
    """
    from logitnet.app.prediction import classify
    from logitnet.backends.dask import compute
    from logitnet.data.reader import describe_images, open_images

    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}; got {split!r}")
    info = describe_images(path)
    _check_fits(model, path, info["classes"], info["image_shape"])
    parts = ["train", "test"] if split == "all" else [split]
    parts = [part for part in parts if info[f"n_{part}"]]
    if not parts:
        raise DataError(f"{path}: no {split} pictures; use --split train or all")
    z, labels, rows = [], [], []
    for part in parts:
        X, y = open_images(path, part)
        z.append(classify(model, X).decision_values)
        labels.append(np.asarray(compute(y)[0], np.int64))
        rows.extend((part, i) for i in range(labels[-1].size))
    result = from_decision_values(np.concatenate(labels), np.concatenate(z))
    source = {
        "kind": "file in the course's layout",
        "path": recorded(path),
        "split": split,
        "n_images": int(result.labels.size),
        "rows": rows,
    }
    return result, source


def file_pictures(path, rows: list[tuple[str, int]], image_shape) -> NDArray[np.uint8]:
    """The pictures at ``rows`` ((split, row) pairs, as
    :func:`evaluate_file` gives them) of a file: (k, h, w, c) uint8, the
    file's pictures being of ``image_shape``."""
    from logitnet.data.reader import read_pictures

    pictures = []
    for part in ("train", "test"):
        wanted = [i for i, (p, _) in enumerate(rows) if p == part]
        if wanted:
            read = read_pictures(path, part, [rows[i][1] for i in wanted])
            pictures.extend(zip(wanted, read, strict=True))
    pictures.sort(key=lambda pair: pair[0])
    if not pictures:
        return np.empty((0, *image_shape), np.uint8)
    return np.stack([picture for _, picture in pictures])


def recorded_split(
    model: SavedModel,
    images,
    test_fraction: float | None = None,
    seed: int | None = None,
) -> tuple[float, int]:
    """The split of an image folder to score ``model`` on: the one recorded
    in the model when it was trained on that folder.

    Parameters
    ----------
    model : SavedModel
    images : path-like
        The image folder to score on.
    test_fraction, seed : optional
        What was asked for; None takes the model's record (or 0.2 and 0 for
        a folder the model was not trained on).

    Returns
    -------
    (test_fraction, seed)

    Raises
    ------
    DataError
        When the model was trained on this folder and another split was
        asked for: its test set would hold pictures the model was trained
        on, and the scores would flatter it.
    """
    trained_on = model.training.get("data", {})
    same = trained_on.get("kind") == "image folder" and str(
        Path(images).resolve()
    ) == trained_on.get("path")
    if not same:
        return (0.2 if test_fraction is None else test_fraction, seed or 0)
    recorded = (float(trained_on["test_fraction"]), int(trained_on["seed"]))
    asked = (
        recorded[0] if test_fraction is None else float(test_fraction),
        recorded[1] if seed is None else int(seed),
    )
    if asked != recorded:
        raise DataError(
            f"{images}: the model was trained on this folder split with "
            f"--test-fraction {recorded[0]:g} --seed {recorded[1]}; the split "
            f"--test-fraction {asked[0]:g} --seed {asked[1]} would test it on "
            "pictures it was trained on (leave both out to use the model's split)"
        )
    return recorded
