"""How good a model is on labelled pictures: metrics from scikit-learn.

Accuracy, precision, recall, F1, ROC AUC, log loss and the confusion matrix
are scikit-learn's (``sklearn.metrics``), computed from the model's
probabilities; nothing here re-derives them. The positive class is label 1,
``classes[1]`` ("cat" in the course's data).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from logitnet.exceptions import DataError

if TYPE_CHECKING:
    from logitnet.app.modelfile import SavedModel
    from logitnet.app.training import ImageData

__all__ = [
    "SPLITS",
    "Evaluation",
    "classification_metrics",
    "evaluate",
    "from_decision_values",
    "labelled_pictures",
]

#: The pictures :func:`labelled_pictures` can choose.
SPLITS = ("test", "train", "all")


@dataclass
class Evaluation:
    """A model's results on one labelled set of pictures.

    Attributes
    ----------
    metrics : dict of str to float or None
        ``accuracy``, ``precision``, ``recall``, ``f1``, ``roc_auc`` and
        ``log_loss`` (fractions, not percent). ``roc_auc`` is None when the
        labels hold one class only (it is undefined then).
    confusion : ndarray of shape (2, 2), int64
        Row i, column j: pictures of class i predicted as class j.
    labels : ndarray of shape (k,), int64
        The true labels, 0 or 1.
    predicted : ndarray of shape (k,), int64
        The predicted labels.
    probability : ndarray of shape (k,), float64
        The probability of class 1 for each picture.
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
    """scikit-learn's binary classification metrics.

    Parameters
    ----------
    labels : ndarray of shape (k,), int
        True labels, 0 or 1; k >= 1.
    predicted : ndarray of shape (k,), int
        Predicted labels, 0 or 1.
    probability : ndarray of shape (k,), float
        Predicted probability of label 1.

    Returns
    -------
    dict
        ``accuracy``, ``precision``, ``recall``, ``f1``, ``roc_auc`` (None
        with a single class in ``labels``) and ``log_loss``.
    """
    from sklearn import metrics

    both = np.unique(labels).size == 2
    return {
        "accuracy": float(metrics.accuracy_score(labels, predicted)),
        "precision": float(metrics.precision_score(labels, predicted, zero_division=0)),
        "recall": float(metrics.recall_score(labels, predicted, zero_division=0)),
        "f1": float(metrics.f1_score(labels, predicted, zero_division=0)),
        "roc_auc": float(metrics.roc_auc_score(labels, probability)) if both else None,
        "log_loss": float(metrics.log_loss(labels, probability, labels=[0, 1])),
    }


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
        True labels, 0 or 1; k >= 1.
    z : ndarray of shape (k,), float
        The model's decision value for each picture.

    Returns
    -------
    Evaluation
    """
    from scipy.special import expit
    from sklearn.metrics import confusion_matrix

    labels = np.asarray(labels, np.int64).reshape(-1)
    z = np.asarray(z, np.float64).reshape(-1)
    probability = expit(z)  # as the estimator's predict_proba
    # From z > 0, as the estimator predicts: sigma(z) rounds to 0.5 for tiny z.
    predicted = (z > 0).astype(np.int64)
    return Evaluation(
        metrics=classification_metrics(labels, predicted, probability),
        confusion=confusion_matrix(labels, predicted, labels=[0, 1]).astype(np.int64),
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
    shape = tuple(model.image_shape)
    if data.classes != model.classes:
        raise DataError(
            f"{where}: classes {data.classes} are not the model's {model.classes}"
        )
    if data.image_shape != shape:
        raise DataError(
            f"{where}: pictures of shape {data.image_shape} do not fit the model's "
            f"{shape}"
        )
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
