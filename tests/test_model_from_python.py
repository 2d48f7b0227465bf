"""A model file through real ``logitnet`` processes: a file that is not a
model is named for what it is, and a model fitted in Python is kept and used
by ``predict`` and ``serve`` (or, without a picture shape, refused by every
command that takes pictures)."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from sklearn.exceptions import ConvergenceWarning

from conftest import FAILURE, run
from logitnet import LogisticRegression, save_model
from logitnet.app.prediction import pictures_to_X
from serving import Server, free_port, multipart

NOT_A_MODEL = "not a model file from 'logitnet train --out'"


@pytest.fixture(scope="module")
def photo(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("photo") / "photo.png"
    Image.fromarray(np.full((8, 8, 3), 200, np.uint8)).save(path)
    return path


def refusal(*args: str) -> str:
    """The one line a command that fails prints; stdout must be empty."""
    done = run(*args)
    assert done.returncode == FAILURE, done.stderr
    assert done.stdout == ""
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    return lines[0]


# -- a file that is not a model file -----------------------------------------------


def test_the_course_hdf5_file_is_named(data_dir, photo):
    path = data_dir / "train_catvnoncat.h5"
    assert refusal("predict", "--model", str(path), str(photo)) == (
        f"logitnet: error: {path}: is an HDF5 file (a data set?), {NOT_A_MODEL}"
    )


@pytest.mark.parametrize(
    ("make", "what"),
    [
        (lambda p, photo: p.write_bytes(photo.read_bytes()), "a PNG image"),
        (lambda p, photo: p.write_text("w = 0.5\n"), "a text file"),
        (lambda p, photo: p.write_bytes(b""), "an empty file"),
        (lambda p, photo: p.mkdir(), "a directory"),
        (lambda p, photo: (p.mkdir(), (p / "zarr.json").write_text("{}")),
         "a zarr store (a data set?)"),
    ],
    ids=["png", "text", "empty", "directory", "zarr"],
)  # fmt: skip
def test_what_is_not_a_model_file_is_named(tmp_path, photo, make, what):
    path = tmp_path / "model.npz"  # the name promises a model
    make(path, photo)
    assert refusal("predict", "--model", str(path), str(photo)) == (
        f"logitnet: error: {path}: is {what}, {NOT_A_MODEL}"
    )


# -- a model fitted in Python ------------------------------------------------------

SHAPE = (8, 8, 3)


@pytest.fixture(scope="module")
def fitted(tmp_path_factory):
    """An estimator fitted on 40 pictures of SHAPE, saved with their shape;
    the pictures as PNG files."""
    root = tmp_path_factory.mktemp("fitted")
    rng = np.random.default_rng(11)
    pictures = rng.integers(0, 256, (40, *SHAPE), dtype=np.uint8)
    y = np.where(pictures[..., 0].mean(axis=(1, 2)) > 127.5, "red", "dull")
    clf = LogisticRegression(alpha=0.01).fit(pictures_to_X(pictures), y)
    paths = []
    for i in range(4):
        paths.append(root / f"{i}.png")
        Image.fromarray(pictures[i]).save(paths[-1])
    model = save_model(root / "python.npz", clf, image_shape=SHAPE)
    return model, clf, paths, clf.predict_proba(pictures_to_X(pictures[:4]))


def test_predict_uses_a_model_fitted_in_python(fitted):
    model, clf, paths, expected = fitted
    done = run("predict", "--model", str(model), "--json", *map(str, paths))
    assert done.returncode == 0, done.stderr
    answers = json.loads(done.stdout)
    assert [a["path"] for a in answers] == list(map(str, paths))
    for answer, want in zip(answers, expected, strict=True):
        assert answer["label"] == clf.classes_[np.argmax(want)]
        got = [answer["probabilities"][str(c)] for c in clf.classes_]
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-12)


def test_serve_uses_a_model_fitted_in_python(fitted):
    model, clf, paths, expected = fitted
    server = Server(model)
    try:
        body, headers = multipart([(p.name, p.read_bytes()) for p in paths])
        status, answers = server.json("POST", "/api/predict", body, headers)
    finally:
        code, err = server.stop()
    assert status == 200 and code == 0, err
    for answer, want in zip(answers, expected, strict=True):
        got = [answer["probabilities"][str(c)] for c in clf.classes_]
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-12)


@pytest.fixture(scope="module")
def features_model(tmp_path_factory) -> Path:
    """A model of 5 features, saved without a picture shape."""
    rng = np.random.default_rng(12)
    X = rng.normal(size=(30, 5))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf = LogisticRegression(max_iter=5).fit(X, X[:, 0] > 0)
    return save_model(tmp_path_factory.mktemp("features") / "features.npz", clf)


@pytest.mark.parametrize(
    "command",
    [
        ["predict", "{photo}"],
        ["explain", "{photo}", "--out", "{out}/x.png"],
        ["evaluate", "--images", "{out}"],
        ["report", "--images", "{out}", "--out", "{out}/r.html"],
        ["serve", "--port", "{port}"],
    ],
    ids=lambda command: command[0],
)
def test_a_model_of_features_is_refused_by_the_picture_commands(
    features_model, photo, tmp_path, command
):
    args = [a.format(photo=photo, out=tmp_path, port=free_port()) for a in command]
    line = refusal(args[0], "--model", str(features_model), *args[1:])
    assert line == (
        f"logitnet: error: {features_model}: a model of 5 features, not of "
        "pictures (saved without image_shape=); use it in Python: "
        "load_model(path).to_estimator()"
    )
    assert list(tmp_path.iterdir()) == []
