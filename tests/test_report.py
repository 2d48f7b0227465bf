"""The HTML report: self-contained, escaped, complete, and shown by a real browser."""

from __future__ import annotations

import base64
import dataclasses
import datetime
import io
import os
import pathlib
import re
from html.parser import HTMLParser

import numpy as np
import pytest
from PIL import Image
from scipy.special import expit
from sklearn import metrics as skm

from conftest import DECODE_ALL_IMAGES, assert_not_blank
from logitnet.app.modelfile import SavedModel
from logitnet.exceptions import OutputPathError
from logitnet.viz.report import render_report, write_report

SECTIONS = [
    "Settings",
    "Learning curve",
    "Metrics",
    "Confusion matrix",
    "Weights",
    "Misclassified pictures",
    "Explanation",
]
EVIL = '<b>cat&"'


class Page(HTMLParser):
    """What a browser would see: tags, image sources, text."""

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.sources: list[str] = []
        self.headings: list[str] = []
        self.text: list[str] = []
        self._in_h2 = False
        self.feed(text)
        self.close()

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.sources += [value for name, value in attrs if name == "src"]
        self._in_h2 = tag == "h2"

    def handle_endtag(self, tag):
        self._in_h2 = False

    def handle_data(self, data):
        self.text.append(data)
        if self._in_h2:
            self.headings.append(data)


def report_inputs(model: SavedModel, images: np.ndarray, labels: np.ndarray) -> dict:
    """render_report's keyword arguments for ``model`` on a labelled image set."""
    z = images.reshape(len(images), -1) / 255 @ model.w + model.b
    probability = expit(z)
    predicted = (probability > 0.5).astype(int)
    wrong = predicted != labels
    names = np.array(model.classes)
    return {
        "metrics": {
            "accuracy": skm.accuracy_score(labels, predicted),
            "precision": skm.precision_score(labels, predicted, zero_division=0),
            "recall": skm.recall_score(labels, predicted),
            "f1": skm.f1_score(labels, predicted),
            "roc_auc": skm.roc_auc_score(labels, probability),
            "log_loss": skm.log_loss(labels, probability),
        },
        "confusion": skm.confusion_matrix(labels, predicted, labels=[0, 1]),
        "misclassified_images": images[wrong],
        "misclassified_true": names[labels[wrong]].tolist(),
        "misclassified_predicted": names[predicted[wrong]].tolist(),
        "data_source": "a labelled test set",
    }


def synthetic_model(rng, classes=("non-cat", "cat")) -> SavedModel:
    return SavedModel(
        w=rng.normal(scale=0.01, size=16 * 16 * 3),
        b=0.1,
        classes=list(classes),
        image_shape=(16, 16, 3),
        training={
            "solver": "lbfgs",
            "learning_rate": 0.005,
            "cost_every": 10,
            "costs": [0.69, 0.5, 0.41, 0.36, 0.33],
            "seed": 0,
            "alpha": 1e-4,
            "max_iter": 100,
            "n_iter": 42,
        },
        metrics={"train_accuracy": 99.04306220095694, "test_accuracy": 70.0},
    )


@pytest.fixture
def synthetic(rng) -> tuple[SavedModel, dict]:
    model = synthetic_model(rng)
    images = rng.integers(0, 256, size=(20, 16, 16, 3), dtype=np.uint8)
    return model, report_inputs(model, images, np.arange(20) % 2)


@pytest.fixture(scope="module")
def cat_parts(data_dir) -> tuple[SavedModel, dict]:
    """A quick cat model (200 iterations) and its report's inputs on the test set."""
    from logitnet.app.training import train_cat_classifier
    from logitnet.data.cats import load_dataset

    _, _, test_x, test_y, _ = load_dataset(data_dir)
    model = train_cat_classifier(data_dir, num_iterations=200)
    inputs = report_inputs(model, test_x, test_y.ravel().astype(int))
    inputs["data_source"] = "the course's test set"
    return model, inputs


def decoded_pngs(page: Page) -> list[np.ndarray]:
    prefix = "data:image/png;base64,"
    pictures = []
    for source in page.sources:
        assert source.startswith(prefix)
        with Image.open(io.BytesIO(base64.b64decode(source[len(prefix) :]))) as image:
            assert image.format == "PNG"
            pictures.append(np.asarray(image.convert("RGB")))
    return pictures


# --- the page's content ---------------------------------------------------------


def test_report_is_self_contained(synthetic):
    model, inputs = synthetic
    text = render_report(model, **inputs)
    page = Page(text)
    assert text.startswith("<!DOCTYPE html>")
    assert '<meta charset="utf-8">' in text
    assert "http://" not in text and "https://" not in text
    assert "<script" not in text.lower() and "script" not in page.tags
    assert text.count("src=") == text.count('src="data:image/png;base64,') == 5
    assert not {"link", "iframe", "object", "embed"} & set(page.tags)
    assert page.headings == [
        *SECTIONS[:-2],
        "Misclassified pictures (10)",
        SECTIONS[-1],
    ]
    for pixels in decoded_pngs(page):
        assert_not_blank(pixels)


def test_report_tells_the_settings_in_words(synthetic):
    model, inputs = synthetic
    model.training.update(num_iterations=100, tol=1e-4, converged=True, n_train=20)
    text = " ".join(" ".join(Page(render_report(model, **inputs)).text).split())
    for shown in [
        "42 iterations of L-BFGS (at most 100), L2 penalty alpha 0.0001",
        "20 training pictures",
        "classes: 0 = non-cat, 1 = cat",
        "input: 16 x 16 x 3 pixels",
        "Converged: yes. Training stopped after 42 iterations because the largest "
        "component of the gradient fell below tol = 0.0001",
        "scale pixel / 255",
        "logitnet 0.1.0",
    ]:
        assert shown in text, shown
    for raw in ["cost_every", "n_iter", "max_iter", "0.69, 0.5"]:
        assert raw not in text  # keys are told in words; the costs are the curve


def test_report_names_the_file_and_the_date(synthetic):
    model, inputs = synthetic
    when = datetime.datetime(2026, 3, 4, 5, 6, tzinfo=datetime.UTC)
    text = " ".join(
        Page(render_report(model, **inputs, model_path="dir/m.npz", created=when)).text
    )
    assert "Model file  m.npz" in text
    assert "report written 2026-03-04 05:06 UTC" in text


def test_report_says_why_the_course_run_has_not_converged(synthetic):
    model, inputs = synthetic
    model.training.update(
        solver="gd", tol=0.0, converged=False, n_iter=2000, final_cost=0.135608,
        cost_every=100, costs=list(np.linspace(0.693147, 0.140872, 20)),
    )  # fmt: skip
    text = " ".join(" ".join(Page(render_report(model, **inputs)).text).split())
    assert "2,000 iterations of gradient descent, learning rate 0.005" in text
    assert "Converged: no. Gradient descent ran the fixed 2,000 iterations" in text
    assert "it has no stopping test (tol = 0)" in text
    # At iteration 2,000: the course prints its costs up to 1,900 only.
    assert (
        "final cost 0.135608 at iteration 2,000, where training ended (the "
        "learning curve's last point; the costs recorded every 100 iterations "
        "end at 1,900)"
    ) in text


def test_report_metrics_once_in_order(synthetic):
    model, inputs = synthetic
    inputs["metrics"] = {"accuracy": 0.7, "roc_auc": None, "log_loss": 0.75039}
    text = render_report(model, **inputs)
    assert (
        '<th scope="row">accuracy</th><td class="number">70.0\u00a0%</td>'
        "<td>share of the pictures classified right</td></tr>\n"
        '<tr><th scope="row">ROC AUC</th>'
        "<td>undefined: the test pictures hold one class</td>"
    ) in text
    assert '<th scope="row">log loss</th><td class="number">0.7504</td>' in text
    assert text.count(">accuracy<") == 1
    assert "99.04" not in text  # the metrics recorded at training: not repeated


@pytest.mark.parametrize("undefined", [None, float("nan"), np.float32("nan")])
def test_report_says_why_a_metric_is_undefined(synthetic, undefined):
    model, inputs = synthetic
    inputs["metrics"] = {"precision": undefined, "recall": undefined, "f1": 0.5}
    text = " ".join(Page(render_report(model, split="train", **inputs)).text)
    assert "undefined: the model calls none of the training pictures cat" in text
    assert "undefined: the training pictures hold one class, non-cat" in text
    assert not re.search(r"\b(nan|NaN|None|n/a)\b", text)


def test_report_one_confusion_matrix(synthetic):
    model, inputs = synthetic
    text = render_report(model, **inputs)
    assert "true non-cat" not in text  # the picture only, no table beside it
    assert 'alt="confusion matrix with the count' in text


def test_report_escapes_text_from_files(rng):
    model = synthetic_model(rng, classes=("non-cat", EVIL))
    model.training["data"] = {"kind": "folder", "path": "<script>alert(1)</script>"}
    images = rng.integers(0, 256, size=(4, 16, 16, 3), dtype=np.uint8)
    inputs = report_inputs(model, images, np.array([0, 1, 0, 1]))
    inputs["data_source"] = "<i>file</i>.h5"
    text = render_report(model, **inputs)
    assert "<b>" not in text and "<script" not in text and "<i>" not in text
    assert "&lt;b&gt;cat&amp;&quot;" in text
    page = Page(text)
    assert "b" not in page.tags and "i" not in page.tags
    assert any(f"1 = {EVIL}" in t for t in page.text)
    assert any("<script>alert(1)</script>" in t for t in page.text)
    assert any("<i>file</i>.h5" in t for t in page.text)


def test_report_without_costs_says_so(synthetic):
    model, inputs = synthetic
    del model.training["costs"]
    text = render_report(model, **inputs)
    assert "No costs were recorded for this model." in text
    assert text.count("data:image/png") == 4


def test_report_without_mistakes(synthetic):
    model, inputs = synthetic
    inputs["misclassified_images"] = inputs["misclassified_images"][:0]
    inputs["misclassified_true"] = inputs["misclassified_predicted"] = []
    page = Page(render_report(model, **inputs))
    assert "Misclassified pictures (0)" in page.headings
    assert "No misclassified picture to explain." in page.text
    assert len(decoded_pngs(page)) == 4


def test_report_of_the_cat_model(cat_parts):
    model, inputs = cat_parts
    text = render_report(model, **inputs)
    page = Page(text)
    k = len(inputs["misclassified_true"])
    assert 0 < k < 50
    assert f"Misclassified pictures ({k})" in page.headings
    assert inputs["confusion"].sum() == 50
    assert inputs["confusion"].trace() == 50 - k
    assert "200 iterations of gradient descent" in " ".join(page.text)
    for pixels in decoded_pngs(page):
        assert_not_blank(pixels)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"metrics": {"accuracy": "high"}}, "metric 'accuracy' must be a number, or None where undefined; got 'high'"),
        ({"split": "validation"}, r"split must be one of \('test', 'train', 'all'\); got 'validation'"),
        ({"metrics": [0.7]}, r"metrics must be a mapping of name to number; got \[0.7\]"),
        ({"confusion": np.eye(3, dtype=int)}, r"confusion: cm must be a 2 x 2 array of counts .* shape \(3, 3\)"),
        ({"misclassified_true": ["cat"]}, r"misclassified images: true_labels must have one label per image \(10\); got 1"),
        ({"misclassified_images": np.zeros((10, 16, 16, 3))}, "misclassified images: images must be uint8"),
    ],
)  # fmt: skip
def test_report_refuses_bad_input(synthetic, change, message):
    model, inputs = synthetic
    with pytest.raises(ValueError, match=message) as info:
        render_report(model, **{**inputs, **change})
    assert "\n" not in str(info.value)


# --- the file ---------------------------------------------------------------------


def test_write_report_writes_utf8(tmp_path):
    path = write_report(tmp_path / "r.html", "<p>σ(z) ≥ ½</p>")  # noqa: RUF001
    assert path == tmp_path / "r.html"
    assert path.read_bytes() == "<p>σ(z) ≥ ½</p>".encode()  # noqa: RUF001


def test_write_report_failure_keeps_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / "report.html"
    path.write_text("old")

    def fail(self, *args, **kwargs):
        with open(self, "w") as f:
            f.write("<html>half")
        raise OSError("disk full")

    monkeypatch.setattr(pathlib.Path, "write_text", fail)
    with pytest.raises(OSError, match="disk full"):
        write_report(path, "<html>new</html>")
    assert path.read_bytes() == b"old"
    assert os.listdir(tmp_path) == ["report.html"]


def test_write_report_refuses(tmp_path):
    with pytest.raises(OutputPathError, match="is a directory"):
        write_report(tmp_path, "<html></html>")
    with pytest.raises(ValueError, match="html_text must be a str; got bytes"):
        write_report(tmp_path / "r.html", b"<html></html>")


# --- a real browser -------------------------------------------------------------


def test_report_in_a_real_browser(browser, tmp_path, rng, request):
    # The cat model where the data is configured, else a synthetic one: the
    # browser test runs either way.
    data = os.environ.get("LOGITNET_DATA_DIR")
    if data and (pathlib.Path(data) / "test_catvnoncat.h5").is_file():
        model, inputs = request.getfixturevalue("cat_parts")
    else:
        model = synthetic_model(rng)
        images = rng.integers(0, 256, size=(20, 16, 16, 3), dtype=np.uint8)
        inputs = report_inputs(model, images, np.arange(20) % 2)
    model = dataclasses.replace(model, classes=[model.classes[0], EVIL])
    path = write_report(tmp_path / "report.html", render_report(model, **inputs))

    # Opened as a file, as a person opens a saved report: this proves that
    # nothing needs a server, and the page's CSP would log any fetch.
    browser.get(path.as_uri())
    images = browser.execute_async_script(DECODE_ALL_IMAGES)
    console = browser.get_log("browser")
    screenshot = browser.get_screenshot_as_png()

    assert browser.title == f"logitnet report: non-cat / {EVIL}"
    assert [entry for entry in console if entry["level"] == "SEVERE"] == []
    assert len(images) == 5
    for image in images:
        assert image["error"] is None, image
        assert image["complete"] and image["width"] > 0 and image["height"] > 0
    with Image.open(io.BytesIO(screenshot)) as picture:
        pixels = np.asarray(picture.convert("RGB"))
    assert_not_blank(pixels)
