"""The small frictions a newcomer hit (issue 22), each through a real
``logitnet`` process: how good the model is, said beside its answers;
one way to write a probability; the model and the explanation's file found
without options; URLs named for what they are; the labels of a folder said;
the course's test file alone enough to score; the report's final cost
placed, and its numbers kept on one line in a browser."""

from __future__ import annotations

import dataclasses
import json
import os
import re
import shutil

import numpy as np
import pytest
from PIL import Image

from conftest import FAILURE, USAGE, run
from logitnet.app.evaluation import recorded_accuracy_in_words
from logitnet.app.modelfile import SavedModel, load_model, save_model
from logitnet.app.prediction import format_probabilities
from logitnet.viz.report import render_report, write_report


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A model trained on a folder of 10 pictures (8 trained, 2 tested), and
    three photos of 64 x 64."""
    root = tmp_path_factory.mktemp("newcomer")
    rng = np.random.default_rng(22)
    for name, low, high in (("cat", 128, 256), ("not_cat", 0, 128)):
        (root / "folder" / name).mkdir(parents=True)
        for i in range(5):
            pixels = rng.integers(low, high, (64, 64, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(root / "folder" / name / f"{i}.png")
    photos = []
    for i in range(3):
        photos.append(root / f"photo{i}.png")
        Image.fromarray(rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)).save(
            photos[-1]
        )
    model = root / "model.npz"
    result = run("train", "--images", str(root / "folder"), "--iterations", "20",
                 "--out", str(model))  # fmt: skip
    assert result.returncode == 0, result.stderr
    return {"root": root, "model": model, "photos": photos, "train": result}


# --- one way to write a probability ----------------------------------------------


@pytest.mark.parametrize(
    ("probabilities", "text"),
    [
        ({"non-cat": 0.219, "cat": 0.781}, "cat 78.1 %, non-cat 21.9 %"),
        ({"non-cat": 5.581e-05, "cat": 0.99994419}, "cat 100.0 %, non-cat 0.0 %"),
        ({"non-cat": 0.99996, "cat": 4e-05}, "non-cat 100.0 %, cat 0.0 %"),
        ({"a": 0.5, "b": 0.5}, "a 50.0 %, b 50.0 %"),  # a tie keeps the order
        ({"z": 0.25}, "z 25.0 %"),
        ({"bad\x1b[31m": 1.0, "ok": 0.0}, "bad\\x1b[31m 100.0 %, ok 0.0 %"),
    ],
)
def test_format_probabilities(probabilities, text):
    assert format_probabilities(probabilities) == text


def test_predict_and_explain_write_probabilities_alike(trained, tmp_path):
    model, photo = str(trained["model"]), str(trained["photos"][0])
    as_json = run("predict", "--model", model, photo, "--json")
    assert as_json.returncode == 0, as_json.stderr
    (entry,) = json.loads(as_json.stdout)
    shares = format_probabilities(entry["probabilities"])
    predicted = run("predict", "--model", model, photo)
    assert predicted.stdout == f"{photo}: {entry['label']} ({shares})\n"
    out = tmp_path / "why.png"
    explained = run("explain", "--model", model, photo, "--out", str(out))
    assert explained.returncode == 0, explained.stderr
    assert explained.stdout.startswith(f"{photo}: {entry['label']} ({shares}); z = ")
    # --json keeps every digit.
    assert all(len(repr(p)) > 6 for p in entry["probabilities"].values())


def test_the_cli_and_the_estimator_agree_bit_for_bit(trained):
    photos = [str(p) for p in trained["photos"]]
    result = run("predict", "--model", str(trained["model"]), *photos, "--json")
    assert result.returncode == 0, result.stderr
    model = load_model(trained["model"])
    pixels = np.stack([np.asarray(Image.open(p)) for p in photos])
    from logitnet.app.prediction import pictures_to_X

    proba = model.to_estimator().predict_proba(pictures_to_X(pixels))
    by_cli = [list(e["probabilities"].values()) for e in json.loads(result.stdout)]
    assert by_cli == proba.tolist()


# --- how good the model is, beside its answers ------------------------------------


def test_predict_says_once_how_good_the_model_was(trained):
    model = str(trained["model"])
    accuracy = load_model(model).metrics["test"]["accuracy"]
    percent = f"{100 * accuracy:.1f}".removesuffix(".0")
    photos = [str(p) for p in trained["photos"]]
    result = run("predict", "--model", model, *photos)
    assert result.returncode == 0, result.stderr
    assert len(result.stdout.splitlines()) == 3
    assert result.stderr == f"{model}: right on {percent} % of its 2 test pictures\n"
    # Not with --json, not with --quiet, not when nothing was answered.
    for args in (["--json"], ["--quiet"]):
        quiet = run("predict", "--model", model, *photos, *args)
        assert quiet.returncode == 0 and quiet.stderr == "", quiet.stderr
    missing = str(trained["root"] / "missing.png")
    failed = run("predict", "--model", model, missing)
    assert failed.returncode == FAILURE
    assert len(failed.stderr.splitlines()) == 1, failed.stderr


def test_without_a_test_set_nothing_is_claimed(tmp_path, tiny_model):
    bare = SavedModel(w=np.zeros(64 * 64 * 3), b=0.0, classes=["no", "yes"],
                      image_shape=(64, 64, 3))  # fmt: skip
    assert recorded_accuracy_in_words(bare) == (
        "no test accuracy recorded (logitnet evaluate measures one)"
    )
    bare.metrics = {"test": {"accuracy": 0.7}}
    bare.training = {"n_test": 50}
    assert recorded_accuracy_in_words(bare) == "right on 70 % of its 50 test pictures"
    bare.metrics = {"test": {"accuracy": 0.98765}}
    bare.training = {"n_test": 1234}
    assert recorded_accuracy_in_words(bare) == (
        "right on 98.8 % of its 1,234 test pictures"
    )
    model = save_model(tmp_path / "bare.npz", tiny_model)
    photo = tmp_path / "p.png"
    Image.fromarray(np.zeros((4, 4, 3), np.uint8)).save(photo)
    result = run("predict", "--model", str(model), str(photo))
    assert result.returncode == 0, result.stderr
    assert result.stderr == (
        f"{model}: no test accuracy recorded (logitnet evaluate measures one)\n"
    )


# --- found without options ---------------------------------------------------------


def test_predict_and_explain_use_the_model_make_run_wrote(trained, tmp_path):
    photo = str(trained["photos"][1])
    nothing = run("predict", photo, cwd=tmp_path)
    assert nothing.returncode == USAGE
    assert nothing.stderr == (
        "logitnet predict: error: the following arguments are required: --model "
        "(and there is no model.npz in this directory) (see 'logitnet predict --help')\n"
    )
    shutil.copy(trained["model"], tmp_path / "model.npz")
    found = run("predict", photo, cwd=tmp_path)
    assert found.returncode == 0, found.stderr
    given = run("predict", "--model", str(trained["model"]), photo)
    assert found.stdout == given.stdout
    assert found.stderr.splitlines()[0] == "using ./model.npz (no --model given)"
    explained = run("explain", photo, "--json", cwd=tmp_path)
    assert explained.returncode == 0, explained.stderr
    assert "using ./model.npz (no --model given)" in explained.stderr


def test_explain_without_out_writes_beside_nothing_it_could_replace(trained, tmp_path):
    model, photo = str(trained["model"]), trained["photos"][2]
    (tmp_path / "photo2.why.png").write_bytes(b"mine")
    first = run("explain", "--model", model, str(photo), cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert first.stderr == "no --out given: drawing in photo2.2.why.png\n"
    assert first.stdout.endswith("; drawn in photo2.2.why.png\n")
    second = run("explain", "--model", model, str(photo), "--json", cwd=tmp_path)
    assert json.loads(second.stdout)["out"] == "photo2.3.why.png"
    assert (tmp_path / "photo2.why.png").read_bytes() == b"mine"
    for name in ("photo2.2.why.png", "photo2.3.why.png"):
        with Image.open(tmp_path / name) as picture:
            assert picture.format == "PNG"
    assert not list(photo.parent.glob("*.why.png"))  # nothing beside the photo


def test_explain_names_a_data_file_picture_by_its_row(trained, tmp_path):
    from logitnet.data.layout import write_course_file

    pixels = np.random.default_rng(3).integers(0, 256, (4, 64, 64, 3), np.uint8)
    data = tmp_path / "set.h5"
    write_course_file(data, pixels[:2], np.array([0, 1]), ["cat", "not_cat"],
                      pixels[2:], np.array([1, 0]))  # fmt: skip
    result = run("explain", "--model", str(trained["model"]), "--data", str(data),
                 "--index", "1", "--quiet", cwd=tmp_path)  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "set.test-1.why.png").is_file()


# --- URLs, folders, the course's test file -----------------------------------------


def test_a_url_is_not_a_picture_on_disk(trained):
    url = "https://example.com/pictures/cat.jpg"
    photo = str(trained["photos"][0])
    result = run("predict", "--model", str(trained["model"]), url, photo)
    assert result.returncode == FAILURE
    assert (
        f"logitnet: error: {url}: is a URL, not a picture on disk; download it first"
        in (result.stderr.splitlines())
    )
    assert "https:/example.com" not in result.stderr
    assert result.stdout.startswith(f"{photo}: ")  # the others are answered


def test_train_on_a_folder_says_which_folder_is_which_label(trained):
    folder = trained["root"] / "folder"
    assert f"{folder}: 8 training and 2 test pictures; label 0 = cat, 1 = not_cat" in (
        trained["train"].stderr.splitlines()
    )


def test_scoring_the_course_test_set_needs_only_its_file(data_dir, tmp_path):
    only_test = tmp_path / "only_test"
    only_test.mkdir()
    shutil.copy(data_dir / "test_catvnoncat.h5", only_test)
    model = tmp_path / "model.npz"
    trained = run("train", "--iterations", "10", "--out", str(model), "--quiet")
    assert trained.returncode == 0, trained.stderr
    env = {"LOGITNET_DATA_DIR": str(only_test)}
    scored = run("evaluate", "--model", str(model), "--json", env=env)
    assert scored.returncode == 0, scored.stderr
    assert json.loads(scored.stdout)["data"]["n_images"] == 50
    page = tmp_path / "report.html"
    reported = run("report", "--model", str(model), "--out", str(page), env=env)
    assert reported.returncode == 0, reported.stderr
    both = run("evaluate", "--model", str(model), "--split", "all", env=env)
    assert both.returncode == FAILURE
    assert "train_catvnoncat.h5" in both.stderr
    assert sorted(os.listdir(only_test)) == ["test_catvnoncat.h5"]


# --- the report ----------------------------------------------------------------------


def test_the_report_says_pictures(trained, tmp_path):
    page = tmp_path / "report.html"
    result = run("report", "--model", str(trained["model"]), "--images",
                 str(trained["root"] / "folder"), "--out", str(page))  # fmt: skip
    assert result.returncode == 0, result.stderr
    html = page.read_text()
    assert "<h2>Misclassified pictures (" in html
    assert not re.search(r"<h[1-3][^>]*>[^<]*[Ii]mage", html)
    assert re.search(r'<td class="number">\d+\.\d\u00a0%</td>', html)


def test_large_percentages_stay_on_one_line_on_a_phone(browser, trained, tmp_path):
    # A long class name takes the table's width: "100.0 %" broke after 100.0.
    model = dataclasses.replace(
        load_model(trained["model"]), classes=["non-cat", "tabby_or_tortoiseshell"]
    )
    page = write_report(
        tmp_path / "report.html",
        render_report(
            model,
            metrics={"accuracy": 1.0, "precision": 0.99996, "recall": 1.0},
            confusion=[[3, 0], [0, 2]],
            misclassified_images=np.zeros((0, 64, 64, 3), np.uint8),
            misclassified_true=[],
            misclassified_predicted=[],
            data_source="five pictures",
        ),
    )
    browser.set_window_size(390, 900)
    browser.get(page.as_uri())
    lines = browser.execute_script(
        "return Array.from(document.querySelectorAll('td.number')).map(td => {"
        "  const range = document.createRange(); range.selectNodeContents(td);"
        "  return [td.textContent, new Set(Array.from(range.getClientRects())"
        "    .map(r => Math.round(r.top))).size]; });"
    )
    assert [text for text, _ in lines] == ["100.0\u00a0%"] * 3
    assert [count for _, count in lines] == [1, 1, 1]
