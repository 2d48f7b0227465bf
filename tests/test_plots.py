"""Plots: the numbers behind each picture, what each figure holds, safe output."""

from __future__ import annotations

import io
import os

import numpy as np
import pytest
from matplotlib.figure import Figure
from PIL import Image
from scipy.special import expit

from logitnet.app.prediction import format_probabilities
from logitnet.exceptions import OutputPathError
from logitnet.viz import curves, plots

SHAPE = (4, 5, 3)
N_X = 4 * 5 * 3


@pytest.fixture
def w(rng) -> np.ndarray:
    return rng.normal(size=N_X)


@pytest.fixture
def image(rng) -> np.ndarray:
    return rng.integers(0, 256, size=SHAPE, dtype=np.uint8)


def decoded(png: bytes) -> np.ndarray:
    with Image.open(io.BytesIO(png)) as picture:
        assert picture.format == "PNG"
        return np.asarray(picture.convert("RGB"))


def assert_not_blank(pixels: np.ndarray) -> None:
    colours = np.unique(pixels.reshape(-1, pixels.shape[-1]), axis=0)
    assert len(colours) > 20
    assert pixels.std() > 5


def titles(fig: Figure) -> list[str]:
    return [ax.get_title() for ax in fig.axes]


# --- the numbers ------------------------------------------------------------


@pytest.mark.parametrize("column", [False, True])
def test_contributions_sum_to_the_decision_value(image, w, column):
    b = -0.37
    x = image.reshape(-1) / 255  # C order: (height, width, channels)
    z = w @ x + b
    heat = plots.contributions(image, w.reshape(-1, 1) if column else w)
    assert heat.shape == SHAPE[:2]
    assert heat.sum() + b == pytest.approx(z, rel=1e-12, abs=1e-12)
    # Pixel (1, 2): its three channels' weights are next to each other in w.
    start = (1 * SHAPE[1] + 2) * SHAPE[2]
    expected = w[start : start + 3] @ image[1, 2] / 255
    assert heat[1, 2] == pytest.approx(expected, rel=1e-12)


def test_contributions_of_the_cat_model_give_its_decision(cat_data):
    from logitnet.app.training import train_cat_classifier
    from logitnet.core.pixels import flatten, scale

    _, _, test_x, _, _ = cat_data
    model = train_cat_classifier(num_iterations=50)
    z = model.w @ scale(flatten(test_x[:3])) + model.b
    for image, expected in zip(test_x[:3], z, strict=True):
        heat = plots.contributions(image, model.w)
        assert heat.sum() + model.b == pytest.approx(expected, rel=1e-9, abs=1e-12)


def test_weights_to_rgb_is_symmetric_and_global():
    w = np.zeros(SHAPE)
    w[0, 0] = [2.0, -2.0, 1.0]  # the largest |w| sets the scale for all channels
    w[3, 4] = [0.0, 0.5, -1.0]
    rgb = plots.weights_to_rgb(w.ravel(), SHAPE)
    assert rgb.shape == SHAPE
    assert rgb.dtype == np.float64
    np.testing.assert_allclose(rgb[0, 0], [1.0, 0.0, 0.75])
    np.testing.assert_allclose(rgb[3, 4], [0.5, 0.625, 0.25])
    np.testing.assert_array_equal(rgb[1:3], 0.5)  # weight 0 is grey


def test_weights_to_rgb_of_zero_weights_is_grey():
    np.testing.assert_array_equal(plots.weights_to_rgb(np.zeros(N_X), SHAPE), 0.5)


def test_weights_to_rgb_stays_in_range(w):
    rgb = plots.weights_to_rgb(w * 1e300, SHAPE)
    assert rgb.min() == 0.0 or rgb.max() == 1.0
    assert 0.0 <= rgb.min() <= rgb.max() <= 1.0


# --- what each figure holds ---------------------------------------------------


def test_learning_curve():
    fig = curves.learning_curve([0.69, 0.58, 0.47], cost_every=50, learning_rate=0.005)
    (ax,) = fig.axes
    (line,) = ax.get_lines()
    np.testing.assert_array_equal(line.get_xdata(), [0, 50, 100])
    np.testing.assert_array_equal(line.get_ydata(), [0.69, 0.58, 0.47])
    assert ax.get_xlabel() == "iterations"
    assert ax.get_ylabel() == "cost"
    assert ax.get_title() == "Learning rate = 0.005"


def test_learning_curve_without_rate_has_no_title():
    assert titles(curves.learning_curve([0.7])) == [""]


def test_learning_curve_draws_into_given_axes():
    fig = Figure()
    left, right = fig.subplots(1, 2)
    assert curves.learning_curve([0.7, 0.6], ax=right) is fig
    assert len(right.get_lines()) == 1
    assert not left.get_lines()


def test_learning_rate_comparison():
    rates = {0.01: [0.7, 0.4, 0.2], 0.001: [0.7, 0.6, 0.5], 0.0001: [0.7, 0.69]}
    fig = curves.learning_rate_comparison(rates, cost_every=100)
    (ax,) = fig.axes
    lines = ax.get_lines()
    assert len(lines) == 3
    legend = ax.get_legend()
    assert [t.get_text() for t in legend.get_texts()] == ["0.01", "0.001", "0.0001"]
    assert legend.get_title().get_text() == "learning rate"
    np.testing.assert_array_equal(lines[2].get_xdata(), [0, 100])
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("iterations", "cost")


def test_weights_picture_shows_weights_to_rgb(w):
    fig = plots.weights_picture(w, SHAPE)
    (ax,) = fig.axes
    (shown,) = ax.get_images()
    np.testing.assert_array_equal(shown.get_array(), plots.weights_to_rgb(w, SHAPE))


def test_explanation(image, w):
    b = 0.25
    fig = plots.explanation(image, w, b, classes=["non-cat", "cat"], image_shape=SHAPE)
    image_ax, heat_ax, weights_ax, colorbar_ax = fig.axes
    np.testing.assert_array_equal(image_ax.get_images()[0].get_array(), image)
    photo, heat = heat_ax.get_images()  # the map laid over the photo in grey
    np.testing.assert_allclose(photo.get_array(), image.mean(axis=2) / 255)
    np.testing.assert_allclose(heat.get_array(), plots.contributions(image, w))
    assert 0 < heat.get_alpha() < 1
    assert "How to read it: red pixels pushed the decision towards cat" in (
        fig._suptitle.get_text()
    )
    low, high = heat.get_clim()
    assert low == -high  # centred at 0: white means no contribution
    z = float(plots.contributions(image, w).sum() + b)
    predicted = "cat" if expit(z) > 0.5 else "non-cat"
    title = heat_ax.get_title()
    assert f"z = {z:.3f}" in title
    assert f"predicted: {predicted}" in title
    p = expit(z)  # sigma(-z) and sigma(z) as every answer is written
    shares = format_probabilities({"non-cat": 1 - p, "cat": p})
    assert f"predicted: {predicted} ({shares})" in title
    assert f"cat {100 * p:.1f} %" in title
    assert weights_ax.get_images()
    assert colorbar_ax.get_label() == "<colorbar>"


def test_a_tall_explanation_is_the_same_one_above_the_other(image, w):
    wide, tall = (
        plots.explanation(
            image, w, 0.25, classes=["non-cat", "cat"], image_shape=SHAPE, layout=layout
        )
        for layout in ("wide", "tall")
    )
    for a, b in zip(wide.axes[:3], tall.axes[:3], strict=True):
        for x, y in zip(a.get_images(), b.get_images(), strict=True):
            np.testing.assert_array_equal(x.get_array(), y.get_array())
    # The panels in one column, the colour bar lying under the map.
    image_ax, heat_ax, weights_ax, colorbar_ax = tall.axes
    tall.canvas.draw()
    tops = [ax.get_position().y0 for ax in (image_ax, heat_ax, weights_ax)]
    assert tops == sorted(tops, reverse=True)
    assert colorbar_ax.get_position().width > colorbar_ax.get_position().height
    # The words are the same, in lines that fit a phone.
    assert wide._suptitle.get_text() == " ".join(tall._suptitle.get_text().split())
    assert max(map(len, tall._suptitle.get_text().splitlines())) <= 46
    width, height = tall.get_size_inches()
    assert height > 2 * width


def test_an_explanation_s_layout_is_wide_or_tall(image, w):
    with pytest.raises(ValueError, match='layout must be "wide" or "tall"; got'):
        plots.explanation(
            image, w, 0.0, classes=["a", "b"], image_shape=SHAPE, layout="square"
        )


@pytest.mark.parametrize(("b", "predicted"), [(50.0, "cat"), (-50.0, "non-cat")])
def test_explanation_names_the_predicted_class(image, w, b, predicted):
    fig = plots.explanation(image, w, b, classes=["non-cat", "cat"], image_shape=SHAPE)
    assert f"predicted: {predicted} ({predicted} 100.0 %" in fig.axes[1].get_title()


@pytest.mark.parametrize(("k", "rows", "columns"), [(1, 1, 1), (7, 2, 6), (12, 2, 6)])
def test_gallery_grid(rng, k, rows, columns):
    images = rng.integers(0, 256, size=(k, *SHAPE), dtype=np.uint8)
    true = [f"t{i}" for i in range(k)]
    predicted = [f"p{i}" for i in range(k)]
    fig = plots.gallery(images, true, predicted)
    assert len(fig.axes) == k  # no empty tiles left in the last row
    assert titles(fig) == [f"true: t{i}\npredicted: p{i}" for i in range(k)]
    geometry = fig.axes[0].get_subplotspec().get_gridspec().get_geometry()
    assert geometry == (rows, columns)
    for ax, picture in zip(fig.axes, images, strict=True):
        np.testing.assert_array_equal(ax.get_images()[0].get_array(), picture)


def test_gallery_captions_read_as_every_answer(rng):
    images = rng.integers(0, 256, size=(3, *SHAPE), dtype=np.uint8)
    fig = plots.gallery(images, ["non-cat", "cat", "x$y"], ["cat", "non-cat", "z"],
                        probabilities=[0.781, 0.99996, 0.5])  # fmt: skip
    assert [title.splitlines()[-1] for title in titles(fig)] == [
        "cat 78.1 %", "non-cat 100.0 %", "z 50.0 %"
    ]  # fmt: skip


def test_gallery_of_nothing_says_so():
    fig = plots.gallery(np.zeros((0, *SHAPE), np.uint8), [], [])
    (ax,) = fig.axes
    assert [t.get_text() for t in ax.texts] == ["No misclassified pictures."]
    assert_not_blank(decoded(plots.png_bytes(fig)))


def test_gallery_columns(rng):
    images = rng.integers(0, 256, size=(7, *SHAPE), dtype=np.uint8)
    fig = plots.gallery(images, ["a"] * 7, ["b"] * 7, columns=3)
    geometry = fig.axes[0].get_subplotspec().get_gridspec().get_geometry()
    assert geometry == (3, 3)


def test_gallery_of_grey_images(rng):
    images = rng.integers(0, 256, size=(2, 4, 5, 1), dtype=np.uint8)
    fig = plots.gallery(images, ["a", "b"], ["b", "a"])
    np.testing.assert_array_equal(
        fig.axes[1].get_images()[0].get_array(), images[1, ..., 0]
    )


def test_confusion_matrix():
    fig = plots.confusion_matrix(np.array([[12, 5], [10, 23]]), ["non-cat", "cat"])
    (ax,) = fig.axes
    assert sorted(t.get_text() for t in ax.texts) == ["10", "12", "23", "5"]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["non-cat", "cat"]


@pytest.mark.parametrize("name", ["$cat", "a$b$c", r"cat\$", '<b>cat&"', "$\\frac{"])
def test_class_names_are_drawn_literally(rng, name):
    # An odd '$' or bad math in a class name would fail at draw time if
    # matplotlib read it as math text.
    images = rng.integers(0, 256, size=(1, *SHAPE), dtype=np.uint8)
    figures = [
        plots.gallery(images, [name], ["other"]),
        plots.confusion_matrix([[1, 2], [3, 4]], ["other", name]),
        plots.explanation(
            images[0], np.ones(N_X), 0.0, classes=["x", name], image_shape=SHAPE
        ),
    ]
    for fig in figures:
        assert_not_blank(decoded(plots.png_bytes(fig)))
    escaped = name.replace("$", r"\$")  # matplotlib shows an escaped '$' as is
    assert figures[0].axes[0].get_title() == f"true: {escaped}\npredicted: other"


# --- output -------------------------------------------------------------------


def test_png_bytes_decode_and_are_not_blank():
    pixels = decoded(plots.png_bytes(curves.learning_curve([0.7, 0.5, 0.4, 0.35])))
    assert pixels.shape[0] > 100 and pixels.shape[1] > 100
    assert_not_blank(pixels)


def test_save_png(tmp_path, w):
    path = plots.save_png(plots.weights_picture(w, SHAPE), tmp_path / "w.png")
    assert path == tmp_path / "w.png"
    assert_not_blank(decoded(path.read_bytes()))
    assert os.listdir(tmp_path) == ["w.png"]


def test_save_png_failure_keeps_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / "curve.png"
    path.write_bytes(b"old")
    fig = curves.learning_curve([0.7, 0.6])

    def fail(*args, **kwargs):
        # Half a file first, as a real failure mid-write would leave.
        with open(args[0], "wb") as f:
            f.write(b"\x89PNG half")
        raise OSError("disk full")

    monkeypatch.setattr(fig, "savefig", fail)
    with pytest.raises(OSError, match="disk full"):
        plots.save_png(fig, path)
    assert path.read_bytes() == b"old"
    assert os.listdir(tmp_path) == ["curve.png"]


def test_save_png_to_a_directory_is_refused(tmp_path):
    with pytest.raises(OutputPathError, match="is a directory"):
        plots.save_png(curves.learning_curve([0.7]), tmp_path)


# --- bad input --------------------------------------------------------------------

NAN = float("nan")


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: curves.learning_curve([]), r"costs must be a non-empty 1-D .* shape \(0,\)"),
        (lambda: curves.learning_curve([[0.7]]), r"costs must be a non-empty 1-D .* shape \(1, 1\)"),
        (lambda: curves.learning_curve([0.7, NAN]), "costs must be finite; it contains NaN"),
        (lambda: curves.learning_curve(["a"]), "costs must hold real numbers; got dtype <U1"),
        (lambda: curves.learning_curve([0.7], cost_every=0), "cost_every must be >= 1; got 0"),
        (lambda: curves.learning_curve([0.7], learning_rate=-1), "learning_rate must be a finite number > 0; got -1"),
        (lambda: curves.learning_rate_comparison({}), "curves must be a non-empty mapping .* got {}"),
        (lambda: curves.learning_rate_comparison([0.1]), r"curves must be a non-empty mapping .* got \[0.1\]"),
        (lambda: curves.learning_rate_comparison({0.1: [0.7, float("inf")]}), "costs for 0.1 must be finite; it contains inf"),
        (lambda: curves.learning_rate_comparison({NAN: [0.7]}), "learning_rate must be a finite number > 0; got nan"),
        (lambda: plots.weights_to_rgb(np.zeros(N_X + 1), SHAPE), r"w must have shape \(60,\) or \(60, 1\) for images of shape \(4, 5, 3\); got shape \(61,\)"),
        (lambda: plots.weights_to_rgb(np.full(N_X, NAN), SHAPE), "w must be finite; it contains NaN"),
        (lambda: plots.weights_to_rgb(np.zeros(N_X), (4, 15)), r"image_shape must be \(height, width, channels\), 3 positive integers; got \(4, 15\)"),
        (lambda: plots.weights_to_rgb(np.zeros(N_X), (5, 3, 4)), r"image_shape must have 1 \(grey\) or 3 \(RGB\) channels; got \(5, 3, 4\)"),
        (lambda: plots.weights_to_rgb(np.zeros(N_X), (4, 5, 3.0)), r"image_shape must be \(height, width, channels\), 3 positive integers; got \(4, 5, 3.0\)"),
        (lambda: plots.contributions(np.zeros(SHAPE), np.zeros(N_X)), "image must be uint8 pixels 0..255, .* got dtype float64"),
        (lambda: plots.contributions(np.zeros((4, 5), np.uint8), np.zeros(20)), r"image must have shape \(height, width, channels\); got shape \(4, 5\)"),
        (lambda: plots.contributions(np.zeros(SHAPE, np.uint8), np.zeros(3)), r"w must have shape \(60,\) or \(60, 1\)"),
        (lambda: plots.explanation(np.zeros((5, 4, 3), np.uint8), np.zeros(N_X), 0.0, classes=["a", "b"], image_shape=SHAPE), r"image must have the model's shape \(4, 5, 3\); got shape \(5, 4, 3\)"),
        (lambda: plots.explanation(np.zeros(SHAPE, np.uint8), np.zeros(N_X), NAN, classes=["a", "b"], image_shape=SHAPE), "b must be finite; got nan"),
        (lambda: plots.explanation(np.zeros(SHAPE, np.uint8), np.zeros(N_X), 0.0, classes=["a"], image_shape=SHAPE), r"classes must be two names \(label 0, label 1\); got \['a'\]"),
        (lambda: plots.gallery(np.zeros((2, *SHAPE), np.uint8), ["a"], ["b", "c"]), r"true_labels must have one label per image \(2\); got 1"),
        (lambda: plots.gallery(np.zeros((1, *SHAPE), np.uint8), ["a"], [1]), r"predicted_labels must be a sequence of strings; got \[1\]"),
        (lambda: plots.gallery(np.zeros((1, *SHAPE), np.uint8), ["a"], ["b"], columns=0), "columns must be >= 1; got 0"),
        (lambda: plots.gallery(np.zeros(SHAPE, np.uint8), ["a"], ["b"]), r"images must have shape \(k, height, width, channels\); got shape \(4, 5, 3\)"),
        (lambda: plots.gallery(np.zeros((1, 4, 5, 4), np.uint8), ["a"], ["b"]), r"images must have 1 \(grey\) or 3 \(RGB\) channels on the last axis; got 4"),
        (lambda: plots.confusion_matrix([[1, 2, 3]], ["a", "b"]), r"cm must be a 2 x 2 array of counts .* got int64 of shape \(1, 3\)"),
        (lambda: plots.confusion_matrix([[1.5, 2], [3, 4]], ["a", "b"]), r"cm must be a 2 x 2 array of counts .* got float64"),
        (lambda: plots.confusion_matrix([[-1, 2], [3, 4]], ["a", "b"]), "cm must be a 2 x 2 array of counts"),
        (lambda: plots.confusion_matrix([[1, 2], [3, 4]], "ab"), "classes must be two names"),
    ],
)  # fmt: skip
def test_bad_input_is_refused_in_one_line(call, message):
    with pytest.raises(ValueError, match=message) as info:
        call()
    assert "\n" not in str(info.value)
