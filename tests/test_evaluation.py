"""logitnet.app.evaluation called directly: metrics, scoring, choosing pictures."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.special import expit

from conftest import TINY_SHAPE
from logitnet.app.evaluation import (
    classification_metrics,
    evaluate,
    from_decision_values,
    labelled_pictures,
    undefined_as_none,
    undefined_in_words,
)
from logitnet.app.training import ImageData
from logitnet.core.loss import probabilities
from logitnet.exceptions import DataError

# classification_metrics -----------------------------------------------------------

#: Six pictures: 3 of class 0, 3 of class 1; two mistakes (one each way).
LABELS = np.array([0, 0, 0, 1, 1, 1])
PREDICTED = np.array([0, 1, 0, 1, 1, 0])
PROBABILITY = np.array([0.1, 0.6, 0.4, 0.8, 0.7, 0.3])


def test_classification_metrics_by_hand():
    m = classification_metrics(LABELS, PREDICTED, PROBABILITY)
    assert set(m) == {"accuracy", "precision", "recall", "f1", "roc_auc", "log_loss"}
    # 4 of 6 right; TP = 2 (3, 4), FP = 1 (1), FN = 1 (5).
    assert m["accuracy"] == pytest.approx(4 / 6)
    assert m["precision"] == pytest.approx(2 / 3)
    assert m["recall"] == pytest.approx(2 / 3)
    assert m["f1"] == pytest.approx(2 / 3)
    # Of the 9 (positive, negative) pairs, the positive scores higher in 7:
    # 0.8 and 0.7 beat all three negatives, 0.3 beats only 0.1.
    assert m["roc_auc"] == pytest.approx(7 / 9)
    # -mean(log p(true class)).
    p_true = [0.9, 0.4, 0.6, 0.8, 0.7, 0.3]
    assert m["log_loss"] == pytest.approx(-sum(map(math.log, p_true)) / 6)


def test_roc_auc_is_undefined_for_one_class():
    m = classification_metrics(np.ones(3, int), np.array([1, 0, 1]), np.full(3, 0.6))
    assert m["roc_auc"] is None
    assert m["accuracy"] == pytest.approx(2 / 3)
    assert m["precision"] == 1.0 and m["recall"] == pytest.approx(2 / 3)
    assert m["log_loss"] == pytest.approx(-math.log(0.6))


@pytest.mark.parametrize(
    ("labels", "predicted", "undefined", "zero"),
    [
        # No picture called positive: precision divides by zero; recall and
        # F1 are 0 (there were positives to find).
        (LABELS, np.zeros(6, int), {"precision"}, {"recall", "f1"}),
        # No positive picture: recall and ROC AUC divide by zero; precision
        # and F1 are 0 (the model called some positive, wrongly).
        (np.zeros(6, int), PREDICTED, {"recall", "roc_auc"}, {"precision", "f1"}),
        # Neither: precision, recall, F1 and ROC AUC all undefined.
        (np.zeros(6, int), np.zeros(6, int), {"precision", "recall", "f1", "roc_auc"}, set()),
    ],
    ids=["none called positive", "none positive", "neither"],
)  # fmt: skip
def test_undefined_metrics_are_none_not_zero_or_nan(labels, predicted, undefined, zero):
    m = classification_metrics(labels, predicted, np.full(6, 0.4))
    assert {k for k, v in m.items() if v is None} == undefined
    assert {k for k, v in m.items() if v == 0.0} == zero
    assert not any(isinstance(v, float) and math.isnan(v) for v in m.values())


@pytest.mark.parametrize(
    ("metric", "split", "words"),
    [
        ("roc_auc", "test", "undefined: the test pictures hold one class"),
        ("roc_auc", "train", "undefined: the training pictures hold one class"),
        ("roc_auc", "all", "undefined: the pictures hold one class"),
        ("precision", "test", "undefined: the model calls none of the test pictures cat"),
        ("recall", "test", "undefined: the test pictures hold one class, non-cat"),
        ("f1", "test", "undefined: the test pictures hold one class, non-cat, "
         "and the model calls none of them cat"),
        ("accuracy", "test", "undefined"),
    ],
)  # fmt: skip
def test_undefined_in_words(metric, split, words):
    assert undefined_in_words(metric, ["non-cat", "cat"], split) == words


def test_undefined_as_none_turns_every_nan_into_none():
    nan = float("nan")
    recorded = {"test_accuracy": 50.0, "test": {"roc_auc": nan, "f1": None, "x": 1}}
    assert undefined_as_none(recorded) == {
        "test_accuracy": 50.0,
        "test": {"roc_auc": None, "f1": None, "x": 1},
    }
    assert undefined_as_none({"a": np.float32(nan)}) == {"a": None}


# from_decision_values -------------------------------------------------------------


def test_from_decision_values():
    z = np.array([-3.0, -1e-20, 0.0, 1e-20, 2.0, 40.0])
    labels = np.array([0, 1, 0, 1, 1, 1])
    result = from_decision_values(labels, z)
    # The estimator's probabilities, bit for bit; SciPy's to the last bit or so.
    np.testing.assert_array_equal(result.probability, probabilities(z)[:, 1])
    np.testing.assert_allclose(result.probability, expit(z), rtol=1e-15)
    # z > 0, not sigma(z) > 0.5: sigma(1e-20) rounds to 0.5, yet z is positive.
    np.testing.assert_array_equal(result.predicted, [0, 0, 0, 1, 1, 1])
    np.testing.assert_array_equal(result.labels, labels)
    assert result.confusion.tolist() == [[2, 0], [1, 3]]
    np.testing.assert_array_equal(result.misclassified, [1])
    assert result.metrics["accuracy"] == pytest.approx(5 / 6)


def test_from_decision_values_accepts_float32_columns():
    result = from_decision_values([[1], [0]], np.array([[0.5], [-0.5]], np.float32))
    assert result.labels.dtype == np.int64 and result.labels.shape == (2,)
    assert result.probability.dtype == np.float64
    np.testing.assert_array_equal(result.predicted, [1, 0])


# evaluate -------------------------------------------------------------------------


@pytest.fixture
def pictures(rng):
    return rng.integers(0, 256, (7, *TINY_SHAPE), dtype=np.uint8)


def test_evaluate_scores_the_model_on_its_pictures(tiny_model, pictures):
    labels = np.array([0, 1, 1, 0, 1, 0, 1])
    result = evaluate(tiny_model, pictures, labels)
    z = pictures.reshape(7, -1).astype(np.float64) / 255 @ tiny_model.w + tiny_model.b
    np.testing.assert_allclose(result.probability, expit(z), rtol=1e-12)
    np.testing.assert_array_equal(result.predicted, z > 0)
    np.testing.assert_array_equal(result.labels, labels)
    expected = classification_metrics(labels, (z > 0).astype(int), expit(z))
    assert result.metrics == pytest.approx(expected)


@pytest.mark.parametrize(
    "shape", [(2, 5, 4, 3), (2, 4, 4), (0, *TINY_SHAPE), (48,)], ids=str
)
def test_evaluate_rejects_pictures_of_another_shape(tiny_model, shape):
    with pytest.raises(ValueError, match="images of shape") as caught:
        evaluate(tiny_model, np.zeros(shape, np.uint8), np.zeros(shape[:1], int))
    assert str(TINY_SHAPE) in str(caught.value)
    assert f"got an array of shape {shape}" in str(caught.value)


def test_evaluate_wants_one_label_per_picture(tiny_model, pictures):
    with pytest.raises(ValueError, match="expected 7 labels, one per image; got 6"):
        evaluate(tiny_model, pictures, np.zeros(6, int))


# labelled_pictures ----------------------------------------------------------------


@pytest.fixture
def data(rng) -> ImageData:
    """3 training and 2 test pictures of the tiny model's shape and classes."""
    return ImageData(
        train_images=rng.integers(0, 256, (3, *TINY_SHAPE), dtype=np.uint8),
        train_labels=np.array([0, 1, 1]),
        test_images=rng.integers(0, 256, (2, *TINY_SHAPE), dtype=np.uint8),
        test_labels=np.array([1, 0]),
        classes=["no", "yes"],
        source={"kind": "image folder", "path": "/somewhere/pictures"},
    )


@pytest.mark.parametrize(
    ("split", "parts"), [("test", ["test"]), ("train", ["train"]),
                         ("all", ["train", "test"])]
)  # fmt: skip
def test_labelled_pictures_chooses_the_split(tiny_model, data, split, parts):
    images, labels, source = labelled_pictures(data, tiny_model, split)
    expected_images = np.concatenate([getattr(data, f"{p}_images") for p in parts])
    expected_labels = np.concatenate([getattr(data, f"{p}_labels") for p in parts])
    np.testing.assert_array_equal(images, expected_images)
    np.testing.assert_array_equal(labels, expected_labels)
    assert source == {
        "kind": "image folder",
        "path": "/somewhere/pictures",
        "split": split,
        "n_images": len(expected_labels),
    }


def test_labelled_pictures_default_is_the_test_set(tiny_model, data):
    images, _, source = labelled_pictures(data, tiny_model)
    assert source["split"] == "test"
    np.testing.assert_array_equal(images, data.test_images)


def test_labelled_pictures_refuses_other_classes(tiny_model, data):
    data.classes = ["yes", "no"]
    with pytest.raises(DataError) as caught:
        labelled_pictures(data, tiny_model, "test", where="my pictures")
    assert str(caught.value) == (
        "my pictures: classes ['yes', 'no'] are not the model's ['no', 'yes']"
    )


def test_labelled_pictures_refuses_other_picture_shapes(tiny_model, data):
    data.train_images = np.zeros((3, 8, 8, 3), np.uint8)
    with pytest.raises(DataError) as caught:
        labelled_pictures(data, tiny_model, "train")
    assert str(caught.value) == (
        "/somewhere/pictures: pictures of shape (8, 8, 3) do not fit the "
        "model's (4, 4, 3)"
    )


def test_labelled_pictures_refuses_an_empty_split(tiny_model, data):
    data.test_images = data.test_images[:0]
    data.test_labels = data.test_labels[:0]
    with pytest.raises(DataError, match="/somewhere/pictures: no test pictures"):
        labelled_pictures(data, tiny_model, "test")
    _, labels, _ = labelled_pictures(data, tiny_model, "all")
    assert labels.size == 3


def test_labelled_pictures_refuses_an_unknown_split(tiny_model, data):
    with pytest.raises(ValueError, match="split must be one of"):
        labelled_pictures(data, tiny_model, "validation")
