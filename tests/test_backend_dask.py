"""The Dask backend: fits and predictions on Dask arrays, on the local
scheduler and on a cluster, in bounded memory, equal to in-memory fits."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import warnings
from unittest import mock

import dask
import dask.array as da
import numpy as np
import pytest
from distributed import Client, LocalCluster
from sklearn.exceptions import ConvergenceWarning

from conftest import SMALL_SHAPE
from logitnet import LogisticRegression
from logitnet.core import solvers
from logitnet.core.loss import loss_and_grad
from logitnet.core.pixels import ScaledPixels
from logitnet.data import reader
from logitnet.data.reader import open_images
from logitnet.data.synth import make_images

SHAPE = SMALL_SHAPE


def fit_both(X_dask, y_dask, X, y, **params):
    """The same estimator on Dask and on NumPy arrays."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        lazy = LogisticRegression(tol=0, **params).fit(X_dask, y_dask)
        eager = LogisticRegression(tol=0, **params).fit(X, y)
    return lazy, eager


def assert_same_fit(a, b, atol=1e-6):
    np.testing.assert_allclose(a.coef_, b.coef_, rtol=0, atol=atol)
    np.testing.assert_allclose(a.intercept_, b.intercept_, rtol=0, atol=atol)
    assert a.n_iter_[0] == b.n_iter_[0]
    np.testing.assert_allclose(a.loss_curve_, b.loss_curve_, rtol=1e-9)


# Fits on the local scheduler ---------------------------------------------


@pytest.mark.parametrize(
    "params",
    [
        {"solver": "lbfgs", "max_iter": 15},
        {"solver": "lbfgs", "max_iter": 15, "alpha": 0.01, "fit_intercept": False},
        {"solver": "gd", "max_iter": 30, "learning_rate": 0.5},
    ],
)
def test_dask_fit_equals_in_memory_fit(synth_file, in_memory, params):
    X, y = open_images(synth_file, chunk_rows=256)
    lazy, eager = fit_both(X, y, *in_memory, **params)
    assert_same_fit(lazy, eager)
    assert lazy.n_iter_[0] == params["max_iter"]
    np.testing.assert_array_equal(lazy.classes_, [0, 1])
    # Predictions on a Dask X are lazy Dask arrays.
    labels = lazy.predict(X)
    assert isinstance(labels, da.Array)
    np.testing.assert_array_equal(labels.compute(), eager.predict(in_memory[0]))
    proba = lazy.predict_proba(X)
    assert isinstance(proba, da.Array)
    np.testing.assert_allclose(
        proba.compute(), eager.predict_proba(in_memory[0]), atol=1e-6
    )


def test_float32_numpy_labels_and_weights(synth_file, in_memory):
    X, _ = open_images(synth_file, chunk_rows=700, dtype=np.float32)
    X_np, y = in_memory
    names = np.array(["no", "yes"])[y]
    weights = np.linspace(0.5, 2.0, y.size)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        lazy = LogisticRegression(dtype=np.float32, max_iter=10, tol=0).fit(
            X, names, sample_weight=da.from_array(weights, chunks=1000)
        )
        eager = LogisticRegression(dtype=np.float32, max_iter=10, tol=0).fit(
            X_np.astype(np.float32), names, sample_weight=weights
        )
    assert lazy.coef_.dtype == np.float32
    np.testing.assert_allclose(lazy.coef_, eager.coef_, atol=1e-3)
    np.testing.assert_array_equal(lazy.classes_, ["no", "yes"])


def test_one_read_of_each_chunk_per_evaluation(synth_file, monkeypatch):
    X, y = open_images(synth_file, chunk_rows=256)
    reads = []
    original = reader._StoredRows.__getitem__

    def counting(self, index):
        reads.append((self.key, index[0].start))
        return original(self, index)

    monkeypatch.setattr(reader._StoredRows, "__getitem__", counting)
    w = np.zeros(X.shape[1])
    loss_and_grad(w, 0.0, X, y.astype(np.float64))
    pixel_reads = sorted(start for key, start in reads if key == "train_set_x")
    assert pixel_reads == list(range(0, 3000, 256))


def test_column_chunks_and_numpy_labels(in_memory):
    X_np, y = in_memory
    X = da.from_array(X_np, chunks=(400, 50))
    lazy, eager = fit_both(X, y, X_np, y, max_iter=5)
    assert_same_fit(lazy, eager)


def test_nan_in_a_dask_X_is_found_on_the_first_pass(in_memory):
    X_np, y = in_memory
    X_np = X_np.copy()
    X_np[2999, 7] = np.nan
    with pytest.raises(ValueError, match="X must be finite"):
        LogisticRegression().fit(da.from_array(X_np, chunks=(500, 108)), y)


@pytest.mark.parametrize(
    ("X", "y", "message"),
    [
        (da.zeros((4, 2, 1)), [0, 1, 0, 1], "Expected 2D array"),
        (da.zeros((4, 2), dtype=bool), [0, 1, 0, 1], "must hold real numbers"),
        (da.zeros((4, 2)), [0, 1, 0], "inconsistent numbers of samples"),
        (da.zeros((4, 2)), da.from_array(np.array([2, 2, 2, 2])), "got 1 class"),
        (
            da.zeros((4, 2)),
            da.from_array(np.array([0, 1])),
            r"y must have shape \(4,\)",
        ),
    ],
)
def test_bad_dask_data(X, y, message):
    with pytest.raises(ValueError, match=message):
        LogisticRegression().fit(X, y)


def test_unknown_chunk_sizes_are_named():
    X = da.from_array(np.ones((6, 2)), chunks=3)
    X = X[X[:, 0] > 0]
    with pytest.raises(ValueError, match="unknown chunk sizes"):
        LogisticRegression().fit(X, np.array([0, 1] * 3))


def test_memory_stays_bounded(tmp_path):
    """A fit on data 6 times larger in float64 than the memory it may use
    above its start."""
    path = make_images(tmp_path / "big.h5", 24_000, image_shape=(32, 32, 3))
    script = textwrap.dedent(
        f"""
        import json, resource, warnings
        import dask
        from logitnet import LogisticRegression
        from logitnet.data.reader import open_images
        X, y = open_images({str(path)!r}, chunk_rows=1000)
        start = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with dask.config.set(scheduler="threads", num_workers=2):
                LogisticRegression(max_iter=2, tol=0).fit(X, y)
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        print(json.dumps({{"start": start, "peak": peak, "float_bytes": X.to_floats().nbytes}}))
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    result = json.loads(out.stdout)
    growth = (result["peak"] - result["start"]) * 1024  # ru_maxrss is in KiB
    assert result["float_bytes"] > 580e6
    assert growth < result["float_bytes"] / 6, result


# On a cluster ------------------------------------------------------------


@pytest.fixture(scope="module")
def client():
    # LocalCluster sets OMP_NUM_THREADS=1 and more in this process's
    # environment, for its workers: undone after, so that the commands later
    # tests run get this machine's own threads.
    with (
        mock.patch.dict(os.environ),
        LocalCluster(
            n_workers=2,
            processes=True,
            threads_per_worker=1,
            dashboard_address=":0",  # a free port: 8787 may be taken
            silence_logs=50,
        ) as cluster,
        Client(cluster) as client,
    ):
        yield client


def test_cluster_fit_equals_in_memory_fit(client, synth_file, in_memory):
    X, y = open_images(synth_file, chunk_rows=256)
    lazy, eager = fit_both(X, y, *in_memory, max_iter=8)
    assert_same_fit(lazy, eager)
    # Both workers took part.
    assert all(n > 0 for n in client.run(_tasks_done).values())


def _tasks_done(dask_worker):
    return len(dask_worker.state.log)


def test_a_worker_killed_mid_fit_does_not_lose_the_fit(
    client, synth_file, in_memory, tmp_path
):
    X, y = open_images(synth_file, chunk_rows=256)
    armed = tmp_path / "kill-the-worker-that-reads-this"

    def read_or_die(chunk):
        # The first worker to claim the flag dies, in the middle of a pass.
        try:
            os.rename(armed, f"{armed}.claimed")
        except FileNotFoundError:
            return chunk
        os.kill(os.getpid(), signal.SIGKILL)

    X = ScaledPixels(X.pixels.map_blocks(read_or_die, dtype=np.uint8), X.dtype)
    pids = set(client.run(os.getpid).values())

    def arm(step):
        if step.iteration == 3:
            armed.touch()

    y01 = y.astype(np.float64)
    with dask.config.set({"distributed.scheduler.allowed-failures": 5}):
        result = solvers.lbfgs(
            solvers.Problem(X, y01, np.zeros(X.shape[1])),
            max_iter=8,
            tol=0,
            progress=arm,
        )
    assert not armed.exists() and os.path.exists(f"{armed}.claimed")
    # The killed worker's process was replaced.
    client.wait_for_workers(2)
    assert set(client.run(os.getpid).values()) != pids
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        eager = LogisticRegression(max_iter=8, tol=0).fit(*in_memory)
    np.testing.assert_allclose(result.w, eager.coef_[0], rtol=0, atol=1e-6)
    assert result.b == pytest.approx(eager.intercept_[0], abs=1e-6)


def test_a_pass_reads_pixels_and_converts_them_block_by_block(
    synth_file, in_memory, monkeypatch
):
    from logitnet.backends import numpy as numpy_backend
    from logitnet.core import loss

    X, y = open_images(synth_file, chunk_rows=256)
    y = y.astype(np.float64)
    floats = X.to_floats()  # the same values, as a float Dask array
    calls = []
    original = loss.block_sums

    def spying(Xb, *args):
        calls.append((Xb.dtype, Xb.shape[0]))
        return original(Xb, *args)

    monkeypatch.setattr(loss, "block_sums", spying)
    monkeypatch.setattr(numpy_backend, "BLOCK_BYTES", 100 * 108 * 8)  # 100 rows
    w = np.random.default_rng(0).normal(size=108) / 50
    with dask.config.set(scheduler="sync"):  # in this process, whatever client
        converted = loss_and_grad(w, 0.1, X, y)
        # 11 full chunks of 256 rows (blocks of 100, 100, 56), then 184 rows.
        expected = [(np.float64, n) for n in [100, 100, 56] * 11 + [100, 84]]
        assert sorted(calls) == sorted(expected)
        calls.clear()
        from_floats = loss_and_grad(w, 0.1, floats, y)
        assert sorted(calls) == sorted([(np.float64, 256)] * 11 + [(np.float64, 184)])
    expected = loss_and_grad(w, 0.1, *in_memory)
    for result in (converted, from_floats):
        assert result[0] == pytest.approx(expected[0], rel=1e-13)
        np.testing.assert_allclose(result[1], expected[1], rtol=1e-12, atol=1e-15)
        assert result[2] == pytest.approx(expected[2], rel=1e-12, abs=1e-15)


def test_decision_values_of_pixels_need_no_float_chunks(synth_file, in_memory):
    from logitnet.core.loss import decision_function

    X, _ = open_images(synth_file, chunk_rows=256, dtype=np.float32)
    w = np.random.default_rng(1).normal(size=108)
    z = decision_function(w, 0.3, X)
    floats = X.to_floats()
    assert floats.name not in z.__dask_graph__().layers  # the pixels', not X's
    assert X.pixels.name in z.__dask_graph__().layers
    # Decisions are made on float64 pixels whatever the training dtype:
    # a picture's z is the same as from its photo.
    assert z.dtype == np.float64 and z.chunks == (X.chunks[0],)
    as_float64 = ScaledPixels(X.pixels, np.float64).to_floats()
    assert np.array_equal(z.compute(), decision_function(w, 0.3, as_float64).compute())
    np.testing.assert_allclose(
        z.compute(), in_memory[0] @ w + 0.3, rtol=1e-5, atol=1e-5
    )
