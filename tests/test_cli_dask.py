"""synth and train --data [--scheduler], as real processes."""

from __future__ import annotations

import json
import os
import re
import warnings
from unittest import mock

import h5py
import numpy as np
import pytest
from distributed import LocalCluster
from sklearn.exceptions import ConvergenceWarning

from conftest import FAILURE, USAGE, run, run_on_a_terminal
from logitnet import LogisticRegression
from logitnet.app.modelfile import load_model
from logitnet.core.pixels import scale
from logitnet.data.layout import read_split


@pytest.fixture(scope="module")
def synth_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("big") / "synth.h5"
    result = run("synth", "--n-samples", "1500", "--test-samples", "300",
                 "--seed", "4", "--out", str(path), "--json")  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {
        "out": str(path), "n_train": 1500, "n_test": 300,
        "image_shape": [64, 64, 3], "n_classes": 2, "seed": 4,
    }  # fmt: skip
    return path


def test_synth_writes_the_course_layout_with_the_planted_model(synth_file):
    x, y, _ = read_split(synth_file, "train")
    assert x.shape == (1500, 64, 64, 3) and x.dtype == np.uint8
    assert set(np.unique(y)) == {0, 1}
    with h5py.File(synth_file) as f:
        assert f["test_set_x"].shape == (300, 64, 64, 3)
        assert f["true_w"].shape == (12288,)


def _in_memory_fit(path, **params):
    x, y, _ = read_split(path, "train")
    X = scale(x.reshape(len(x), -1), np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return LogisticRegression(dtype=np.float32, **params).fit(X, y.ravel())


def test_train_data_equals_the_in_memory_fit(synth_file, tmp_path):
    out = tmp_path / "m.npz"
    result = run("train", "--data", str(synth_file), "--iterations", "15",
                 "--out", str(out), "--json")  # fmt: skip
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["solver"] == "lbfgs"  # the default out of core
    assert "L-BFGS" not in result.stderr  # no progress in a pipe
    assert set(summary["metrics"]) == {
        "train",
        "train_accuracy",
        "test",
        "test_accuracy",
    }
    saved = load_model(out)
    assert saved.image_shape == (64, 64, 3)
    assert saved.training["data"]["kind"] == "out-of-core file"
    eager = _in_memory_fit(synth_file, max_iter=15)
    assert saved.training["n_iter"] == eager.n_iter_[0]
    np.testing.assert_allclose(saved.w, eager.coef_[0], rtol=0, atol=1e-5)


def test_train_data_shows_passes_over_the_file_on_a_terminal(synth_file, tmp_path):
    out = tmp_path / "m.npz"
    status, screen = run_on_a_terminal(
        "train", "--data", str(synth_file), "--iterations", "4", "--out", str(out)
    )
    assert status == 0
    training = load_model(out).training
    assert (training["n_iter"], training["converged"]) == (4, False)
    assert "L-BFGS: first pass over the data" in screen
    assert re.search(
        r"L-BFGS: iteration 0, cost 0\.693147, max \|grad\| \S+ "
        r"\(stops at 1\.0e-04\), 1 pass, \S+ s/pass",
        screen,
    )
    assert "/4" not in screen and "it/s" not in screen
    # Each evaluation is a pass: at least one per iteration, the start's too.
    stop = re.search(
        r"L-BFGS reached the iteration limit \(4\) before converging: max \|grad\| "
        r"\S+ > tol 1\.0e-04, cost \S+; (\d+) passes over the data, \S+ s each",
        screen,
    )
    assert stop and int(stop[1]) >= 5
    assert stop.start() > screen.rindex("L-BFGS: iteration ")


def test_train_data_on_a_cluster(synth_file, tmp_path):
    out = tmp_path / "m.npz"
    # LocalCluster sets OMP_NUM_THREADS=1 and more in this process's
    # environment, for its workers: undone after, so that later commands run
    # as they would anywhere else.
    with (
        mock.patch.dict(os.environ),
        LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            dashboard_address=":0",  # a free port: 8787 may be taken
        ) as cluster,
    ):
        result = run("train", "--data", str(synth_file), "--iterations", "5",
                     "--scheduler", cluster.scheduler_address, "--out", str(out),
                     "--quiet")  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-2].startswith("train accuracy: ")
    eager = _in_memory_fit(synth_file, max_iter=5)
    np.testing.assert_allclose(load_model(out).w, eager.coef_[0], rtol=0, atol=1e-5)


@pytest.mark.parametrize(
    ("args", "status", "message"),
    [
        (["--scheduler", "tcp://127.0.0.1:9"], USAGE, "--scheduler applies to --data only"),
        (["--data", "{file}", "--images", "{tmp}"], USAGE,
         "give one of --data, --data-dir or --images"),
        (["--data", "{tmp}/missing.h5"], FAILURE,
         "{tmp}/missing.h5: no such file or zarr store"),
        (["--data", "{file}", "--scheduler", "tcp://127.0.0.1:9"], FAILURE,
         "tcp://127.0.0.1:9: cannot reach the Dask scheduler"),
    ],
)  # fmt: skip
def test_bad_out_of_core_input(synth_file, tmp_path, args, status, message):
    places = {"file": str(synth_file), "tmp": str(tmp_path)}
    out = tmp_path / "m.npz"
    result = run("train", *[a.format(**places) for a in args], "--out", str(out))
    assert result.returncode == status
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and message.format(**places) in lines[0], result.stderr
    assert not out.exists()
