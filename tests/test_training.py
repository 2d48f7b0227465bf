"""logitnet.app.training called directly: data in, a model file's contents out."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning

from conftest import COURSE_REPORT, run
from logitnet import LogisticRegression
from logitnet.app.modelfile import SavedModel, load_model, save_model
from logitnet.app.training import (
    ImageData,
    accuracy_lines,
    cost_printer,
    load_data,
    train,
    train_cat_classifier,
    train_on_file,
)
from logitnet.core.pixels import flatten, scale
from logitnet.core.solvers import Step
from logitnet.course.neuron import accuracy, optimize, propagate
from logitnet.data.layout import read_split
from logitnet.data.synth import make_images

#: What ``train``'s docstring says ``training`` holds.
TRAINING_KEYS = {
    "data", "n_train", "n_test",
    "solver", "learning_rate", "num_iterations", "alpha", "tol",
    "class_weight", "fit_intercept", "dtype", "representation_setting",
    "representation", "n_iter", "converged", "final_cost", "cost_every", "costs",
}  # fmt: skip


# load_data ----------------------------------------------------------------------


def test_load_data_course_files(data_dir):
    data = load_data(data_dir=data_dir)
    assert data.train_images.shape == (209, 64, 64, 3)
    assert data.test_images.shape == (50, 64, 64, 3)
    assert data.train_images.dtype == np.uint8
    assert data.train_labels.shape == (209,) and data.test_labels.shape == (50,)
    assert int(data.train_labels.sum()) == 72  # the course's 72 cats
    assert data.classes == ["non-cat", "cat"]
    assert data.image_shape == (64, 64, 3)
    assert data.source == {
        "kind": "course HDF5",
        "path": str(data_dir.resolve()),
        "verified": True,
    }


def test_load_data_image_folder(tiny_folder):
    data = load_data(
        images=tiny_folder, test_fraction=0.4, seed=3, image_shape=(5, 6, 3)
    )
    assert data.classes == ["cat", "dog"]  # sorted folder names; notes.txt skipped
    assert data.image_shape == (5, 6, 3)
    assert data.train_images.shape == (6, 5, 6, 3)
    assert data.test_images.shape == (4, 5, 6, 3)
    # Stratified: both classes on both sides, 2 of each held out.
    assert np.bincount(data.test_labels).tolist() == [2, 2]
    # The labels follow the pictures: cats are bright, dogs dark.
    for images, labels in ((data.train_images, data.train_labels),
                           (data.test_images, data.test_labels)):  # fmt: skip
        bright = images.reshape(len(images), -1).mean(axis=1) > 127
        np.testing.assert_array_equal(bright, labels == 0)
    assert data.source == {
        "kind": "image folder",
        "path": str(tiny_folder.resolve()),
        "test_fraction": 0.4,
        "seed": 3,
    }


def test_load_data_same_seed_same_split(tiny_folder):
    def split(seed):
        return load_data(
            images=tiny_folder, test_fraction=0.4, seed=seed, image_shape=(5, 6, 3)
        )

    a, b, c = split(3), split(3), split(4)
    np.testing.assert_array_equal(a.test_images, b.test_images)
    assert not np.array_equal(a.test_images, c.test_images)


def test_load_data_no_test_fraction_holds_out_nothing(tiny_folder):
    data = load_data(images=tiny_folder, test_fraction=0.0, image_shape=(5, 6, 3))
    assert data.train_images.shape[0] == 10
    assert data.test_images.shape == (0, 5, 6, 3)


# train --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def course_data(data_dir) -> ImageData:
    return load_data(data_dir=data_dir)


@pytest.fixture(scope="module")
def trained_101(course_data):
    """101 steps of gradient descent: costs recorded at 0 and 100."""
    return train(course_data, max_iter=101)


def test_train_records_the_documented_metadata(trained_101, course_data):
    model, warning = trained_101
    assert warning is None  # a fixed number of steps is not a failure
    assert isinstance(model, SavedModel)
    assert set(model.training) == TRAINING_KEYS
    training = model.training
    assert training["data"] == course_data.source
    assert (training["n_train"], training["n_test"]) == (209, 50)
    assert training["solver"] == "gd" and training["learning_rate"] == 0.005
    assert training["num_iterations"] == training["n_iter"] == 101
    assert training["cost_every"] == 100 and len(training["costs"]) == 2
    # Fewer pictures than pixels: the solver ran in the span of the examples.
    assert training["representation"] == "span"
    assert training["class_weight"] is None
    assert training["dtype"] == "float64" and training["fit_intercept"] is True
    assert training["representation_setting"] == "auto"
    assert model.classes == ["non-cat", "cat"] and model.image_shape == (64, 64, 3)
    assert set(model.metrics) == {"train_accuracy", "test_accuracy", "train", "test"}


def test_train_is_the_course_gradient_descent(trained_101, cat_arrays):
    """Weights and recorded costs as the course's optimize() gives them."""
    model, _ = trained_101
    X_train, Y_train, *_ = cat_arrays
    params, _, costs = optimize(
        np.zeros((X_train.shape[0], 1)), 0.0, X_train, Y_train,
        num_iterations=101, learning_rate=0.005,
    )  # fmt: skip
    np.testing.assert_allclose(model.w, params["w"].ravel(), rtol=1e-10, atol=1e-14)
    assert model.b == pytest.approx(params["b"], rel=1e-10)
    np.testing.assert_allclose(model.training["costs"], costs, rtol=1e-12)


def test_final_cost_is_the_cost_of_the_returned_weights(trained_101, cat_arrays):
    model, _ = trained_101
    X_train, Y_train, *_ = cat_arrays
    _, cost = propagate(model.w.reshape(-1, 1), model.b, X_train, Y_train)
    assert model.training["final_cost"] == pytest.approx(cost, rel=1e-12)
    # Not the last recorded cost: the costs oscillate early on this data.
    assert model.training["final_cost"] != pytest.approx(model.training["costs"][-1])


def test_train_metrics_are_the_course_accuracy(trained_101, cat_arrays):
    model, _ = trained_101
    X_train, Y_train, X_test, Y_test = cat_arrays
    for split, X, Y in (("train", X_train, Y_train), ("test", X_test, Y_test)):
        z = model.w @ X + model.b
        predicted = (z > 0).astype(float).reshape(1, -1)
        assert model.metrics[f"{split}_accuracy"] == accuracy(predicted, Y)
        assert model.metrics[split]["accuracy"] * 100 == pytest.approx(
            model.metrics[f"{split}_accuracy"]
        )


def test_train_without_a_test_set_has_train_metrics_only(tiny_folder):
    data = load_data(images=tiny_folder, test_fraction=0.0, image_shape=(5, 6, 3))
    model, _ = train(data, solver="lbfgs", max_iter=50)
    assert set(model.metrics) == {"train_accuracy", "train"}
    assert model.metrics["train_accuracy"] == 100.0  # bright vs dark: separable
    assert model.training["cost_every"] == 1
    assert len(model.training["costs"]) == model.training["n_iter"]


# train_cat_classifier -------------------------------------------------------------


def test_train_cat_classifier_is_train_on_load_data(data_dir, course_data, capsys):
    saved = train_cat_classifier(data_dir, num_iterations=300, print_cost=True)
    lines = capsys.readouterr().out.splitlines()
    assert lines[:3] == COURSE_REPORT[:3]
    assert lines[3:] == [
        f"train accuracy: {saved.metrics['train_accuracy']} %",
        f"test accuracy: {saved.metrics['test_accuracy']} %",
    ]
    reference, _ = train(course_data, solver="gd", max_iter=300)
    np.testing.assert_array_equal(saved.w, reference.w)
    assert saved.b == reference.b
    assert saved.training == reference.training
    assert saved.metrics == reference.metrics
    assert saved.w.shape == (12288,) and saved.w.dtype == np.float64
    assert len(saved.training["costs"]) == 3


def test_train_cat_classifier_prints_nothing_by_default(data_dir, capsys):
    train_cat_classifier(data_dir, num_iterations=1)
    assert capsys.readouterr() == ("", "")


def test_train_cat_classifier_saves_what_the_command_saves(data_dir, tmp_path):
    saved = load_model(save_model(tmp_path / "python.npz", train_cat_classifier(
        data_dir, num_iterations=150, learning_rate=0.01
    )))  # fmt: skip
    out = tmp_path / "cli.npz"
    result = run("train", "--data-dir", str(data_dir), "--iterations", "150",
                 "--learning-rate", "0.01", "--out", str(out))  # fmt: skip
    assert result.returncode == 0, result.stderr
    command = load_model(out)
    # Another process may sum in another order (its BLAS threads): floats to
    # 1e-9, everything else exactly.
    np.testing.assert_allclose(saved.w, command.w, rtol=1e-9, atol=1e-12)
    assert _same(saved.b, command.b)
    assert _same(saved.training, command.training)
    assert _same(saved.metrics, command.metrics)


def _same(a, b) -> bool:
    """Equal, floats to a relative 1e-9, through nested dicts and lists."""
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(map(_same, a, b))
    if isinstance(a, float):
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)
    return a == b


# The course's report lines ---------------------------------------------------------


def test_cost_printer_writes_every_hundredth_cost_for_gd():
    lines: list[str] = []
    print_cost = cost_printer("gd", lines.append)
    for i in range(250):
        print_cost(Step(i, 1.0 / (i + 1), i + 1, 0.0, lambda: 1.0))
    assert lines == [
        "Cost after iteration 0: 1.000000",
        "Cost after iteration 100: 0.009901",
        "Cost after iteration 200: 0.004975",
    ]


def test_cost_printer_writes_every_cost_for_lbfgs():
    lines: list[str] = []
    print_cost = cost_printer("lbfgs", lines.append)
    for i in range(3):
        print_cost(Step(i, 0.5, i + 1, 1e-4, lambda: 1.0))
    assert len(lines) == 3 and lines[2] == "Cost after iteration 2: 0.500000"


def test_accuracy_lines_only_for_the_splits_there_are():
    assert accuracy_lines({"train_accuracy": 99.5, "test_accuracy": 70.0}) == [
        "train accuracy: 99.5 %",
        "test accuracy: 70.0 %",
    ]
    assert accuracy_lines({"train_accuracy": 100.0, "train": {}}) == [
        "train accuracy: 100.0 %"
    ]


# train_on_file ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def synth_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("synth") / "small.h5"
    make_images(path, 300, seed=5, test_samples=60)
    return path


def test_train_on_file_equals_the_in_memory_fit(synth_file):
    model, warning = train_on_file(synth_file, max_iter=8)
    assert warning is not None and "did not converge" in warning
    x, y, classes = read_split(synth_file, "train")
    X = scale(flatten(x), np.float32).T
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        reference = LogisticRegression(dtype=np.float32, max_iter=8).fit(X, y.ravel())
    np.testing.assert_allclose(model.w, reference.coef_[0], rtol=1e-4, atol=1e-6)
    assert model.b == pytest.approx(float(reference.intercept_[0]), rel=1e-4, abs=1e-6)
    assert model.classes == [c.decode() for c in classes]
    assert model.image_shape == (64, 64, 3)
    assert set(model.training) == TRAINING_KEYS | {"scheduler"}
    assert model.training["data"] == {
        "kind": "out-of-core file",
        "path": str(synth_file.resolve()),
    }
    assert (model.training["n_train"], model.training["n_test"]) == (300, 60)
    assert model.training["dtype"] == "float32" and model.training["scheduler"] is None
    assert model.training["n_iter"] == 8


def test_train_on_file_metrics_are_those_of_the_saved_weights(synth_file):
    model, _ = train_on_file(synth_file, max_iter=8)
    assert set(model.metrics) == {"train_accuracy", "test_accuracy", "train", "test"}
    x, y, _ = read_split(synth_file, "test")
    z = scale(flatten(x)).T @ model.w + model.b
    expected = accuracy((z > 0).astype(float).reshape(1, -1), y.reshape(1, -1))
    # Scored in float32 out of core: the same labels unless a z is near 0.
    assert model.metrics["test_accuracy"] == pytest.approx(expected, abs=100 / 60)


def test_train_with_balanced_class_weights(course_data):
    from sklearn.utils.class_weight import compute_sample_weight

    from logitnet.app.prediction import pictures_to_X

    model, _ = train(course_data, solver="lbfgs", max_iter=15, class_weight="balanced")
    assert model.training["class_weight"] == "balanced"
    X, y = pictures_to_X(course_data.train_images), course_data.train_labels
    plain = LogisticRegression(max_iter=15, tol=1e-4)
    with pytest.warns(ConvergenceWarning):
        plain.fit(X, y, sample_weight=compute_sample_weight("balanced", y))
    np.testing.assert_allclose(model.w, plain.coef_[0], atol=1e-8)
