"""logitnet.app.prediction: the one path from pictures to the model's answers."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from scipy.special import expit

from conftest import TINY_SHAPE
from logitnet.app.prediction import classify, model_input, predict_files
from logitnet.data.images import read_image


@pytest.fixture
def pictures(rng):
    return rng.integers(0, 256, (5, *TINY_SHAPE), dtype=np.uint8)


def test_model_input_is_the_pixels_over_255(tiny_model, pictures):
    X = model_input(tiny_model, pictures)
    assert X.shape == (5, 48) and X.dtype == np.float64
    # Bit for bit: one division by 255 in float64, C order.
    np.testing.assert_array_equal(X, pictures.reshape(5, -1) / 255.0)


def test_model_input_names_both_shapes(tiny_model):
    with pytest.raises(ValueError, match=r"of shape \(4, 4, 3\); .* \(5, 4, 3\)"):
        model_input(tiny_model, np.zeros((5, 4, 3), np.uint8))  # one picture, no k


def test_classify(tiny_model, pictures):
    answers = classify(tiny_model, pictures)
    z = pictures.reshape(5, -1) / 255.0 @ tiny_model.w + tiny_model.b
    np.testing.assert_allclose(answers.decision_values, z, rtol=1e-12)
    np.testing.assert_allclose(
        answers.probabilities, np.column_stack([expit(-z), expit(z)]), rtol=1e-12
    )
    assert answers.labels == [tiny_model.classes[int(v > 0)] for v in z]
    assert all(type(label) is str for label in answers.labels)


def test_classify_labels_follow_the_sign_of_z(tiny_model):
    """z = 1e-20 > 0 has probability 0.5 (rounded) yet is class 1."""
    tiny_model.w = np.zeros_like(tiny_model.w)
    for b, label in ((1e-20, "yes"), (0.0, "no"), (-1e-20, "no")):
        tiny_model.b = b
        assert classify(tiny_model, np.zeros((1, *TINY_SHAPE), np.uint8)).labels == [
            label
        ]


def test_saved_model_predicts_through_classify(tiny_model, pictures):
    answers = classify(tiny_model, pictures)
    np.testing.assert_array_equal(
        tiny_model.predict_proba(pictures), answers.probabilities
    )
    assert tiny_model.predict(pictures) == answers.labels
    np.testing.assert_array_equal(
        tiny_model.images_to_X(pictures), model_input(tiny_model, pictures)
    )


def test_predict_files(tiny_model, tiny_folder, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    bad = tmp_path / "bad.png"
    bad.write_text("not a picture")
    one = tiny_folder / "dog" / "0.png"
    sources = [str(tiny_folder / "cat"), str(empty), str(bad), one, tmp_path / "no.png"]
    results = predict_files(tiny_model, sources)
    cats = [str(tiny_folder / "cat" / f"{i}.png") for i in range(5)]  # not notes.txt
    assert [r["path"] for r in results] == [
        str(empty), *cats, str(bad), str(one), str(tmp_path / "no.png"),
    ]  # fmt: skip
    assert results[0] == {"path": str(empty), "error": "directory holds no image files"}
    assert results[6] == {
        "path": str(bad),
        "error": "not an image file Pillow can read",
    }
    assert results[8] == {"path": str(tmp_path / "no.png"), "error": "no such file"}
    good = [results[i] for i in (1, 2, 3, 4, 5, 7)]
    pixels = np.stack([read_image(r["path"], TINY_SHAPE) for r in good])
    answers = classify(tiny_model, pixels)
    for entry, label, p in zip(
        good, answers.labels, answers.probabilities, strict=True
    ):
        assert list(entry) == ["path", "label", "probabilities"]
        assert entry["label"] == label
        assert entry["probabilities"] == {"no": p[0], "yes": p[1]}


def test_predict_files_shows_progress_over_the_files(tiny_model, tiny_folder):
    seen = []

    def progress(paths):
        seen.extend(paths)
        return paths

    results = predict_files(tiny_model, [tiny_folder / "dog"], progress=progress)
    assert [str(p) for p in seen] == [r["path"] for r in results]
    assert len(results) == 5


def test_predict_files_reads_any_size(tiny_model, tmp_path, rng):
    big = rng.integers(0, 256, (40, 30, 3), dtype=np.uint8)
    Image.fromarray(big).save(tmp_path / "big.png")
    [entry] = predict_files(tiny_model, [tmp_path / "big.png"])
    expected = tiny_model.predict_proba(tmp_path / "big.png")[0]
    assert entry["probabilities"] == {"no": expected[0], "yes": expected[1]}


def test_predictions_stream_a_batch_at_a_time(tiny_model, tiny_folder, monkeypatch):
    # Memory must not grow with the number of files: no more than one batch
    # of pictures is read before its answers come out.
    from logitnet.app import prediction
    from logitnet.data import images

    reads = []
    real = images.read_image
    monkeypatch.setattr(
        images, "read_image", lambda *a, **k: reads.append(1) or real(*a, **k)
    )
    sources = [tiny_folder / "cat"] * 4  # 20 pictures
    entries = prediction.iter_predictions(tiny_model, sources, batch=3)
    first = next(entries)
    assert "label" in first and len(reads) == 3
    assert len([first, *entries]) == 20 and len(reads) == 20
    whole = predict_files(tiny_model, sources)
    batched = list(prediction.iter_predictions(tiny_model, sources, batch=7))
    assert [e["path"] for e in whole] == [e["path"] for e in batched]
    for a, b in zip(whole, batched, strict=True):
        assert a["label"] == b["label"]
        assert a["probabilities"] == pytest.approx(b["probabilities"], rel=1e-12)
