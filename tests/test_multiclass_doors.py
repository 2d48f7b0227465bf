"""Every door with k >= 3 classes, through real processes: ``serve`` (the
API, the model card, the page's bars), ``predict --top``, ``evaluate``,
``explain --class`` and the report, on a model ``synth --n-classes 3`` and
``train --data`` make in seconds."""

from __future__ import annotations

import json
import re

import h5py
import numpy as np
import pytest
from PIL import Image

from conftest import run
from serving import Server, multipart


def _ok(result):
    assert result.returncode == 0, result.stderr
    return result


@pytest.fixture(scope="module")
def three(tmp_path_factory):
    """A 3-class data file, its model, and two of its test pictures as PNG."""
    root = tmp_path_factory.mktemp("three")
    data, model = root / "three.h5", root / "model.npz"
    _ok(run("synth", "--out", str(data), "--n-samples", "300", "--test-samples",
            "60", "--n-classes", "3", "--quiet"))  # fmt: skip
    _ok(run("train", "--data", str(data), "--out", str(model), "--quiet"))
    with h5py.File(data) as f:
        pictures = f["test_set_x"][:2]
        classes = [c.decode() for c in f["list_classes"][()]]
    for i, picture in enumerate(pictures):
        Image.fromarray(picture).save(root / f"p{i}.png")
    return {"root": root, "data": data, "model": model, "classes": classes}


# --- serve ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def served(three):
    server = Server(three["model"])
    yield server
    server.stop()


def test_the_api_answers_every_class(three, served):
    body, headers = multipart([("p0.png", (three["root"] / "p0.png").read_bytes())])
    status, answer = served.json("POST", "/api/predict", body, headers)
    assert status == 200, answer
    (entry,) = answer
    assert list(entry["probabilities"]) == three["classes"]
    assert sum(entry["probabilities"].values()) == pytest.approx(1.0)
    assert entry["label"] == max(entry["probabilities"], key=entry["probabilities"].get)


def test_the_api_answers_the_top_classes_as_predict_top_shows_them(three, served):
    picture = three["root"] / "p0.png"
    body, headers = multipart([("p0.png", picture.read_bytes())])
    _, (every,) = served.json("POST", "/api/predict", body, headers)
    ranked = sorted(every["probabilities"].items(), key=lambda item: -item[1])
    for top in (1, 2, 3):
        status, answer = served.json("POST", f"/api/predict?top={top}", body, headers)
        assert status == 200, answer
        (entry,) = answer
        assert list(entry["probabilities"].items()) == ranked[:top]
        assert entry["label"] == every["label"] == ranked[0][0]
    # The same classes, in the same order, as the command line's --top.
    line = _ok(run("predict", "--model", str(three["model"]), str(picture),
                   "--top", "2")).stdout  # fmt: skip
    shown = line.strip().split(" (", 1)[1].rstrip(")").split(", ")
    assert [re.sub(r"\s[\d.]+\s%$", "", s) for s in shown] == [c for c, _ in ranked[:2]]
    for bad, why in [("0", "greater than or equal to 1"),
                     ("4", "less than or equal to 3"),
                     ("two", "valid integer")]:  # fmt: skip
        status, answer = served.json("POST", f"/api/predict?top={bad}", body, headers)
        assert status == 422, answer
        assert answer["error"].startswith("query parameter top: ")
        assert why in answer["error"] and "\n" not in answer["error"]
    status, schema = served.json("GET", "/openapi.json")
    (parameter,) = schema["paths"]["/api/predict"]["post"]["parameters"]
    assert parameter["name"] == "top" and parameter["in"] == "query"
    assert parameter["schema"]["anyOf"][0] == {
        "type": "integer",
        "minimum": 1,
        "maximum": 3,
    }


def test_the_explanation_is_the_predicted_class_s(three, served):
    body, headers = multipart([("p1.png", (three["root"] / "p1.png").read_bytes())])
    status, answer = served.json("POST", "/api/explain", body, headers)
    assert status == 200, answer
    assert set(answer["probabilities"]) == set(three["classes"])
    assert isinstance(answer["decision_value"], float)
    assert answer["png"]


def test_the_model_card_lists_the_classes(three, served):
    status, info = served.json("GET", "/api/model")
    assert status == 200, info
    assert info["classes"] == three["classes"]
    assert len(info["bias"]) == 3
    status, _, page = served.request("GET", "/")
    page = page.decode()
    assert status == 200
    names = ", ".join(three["classes"][:-1]) + " or " + three["classes"][-1]
    assert f"<h1>{names}?</h1>" in page
    assert f"softmax regression of 3 classes: {', '.join(three['classes'])}" in page
    assert "one per class" in page  # the weight templates' grid
    # The page's script draws a bar for each of the top three classes.
    assert "const TOP = 3;" in page and "top.slice(0, TOP)" in page


# --- predict -------------------------------------------------------------------


def test_predict_shows_the_top_classes_most_probable_first(three):
    model, picture = str(three["model"]), str(three["root"] / "p0.png")
    (entry,) = json.loads(
        _ok(run("predict", "--model", model, picture, "--json")).stdout
    )
    assert list(entry["probabilities"]) == three["classes"]  # --json: every class
    ranked = sorted(entry["probabilities"].items(), key=lambda item: -item[1])
    line = _ok(run("predict", "--model", model, picture)).stdout.strip()
    shown = line.split(" (", 1)[1].rstrip(")").split(", ")
    # "class 0 88.2 %": the name before the percentage
    assert [re.sub(r"\s[\d.]+\s%$", "", s) for s in shown] == [c for c, _ in ranked]
    assert line.startswith(f"{picture}: {entry['label']} (")
    top = _ok(run("predict", "--model", model, picture, "--top", "2")).stdout
    assert top.strip().split(" (", 1)[1].count(", ") == 1
    refused = run("predict", "--model", model, picture, "--top", "0")
    assert refused.returncode == 2 and "--top" in refused.stderr


# --- evaluate ------------------------------------------------------------------


def test_evaluate_json_has_each_class_and_the_averages(three):
    from sklearn import metrics

    done = _ok(run("evaluate", "--model", str(three["model"]), "--data",
                   str(three["data"]), "--json"))  # fmt: skip
    answer = json.loads(done.stdout)
    cm = np.array(answer["confusion_matrix"])
    assert cm.shape == (3, 3) and cm.sum() == 60
    # The per-class numbers are scikit-learn's on the same labels.
    true = np.concatenate([np.full(cm[i].sum(), i) for i in range(3)])
    predicted = np.concatenate([np.repeat(np.arange(3), cm[i]) for i in range(3)])
    recall = metrics.recall_score(true, predicted, average=None, zero_division=np.nan)
    for i, name in enumerate(answer["classes"]):
        row = answer["per_class"][name]
        assert row["support"] == cm[i].sum()
        assert row["recall"] == pytest.approx(recall[i])
    for kind in ("macro", "weighted"):
        want = metrics.f1_score(true, predicted, average=kind, zero_division=np.nan)
        assert answer["averages"][kind]["f1"] == pytest.approx(want)
    assert answer["averages"]["macro"]["recall"] == pytest.approx(
        answer["metrics"]["recall"]
    )
    shares = np.array(answer["confusion_shares"])
    assert shares == pytest.approx(cm / cm.sum(axis=1, keepdims=True))
    assert {"accuracy", "log_loss"} <= set(answer["metrics"])
    for wrong in answer["misclassified"]:
        assert 0 < wrong["probability"] < 1


def test_evaluate_text_shows_the_classes_and_row_shares(three):
    out = _ok(run("evaluate", "--model", str(three["model"]), "--data",
                  str(three["data"]))).stdout  # fmt: skip
    assert "macro averages over the classes" in out
    for name in three["classes"]:
        assert out.count(name) >= 5  # the two matrices, the table, the headers
    assert "   macro avg" in out and "weighted avg" in out
    assert "confusion matrix as shares of each true class" in out
    assert "log_loss" in out and "accuracy" in out


def test_evaluate_names_the_positive_class_of_two(tmp_path):
    data, model = tmp_path / "two.h5", tmp_path / "two.npz"
    _ok(run("synth", "--out", str(data), "--n-samples", "100", "--test-samples",
            "20", "--quiet"))  # fmt: skip
    _ok(run("train", "--data", str(data), "--out", str(model), "--quiet"))
    out = _ok(run("evaluate", "--model", str(model), "--data", str(data))).stdout
    answer = json.loads(
        _ok(
            run("evaluate", "--model", str(model), "--data", str(data), "--json")
        ).stdout
    )
    classes = answer["classes"]
    assert answer["positive_class"] == classes[1]
    assert "per_class" not in answer
    assert f"precision, recall and f1 are of {classes[1]} (the positive" in out


# --- explain -------------------------------------------------------------------


@pytest.mark.parametrize("target", [None, 2])
def test_explain_maps_the_class_asked_for(three, tmp_path, target):
    from logitnet.app.modelfile import load_model
    from logitnet.data.reader import read_pictures

    out = tmp_path / "why.png"
    chosen = [] if target is None else ["--class", three["classes"][target]]
    done = _ok(run("explain", "--model", str(three["model"]), "--data",
                   str(three["data"]), "--index", "3", "--out", str(out),
                   *chosen, "--json"))  # fmt: skip
    answer = json.loads(done.stdout)
    assert answer["class"] == (answer["label"] if target is None else chosen[1])
    model = load_model(three["model"])
    x = read_pictures(three["data"], "test", [3]).reshape(-1) / 255
    c = model.classes.index(answer["class"])
    assert answer["decision_value"] == pytest.approx(x @ model.w[:, c] + model.b[c])
    with Image.open(out) as picture:
        assert picture.size[0] > 600


def test_explain_refuses_a_class_the_model_does_not_have(three, tmp_path):
    done = run("explain", "--model", str(three["model"]), "--data",
               str(three["data"]), "--out", str(tmp_path / "x.png"), "--class", "dog")  # fmt: skip
    assert done.returncode == 2
    assert "--class dog is not a class of the model (class 0, class 1" in done.stderr
    assert not (tmp_path / "x.png").exists()


# --- ten classes ---------------------------------------------------------------


@pytest.fixture(scope="module")
def ten(tmp_path_factory):
    root = tmp_path_factory.mktemp("ten")
    data, model = root / "ten.h5", root / "model.npz"
    _ok(run("synth", "--out", str(data), "--n-samples", "200", "--test-samples",
            "40", "--n-classes", "10", "--quiet"))  # fmt: skip
    _ok(run("train", "--data", str(data), "--out", str(model), "--quiet"))
    return {"data": data, "model": model}


def test_ten_classes_through_predict_evaluate_and_explain(ten, tmp_path):
    files = ("--model", str(ten["model"]), "--data", str(ten["data"]))
    lines = _ok(run("predict", *files)).stdout.splitlines()
    assert len(lines) == 40
    assert all(line.split(" (", 1)[1].count(", ") == 2 for line in lines)  # top 3
    answer = json.loads(_ok(run("evaluate", *files, "--json")).stdout)
    assert len(answer["per_class"]) == 10
    assert np.array(answer["confusion_matrix"]).shape == (10, 10)
    done = _ok(run("explain", *files, "--out", str(tmp_path / "e.png"), "--json"))
    assert json.loads(done.stdout)["class"] == json.loads(done.stdout)["label"]


# --- the report ----------------------------------------------------------------


def test_the_report_of_three_classes(three, tmp_path):
    out = tmp_path / "report.html"
    _ok(run("report", "--model", str(three["model"]), "--data", str(three["data"]),
            "--out", str(out), "--quiet"))  # fmt: skip
    page = out.read_text()
    answer = json.loads(_ok(run("evaluate", "--model", str(three["model"]), "--data",
                                str(three["data"]), "--json")).stdout)  # fmt: skip
    assert "<h3>Each class</h3>" in page and "macro average</th>" in page
    for name, row in answer["per_class"].items():
        assert f'<th scope="row">{name}</th>' in page
        recall = (
            "undefined" if row["recall"] is None else f"{100 * row['recall']:.1f} %"
        )
        assert f'<td class="number">{recall}</td>' in page
    assert 'alt="confusion matrix with the count of each pair' in page
    assert 'alt="the learned weights drawn as a picture, one per class"' in page
    assert f"Misclassified pictures ({len(answer['misclassified'])})" in page
    assert "softmax regression of 3 classes" in page
    assert "macro average" in page  # the metrics' meanings


def test_a_confusion_matrix_of_twenty_classes_is_readable():
    from logitnet.viz import plots

    names = [f"class name {i}" for i in range(20)]
    cm = np.arange(400).reshape(20, 20)
    figure = plots.confusion_matrix(cm, names)
    (ax,) = figure.axes
    assert [t.get_text() for t in ax.get_xticklabels()] == names
    assert all(t.get_rotation() == 90 for t in ax.get_xticklabels())
    assert figure.get_size_inches()[0] >= 12  # half an inch a class at least
    with pytest.raises(ValueError, match="cm must be a 20 x 20 array"):
        plots.confusion_matrix(cm[:3, :3], names)


def test_the_page_shows_the_top_classes_as_bars(browser, three, served):
    from test_serve_page import wait_for

    browser.get(f"http://127.0.0.1:{served.port}/")
    browser.find_element("id", "files").send_keys(str(three["root"] / "p0.png"))
    (row,) = wait_for(browser, ".row:not(.pending)")
    bars = row.find_elements("css selector", ".bar")
    assert len(bars) == 3
    names = [b.find_element("css selector", ".class").text for b in bars]
    values = [
        float(b.find_element("css selector", "meter").get_attribute("value"))
        for b in bars
    ]
    assert sorted(names) == sorted(three["classes"])
    assert values == sorted(values, reverse=True)  # the most probable first
    percents = [b.find_element("css selector", ".percent").text for b in bars]
    assert percents == [f"{100 * v:.1f} %" for v in values]
    assert row.find_element("css selector", ".label").text == names[0]
    shares = row.find_element("css selector", ".shares").text
    assert shares.startswith(f"{names[0]} {percents[0]}, ")


def test_evaluate_gallery_captions_true_arrow_predicted(three, tmp_path):
    out = tmp_path / "wrong.png"
    done = _ok(run("evaluate", "--model", str(three["model"]), "--data",
                   str(three["data"]), "--gallery", str(out)))  # fmt: skip
    with Image.open(out) as picture:
        assert picture.size[0] > 600
    assert "misclassified pictures drawn in" in done.stderr


def test_a_class_s_explanation_names_its_weights():
    from logitnet.viz import plots

    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (4, 5, 3), dtype=np.uint8)
    w, b = rng.normal(size=(60, 3)), np.zeros(3)
    figure = plots.explanation(image, w, b, classes=["a", "b", "c"],
                               image_shape=(4, 5, 3), target="b")  # fmt: skip
    titles = [ax.get_title() for ax in figure.axes]
    assert "weights of b (grey = 0)" in titles
    heat = figure.axes[1].images[1].get_array()
    np.testing.assert_allclose(heat, plots.contributions(image, w[:, 1]))
    with pytest.raises(ValueError, match="target must be one of the classes"):
        plots.explanation(image, w, b, classes=["a", "b", "c"],
                          image_shape=(4, 5, 3), target="d")  # fmt: skip
