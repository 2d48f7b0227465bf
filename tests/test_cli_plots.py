"""The picture-drawing commands and the report, as real processes."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
from PIL import Image

from conftest import COURSE_SWEEP, DECODE_ALL_IMAGES, assert_not_blank, run
from logitnet.app.modelfile import load_model
from logitnet.core.pixels import flatten, scale


def _picture(path) -> np.ndarray:
    with Image.open(path) as im:
        assert im.format == "PNG"
        return np.asarray(im.convert("RGB"))


@pytest.fixture(scope="module")
def model(data_dir, tmp_path_factory):
    """The course's run, with its learning curve drawn."""
    root = tmp_path_factory.mktemp("trained")
    out, plot = root / "model.npz", root / "curve.png"
    result = run("train", "--data-dir", str(data_dir), "--out", str(out),
                 "--plot", str(plot), "--quiet")  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""  # --quiet: no notes
    return out, plot


def test_train_draws_the_learning_curve(model):
    _, plot = model
    assert_not_blank(_picture(plot))


def test_sweep_reproduces_the_course_s_comparison(data_dir, tmp_path):
    plot = tmp_path / "sweep.png"
    result = run("sweep", "--data-dir", str(data_dir), "--plot", str(plot), "--json")
    assert result.returncode == 0, result.stderr
    runs = json.loads(result.stdout)
    assert [r["learning_rate"] for r in runs] == list(COURSE_SWEEP)
    for r in runs:
        train, test = COURSE_SWEEP[r["learning_rate"]]
        assert r["metrics"]["train_accuracy"] == train
        assert r["metrics"]["test_accuracy"] == test
        assert len(r["costs"]) == 15 and r["cost_every"] == 100
    assert_not_blank(_picture(plot))
    text = run("sweep", "--data-dir", str(data_dir), "--iterations", "10",
               "--learning-rates", "0.01")  # fmt: skip
    assert text.stdout.splitlines()[0] == "learning rate is: 0.01"


def test_explain(model, cat_data, tmp_path):
    out, _ = model
    *_, test_x, _, _ = cat_data
    image, picture = tmp_path / "cat.png", tmp_path / "explained.png"
    Image.fromarray(test_x[1]).save(image)
    result = run("explain", "--model", str(out), str(image), "--out", str(picture),
                 "--json")  # fmt: skip
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout)
    saved = load_model(out)
    z = float((scale(flatten(test_x[1:2])).T @ saved.w)[0] + saved.b)
    assert answer["decision_value"] == pytest.approx(z, rel=1e-12)
    assert answer["label"] == saved.classes[int(z > 0)]
    assert sum(answer["probabilities"].values()) == pytest.approx(1.0)
    drawn = _picture(picture)
    assert drawn.shape[1] > 2 * drawn.shape[0]  # three panels side by side
    assert_not_blank(drawn)


def test_evaluate_draws_the_misclassified_gallery(model, data_dir, tmp_path):
    out, _ = model
    gallery = tmp_path / "wrong.png"
    result = run("evaluate", "--model", str(out), "--data-dir", str(data_dir),
                 "--gallery", str(gallery), "--json")  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert len(json.loads(result.stdout)["misclassified"]) == 15  # 70 % of 50
    assert_not_blank(_picture(gallery))


def test_report_command_opens_cleanly_in_a_real_browser(
    model,
    data_dir,
    tmp_path,
    browser,
):
    out, _ = model
    page = tmp_path / "report.html"
    result = run("report", "--model", str(out), "--data-dir", str(data_dir),
                 "--out", str(page))  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stderr == f"report written to {page}\n"
    html = page.read_text(encoding="utf-8")
    assert "http://" not in html and "https://" not in html and "<script" not in html
    assert "0.7" in html  # the test accuracy

    browser.get(page.as_uri())
    images = browser.execute_async_script(DECODE_ALL_IMAGES)
    console = browser.get_log("browser")
    screenshot = browser.get_screenshot_as_png()
    assert [entry for entry in console if entry["level"] == "SEVERE"] == []
    assert len(images) >= 4
    for image in images:
        assert image["error"] is None, image
        assert image["width"] > 0 and image["height"] > 0
    with Image.open(io.BytesIO(screenshot)) as shot:
        assert_not_blank(np.asarray(shot.convert("RGB")))
