"""A model of k >= 3 classes kept in a file: format version 4, its answers
the estimator's, through ``load_model`` and ``logitnet predict``."""

from __future__ import annotations

import json
import zipfile

import numpy as np
import pytest
from PIL import Image

from conftest import FAILURE, run
from logitnet import LogisticRegression
from logitnet.app.modelfile import load_model, save_model
from logitnet.app.prediction import pictures_to_X
from logitnet.exceptions import ModelFileError

SHAPE = (4, 4, 3)
NAMES = np.array(["red", "green", "blue"])


@pytest.fixture(scope="module")
def fitted():
    """Pictures whose strongest channel is their class, and an estimator."""
    rng = np.random.default_rng(0)
    pictures = rng.integers(0, 256, (90, *SHAPE), dtype=np.uint8)
    labels = NAMES[pictures.reshape(90, -1, 3).mean(axis=1).argmax(axis=1)]
    clf = LogisticRegression(alpha=1e-3).fit(pictures_to_X(pictures), labels)
    return pictures, labels, clf


def test_a_k_class_model_is_kept_and_answers_as_fitted(tmp_path, fitted):
    pictures, _, clf = fitted
    path = save_model(tmp_path / "rgb.npz", clf, image_shape=SHAPE)
    model = load_model(path)
    assert model.classes == ["blue", "green", "red"]  # classes_, sorted
    assert model.w.shape == (48, 3) and model.b.shape == (3,)
    X = pictures_to_X(pictures)
    assert np.array_equal(model.predict_proba(pictures), clf.predict_proba(X))
    assert model.predict(pictures) == clf.predict(X).tolist()
    back = model.to_estimator()
    assert np.array_equal(back.coef_, clf.coef_)
    assert np.array_equal(back.intercept_, clf.intercept_)
    assert np.array_equal(back.predict_proba(X), clf.predict_proba(X))
    with zipfile.ZipFile(path) as archive:
        text = np.load(archive.open("metadata.npy")).item()
        w = np.load(archive.open("w.npy"))
    assert json.loads(text)["format_version"] == 4
    assert w.shape == (3, 48)  # one row per class in the file


def test_two_class_models_are_still_written_as_version_2(tmp_path, fitted):
    pictures, labels, _ = fitted
    keep = labels != "blue"
    clf = LogisticRegression(alpha=1e-3).fit(
        pictures_to_X(pictures[keep]), labels[keep]
    )
    path = save_model(tmp_path / "rg.npz", clf, image_shape=SHAPE)
    with zipfile.ZipFile(path) as archive:
        meta = json.loads(np.load(archive.open("metadata.npy")).item())
    assert meta["format_version"] == 2
    assert load_model(path).w.shape == (48,)


def _rewrite(path, **changes):
    """The model file at ``path`` with metadata fields changed (checksum
    recomputed, so that only the change is wrong)."""
    from logitnet.app import modelfile

    with zipfile.ZipFile(path) as archive:
        arrays = {n[:-4]: np.load(archive.open(n)) for n in archive.namelist()}
    meta = json.loads(arrays["metadata"].item())
    meta.update(changes)
    meta["sha256"] = modelfile._checksum(arrays["w"], arrays["b"], meta)
    arrays["metadata"] = np.array(json.dumps(meta, sort_keys=True))
    with open(path, "wb") as f:
        np.savez(f, **arrays)


def test_versions_must_fit_the_number_of_classes(tmp_path, fitted):
    _, _, clf = fitted
    path = save_model(tmp_path / "rgb.npz", clf, image_shape=SHAPE)
    _rewrite(path, format_version=2)
    with pytest.raises(
        ModelFileError, match="version 2 holds two classes; this one names 3"
    ):
        load_model(path)
    _rewrite(path, format_version=5)
    with pytest.raises(ModelFileError, match="format version 5 is not supported"):
        load_model(path)


def test_predict_answers_every_class(tmp_path, fitted):
    pictures, labels, clf = fitted
    model = save_model(tmp_path / "rgb.npz", clf, image_shape=SHAPE)
    photo = tmp_path / "p.png"
    Image.fromarray(pictures[5]).save(photo)
    result = run("predict", "--model", str(model), str(photo), "--json")
    assert result.returncode == 0, result.stderr
    (entry,) = json.loads(result.stdout)
    expected = clf.predict_proba(pictures_to_X(pictures[5:6]))[0]
    assert entry["label"] == labels[5]
    assert entry["probabilities"] == dict(
        zip(clf.classes_, map(float, expected), strict=True)
    )
    bad = tmp_path / "bad.npz"
    save_model(bad, clf, image_shape=SHAPE)
    _rewrite(bad, format_version=9)
    result = run("predict", "--model", str(bad), str(photo))
    assert result.returncode == FAILURE
    assert "model format version 9 is not supported" in result.stderr
