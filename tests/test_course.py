"""The main job as a Python function: what ``logitnet train`` saves."""

from __future__ import annotations

import numpy as np

from conftest import COURSE_REPORT
from logitnet.course import train_cat_classifier
from logitnet.app.modelfile import load_model, save_model


def test_train_cat_classifier(data_dir, tmp_path, capsys):
    saved = train_cat_classifier(data_dir, num_iterations=300, print_cost=True)
    assert capsys.readouterr().out.splitlines()[:3] == COURSE_REPORT[:3]
    assert saved.w.shape == (12288,) and saved.w.dtype == np.float64
    assert saved.classes == ["non-cat", "cat"]
    assert saved.image_shape == (64, 64, 3)
    assert saved.training["cost_every"] == 100
    assert len(saved.training["costs"]) == 3
    assert set(saved.metrics) == {"train_accuracy", "test_accuracy"}
    loaded = load_model(save_model(tmp_path / "m.npz", saved))
    np.testing.assert_array_equal(loaded.w, saved.w)
    assert loaded.metrics == saved.metrics
