"""Model files: round trip, every damaged or foreign file refused, atomic writes."""

from __future__ import annotations

import json
import os
import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning

from logitnet.app import modelfile
from logitnet.app.modelfile import (
    SavedModel,
    check_output_path,
    load_model,
    load_picture_model,
    save_model,
)
from logitnet.exceptions import ModelFileError, OutputPathError


@pytest.fixture
def saved(rng) -> SavedModel:
    return SavedModel(
        w=rng.normal(size=2 * 2 * 3),
        b=-0.25,
        classes=["non-cat", "cat"],
        image_shape=(2, 2, 3),
        training={"solver": "gd", "num_iterations": 10, "costs": [0.69]},
        metrics={"train_accuracy": 90.0},
    )


def write_raw(path, w, b, metadata):
    with open(path, "wb") as f:
        np.savez(f, w=w, b=b, metadata=np.array(json.dumps(metadata)))


def save_npy(path, array):
    with open(path, "wb") as f:  # a path would get ".npy" appended
        np.save(f, array)


def metadata_of(model: SavedModel) -> dict:
    return {
        "format": "logitnet-model",
        "format_version": 1,
        "classes": model.classes,
        "image_shape": list(model.image_shape),
    }


def test_round_trip(tmp_path, saved):
    path = save_model(tmp_path / "m.npz", saved)
    loaded = load_model(path)
    np.testing.assert_array_equal(loaded.w, saved.w)
    assert loaded.b == saved.b
    assert loaded.classes == saved.classes
    assert loaded.image_shape == saved.image_shape
    assert loaded.training == saved.training
    assert loaded.metrics == saved.metrics
    assert loaded.preprocessing == modelfile.PREPROCESSING


def test_no_suffix_is_added(tmp_path, saved):
    save_model(tmp_path / "model", saved)
    assert [p.name for p in tmp_path.iterdir()] == ["model"]
    assert load_model(tmp_path / "model").b == saved.b


def test_overwrite_replaces_the_whole_file(tmp_path, saved):
    path = tmp_path / "m.npz"
    save_model(path, saved)
    saved.b = 3.0
    save_model(path, saved)
    assert load_model(path).b == 3.0
    assert [p.name for p in tmp_path.iterdir()] == ["m.npz"]


@pytest.mark.parametrize("fail_in", ["savez", "replace"])
def test_failed_write_leaves_the_old_file(tmp_path, saved, monkeypatch, fail_in):
    path = tmp_path / "m.npz"
    save_model(path, saved)
    before = path.read_bytes()

    def broken_savez(f, **arrays):
        f.write(b"PK\x03\x04 half a zip")  # a partial write, then the crash
        raise OSError("No space left on device")

    def broken_replace(src, dst):
        raise KeyboardInterrupt  # killed between write and rename

    if fail_in == "savez":
        monkeypatch.setattr(modelfile.np, "savez", broken_savez)
        error = OSError
    else:
        monkeypatch.setattr(modelfile.os, "replace", broken_replace)
        error = KeyboardInterrupt
    saved.b = 7.0
    with pytest.raises(error):
        save_model(path, saved)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["m.npz"]  # no temp file left


def test_output_path_checks(tmp_path):
    with pytest.raises(OutputPathError, match="is a directory; give a file name"):
        check_output_path(tmp_path)
    with pytest.raises(OutputPathError, match=r"directory .*nowhere does not exist"):
        check_output_path(tmp_path / "nowhere" / "m.npz")
    (tmp_path / "file").write_text("")
    with pytest.raises(OutputPathError, match="file is not a directory"):
        check_output_path(tmp_path / "file" / "m.npz")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"w": np.zeros(5)}, r"weights must be float64 of shape \(12,\)"),
        ({"w": np.full(12, np.nan)}, "contain NaN or inf"),
        ({"b": np.inf}, "contain NaN or inf"),
        ({"classes": ["cat"]}, "'classes' must be 2 to 10000 names"),
        ({"image_shape": (2, 2)}, "'image_shape' must be"),
        ({"training": {"lr": np.float32(0.1)}}, "must be JSON-serializable"),
    ],
)
def test_save_refuses_what_load_would_refuse(tmp_path, saved, change, message):
    for key, value in change.items():
        setattr(saved, key, value)
    with pytest.raises(ModelFileError, match=message):
        save_model(tmp_path / "m.npz", saved)
    assert list(tmp_path.iterdir()) == []


def test_numpy_integers_in_the_image_shape_are_saved_as_ints(tmp_path, saved):
    saved.image_shape = tuple(np.int64(n) for n in saved.image_shape)
    assert load_model(save_model(tmp_path / "m.npz", saved)).image_shape == (2, 2, 3)


def test_save_refuses_a_bad_path_before_writing(tmp_path, saved):
    with pytest.raises(OutputPathError, match="does not exist"):
        save_model(tmp_path / "nowhere" / "m.npz", saved)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p, m: None, "no such model file"),
        (lambda p, m: p.mkdir(), "is a directory, not a model file"),
        (lambda p, m: p.write_bytes(b""), "is an empty file, not a model file"),
        (lambda p, m: p.write_text("w,b\n1,2\n"), "is a text file, not a model file"),
        (lambda p, m: np.savez(p, weights=np.zeros(3)),
         r"is a NumPy .npz archive of \['weights'\], not a model file"),
        (lambda p, m: save_npy(p, np.zeros(3)), "is a NumPy .npy array, not a model"),
        (lambda p, m: write_raw(p, np.array([{"x": 1}] * 12, dtype=object), m.b,
                                metadata_of(m)),
         "member 'w.npy' holds Python objects, which a model file never does"),
        (lambda p, m: write_raw(p, m.w, m.b, {**metadata_of(m), "format": "other"}),
         "not a logitnet model"),
        (lambda p, m: write_raw(p, m.w, m.b, {**metadata_of(m), "format_version": 99}),
         "model format version 99 is not supported"),
        (lambda p, m: write_raw(p, m.w[:-1], m.b, metadata_of(m)),
         r"weights must be float64 of shape \(12,\) .*got float64 of shape \(11,\)"),
        (lambda p, m: write_raw(p, m.w.astype(np.float32), m.b, metadata_of(m)),
         "got float32"),
        (lambda p, m: write_raw(p, m.w, np.zeros(2), metadata_of(m)),
         "bias must be a float64 scalar"),
        (lambda p, m: write_raw(p, np.full(12, np.nan), m.b, metadata_of(m)),
         "contain NaN or inf"),
        (lambda p, m: write_raw(p, m.w, m.b, {**metadata_of(m), "classes": ["a"]}),
         "'classes' must be 2 to 10000 names"),
        (lambda p, m: write_raw(p, m.w, m.b, {**metadata_of(m), "image_shape": [12]}),
         "'image_shape' must be"),
        (lambda p, m: write_raw(p, m.w, m.b, ["not", "a", "dict"]),
         "not a logitnet model"),
        (lambda p, m: write_raw(p, m.w, m.b, {**metadata_of(m), "format_version": True}),
         "model format version True is not supported"),
        (lambda p, m: write_raw(p, m.w, m.b, {**metadata_of(m), "image_shape": [True, 4, 3]}),
         "'image_shape' must be"),
    ],
)  # fmt: skip
def test_bad_model_file_is_named(tmp_path, saved, make, message):
    path = tmp_path / "m.npz"
    make(path, saved)
    with pytest.raises(ModelFileError, match=message) as info:
        load_model(path)
    assert str(path) in str(info.value)


def test_truncated_model_file(tmp_path, saved):
    path = save_model(tmp_path / "m.npz", saved)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelFileError, match="not a readable model file"):
        load_model(path)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{oops", "metadata is not valid JSON"),
        ("[" * 100_000 + "]" * 100_000, "metadata is nested too deep"),
        ("[" * 990 + "]" * 990, "metadata is nested too deep"),
        ('{"a":' * 33 + "1" + "}" * 33, "metadata is nested too deep"),
    ],
)
def test_tampered_metadata_is_refused(tmp_path, saved, text, message):
    path = tmp_path / "m.npz"
    with open(path, "wb") as f:
        np.savez(f, w=saved.w, b=np.float64(saved.b), metadata=np.array(text))
    with pytest.raises(ModelFileError, match=message):
        load_model(path)


def test_duplicate_class_names_are_refused(tmp_path, saved):
    saved.classes = ["cat", "cat"]
    with pytest.raises(ModelFileError, match="different names; got 'cat' twice"):
        save_model(tmp_path / "m.npz", saved)
    assert not (tmp_path / "m.npz").exists()


def test_a_special_file_is_never_replaced(tmp_path, saved):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    with pytest.raises(OutputPathError, match="is not a regular file"):
        save_model(fifo, saved)
    assert fifo.is_fifo()


def test_new_file_gets_ordinary_permissions(tmp_path, saved):
    old = os.umask(0o022)
    try:
        path = save_model(tmp_path / "m.npz", saved)
    finally:
        os.umask(old)
    assert path.stat().st_mode & 0o777 == 0o644


def test_replaced_file_keeps_its_permissions(tmp_path, saved):
    path = save_model(tmp_path / "m.npz", saved)
    path.chmod(0o600)
    save_model(path, saved)
    assert path.stat().st_mode & 0o777 == 0o600


# -- version 2: a checksum; version 1 still read -------------------------------


def _rewrite(path, change):
    """Load the archive's parts, change one, write them back unchecked."""
    with np.load(path, allow_pickle=False) as npz:
        parts = {
            "w": npz["w"],
            "b": npz["b"],
            "metadata": json.loads(str(npz["metadata"])),
        }
    change(parts)
    write_raw(path, parts["w"], parts["b"], parts["metadata"])


@pytest.mark.parametrize(
    "change",
    [
        lambda p: p["w"].__setitem__(0, p["w"][0] + 1e-12),
        lambda p: p.__setitem__("b", np.float64(3.0)),
        lambda p: p["metadata"].__setitem__("classes", ["cat", "non-cat"]),
        lambda p: p["metadata"]["metrics"].__setitem__("train_accuracy", 100.0),
        lambda p: p["metadata"].pop("sha256"),
    ],
    ids=["weight", "bias", "classes swapped", "metrics", "no checksum"],
)
def test_a_changed_file_is_refused(tmp_path, saved, change):
    path = save_model(tmp_path / "m.npz", saved)
    _rewrite(path, change)
    with pytest.raises(ModelFileError, match="do not match the file's checksum"):
        load_model(path)


def test_unchanged_rewrite_still_loads(tmp_path, saved):
    path = save_model(tmp_path / "m.npz", saved)
    _rewrite(path, lambda parts: None)
    assert load_model(path).classes == saved.classes


def test_version_1_files_are_still_read(tmp_path, saved):
    path = tmp_path / "v1.npz"
    write_raw(path, saved.w, np.float64(saved.b), metadata_of(saved))
    loaded = load_model(path)
    assert loaded.classes == saved.classes
    assert loaded.preprocessing["scale"] == "pixel / 255"


def test_metadata_parts_must_be_objects(tmp_path, saved):
    path = tmp_path / "m.npz"
    write_raw(
        path, saved.w, np.float64(saved.b), {**metadata_of(saved), "metrics": [1]}
    )
    with pytest.raises(ModelFileError, match="'metrics' must be a JSON object"):
        load_model(path)


# -- using a loaded model --------------------------------------------------------


def test_predictions_from_paths_pil_images_and_arrays(tmp_path, saved, rng):
    from PIL import Image

    pictures = rng.integers(0, 256, size=(3, 2, 2, 3), dtype=np.uint8)
    X = pictures.reshape(3, -1) / 255
    z = X @ saved.w + saved.b
    expected = np.column_stack([1 / (1 + np.exp(z)), 1 / (1 + np.exp(-z))])
    path = tmp_path / "0.png"
    Image.fromarray(pictures[0]).save(path)
    sources = [path, Image.fromarray(pictures[1]), pictures[2]]
    np.testing.assert_allclose(saved.predict_proba(sources), expected, rtol=1e-12)
    np.testing.assert_allclose(saved.predict_proba(pictures), expected, rtol=1e-12)
    np.testing.assert_allclose(saved.predict_proba(str(path)), expected[:1], rtol=1e-12)
    labels = [saved.classes[int(v > 0)] for v in z]
    assert saved.predict(sources) == labels
    assert saved.to_estimator().predict(X).tolist() == labels


def test_a_write_killed_midway_leaves_the_old_or_the_new_file(tmp_path):
    import signal
    import subprocess
    import sys
    import time

    path = tmp_path / "m.npz"
    writer = (
        "import numpy as np, sys\n"
        "from logitnet.app.modelfile import SavedModel, save_model\n"
        "i = 0\n"
        "while True:\n"
        "    i += 1\n"
        "    save_model(sys.argv[1], SavedModel(w=np.full(64 * 64 * 3 * 40, float(i)),\n"
        "        b=float(i), classes=['a', 'b'], image_shape=(64 * 8, 64 * 5, 3)))\n"
        "    print(i, flush=True)\n"
    )
    for delay in (0.05, 0.2, 0.5):
        proc = subprocess.Popen(
            [sys.executable, "-c", writer, str(path)], stdout=subprocess.PIPE
        )
        proc.stdout.readline()  # one complete model is there
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        proc.stdout.close()
        loaded = load_model(path)  # never a half-written file
        assert np.all(loaded.w == loaded.b)
    leftovers = [p.name for p in tmp_path.iterdir() if p.name != "m.npz"]
    assert all(name.startswith(".m.npz.") for name in leftovers)


# -- a model fitted in Python, kept ------------------------------------------------

SHAPE = (3, 3, 3)


@pytest.fixture
def pictures(rng):
    """60 pictures of SHAPE, the bright ones labelled "cat"."""
    pictures = rng.integers(0, 256, size=(60, *SHAPE), dtype=np.uint8)
    bright = pictures.mean(axis=(1, 2, 3)) + rng.normal(0, 8, 60) > 127.5
    return pictures, np.where(bright, "cat", "dog")


def fitted(X, y, **params):
    from logitnet import LogisticRegression

    with warnings.catch_warnings():  # a few gd steps: not converged, by design
        warnings.simplefilter("ignore", ConvergenceWarning)
        return LogisticRegression(**params).fit(X, y)


#: Settings unlike every default.
SETTINGS = {
    "solver": "gd",
    "learning_rate": 0.05,
    "max_iter": 40,
    "alpha": 0.01,
    "tol": 1e-9,
    "fit_intercept": False,
    "dtype": np.float32,
    "class_weight": "balanced",
    "representation": "primal",
}


@pytest.mark.parametrize("params", [{}, SETTINGS], ids=["defaults", "settings"])
def test_a_fitted_picture_estimator_round_trips(tmp_path, pictures, params):
    from logitnet.app.prediction import pictures_to_X

    images, y = pictures
    X = pictures_to_X(images)
    clf = fitted(X, y, **params)
    path = save_model(tmp_path / "m.npz", clf, image_shape=SHAPE)
    loaded = load_model(path)
    assert loaded.classes == ["cat", "dog"] and loaded.image_shape == SHAPE
    assert loaded.preprocessing == modelfile.PREPROCESSING
    expected = clf.predict_proba(X)
    # The file's model computes in float64 whatever the estimator's dtype:
    # a float32 estimator's own answers are float32's.
    tolerance = 1e-12 if clf.coef_.dtype == np.float64 else 1e-6
    np.testing.assert_allclose(
        loaded.predict_proba(images), expected, rtol=0, atol=tolerance
    )
    assert loaded.predict(images) == clf.predict(X).tolist()
    again = loaded.to_estimator()
    assert again.get_params() == clf.get_params()
    assert again.coef_.dtype == clf.coef_.dtype
    np.testing.assert_allclose(again.predict_proba(X), expected, rtol=0, atol=1e-12)
    assert (again.n_iter_, again.converged_) == (clf.n_iter_, clf.converged_)
    assert loaded.training["final_cost"] == clf.loss_curve_[-1]


@pytest.mark.parametrize(
    "labels",
    [["dog", "cat"], [0, 1], [-1, 7], [-1.0, 1.0], [False, True]],
    ids=["strings", "0 1", "-1 7", "floats", "bools"],
)
def test_a_feature_estimator_keeps_its_labels(tmp_path, rng, labels):
    X = rng.normal(size=(50, 4))
    y = np.array(labels)[(X[:, 0] + rng.normal(0, 0.5, 50) > 0).astype(int)]
    clf = fitted(X, y, class_weight={labels[0]: 2.0, labels[1]: 0.5})
    loaded = load_model(save_model(tmp_path / "m.npz", clf))
    assert loaded.image_shape is None and loaded.n_features == 4
    assert loaded.classes == [str(c) for c in clf.classes_]
    assert loaded.preprocessing == {}
    again = loaded.to_estimator()
    assert again.n_features_in_ == 4
    assert again.classes_.tolist() == clf.classes_.tolist()
    assert again.class_weight == clf.class_weight
    assert again.predict(X).tolist() == clf.predict(X).tolist()
    np.testing.assert_allclose(
        again.predict_proba(X), clf.predict_proba(X), rtol=0, atol=1e-12
    )


def test_class_names_for_labels(tmp_path, rng, pictures):
    # Fitted on 0/1 labels, named as the course names them: to_estimator's
    # classes_ are the names, as for a model logitnet train wrote.
    from logitnet.app.prediction import pictures_to_X

    images, y = pictures
    X = pictures_to_X(images)
    clf = fitted(X, (y == "cat").astype(int))
    path = save_model(tmp_path / "m.npz", clf, image_shape=SHAPE, classes=["no", "cat"])
    loaded = load_model(path)
    assert loaded.classes == ["no", "cat"] and loaded.labels is None
    assert loaded.to_estimator().classes_.tolist() == ["no", "cat"]
    assert loaded.predict(images) == np.array(["no", "cat"])[clf.predict(X)].tolist()
    with pytest.raises(ValueError, match="'classes' must be 2 to 10000 names; got"):
        save_model(tmp_path / "x.npz", clf, image_shape=SHAPE, classes=["cat"])


def test_format_versions_written(tmp_path, rng):
    # A picture model stays version 2 (every logitnet since reads it); only a
    # model without a picture shape needs version 3.
    X = rng.normal(size=(20, 12))
    y = X[:, 0] > 0
    versions = {}
    for name, shape in (("pictures", (2, 2, 3)), ("features", None)):
        path = save_model(tmp_path / name, fitted(X, y), image_shape=shape)
        with np.load(path, allow_pickle=False) as npz:
            meta = json.loads(str(npz["metadata"]))
        versions[name] = meta["format_version"], meta["image_shape"]
        versions[name] += (meta.get("n_features"),)
    assert versions == {"pictures": (2, [2, 2, 3], None), "features": (3, None, 12)}


def test_feature_names_round_trip(tmp_path, rng):
    X = rng.normal(size=(20, 2))
    clf = fitted(X, X[:, 0] > 0)
    clf.feature_names_in_ = np.array(["height", "weight"], dtype=object)
    again = load_model(save_model(tmp_path / "m.npz", clf)).to_estimator()
    assert again.feature_names_in_.tolist() == ["height", "weight"]


def test_an_estimator_fitted_on_tensors_is_saved(tmp_path, rng):
    import torch

    X = rng.normal(size=(30, 3))
    y = (X[:, 1] > 0).astype(int)
    clf = fitted(torch.asarray(X), torch.asarray(y))
    loaded = load_model(save_model(tmp_path / "m.npz", clf))
    np.testing.assert_allclose(
        loaded.to_estimator().predict_proba(X),
        fitted(X, y).predict_proba(X),
        rtol=0,
        atol=1e-9,
    )
    assert loaded.labels == [0, 1]


def test_what_is_not_a_fitted_estimator_is_refused(tmp_path):
    from sklearn.exceptions import NotFittedError
    from sklearn.linear_model import LogisticRegression as SklearnLogisticRegression

    from logitnet import LogisticRegression

    with pytest.raises(
        NotFittedError,
        match=r"^this LogisticRegression is not fitted: call fit\(X, y\)",
    ):
        save_model(tmp_path / "m.npz", LogisticRegression())
    with pytest.raises(
        TypeError, match=r"a fitted logitnet\.LogisticRegression; got builtins\.dict$"
    ):
        save_model(tmp_path / "m.npz", {"w": [1.0]})
    other = SklearnLogisticRegression().fit([[0.0], [1.0]], [0, 1])
    with pytest.raises(TypeError, match=r"got sklearn\.linear_model\."):
        save_model(tmp_path / "m.npz", other)
    assert list(tmp_path.iterdir()) == []


def test_an_image_shape_that_does_not_fit_is_refused(tmp_path, rng, saved):
    X = rng.normal(size=(20, 12))
    with pytest.raises(
        ModelFileError, match=r"weights must be float64 of shape \(48,\)"
    ):
        save_model(tmp_path / "m.npz", fitted(X, X[:, 0] > 0), image_shape=(4, 4, 3))
    with pytest.raises(ValueError, match="image_shape= and classes= are for an est"):
        save_model(tmp_path / "m.npz", saved, image_shape=(2, 2, 3))
    assert list(tmp_path.iterdir()) == []


def test_a_model_without_picture_shape_refuses_pictures(tmp_path, rng):
    X = rng.normal(size=(20, 12))
    path = save_model(tmp_path / "m.npz", fitted(X, X[:, 0] > 0))
    model = load_model(path)
    with pytest.raises(ValueError, match="a model of 12 features, not of pictures"):
        model.predict_proba(np.zeros((1, 2, 2, 3), np.uint8))
    with pytest.raises(ModelFileError) as info:
        load_picture_model(path)
    assert str(info.value) == (
        f"{path}: a model of 12 features, not of pictures (saved without "
        "image_shape=); use it in Python: load_model(path).to_estimator()"
    )


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"format_version": 2}, "'image_shape' must be"),
        (
            {"n_features": 11},
            r"weights must be float64 of shape \(11,\) for 11 features",
        ),
        ({"n_features": "12"}, "n_features must be a positive integer; got '12'"),
        ({"labels": [1, 1]}, "'labels' must be two different numbers or strings"),
        ({"feature_names": ["a"]}, "'feature_names' must be 12 strings"),
    ],
)
def test_a_bad_model_of_features_is_refused(tmp_path, rng, change, message):
    X = rng.normal(size=(20, 12))
    path = save_model(tmp_path / "m.npz", fitted(X, X[:, 0] > 0))
    _rewrite(path, lambda parts: parts["metadata"].update(change))
    with pytest.raises(ModelFileError, match=message):
        load_model(path)


def test_the_settings_of_an_earlier_model_file(tmp_path, saved):
    # What logitnet train recorded before fit_intercept, dtype and the
    # representation setting were: those keep their defaults; class weights
    # were keyed by class index.
    saved.training = {
        "solver": "gd",
        "learning_rate": 0.01,
        "num_iterations": 300,
        "alpha": 0.5,
        "tol": 0.0,
        "class_weight": {"1": 3.0},
        "representation": "span",
    }
    est = load_model(save_model(tmp_path / "m.npz", saved)).to_estimator()
    params = est.get_params()
    assert params["solver"] == "gd" and params["max_iter"] == 300
    assert (params["learning_rate"], params["alpha"], params["tol"]) == (0.01, 0.5, 0)
    assert params["class_weight"] == {"cat": 3.0}
    assert params["dtype"] is np.float64 and params["fit_intercept"] is True
    assert params["representation"] == "auto" and est.representation_ == "span"
