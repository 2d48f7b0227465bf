"""The course's files: where they are found, checked, and downloaded verified."""

from __future__ import annotations

import functools
import hashlib
import http.server
import json
import shutil
import threading
from pathlib import Path

import numpy as np
import pytest

from conftest import LFS_POINTER, run, write_split
from logitnet.data import cats as datasets
from logitnet.data.cats import fetch_dataset, load_dataset, load_split
from logitnet.data.layout import read_split
from logitnet.exceptions import DataError

# The real files ----------------------------------------------------------


def test_load_dataset_course_layout(cat_data):
    train_x, train_y, test_x, test_y, classes = cat_data
    assert train_x.shape == (209, 64, 64, 3) and train_x.dtype == np.uint8
    assert test_x.shape == (50, 64, 64, 3) and test_x.dtype == np.uint8
    assert train_y.shape == (1, 209) and test_y.shape == (1, 50)
    assert list(classes) == [b"non-cat", b"cat"]
    assert set(np.unique(train_y)) == {0, 1}
    # The course's data: 72 of the 209 training images are cats.
    assert int(train_y.sum()) == 72


def test_env_var_is_used(data_dir, monkeypatch):
    monkeypatch.setenv("LOGITNET_DATA_DIR", str(data_dir))
    assert load_dataset()[0].shape == (209, 64, 64, 3)


def test_argument_wins_over_env(data_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("LOGITNET_DATA_DIR", str(tmp_path))  # empty: would fail
    assert load_dataset(data_dir)[0].shape == (209, 64, 64, 3)
    monkeypatch.setenv("LOGITNET_DATA_DIR", str(data_dir))
    with pytest.raises(DataError, match=r"train_catvnoncat.h5: no such file"):
        load_dataset(tmp_path)


@pytest.mark.parametrize("split", ["train", "test"])
def test_a_damaged_course_file_is_never_used(tmp_path, data_dir, split):
    for name in datasets.SHA256:
        shutil.copy(data_dir / name, tmp_path / name)
    path = tmp_path / f"{split}_catvnoncat.h5"
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01  # one bit of one pixel: still valid HDF5
    path.write_bytes(bytes(data))
    assert read_split(path, split)[0].shape[1:] == (64, 64, 3)
    with pytest.raises(DataError, match=rf"{split}_catvnoncat.h5: SHA-256 \w+ is not"):
        load_dataset(tmp_path)
    assert load_dataset(tmp_path, verify=False)[0].shape == (209, 64, 64, 3)


def test_damage_in_the_header_never_escapes_as_another_error(tmp_path, data_dir):
    """h5py raises half a dozen exception types for damaged files; each must
    come out as a DataError naming the file. (Damage in unused bytes may
    leave the file readable: that is fine.)"""
    original = (data_dir / "test_catvnoncat.h5").read_bytes()
    rng = np.random.default_rng(0)
    path = tmp_path / "test_catvnoncat.h5"
    kinds = set()
    for _ in range(150):
        data = bytearray(original)
        for pos in rng.integers(8, 4096, size=4):
            data[pos] = int(rng.integers(256))
        path.write_bytes(bytes(data))
        try:
            read_split(path, "test")
        except DataError as e:
            assert str(path) in str(e)
            if e.__cause__ is not None:
                kinds.add(type(e.__cause__).__name__)
    # several of h5py's exception types were met, and each was converted
    assert len(kinds) >= 3, kinds


def test_truncated_file(tmp_path, data_dir):
    path = tmp_path / "train_catvnoncat.h5"
    path.write_bytes((data_dir / "train_catvnoncat.h5").read_bytes()[:100_000])
    with pytest.raises(DataError, match="cannot be read as HDF5") as info:
        read_split(path, "train")
    assert str(path) in str(info.value)


def test_missing_data_dir(tmp_path):
    with pytest.raises(DataError, match="data directory does not exist"):
        load_dataset(tmp_path / "nowhere")
    (tmp_path / "file").write_text("")
    with pytest.raises(DataError, match="data directory is not a directory"):
        load_dataset(tmp_path / "file")


def test_train_and_test_must_agree(tmp_path):
    write_split(tmp_path / "train_catvnoncat.h5")
    write_split(tmp_path / "test_catvnoncat.h5", "test", x=np.zeros((2, 5, 5, 3), np.uint8),
                y=np.array([0, 1]))  # fmt: skip
    with pytest.raises(DataError, match=r"images of shape \(5, 5, 3\) do not match"):
        load_dataset(tmp_path, verify=False)
    write_split(
        tmp_path / "test_catvnoncat.h5", "test", classes=np.array([b"dog", b"cat"])
    )
    with pytest.raises(DataError, match=r"list_classes .* differs"):
        load_dataset(tmp_path, verify=False)


def test_own_files_in_the_layout_are_not_the_course_data(tmp_path):
    write_split(tmp_path / "train_catvnoncat.h5", y=np.array([[0, 1, 1]]))
    write_split(tmp_path / "test_catvnoncat.h5", "test")
    with pytest.raises(DataError, match="is not the course file's"):
        load_dataset(tmp_path)
    train_x, train_y, *_ = load_dataset(tmp_path, verify=False)
    assert train_y.shape == (1, 3) and train_y.dtype == np.int64
    assert train_x.shape == (3, 4, 4, 3)


# Downloads, from a server on 127.0.0.1 -------------------------------------


class _Handler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):  # keep the test output clean
        pass

    def do_GET(self):
        self.server.requests.append(self.path)
        super().do_GET()


@pytest.fixture
def server(tmp_path):
    """An HTTP server on 127.0.0.1 serving the folder it returns."""
    root = tmp_path / "served"
    root.mkdir()
    handler = functools.partial(_Handler, directory=str(root))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    httpd.requests = []
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    httpd.root = root
    httpd.url = f"http://127.0.0.1:{httpd.server_address[1]}/"
    yield httpd
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def served_copy(server, data_dir):
    for name in datasets.SHA256:
        shutil.copy(data_dir / name, server.root / name)
    return server


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_download_is_verified_and_cached(served_copy, tmp_path):
    cache = tmp_path / "cache"
    assert fetch_dataset(cache, served_copy.url) == cache
    for name, digest in datasets.SHA256.items():
        assert sha256(cache / name) == digest
    assert len(served_copy.requests) == 2
    fetch_dataset(cache, served_copy.url)  # cached and verified: no new request
    assert len(served_copy.requests) == 2
    assert load_dataset(cache)[0].shape == (209, 64, 64, 3)


def test_load_dataset_downloads_when_nothing_is_configured(
    served_copy, tmp_path, monkeypatch
):
    monkeypatch.delenv("LOGITNET_DATA_DIR", raising=False)
    monkeypatch.setenv("LOGITNET_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("LOGITNET_DATA_URL", served_copy.url)
    assert load_dataset()[3].shape == (1, 50)
    assert (tmp_path / "cache" / "test_catvnoncat.h5").is_file()


def test_corrupted_download_is_refused(served_copy, tmp_path):
    path = served_copy.root / "test_catvnoncat.h5"
    data = bytearray(path.read_bytes())
    data[5000] ^= 0xFF
    path.write_bytes(bytes(data))
    cache = tmp_path / "cache"
    with pytest.raises(DataError, match="does not match the SHA-256 checksum"):
        fetch_dataset(cache, served_copy.url)
    assert not (cache / "test_catvnoncat.h5").exists()
    assert sorted(p.name for p in cache.iterdir()) == ["train_catvnoncat.h5"]


def test_corrupted_cache_is_downloaded_again(served_copy, tmp_path):
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / "train_catvnoncat.h5").write_bytes(b"damaged")
    fetch_dataset(cache, served_copy.url)
    assert (
        sha256(cache / "train_catvnoncat.h5") == datasets.SHA256["train_catvnoncat.h5"]
    )


def test_lfs_pointer_download_is_named(server, tmp_path):
    for name in datasets.SHA256:
        (server.root / name).write_bytes(LFS_POINTER)
    with pytest.raises(DataError, match="serves a Git LFS pointer file"):
        fetch_dataset(tmp_path / "cache", server.url)
    assert not list((tmp_path / "cache").glob("*.h5"))


def test_missing_on_server(server, tmp_path):
    with pytest.raises(DataError, match=r"download failed .*404"):
        fetch_dataset(tmp_path / "cache", server.url)


def test_unusable_cache_directory(served_copy, tmp_path):
    (tmp_path / "file").write_text("")
    with pytest.raises(DataError, match="cannot be used as the download cache"):
        fetch_dataset(tmp_path / "file" / "cache", served_copy.url)


def test_server_unreachable(tmp_path, server):
    url = server.url
    server.shutdown()
    server.server_close()
    with pytest.raises(DataError, match="download failed"):
        fetch_dataset(tmp_path / "cache", url)


def test_explicit_directory_is_never_replaced_by_a_download(
    served_copy, tmp_path, monkeypatch
):
    monkeypatch.setenv("LOGITNET_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("LOGITNET_DATA_URL", served_copy.url)
    empty = tmp_path / "mine"
    empty.mkdir()
    with pytest.raises(DataError, match="no such file"):
        load_dataset(empty)
    monkeypatch.setenv("LOGITNET_DATA_DIR", str(empty))
    with pytest.raises(DataError, match="no such file"):
        load_dataset()
    assert served_copy.requests == []
    assert list(empty.iterdir()) == []


def test_oversized_download_stops_at_the_expected_size(server, tmp_path):
    # A 2 GB answer (sparse: nothing on disk) where 2.6 MB are expected: the
    # download stops as soon as it passes the course file's size.
    for name in datasets.SHA256:
        with open(server.root / name, "wb") as f:
            f.truncate(2 * 2**30)
    cache = tmp_path / "cache"
    with pytest.raises(DataError, match="larger than the course file's 2572022 bytes"):
        fetch_dataset(cache, server.url)
    assert [p for p in cache.iterdir() if p.stat().st_size] == []


def test_scoring_downloads_the_test_file_only(server, data_dir, tmp_path):
    shutil.copy(data_dir / "test_catvnoncat.h5", server.root)  # no training file
    cache = tmp_path / "cache"
    env = {"LOGITNET_DATA_DIR": "", "LOGITNET_CACHE_DIR": str(cache),
           "LOGITNET_DATA_URL": server.url}  # fmt: skip
    model = tmp_path / "model.npz"
    trained = run("train", "--data-dir", str(data_dir), "--iterations", "5",
                  "--out", str(model), "--quiet")  # fmt: skip
    assert trained.returncode == 0, trained.stderr
    scored = run("evaluate", "--model", str(model), "--json", env=env)
    assert scored.returncode == 0, scored.stderr
    assert json.loads(scored.stdout)["data"]["n_images"] == 50
    assert server.requests == ["/test_catvnoncat.h5"]
    assert sorted(p.name for p in cache.iterdir()) == ["test_catvnoncat.h5"]


def test_load_split_reads_one_file(data_dir, tmp_path):
    only = tmp_path / "only"
    only.mkdir()
    shutil.copy(data_dir / "test_catvnoncat.h5", only)
    x, y, classes = load_split("test", only)
    assert x.shape == (50, 64, 64, 3) and y.shape == (1, 50)
    assert list(classes) == [b"non-cat", b"cat"]
    with pytest.raises(DataError, match=r"train_catvnoncat\.h5"):
        load_split("train", only)
