"""predict, evaluate, convert and train on your own pictures, as real processes."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image
from sklearn import metrics

from conftest import FAILURE, USAGE, run
from logitnet.app.modelfile import load_model
from logitnet.core.pixels import flatten, scale
from logitnet.data.layout import read_split


@pytest.fixture(scope="module")
def folder(cat_data, tmp_path_factory):
    """The course's 259 pictures as PNG files in DIR/<class name>/."""
    train_x, train_y, test_x, test_y, _ = cat_data
    root = tmp_path_factory.mktemp("pictures")
    pictures = np.concatenate([train_x, test_x])
    labels = np.concatenate([train_y[0], test_y[0]])
    for i, (picture, label) in enumerate(zip(pictures, labels, strict=True)):
        directory = root / ("cat" if label else "non-cat")
        directory.mkdir(exist_ok=True)
        Image.fromarray(picture).save(directory / f"{i:03d}.png")
    return root


@pytest.fixture(scope="module")
def course_model(data_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("model") / "lbfgs.npz"
    result = run("train", "--data-dir", str(data_dir), "--solver", "lbfgs",
                 "--out", str(out), "--json")  # fmt: skip
    assert result.returncode == 0, result.stderr
    return out, json.loads(result.stdout)


def test_train_lbfgs_json(course_model):
    out, summary = course_model
    assert summary["model"] == str(out)
    assert summary["solver"] == "lbfgs" and summary["converged"]
    assert summary["classes"] == ["non-cat", "cat"]
    assert summary["metrics"]["train"]["accuracy"] == 1.0
    assert set(summary["metrics"]["test"]) == {
        "accuracy", "precision", "recall", "f1", "roc_auc", "log_loss"
    }  # fmt: skip
    saved = load_model(out)
    assert saved.training["n_iter"] == summary["n_iter"] < 100
    assert len(saved.training["costs"]) == summary["n_iter"]


def test_a_png_from_the_test_set_gets_the_hdf5_prediction(
    course_model, cat_data, tmp_path
):
    out, _ = course_model
    *_, test_x, _, _ = cat_data
    paths = []
    for i in (0, 7, 21):
        paths.append(tmp_path / f"{i}.png")
        Image.fromarray(test_x[i]).save(paths[-1])
    result = run("predict", "--model", str(out), "--json", *map(str, paths))
    assert result.returncode == 0, result.stderr
    answers = json.loads(result.stdout)
    estimator = load_model(out).to_estimator()
    expected = estimator.predict_proba(scale(flatten(test_x[[0, 7, 21]])).T)
    for answer, path, p in zip(answers, paths, expected, strict=True):
        assert answer["path"] == str(path)
        probabilities = answer["probabilities"]
        np.testing.assert_allclose(
            [probabilities["non-cat"], probabilities["cat"]], p, rtol=1e-12, atol=0
        )
        assert answer["label"] == ("cat" if p[1] > 0.5 else "non-cat")


def test_predict_goes_on_past_bad_files(course_model, cat_data, tmp_path):
    out, _ = course_model
    *_, test_x, _, _ = cat_data
    pictures = tmp_path / "pictures"
    pictures.mkdir()
    Image.fromarray(test_x[0]).save(pictures / "a.png")
    Image.fromarray(test_x[1]).resize((300, 200)).save(pictures / "b.jpg")
    (pictures / "c.png").write_text("not a picture")
    (pictures / "notes.txt").write_text("skipped: not an image suffix")
    empty = tmp_path / "empty"
    empty.mkdir()
    missing = tmp_path / "missing.png"
    args = ["predict", "--model", str(out), str(pictures), str(empty), str(missing)]
    result = run(*args, "--json")
    assert result.returncode == FAILURE
    answers = json.loads(result.stdout)
    assert [a["path"] for a in answers] == [
        str(empty), str(pictures / "a.png"), str(pictures / "b.jpg"),
        str(pictures / "c.png"), str(missing),
    ]  # fmt: skip
    assert answers[0] == {"path": str(empty), "error": "directory holds no image files"}
    assert set(answers[1]) == set(answers[2]) == {"path", "label", "probabilities"}
    assert answers[3]["error"] == "not an image file Pillow can read"
    assert answers[4]["error"] == "no such file"
    assert "Traceback" not in result.stderr

    text = run(*args)
    assert text.returncode == FAILURE
    lines = text.stdout.splitlines()
    assert len(lines) == 2 and lines[0].startswith(f"{pictures / 'a.png'}: ")
    assert f"logitnet: error: {pictures / 'c.png'}: not an image file" in text.stderr
    assert "3 of 5 files failed" in text.stderr
    quiet = run(*args, "--quiet")
    assert "files failed" not in quiet.stderr and "c.png" in quiet.stderr


def test_evaluate_course_test_set(course_model, cat_arrays, data_dir):
    out, summary = course_model
    result = run("evaluate", "--model", str(out), "--data-dir", str(data_dir), "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    *_, X_test, Y_test = cat_arrays
    estimator = load_model(out).to_estimator()
    p = estimator.predict_proba(X_test.T)[:, 1]
    y = Y_test[0]
    predicted = (p > 0.5).astype(int)
    assert report["metrics"]["accuracy"] == metrics.accuracy_score(y, predicted)
    assert report["metrics"]["roc_auc"] == pytest.approx(metrics.roc_auc_score(y, p))
    assert report["metrics"]["log_loss"] == pytest.approx(metrics.log_loss(y, p))
    assert report["confusion_matrix"] == metrics.confusion_matrix(y, predicted).tolist()
    assert report["metrics"] == summary["metrics"]["test"]
    assert len(report["misclassified"]) == int((predicted != y).sum())
    assert report["data"]["split"] == "test" and report["data"]["n_images"] == 50

    text = run("evaluate", "--model", str(out), "--data-dir", str(data_dir))
    assert text.returncode == 0
    assert text.stdout.splitlines()[0] == "test pictures: 50 (course HDF5)"
    assert "confusion matrix (rows: true, columns: predicted)" in text.stdout
    every = run("evaluate", "--model", str(out), "--data-dir", str(data_dir),
                "--split", "all", "--json")  # fmt: skip
    assert json.loads(every.stdout)["data"]["n_images"] == 259


def test_convert_then_train_and_evaluate_on_the_same_split(folder, tmp_path):
    h5 = tmp_path / "pictures.h5"
    result = run("convert", str(folder), str(h5), "--test-fraction", "0.2",
                 "--seed", "3", "--json")  # fmt: skip
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["classes"] == ["cat", "non-cat"]
    assert (summary["n_train"], summary["n_test"]) == (207, 52)
    train_x, _, classes = read_split(h5, "train")
    test_x, test_y, _ = read_split(h5, "test")
    assert train_x.shape == (207, 64, 64, 3) and test_x.shape == (52, 64, 64, 3)
    assert classes.tolist() == [b"cat", b"non-cat"]

    model = tmp_path / "own.npz"
    split = ["--images", str(folder), "--test-fraction", "0.2", "--seed", "3"]
    trained = run("train", *split, "--solver", "lbfgs", "--out", str(model), "--json")
    assert trained.returncode == 0, trained.stderr
    test_metrics = json.loads(trained.stdout)["metrics"]["test"]
    evaluated = run("evaluate", "--model", str(model), *split, "--json")
    assert evaluated.returncode == 0, evaluated.stderr
    assert json.loads(evaluated.stdout)["metrics"] == test_metrics
    # Without --test-fraction and --seed: the split the model records.
    recorded = run("evaluate", "--model", str(model), "--images", str(folder),
                   "--json")  # fmt: skip
    assert recorded.returncode == 0, recorded.stderr
    assert json.loads(recorded.stdout)["metrics"] == test_metrics
    saved = load_model(model)
    assert saved.classes == ["cat", "non-cat"]
    assert saved.training["data"]["kind"] == "image folder"
    assert saved.training["data"]["seed"] == 3
    # Another split of the same folder would test on training pictures.
    for other in (["--test-fraction", "0.5"], ["--seed", "4"]):
        refused = run("evaluate", "--model", str(model), "--images",
                      str(folder), *other)  # fmt: skip
        assert refused.returncode == FAILURE
        assert refused.stdout == ""
        assert refused.stderr.count("\n") == 1
        assert refused.stderr.startswith(
            f"logitnet: error: {folder}: the model was trained on this folder "
            "split with --test-fraction 0.2 --seed 3;"
        ), refused.stderr
    none_model = tmp_path / "none.npz"
    trained = run("train", "--images", str(folder), "--test-fraction", "0",
                  "--solver", "lbfgs", "--out", str(none_model))  # fmt: skip
    assert trained.returncode == 0, trained.stderr
    none = run("evaluate", "--model", str(none_model), "--images", str(folder))
    assert none.returncode == FAILURE
    assert none.stderr == (
        f"logitnet: error: {folder}: no test pictures (--test-fraction is 0?); "
        "use --split train or all\n"
    )

    # The split in the file is the split used for training: same test pictures.
    estimator = saved.to_estimator()
    proba = estimator.predict_proba(scale(flatten(test_x)).T)[:, 1]
    assert metrics.roc_auc_score(test_y[0], proba) == pytest.approx(
        test_metrics["roc_auc"]
    )


def test_evaluate_refuses_data_that_does_not_fit_the_model(
    course_model, folder, tmp_path
):
    out, _ = course_model
    result = run("evaluate", "--model", str(out), "--images", str(folder))
    assert result.returncode == FAILURE
    assert result.stderr == (
        f"logitnet: error: {folder}: classes ['cat', 'non-cat'] are not the "
        "model's ['non-cat', 'cat']\n"
    )


def test_data_dir_and_images_are_exclusive(folder, data_dir):
    result = run("train", "--images", str(folder), "--data-dir", str(data_dir))
    assert result.returncode == USAGE
    assert "give either --data-dir or --images, not both" in result.stderr
    result = run("train", "--data-dir", str(data_dir), "--test-fraction", "0.3")
    assert result.returncode == USAGE
    assert "--test-fraction applies to --images only" in result.stderr


def test_train_class_weight_balanced_is_recorded(data_dir, tmp_path):
    out = tmp_path / "balanced.npz"
    result = run("train", "--data-dir", str(data_dir), "--solver", "lbfgs",
                 "--iterations", "100", "--class-weight", "balanced",
                 "--out", str(out), "--quiet")  # fmt: skip
    assert result.returncode == 0, result.stderr
    training = load_model(out).training
    assert training["class_weight"] == "balanced"
    assert training["representation"] == "span"
