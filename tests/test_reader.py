"""Files larger than memory, opened lazily: open_images and describe_images.

How chunks are read (raw bytes, h5py, zarr, direct I/O), that nothing is
read before it is needed, and that a bad or changed file is named.
"""

from __future__ import annotations

import os

import dask
import dask.array as da
import h5py
import numpy as np
import pytest
import zarr

from conftest import SMALL_SHAPE
from logitnet.core.pixels import ScaledPixels
from logitnet.data import reader
from logitnet.data.layout import read_split
from logitnet.data.reader import open_images
from logitnet.data.synth import make_images
from logitnet.exceptions import DataError

SHAPE = SMALL_SHAPE


# open_images -------------------------------------------------------------


def test_open_images_is_the_scaled_flattened_file(synth_file, in_memory):
    X, y = open_images(synth_file, chunk_rows=256)
    assert isinstance(X, ScaledPixels) and X.dtype == np.float64 and X.from_file
    assert isinstance(X.pixels, da.Array) and X.pixels.dtype == np.uint8
    assert X.shape == (3000, 108) and X.chunks[0][:2] == (256, 256)
    assert y.chunks[0] == X.chunks[0] and y.dtype == np.int64
    np.testing.assert_array_equal(X.to_floats().compute(), in_memory[0])
    np.testing.assert_array_equal(y.compute(), in_memory[1])
    test_X, test_y = open_images(synth_file, "test", dtype=np.float32)
    assert test_X.shape == (100, 108) and test_X.dtype == np.float32
    assert test_y.shape == (100,)


def test_default_chunks_hold_about_64_mib_of_floats(synth_file, tmp_path):
    X, _ = open_images(synth_file)
    assert X.chunks[0] == (3000,)  # the whole file is smaller than a chunk
    path = make_images(tmp_path / "wide.h5", 1400, image_shape=(64, 64, 3))
    for dtype, rows in ((np.float64, 682), (np.float32, 1365)):
        X, y = open_images(path, dtype=dtype)
        assert X.chunks[0][0] == rows and sum(X.chunks[0]) == 1400
        assert y.chunks[0] == X.chunks[0]
        assert rows * 12288 * np.dtype(dtype).itemsize <= 64 * 2**20
        assert (rows + 1) * 12288 * np.dtype(dtype).itemsize > 64 * 2**20


def test_opening_reads_no_pixels(synth_file, monkeypatch):
    reads = []
    original = reader._StoredRows.__getitem__

    def counting(self, index):
        reads.append(self.key)
        return original(self, index)

    monkeypatch.setattr(reader._StoredRows, "__getitem__", counting)
    X, _ = open_images(synth_file, chunk_rows=500)
    assert "train_set_x" not in reads
    reads.clear()
    X.pixels[:10].compute()
    assert reads == ["train_set_x"]


def test_course_file_with_labels_in_a_row(data_dir, cat_arrays):
    X, y = open_images(data_dir / "train_catvnoncat.h5", chunk_rows=50)
    np.testing.assert_array_equal(X.to_floats().compute(), cat_arrays[0].T)
    np.testing.assert_array_equal(y.compute(), cat_arrays[1].ravel())


def h5py_reads(monkeypatch, compute):
    """How many times h5py opens a file while ``compute()`` runs."""
    opened = []
    original = reader.h5py.File

    def counting(*args, **kwargs):
        opened.append(args[0])
        return original(*args, **kwargs)

    monkeypatch.setattr(reader.h5py, "File", counting)
    with dask.config.set(scheduler="sync"):
        result = compute()
    monkeypatch.setattr(reader.h5py, "File", original)
    return len(opened), result


def test_plain_hdf5_storage_is_read_from_its_bytes(
    monkeypatch, synth_file, in_memory, data_dir, cat_arrays
):
    X, y = open_images(synth_file, chunk_rows=256)
    opens, (X, y) = h5py_reads(monkeypatch, lambda: dask.compute(X.to_floats(), y))
    assert opens == 0
    np.testing.assert_array_equal(X, in_memory[0])
    np.testing.assert_array_equal(y, in_memory[1])
    X, y = open_images(data_dir / "train_catvnoncat.h5", chunk_rows=50)
    opens, (X, y) = h5py_reads(monkeypatch, lambda: dask.compute(X.to_floats(), y))
    assert opens == 0
    np.testing.assert_array_equal(X, cat_arrays[0].T)
    np.testing.assert_array_equal(y, cat_arrays[1].ravel())


@pytest.mark.parametrize(
    "storage",
    [{"chunks": (7, *SHAPE)}, {"compression": "gzip"}, {"shuffle": True}],
)
def test_chunked_and_filtered_hdf5_storage_is_read_by_h5py(
    monkeypatch, tmp_path, storage, in_memory
):
    pixels = (in_memory[0] * 255).round().astype(np.uint8).reshape(-1, *SHAPE)
    path = tmp_path / "stored.h5"
    with h5py.File(path, "w") as f:
        f.create_dataset("train_set_x", data=pixels, **storage)
        f.create_dataset("train_set_y", data=in_memory[1], chunks=(100,))
    X, y = open_images(path, chunk_rows=700)
    opens, (X, y) = h5py_reads(monkeypatch, lambda: dask.compute(X.to_floats(), y))
    assert opens == 10  # 5 chunks of X and of y
    np.testing.assert_array_equal(X, in_memory[0])
    np.testing.assert_array_equal(y, in_memory[1])


@pytest.mark.parametrize("direct", [False, True])
def test_large_files_are_read_with_direct_io(
    monkeypatch, synth_file, in_memory, direct
):
    if direct and not hasattr(os, "O_DIRECT"):
        pytest.skip("no direct I/O on this system")
    monkeypatch.setattr(reader, "DIRECT_IO_BYTES", 0 if direct else 2**62)
    flags = []
    original = reader.os.open

    def recording(path, flag, *args):
        if str(path) == str(synth_file):
            flags.append(flag)
        return original(path, flag, *args)

    monkeypatch.setattr(reader.os, "open", recording)
    X, y = open_images(synth_file, chunk_rows=333)  # rows not block-aligned
    with dask.config.set(scheduler="sync"):
        floats = X.to_floats()
        X, y, part = dask.compute(floats, y, floats[1000:1001])
    np.testing.assert_array_equal(X, in_memory[0])
    np.testing.assert_array_equal(y, in_memory[1])
    np.testing.assert_array_equal(part, in_memory[0][1000:1001])
    direct_opens = [f for f in flags if f & getattr(os, "O_DIRECT", 0)]
    assert len(direct_opens) == (len(flags) if direct else 0) and flags


@pytest.mark.parametrize("direct", [False, True])
def test_a_file_changed_after_opening_is_named(
    monkeypatch, tmp_path, synth_file, direct
):
    monkeypatch.setattr(reader, "DIRECT_IO_BYTES", 0 if direct else 2**62)
    path = tmp_path / "copy.h5"
    path.write_bytes(synth_file.read_bytes())
    X, _ = open_images(path, chunk_rows=256)
    X.pixels[:10].compute()
    with open(path, "r+b") as f:
        f.truncate(path.stat().st_size // 2)
    with pytest.raises(DataError, match=r"copy\.h5: the file changed after it was"):
        X.pixels[-10:].compute()
    # Rewritten in place, same size: the modification time tells.
    path.write_bytes(synth_file.read_bytes())
    X, _ = open_images(path, chunk_rows=256)
    later = path.stat().st_mtime_ns + 10**9
    os.utime(path, ns=(later, later))
    with pytest.raises(DataError, match=r"copy\.h5: the file changed after it was"):
        X.pixels[:10].compute()


def test_zarr_store_in_the_same_layout(tmp_path, synth_file, in_memory):
    x, y, _ = read_split(synth_file, "train")
    store = tmp_path / "images.zarr"
    group = zarr.open_group(str(store), mode="w")
    group.create_array("train_set_x", data=x, chunks=(500, *SHAPE))
    group.create_array("train_set_y", data=y.ravel())
    X, labels = open_images(store, chunk_rows=700)
    np.testing.assert_array_equal(X.to_floats().compute(), in_memory[0])
    np.testing.assert_array_equal(labels.compute(), in_memory[1])


def write(path, **arrays):
    with h5py.File(path, "w") as f:
        for key, value in arrays.items():
            f[key] = value
    return path


GOOD_X = np.zeros((4, 2, 2, 3), np.uint8)
GOOD_Y = np.array([0, 1, 1, 0])


@pytest.mark.parametrize(
    ("arrays", "message"),
    [
        (
            {"train_set_y": GOOD_Y},
            r"missing dataset 'train_set_x' \(it has: train_set_y",
        ),
        ({"train_set_x": GOOD_X}, "missing dataset 'train_set_y'"),
        ({"train_set_x": GOOD_X.astype(float), "train_set_y": GOOD_Y}, "must be uint8"),
        ({"train_set_x": GOOD_X[..., 0], "train_set_y": GOOD_Y}, "must have shape"),
        ({"train_set_x": GOOD_X, "train_set_y": GOOD_Y[:3]}, r"must have shape \(4,\)"),
        (
            {"train_set_x": GOOD_X, "train_set_y": GOOD_Y + 1},
            "labels 0 and 1 only; got 2",
        ),
    ],
)
def test_bad_hdf5_file_is_named(tmp_path, arrays, message):
    path = write(tmp_path / "bad.h5", **arrays)
    with pytest.raises(DataError, match=rf"^{tmp_path / 'bad.h5'}: .*{message}"):
        open_images(path)


def test_bad_paths_are_named(tmp_path):
    with pytest.raises(DataError, match="no such file or zarr store"):
        open_images(tmp_path / "missing.h5")
    (tmp_path / "text.h5").write_text("hello")
    with pytest.raises(DataError, match="is not an HDF5 file"):
        open_images(tmp_path / "text.h5")
    (tmp_path / "folder").mkdir()
    with pytest.raises(DataError, match="is a directory but not a zarr store"):
        open_images(tmp_path / "folder")
    zarr.open_group(str(tmp_path / "empty.zarr"), mode="w")
    with pytest.raises(DataError, match="missing array 'train_set_x'"):
        open_images(tmp_path / "empty.zarr")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"split": "validation"}, "split must be 'train' or 'test'"),
        ({"chunk_rows": 0}, "chunk_rows must be an integer >= 1"),
        ({"chunk_rows": 1.5}, "chunk_rows must be an integer >= 1"),
        ({"dtype": np.int32}, "dtype must be numpy.float64 or numpy.float32"),
    ],
)
def test_bad_arguments(synth_file, kwargs, message):
    with pytest.raises(ValueError, match=message):
        open_images(synth_file, **kwargs)
