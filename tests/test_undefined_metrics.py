"""A metric that is undefined on the pictures (ROC AUC on a test split of
one class) is one thing at every door, each through a real ``logitnet``
process: ``null`` in JSON, "undefined: the test pictures hold one class" in
words and in the page, None in a model file, which saves and loads; an
older file that says NaN there is read as None."""

from __future__ import annotations

import hashlib
import json
import math
import re

import numpy as np
import pytest

from conftest import TINY_SHAPE, run
from logitnet.app.modelfile import load_model, save_model
from logitnet.data.layout import write_course_file
from serving import Server

ROC_AUC_UNDEFINED = "undefined: the test pictures hold one class"


@pytest.fixture(scope="module")
def one_class_file(tmp_path_factory):
    """12 training pictures of both classes ("yes" bright, "no" dark), and
    6 test pictures, all "yes"."""
    rng = np.random.default_rng(7)
    y = np.arange(18) % 2
    y[12:] = 1
    x = rng.integers(0, 128, (18, *TINY_SHAPE), dtype=np.uint8)
    x[y == 1] += 128
    path = tmp_path_factory.mktemp("one_class") / "one_class.h5"
    return write_course_file(path, x[:12], y[:12], ["no", "yes"], x[12:], y[12:])


@pytest.fixture(scope="module")
def trained(one_class_file):
    """``train --data`` on the file: (model path, the completed process)."""
    model = one_class_file.with_name("model.npz")
    done = run("train", "--data", str(one_class_file), "--out", str(model),
               "--iterations", "30")  # fmt: skip
    assert done.returncode == 0, done.stderr
    return model, done


def words_of(page: str) -> str:
    """A page without its pictures (base64 may spell anything)."""
    return re.sub(r"data:image/png;base64,[A-Za-z0-9+/=]+", "", page)


def check_clean(done) -> None:
    """Exit status 0, and nothing said of NaN, None or a warning."""
    assert done.returncode == 0, done.stderr
    for said in (done.stdout, done.stderr):
        assert "Warning" not in said and "warning" not in said
        assert not re.search(r"\b(nan|NaN|None)\b", said)


def test_train_prints_its_scores(trained):
    _, done = trained
    check_clean(done)
    assert done.stdout.splitlines()[-2:] == [
        "train accuracy: 100.0 %",
        "test accuracy: 100.0 %",
    ]


def test_train_json_says_null(one_class_file):
    done = run("train", "--data", str(one_class_file), "--iterations", "30",
               "--json")  # fmt: skip
    check_clean(done)
    test = json.loads(done.stdout)["metrics"]["test"]
    assert test["roc_auc"] is None
    assert test["accuracy"] == 1.0
    assert '"roc_auc": null' in done.stdout


def test_evaluate_says_undefined_in_words(trained, one_class_file):
    model, _ = trained
    done = run("evaluate", "--model", str(model), "--data", str(one_class_file))
    check_clean(done)
    assert f"roc_auc    {ROC_AUC_UNDEFINED}\n" in done.stdout
    assert "accuracy   1.0000\n" in done.stdout


def test_evaluate_json_says_null(trained, one_class_file):
    model, _ = trained
    done = run("evaluate", "--model", str(model), "--data", str(one_class_file),
               "--json")  # fmt: skip
    check_clean(done)
    metrics = json.loads(done.stdout)["metrics"]
    assert metrics["roc_auc"] is None
    # All six are "yes" and found: recall is defined, and perfect.
    assert metrics["recall"] == 1.0 and metrics["precision"] == 1.0


def test_evaluate_on_both_splits_is_defined(trained, one_class_file):
    model, _ = trained
    done = run("evaluate", "--model", str(model), "--data", str(one_class_file),
               "--split", "all", "--json")  # fmt: skip
    check_clean(done)
    assert json.loads(done.stdout)["metrics"]["roc_auc"] == 1.0


def test_report_says_undefined_in_the_page(trained, one_class_file):
    model, _ = trained
    page = one_class_file.with_name("report.html")
    done = run("report", "--model", str(model), "--data", str(one_class_file),
               "--out", str(page))  # fmt: skip
    check_clean(done)
    text = words_of(page.read_text())
    assert f'<th scope="row">ROC AUC</th><td>{ROC_AUC_UNDEFINED}</td>' in text
    assert not re.search(r"\b(nan|NaN|None|n/a)\b", text)


def test_the_model_file_keeps_undefined_as_null(trained, tmp_path):
    model, _ = trained
    loaded = load_model(model)
    assert loaded.metrics["test"]["roc_auc"] is None
    assert loaded.metrics["train"]["roc_auc"] == 1.0
    again = load_model(save_model(tmp_path / "again.npz", loaded))
    assert again.metrics == loaded.metrics
    with np.load(model, allow_pickle=False) as npz:
        assert '"roc_auc": null' in str(npz["metadata"])


# --- an older file that says NaN --------------------------------------------------


def write_older_file(path, model, metrics) -> None:
    """``model`` as a version 2 file whose metrics are ``metrics``, written
    as JSON allows NaN, with the checksum computed the way the format says
    (SHA-256 of the little-endian weights, bias, and the sorted metadata)."""
    metadata = {
        "format": "logitnet-model",
        "format_version": 2,
        "logitnet_version": "0.0.1",
        "classes": list(model.classes),
        "image_shape": list(model.image_shape),
        "preprocessing": model.preprocessing,
        "training": model.training,
        "metrics": metrics,
    }
    w, b = np.asarray(model.w, "<f8"), np.asarray(model.b, "<f8")
    digest = hashlib.sha256(w.tobytes() + b.tobytes())
    digest.update(json.dumps(metadata, sort_keys=True).encode())
    metadata["sha256"] = digest.hexdigest()
    with open(path, "wb") as f:
        np.savez(f, w=w, b=b, metadata=np.array(json.dumps(metadata)))


@pytest.fixture(scope="module")
def older(trained):
    """The trained model as an older file: NaN where undefined, even the
    test accuracy."""
    model, _ = trained
    loaded = load_model(model)
    nan = float("nan")
    metrics = {
        **loaded.metrics,
        "test_accuracy": nan,
        "test": {**loaded.metrics["test"], "roc_auc": nan},
    }
    path = model.with_name("older.npz")
    write_older_file(path, loaded, metrics)
    return path


@pytest.mark.parametrize("undefined", [float("nan"), None])
def test_an_older_file_with_nan_or_none_loads_as_none(trained, tmp_path, undefined):
    model = load_model(trained[0])
    path = tmp_path / "older.npz"
    write_older_file(path, model, {"test": {"roc_auc": undefined, "f1": 0.5}})
    loaded = load_model(path)
    assert loaded.metrics == {"test": {"roc_auc": None, "f1": 0.5}}
    resaved = load_model(save_model(tmp_path / "resaved.npz", loaded))
    assert resaved.metrics == loaded.metrics


def test_a_model_with_nan_in_its_metrics_saves_as_null(trained, tmp_path):
    model = load_model(trained[0])
    model.metrics = {"test": {"roc_auc": float("nan")}}
    loaded = load_model(save_model(tmp_path / "m.npz", model))
    assert loaded.metrics == {"test": {"roc_auc": None}}


def test_report_with_an_older_file(older, one_class_file):
    page = older.with_name("older.html")
    done = run("report", "--model", str(older), "--data", str(one_class_file),
               "--out", str(page))  # fmt: skip
    check_clean(done)
    assert ROC_AUC_UNDEFINED in page.read_text()


def test_the_server_says_null_and_undefined(older):
    server = Server(older)
    try:
        status, meta = server.json("GET", "/api/model")
        assert status == 200
        assert meta["metrics"]["test"]["roc_auc"] is None
        assert meta["metrics"]["test_accuracy"] is None
        assert not math.isnan(meta["metrics"]["train_accuracy"])
        status, _, page = server.request("GET", "/")
        assert status == 200
        card = words_of(page.decode())
        assert (
            '<th scope="row">test accuracy</th><td class="number">undefined</td>'
        ) in card
        assert 'train accuracy</th><td class="number">100.0\u00a0%</td>' in card
        assert not re.search(r"\b(nan|NaN)\b", card)
    finally:
        status, err = server.stop()
    assert status == 0, err
    assert "Traceback" not in err
