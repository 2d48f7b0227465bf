"""Data of k >= 3 classes through every data door, each a real process:
class folders -> ``train --images`` -> ``convert`` -> ``train --data`` (on
this machine's threads and on a 2-process cluster, equal to the in-memory
fit) -> ``predict``; ``synth --n-classes``; and each bad file named in one
line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import warnings
import zipfile
from unittest import mock

import dask.array as da
import h5py
import numpy as np
import pytest
from distributed import LocalCluster
from PIL import Image
from sklearn.exceptions import ConvergenceWarning

from conftest import FAILURE, run, write_h5
from logitnet import LogisticRegression
from logitnet.app.evaluation import from_decision_values
from logitnet.app.modelfile import load_model
from logitnet.backends import dask as dask_backend
from logitnet.backends import numpy as numpy_backend
from logitnet.core.loss import loss_and_grad
from logitnet.core.pixels import scale
from logitnet.data import reader
from logitnet.data.layout import read_split
from logitnet.data.reader import describe_images, open_images
from logitnet.data.synth import make_images, true_model
from logitnet.exceptions import DataError

THREE = ["cat", "coffee", "rocket"]
TEN = [f"c{j}" for j in range(10)]

#: The out-of-core fits compared here: a penalty makes the problem well
#: conditioned, so that sums added in another order (float64 over Dask
#: chunks, float32 over NumPy blocks) move the weights by far less than 1e-6.
FIT = ("--alpha", "0.01", "--iterations", "12")


def _class_folders(root, names, per_class, seed=0):
    """DIR/<name>/<i>.png: noisy pictures of odd sizes, class j brightening
    channel j % 3 in band j // 3 of the rows (4 bands)."""
    rng = np.random.default_rng(seed)
    for j, name in enumerate(names):
        (root / name).mkdir(parents=True)
        for i in range(per_class):
            height = 48 + 4 * (i % 5)
            pixels = rng.integers(0, 180, (height, 56, 3), dtype=np.uint8)
            band = slice(j // 3 * height // 4, (j // 3 + 1) * height // 4)
            pixels[band, :, j % 3] += 75
            Image.fromarray(pixels).save(root / name / f"{i:02d}.png")
    return root


def _ok(result):
    assert result.returncode == 0, result.stderr
    return result


def _in_memory_fit(path, max_iter=12, alpha=0.01):
    """What ``train --data`` fits, on the file's pictures in memory."""
    x, y, _ = read_split(path, "train")
    X = scale(x.reshape(len(x), -1), np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return LogisticRegression(
            solver="lbfgs", dtype=np.float32, max_iter=max_iter, alpha=alpha, tol=1e-4
        ).fit(X, y.ravel())


def _assert_fit_equals(path, model_path, **params):
    model, eager = load_model(model_path), _in_memory_fit(path, **params)
    assert model.w.shape == (eager.coef_.shape[1], eager.coef_.shape[0])
    assert model.training["n_iter"] == eager.n_iter_[0]
    np.testing.assert_allclose(model.w, eager.coef_.T, rtol=0, atol=1e-6)
    np.testing.assert_allclose(model.b, eager.intercept_, rtol=0, atol=1e-6)


def _predicted(model_path, picture):
    """``predict --json``'s answer for one picture."""
    result = _ok(run("predict", "--model", str(model_path), str(picture), "--json"))
    (answer,) = json.loads(result.stdout)
    return answer


@pytest.fixture(scope="module")
def three(tmp_path_factory):
    """Three class folders, 12 pictures each; the model ``train --images``
    makes of them, and the file ``convert`` makes of them."""
    root = tmp_path_factory.mktemp("three")
    folder = _class_folders(root / "pictures", THREE, 12)
    trained = _ok(run("train", "--images", str(folder), "--iterations", "300",
                      "--out", str(root / "m.npz"), "--json"))  # fmt: skip
    converted = _ok(run("convert", str(folder), str(root / "three.h5"),
                        "--test-fraction", "0.25"))  # fmt: skip
    return {
        "folder": folder,
        "model": root / "m.npz",
        "summary": json.loads(trained.stdout),
        "file": root / "three.h5",
        "converted": converted.stdout,
    }


def test_train_images_on_three_class_folders(three):
    summary = three["summary"]
    assert summary["classes"] == THREE
    assert summary["metrics"]["train_accuracy"] == 100.0
    assert 0 <= summary["metrics"]["test_accuracy"] <= 100
    for split in ("train", "test"):
        metrics = summary["metrics"][split]
        assert set(metrics) == {"accuracy", "precision", "recall", "f1",
                                "roc_auc", "log_loss"}  # fmt: skip
    model = load_model(three["model"])
    assert model.classes == THREE
    assert model.w.shape == (64 * 64 * 3, 3) and model.b.shape == (3,)
    assert model.training["n_train"] + model.training["n_test"] == 36
    with zipfile.ZipFile(three["model"]) as archive:
        meta = json.loads(np.load(archive.open("metadata.npy")).item())
    assert meta["format_version"] == 4


def test_train_images_says_which_folder_is_which_label(three, tmp_path):
    result = _ok(run("train", "--images", str(three["folder"]), "--iterations", "5",
                     "--out", str(tmp_path / "m.npz")))  # fmt: skip
    names = ", ".join(f"{i} = {name}" for i, name in enumerate(THREE))
    assert f"test pictures; labels {names}" in result.stderr
    assert result.stdout.splitlines()[-1].startswith("test accuracy: ")


def test_the_images_model_predicts_every_class(three):
    answer = _predicted(three["model"], three["folder"] / "rocket" / "03.png")
    assert list(answer["probabilities"]) == THREE
    assert sum(answer["probabilities"].values()) == pytest.approx(1)
    best = max(answer["probabilities"], key=answer["probabilities"].get)
    assert answer["label"] == best == "rocket"


def test_convert_writes_k_class_names_and_labels(three):
    assert (
        three["converted"]
        .strip()
        .endswith("pictures of 64x64; labels 0 = cat, 1 = coffee, 2 = rocket")
    )
    with h5py.File(three["file"]) as f:
        assert f["list_classes"][()].tolist() == [b"cat", b"coffee", b"rocket"]
        # Stratified: 9 of each class for training, 3 for testing.
        assert np.bincount(f["train_set_y"][()]).tolist() == [9, 9, 9]
        assert np.bincount(f["test_set_y"][()]).tolist() == [3, 3, 3]
    assert describe_images(three["file"])["classes"] == THREE


def test_train_data_of_three_classes_equals_the_in_memory_fit(three, tmp_path):
    out = tmp_path / "d.npz"
    result = _ok(run("train", "--data", str(three["file"]), *FIT,
                     "--out", str(out), "--json"))  # fmt: skip
    summary = json.loads(result.stdout)
    assert summary["classes"] == THREE
    assert set(summary["metrics"]) == {"train", "train_accuracy", "test",
                                       "test_accuracy"}  # fmt: skip
    _assert_fit_equals(three["file"], out)
    answer = _predicted(out, three["folder"] / "coffee" / "00.png")
    assert list(answer["probabilities"]) == THREE


@pytest.fixture(scope="module")
def ten(tmp_path_factory):
    """``synth --n-classes 10``: 1200 training and 100 test pictures."""
    path = tmp_path_factory.mktemp("ten") / "ten.h5"
    result = _ok(run("synth", "--n-samples", "1200", "--test-samples", "100",
                     "--n-classes", "10", "--seed", "5", "--out", str(path),
                     "--json"))  # fmt: skip
    assert json.loads(result.stdout)["n_classes"] == 10
    return path


def test_synth_plants_a_ten_class_model(ten):
    with h5py.File(ten) as f:
        assert f["list_classes"][()].tolist() == [
            f"class {j}".encode() for j in range(10)
        ]
        assert f["true_w"].shape == (12288, 10) and f["true_b"].shape == (10,)
        labels = f["train_set_y"][()]
    assert set(labels.tolist()) == set(range(10))


def test_train_data_on_synth_ten_classes(ten, tmp_path):
    out = tmp_path / "ten.npz"
    _ok(run("train", "--data", str(ten), *FIT, "--out", str(out), "--quiet"))
    _assert_fit_equals(ten, out)
    x, _, _ = read_split(ten, "test")
    Image.fromarray(x[0]).save(tmp_path / "first.png")
    answer = _predicted(out, tmp_path / "first.png")
    assert len(answer["probabilities"]) == 10


def test_train_data_on_a_cluster_equals_the_in_memory_fit(three, ten, tmp_path):
    # LocalCluster sets OMP_NUM_THREADS=1 and more in this process's
    # environment, for its workers: undone after.
    with (
        mock.patch.dict(os.environ),
        LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            dashboard_address=":0",  # a free port: 8787 may be taken
        ) as cluster,
    ):
        for path in (three["file"], ten):
            out = tmp_path / f"{path.stem}.npz"
            _ok(run("train", "--data", str(path), *FIT, "--scheduler",
                    cluster.scheduler_address, "--out", str(out), "--quiet"))  # fmt: skip
            _assert_fit_equals(path, out)


def test_ten_class_folders_end_to_end(tmp_path):
    folder = _class_folders(tmp_path / "pictures", TEN, 5, seed=1)
    model = tmp_path / "m.npz"
    result = _ok(run("train", "--images", str(folder), "--solver", "lbfgs",
                     "--iterations", "30", "--out", str(model), "--json"))  # fmt: skip
    assert json.loads(result.stdout)["classes"] == TEN
    assert load_model(model).w.shape == (12288, 10)
    _ok(run("convert", str(folder), str(tmp_path / "ten.h5"), "--test-fraction", "0.2"))
    with h5py.File(tmp_path / "ten.h5") as f:
        assert np.bincount(f["test_set_y"][()]).tolist() == [1] * 10
    out = tmp_path / "d.npz"
    _ok(run("train", "--data", str(tmp_path / "ten.h5"), *FIT, "--out", str(out),
            "--quiet"))  # fmt: skip
    _assert_fit_equals(tmp_path / "ten.h5", out)
    answer = _predicted(out, folder / "c7" / "00.png")
    assert list(answer["probabilities"]) == TEN


# Bad files: one line naming the file ------------------------------------------


def _pictures(n):
    return np.random.default_rng(0).integers(0, 256, (n, 64, 64, 3), dtype=np.uint8)


BAD_FILES = {
    "outside": ([0, 1, 2, 3, 1, 0], [b"a", b"b", b"c"],
                "train_set_y must hold labels 0 to 2 only; got 3 (list_classes "
                "names 3 classes)"),
    "missing": ([0, 1, 3, 1, 0, 3], [b"a", b"b", b"c", b"d"],
                "train_set_y has no picture of class 2 (c); training needs pictures "
                "of every class in list_classes (4 names)"),
    "twice": ([0, 1, 2, 2, 1, 0], [b"a", b"b", b"a"],
              "list_classes: 'classes' must be different names; got 'a' twice"),
}  # fmt: skip


@pytest.mark.parametrize("case", sorted(BAD_FILES))
@pytest.mark.parametrize("door", ["--data", "--data-dir"])
def test_bad_k_class_files_are_named(tmp_path, case, door):
    labels, classes, message = BAD_FILES[case]
    folder = tmp_path / "data"
    folder.mkdir()
    path = folder / "train_catvnoncat.h5"
    write_h5(path, "train", _pictures(6), np.array(labels), classes)
    write_h5(folder / "test_catvnoncat.h5", "test", _pictures(3), np.array([0, 1, 2]),
             classes)  # fmt: skip
    args = (
        ["--data", str(path)]
        if door == "--data"
        else ["--no-verify", door, str(folder)]
    )
    result = run("train", *args, "--iterations", "2")
    assert result.returncode == FAILURE
    assert result.stderr.splitlines() == [f"logitnet: error: {path}: {message}"]
    assert result.stdout == ""


def test_a_test_label_outside_list_classes_is_named(tmp_path):
    path = tmp_path / "d.h5"
    write_h5(path, "train", _pictures(3), np.array([0, 1, 2]), [b"a", b"b", b"c"],
             test_set_x=_pictures(2), test_set_y=np.array([2, 5]))  # fmt: skip
    result = run("train", "--data", str(path), "--iterations", "2")
    assert result.returncode == FAILURE
    assert result.stderr.splitlines() == [
        f"logitnet: error: {path}: test_set_y must hold labels 0 to 2 only; got 5 "
        "(list_classes names 3 classes)"
    ]


def test_a_zarr_store_of_k_classes(tmp_path):
    import zarr

    store = tmp_path / "d.zarr"
    group = zarr.open_group(str(store), mode="w")
    group.create_array("train_set_x", data=_pictures(6)[:, :8, :8])
    group.create_array("train_set_y", data=np.array([0, 1, 2, 2, 1, 0]))
    names = np.dtypes.StringDType()  # zarr's "string", with a stable spec
    group.create_array("list_classes", data=np.array(["a", "b", "c"], names))
    assert describe_images(store)["classes"] == ["a", "b", "c"]
    _, y = open_images(store)
    assert y.compute().tolist() == [0, 1, 2, 2, 1, 0]
    del group["list_classes"]
    group.create_array("list_classes", data=np.array(["a"], names))
    with pytest.raises(DataError, match=r"list_classes must be 2 to 10000 class names"):
        describe_images(store)


# In-process: the pieces under the doors ----------------------------------------------


def test_synth_labels_follow_the_planted_softmax_model(tmp_path):
    path = make_images(tmp_path / "s.h5", 30_000, image_shape=(2, 2, 3), seed=1,
                       n_classes=3)  # fmt: skip
    x, y, classes = read_split(path, "train")
    assert classes.tolist() == [b"class 0", b"class 1", b"class 2"]
    W, b = true_model(12, seed=1, n_classes=3)
    clf = LogisticRegression().fit(x.reshape(len(x), -1) / 255, y.ravel())
    # Softmax weights are known up to a constant per feature: compare the
    # differences from class 0.
    fitted, planted = clf.coef_.T, W
    np.testing.assert_allclose(
        fitted - fitted[:, :1], planted - planted[:, :1], atol=0.5
    )
    np.testing.assert_allclose(clf.intercept_ - clf.intercept_[0], b - b[0], atol=0.6)


def test_two_class_synth_is_unchanged_by_the_classes_argument(tmp_path):
    a = make_images(tmp_path / "a.h5", 50, image_shape=(2, 2, 3), seed=3)
    b = make_images(tmp_path / "b.h5", 50, image_shape=(2, 2, 3), seed=3, n_classes=2)
    assert a.read_bytes() == b.read_bytes()
    with pytest.raises(ValueError, match="n_classes must be from 2 to 10000; got 1"):
        make_images(tmp_path / "c.h5", 5, n_classes=1)


def test_one_read_of_each_chunk_per_evaluation_of_ten_classes(ten, monkeypatch):
    X, y = open_images(ten, chunk_rows=256, dtype=np.float32)
    reads = []
    original = reader._StoredRows.__getitem__

    def counting(self, index):
        reads.append((self.key, index[0].start))
        return original(self, index)

    monkeypatch.setattr(reader._StoredRows, "__getitem__", counting)
    cost, dW, db = loss_and_grad(
        np.zeros((X.shape[1], 10)), np.zeros(10), X, y.astype(np.float32)
    )
    pixel_reads = sorted(start for key, start in reads if key == "train_set_x")
    assert pixel_reads == list(range(0, 1200, 256))
    assert cost == pytest.approx(np.log(10))
    assert dW.shape == (12288, 10) and dW.dtype == np.float32
    assert db.shape == (10,) and db.dtype == np.float64


def test_memory_stays_bounded_with_ten_classes(tmp_path):
    """As for two classes (test_backend_dask): a fit on data 6 times larger
    in float64 than the memory it may use above its start."""
    path = make_images(tmp_path / "big.h5", 24_000, image_shape=(32, 32, 3),
                       n_classes=10)  # fmt: skip
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
                fitted = LogisticRegression(max_iter=2, tol=0).fit(X, y)
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        print(json.dumps({{"start": start, "peak": peak, "k": len(fitted.classes_),
                          "float_bytes": X.to_floats().nbytes}}))
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    result = json.loads(out.stdout)
    growth = (result["peak"] - result["start"]) * 1024  # ru_maxrss is in KiB
    assert result["k"] == 10 and result["float_bytes"] > 580e6
    assert growth < result["float_bytes"] / 6, result


def test_dask_sums_keep_the_dtype_each_block_gives(rng):
    """A k-class pass gives its bias sums in float64 as the NumPy backend
    does, not rounded to X's float32."""

    def block(Xb, w):
        return Xb.T @ Xb[:, :3], np.sum(Xb[:, :3], axis=0, dtype=np.float64), 1.0

    X = rng.random((100, 5)).astype(np.float32)
    eager = numpy_backend.row_sums(block, X, (), (None,))
    lazy = dask_backend.row_sums(block, da.from_array(X, chunks=(30, 5)), (), (None,))
    assert [getattr(v, "dtype", None) for v in lazy] == [
        np.dtype(np.float32),
        np.dtype(np.float64),
        None,
    ]
    assert [getattr(v, "dtype", None) for v in eager][:2] == [
        np.dtype(np.float32),
        np.dtype(np.float64),
    ]
    np.testing.assert_allclose(lazy[1], eager[1], rtol=1e-12)
    assert lazy[2] == 4.0  # a number per chunk, added


def test_scores_of_k_classes(rng):
    z = rng.normal(size=(40, 3))
    labels = np.arange(40) % 3
    result = from_decision_values(labels, z)
    assert result.confusion.shape == (3, 3) and result.confusion.sum() == 40
    assert result.probability.shape == (40, 3)
    np.testing.assert_array_equal(result.predicted, z.argmax(axis=1))
    assert result.metrics["accuracy"] == pytest.approx(
        np.mean(result.predicted == labels)
    )
    assert 0 <= result.metrics["roc_auc"] <= 1
    # A class missing from the labels: ROC AUC is undefined, the rest is not.
    partial = from_decision_values(labels % 2, z)
    assert partial.metrics["roc_auc"] is None
    assert partial.metrics["recall"] is not None
