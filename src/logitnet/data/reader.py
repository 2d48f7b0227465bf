"""Data sets larger than memory, read lazily with Dask, a chunk at a time.

:func:`open_images` opens an HDF5 file or a zarr store in the course's
layout (:mod:`logitnet.data.layout`) as Dask arrays: nothing is read until
a computation needs it. The examples are kept as uint8 pixels
(:class:`logitnet.core.pixels.ScaledPixels`) and converted to floats a few
rows at a time by the pass that uses them, so no float copy of the data
ever exists.

How a chunk is read: plain HDF5 storage (one contiguous, unfiltered block,
as the course and :func:`logitnet.data.synth.make_images` write) straight
from the file's bytes with ``os.preadv``, which does not hold Python's lock
while the disk works, and with direct I/O (``O_DIRECT``) when the file is
larger than half the memory; anything else through h5py or zarr.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path

import h5py
import numpy as np
from numpy.typing import DTypeLike, NDArray

from logitnet.core.pixels import ScaledPixels
from logitnet.data import zarr_store
from logitnet.data.layout import (
    check_class_list,
    check_every_class,
    check_labels,
    check_layout,
    checked_hdf5,
    class_names,
    not_hdf5_reason,
    open_hdf5,
)
from logitnet.data.storage import Url, locate
from logitnet.exceptions import DataError
from logitnet.files import HEAD_BYTES, describe_bytes, file_kind, not_a_file

__all__ = [
    "CHUNK_BYTES",
    "DIRECT_IO_BYTES",
    "describe_images",
    "open_images",
    "read_pictures",
]


#: Default chunk of :func:`open_images`: about this many bytes of floats per
#: chunk. Large enough that the per-chunk costs (a task, a file open, a BLAS
#: call) vanish beside the work, small enough that a few chunks per thread
#: stay far below a gigabyte.
CHUNK_BYTES = 64 * 2**20

#: Files larger than this (half the machine's memory) are read with direct
#: I/O (``O_DIRECT``), bypassing the page cache, where they could not stay
#: anyway. Through the cache the kernel spends a core copying and evicting
#: pages: reading a 30.7 GB file on two threads took 34 s with 36 s of system
#: CPU; direct, 17.5 s with 0.5 s, leaving both cores to the arithmetic.
#: Smaller files are read through the cache, where later passes find them.
DIRECT_IO_BYTES = (
    os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 2
    if hasattr(os, "sysconf") and "SC_PHYS_PAGES" in os.sysconf_names
    else 2**62
)

#: Offsets and lengths of direct reads are rounded out to this many bytes, and
#: their buffers aligned to it: the block size direct I/O asks of Linux file
#: systems (a file system that wants another gets buffered reads).
_DIRECT_ALIGNMENT = 4096

#: Labels are checked this many at a time when a data set is opened.
_LABELS_PER_READ = 2**20


class _StoredRows:
    """Rows of one array in an HDF5 file or zarr store, flattened to
    (m, h * w * c) for images, read by path on every access.

    Dask's ``from_array`` slices it like an array. It holds only the path and
    the array's name, never an open file: open h5py objects cannot be pickled
    to the worker processes of a cluster, and a worker opening the file
    itself is what lets the same array run on the local scheduler and on a
    cluster (whose workers must see the file at the same path).

    An HDF5 array stored as one plain block of bytes (contiguous, no
    filters: what :func:`logitnet.data.synth.make_images` and the course write)
    is read with ``os.preadv`` at its byte ``offset`` instead of through
    h5py. h5py holds Python's global lock while it reads, so a thread
    waiting for the disk stops the other thread's arithmetic; ``preadv``
    releases it. Measured on a cold 200,000-image file, two threads reading
    and computing a loss pass: 2.2 s against 3.4 s through h5py. A file
    larger than :data:`DIRECT_IO_BYTES` is read with direct I/O.
    """

    def __init__(
        self,
        path: str | Url,
        key: str,
        shape: tuple,
        dtype,
        zarr_store: bool,
        offset: int | None = None,
    ):
        self.path, self.key, self.zarr_store = path, key, zarr_store
        # The course's layout, checked before: images (m, h, w, c), labels
        # (m,) or (1, m).
        self._labels_in_a_row = len(shape) == 2
        if len(shape) == 4:
            self.shape = (shape[0], int(np.prod(shape[1:])))
        else:
            self.shape = (shape[-1],)
        self.dtype = np.dtype(dtype)
        self.ndim = len(self.shape)
        self.offset = offset
        self._mtime_ns, self.direct = None, False
        if offset is not None:
            stat = os.stat(path)
            # Bytes read at an offset mean nothing once the file is rewritten.
            self._mtime_ns = stat.st_mtime_ns
            # A file that cannot stay in the page cache is read around it.
            self.direct = hasattr(os, "O_DIRECT") and stat.st_size > DIRECT_IO_BYTES

    def __getitem__(self, index):
        if not isinstance(index, tuple):
            index = (index,)
        rows, rest = index[0], index[1:]
        if isinstance(rows, int | np.integer):
            return self[(slice(rows, rows + 1), *rest)][0]
        if self.offset is not None and rows.step in (None, 1):
            block = self._read_raw(*rows.indices(self.shape[0])[:2])
        elif self.zarr_store:
            selection = (0, rows) if self._labels_in_a_row else rows
            where = self.path if isinstance(self.path, Url) else Path(self.path)
            block = zarr_store.read(where, self.key, selection)
        else:
            with open_hdf5(self.path) as f:
                stored = f[self.key]
                block = stored[(0, rows) if self._labels_in_a_row else rows]
        block = np.asarray(block).reshape(block.shape[0], *self.shape[1:])
        return block[(slice(None), *rest)] if rest else block

    def _read_raw(self, start: int, stop: int) -> np.ndarray:
        """Rows start:stop, straight from the file's bytes."""
        row_bytes = int(np.prod(self.shape[1:], dtype=np.int64)) * self.dtype.itemsize
        first = self.offset + start * row_bytes
        last = first + max(stop - start, 0) * row_bytes
        fd = self._open()
        try:
            if os.fstat(fd).st_mtime_ns != self._mtime_ns:
                self._changed()
            try:
                data = _pread(fd, first, last, _DIRECT_ALIGNMENT if self.direct else 1)
            except OSError as e:
                if e.errno != errno.EINVAL or not self.direct:
                    raise
                # The file system wants another alignment for direct reads.
                self.direct = False
                os.close(fd)
                fd = self._open()
                data = _pread(fd, first, last, 1)
        finally:
            os.close(fd)
        if data is None:  # ends before the rows: truncated
            self._changed()
        return data.view(self.dtype).reshape(-1, *self.shape[1:])

    def _open(self) -> int:
        if self.direct:
            try:
                return os.open(self.path, os.O_RDONLY | os.O_DIRECT)
            except OSError as e:  # a file system without direct I/O (tmpfs)
                if e.errno != errno.EINVAL:
                    raise
                self.direct = False
        return os.open(self.path, os.O_RDONLY)

    def _changed(self):
        raise DataError(
            f"{self.path}: the file changed after it was opened "
            "(open it again to read it as it is now)"
        )


def _pread(fd: int, first: int, last: int, alignment: int) -> np.ndarray | None:
    """Bytes first:last of the file, as uint8; None if the file ends before.

    With ``alignment`` > 1 (direct I/O), the read covers whole aligned
    blocks into an aligned buffer, and the bytes asked for are a view of it.
    """
    start = first - first % alignment
    stop = last + (-last) % alignment
    raw = np.empty(stop - start + alignment, np.uint8)
    skip = (-raw.ctypes.data) % alignment
    buffer = raw[skip : skip + stop - start]
    view, position = memoryview(buffer), start
    while position < last:
        n = os.preadv(fd, [view], position)
        if n == 0:
            return None
        view, position = view[n:], position + n
    return buffer[first - start : last - start]


def _raw_offset(path: Path, f: h5py.File, key: str) -> int | None:
    """Where an HDF5 dataset's values start in the file ``path`` (open as
    ``f``), when they are one plain C-order block of native-order values
    stored there; else None.

    The answer is checked against the same file the raw reader will read:
    the first and last values read at that offset from ``path`` must be the
    ones h5py reads.
    """
    if not isinstance(f.get(key, getlink=True), h5py.HardLink) or not (
        os.path.samefile(f.filename, path)
    ):
        return None  # values from elsewhere: through h5py (if at all)
    d = f[key]
    if (
        d.chunks is not None
        or d.is_virtual
        or d.external
        or f.userblock_size
        or not d.dtype.isnative
        or d.size == 0
    ):
        return None
    offset = d.id.get_offset()
    if offset is None:
        return None
    with open(path, "rb") as raw:
        for flat in (0, d.size - 1):
            raw.seek(offset + flat * d.dtype.itemsize)
            stored = np.frombuffer(raw.read(d.dtype.itemsize), d.dtype)
            if stored.size != 1 or stored[0] != d[np.unravel_index(flat, d.shape)]:
                return None
    return offset


def open_images(
    path: str | os.PathLike[str],
    split: str = "train",
    *,
    chunk_rows: int | None = None,
    dtype: DTypeLike = np.float64,
):
    """Open a data set in the course's layout, lazily, as Dask arrays.

    Nothing is read here but the labels (to check them, a million at a
    time); each chunk of pixels is read from the file only when a
    computation needs it, and converted to ``pixels / 255`` a few rows at a
    time by the pass that uses it, so no float copy of the whole set ever
    exists.

    Parameters
    ----------
    path : path-like or URL
        An HDF5 file, or a zarr store (a directory, or a URL), holding
        ``{split}_set_x`` of shape (m, height, width, channels), uint8, and
        ``{split}_set_y`` of shape (m,) or (1, m), integer labels 0 .. k-1
        for the k names of ``list_classes`` (0 / 1 in a file without it).
    split : {"train", "test"}, default="train"
    chunk_rows : int, optional
        Images per chunk. Default: as many as make about 64 MiB of floats
        (:data:`CHUNK_BYTES`), 682 images of 64 x 64 x 3 in float64; for a
        zarr store's URL, rounded down to whole stored chunks (at least one).
    dtype : {numpy.float64, numpy.float32}, default=numpy.float64
        The float type the examples are used in.

    Returns
    -------
    X : ScaledPixels of shape (m, height * width * channels), ``dtype``
        The pixels as a uint8 Dask array (``X.pixels``), one flattened image
        per row (C order, channels fastest, as
        :func:`logitnet.core.pixels.flatten` gives), chunked by rows only,
        standing for pixels / 255. ``LogisticRegression`` fits and predicts
        on it as it is; ``X.to_floats()`` is the lazy float Dask array, for
        anything else.
    y : dask.array.Array of shape (m,), int64
        Labels 0 .. k-1, chunked as X's rows.

    Raises
    ------
    DataError
        Naming the file and what is wrong: missing, not HDF5 nor zarr (a
        FIFO or a device is named as one, never opened), a missing array, a
        wrong shape or dtype, a label that is not the index of a class in
        ``list_classes``, a class without a training picture (``split``
        "train"), two class names alike, storage refused by
        :func:`logitnet.data.layout.check_storage` or
        :func:`logitnet.data.zarr_store.check_array` (a missing chunk, a
        chunk bomb), or, when a chunk is read, a zarr chunk that cannot be
        decoded.
    ValueError
        For a bad ``split``, ``chunk_rows`` or ``dtype``.

    Notes
    -----
    The arrays re-open the file by its path for every chunk they read, so
    they can be sent to the workers of a ``dask.distributed`` cluster; there
    the file must be at the same path on every worker (a shared disk), or
    be a zarr store on object storage: ``path`` a URL (``s3://...``, or a
    :class:`logitnet.data.storage.Url` with storage options), which each
    task holds and opens its chunk from.
    """
    import dask.array as da
    from dask.base import tokenize

    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test'; got {split!r}")
    dtype = np.dtype(dtype)
    if dtype not in (np.float32, np.float64):
        raise ValueError(f"dtype must be numpy.float64 or numpy.float32; got {dtype}")
    if chunk_rows is not None and (
        isinstance(chunk_rows, bool)
        or not isinstance(chunk_rows, int | np.integer)
        or chunk_rows < 1
    ):
        raise ValueError(f"chunk_rows must be an integer >= 1; got {chunk_rows!r}")
    path = locate(path)
    x_key, y_key = f"{split}_set_x", f"{split}_set_y"
    zarr_store, x_info, y_info = _describe_store(path, x_key, y_key)
    (x_shape, x_dtype, x_offset, stored_rows), (y_shape, y_dtype, y_offset, _) = (
        x_info,
        y_info,
    )
    where = path if isinstance(path, Url) else str(path)
    x_rows = _StoredRows(where, x_key, x_shape, x_dtype, zarr_store, x_offset)
    y_rows = _StoredRows(where, y_key, y_shape, y_dtype, zarr_store, y_offset)
    m, n = x_rows.shape
    classes = _class_names(path, zarr_store)
    present: set[int] = set()
    for start in range(0, m, _LABELS_PER_READ):
        labels = y_rows[start : start + _LABELS_PER_READ]
        check_labels(path, y_key, labels, len(classes))
        present.update(np.unique(labels).tolist())
    if split == "train":
        check_every_class(path, y_key, present, classes)
    if chunk_rows is None:
        chunk_rows = max(CHUNK_BYTES // (n * dtype.itemsize), 1)
        if stored_rows and isinstance(path, Url):
            # Whole stored chunks per task: each is fetched (one request)
            # once per pass, never by two tasks that share it. (Local
            # stores keep their chunks, and their sums' order, as before.)
            chunk_rows = max(chunk_rows // stored_rows, 1) * stored_rows
    chunk_rows = min(int(chunk_rows), m)
    # Named by the file's identity: the same file opened twice gives the same
    # graph keys (and a changed file, new ones).
    if isinstance(path, Url):
        token = tokenize(path.key(), x_shape, y_shape, chunk_rows)
    else:
        stat = path.stat()
        token = tokenize(
            str(path.resolve()), stat.st_mtime_ns, stat.st_size, chunk_rows
        )
    pixels = da.from_array(
        x_rows,
        chunks=(chunk_rows, n),
        name=f"images-{x_key}-{token}",
        inline_array=True,
        asarray=False,
        fancy=False,
        meta=np.empty((0, 0), np.uint8),  # else Dask reads a sample to learn it
    )
    labels = da.from_array(
        y_rows,
        chunks=(pixels.chunks[0],),
        name=f"images-{y_key}-{token}",
        inline_array=True,
        asarray=False,
        fancy=False,
        meta=np.empty((0,), y_rows.dtype),
    )
    return ScaledPixels(pixels, dtype, from_file=True), labels.astype(np.int64)


def describe_images(path: str | os.PathLike[str]) -> dict:
    """What :func:`open_images` would open, without reading any pixels.

    Returns
    -------
    dict
        ``image_shape`` (height, width, channels), ``classes`` (the k names
        from ``list_classes``, or "0" and "1" without it), ``n_train``, and
        ``n_test`` (0 when there is no ``test_set_x``; ``n_train`` is 0 for a
        file of test pictures only, such as the course's test file).

    Raises
    ------
    DataError
        As :func:`open_images`.
    """
    path = locate(path)
    try:
        is_zarr, (x_shape, *_), _ = _describe_store(path, "train_set_x", "train_set_y")
        n_train = int(x_shape[0])
    except DataError as no_train:
        # A file of test pictures only, as the course's test file: n_train 0.
        try:
            is_zarr, (x_shape, *_), _ = _describe_store(
                path, "test_set_x", "test_set_y"
            )
        except DataError:
            raise no_train from None
        n_train = 0
    if is_zarr:
        (test_x,), _ = zarr_store.checked_arrays(path, "test_set_x", required=0)
        test_shape = test_x.shape if test_x is not None else None
    else:
        with open_hdf5(path) as f:
            # Any link counts, as in checked_hdf5 (one to nowhere too).
            there = f.get("test_set_x", getlink=True) is not None
            test_shape = f["test_set_x"].shape if there else None
    if test_shape is not None and tuple(test_shape[1:]) != tuple(x_shape[1:]):
        raise DataError(
            f"{path}: test_set_x holds pictures of shape {tuple(test_shape[1:])}, "
            f"train_set_x of {tuple(x_shape[1:])}: both sets must have one shape"
        )
    return {
        "image_shape": tuple(int(n) for n in x_shape[1:]),
        "classes": _class_names(path, is_zarr),
        "n_train": n_train,
        "n_test": int(test_shape[0]) if test_shape else 0,
    }


def _class_names(path: Path | Url, is_zarr: bool) -> list[str]:
    """The file's class names, ``list_classes`` checked (its size before it
    is read); "0" and "1" for a file without it."""
    if is_zarr:
        (classes,), _ = zarr_store.checked_arrays(path, "list_classes", required=0)
        if classes is not None:
            check_class_list(path, tuple(classes.shape))
            classes = zarr_store.read(path, "list_classes")
    else:
        with open_hdf5(path) as f:
            there = f.get("list_classes", getlink=True) is not None
            classes = f["list_classes"][()] if there else None
    return ["0", "1"] if classes is None else class_names(classes, path)


def read_pictures(path: str | os.PathLike[str], split: str, rows) -> NDArray[np.uint8]:
    """Some pictures of a file in the course's layout, by row, as images.

    Parameters
    ----------
    path : path-like
        As :func:`open_images`.
    split : {"train", "test"}
    rows : array_like of int, shape (k,)
        Row numbers in ``{split}_set_x``, 0 <= row < m.

    Returns
    -------
    images : ndarray of shape (k, height, width, channels), uint8
        Only the chunks holding those rows are read.
    """
    path = locate(path)
    X, _ = open_images(path, split)
    shape = describe_images(path)["image_shape"]
    numbered = f"{path}: {split} pictures are numbered 0 to {X.shape[0] - 1}"
    try:
        rows = np.asarray(rows, np.intp).reshape(-1)
    except OverflowError:
        raise DataError(f"{numbered}; got a row number beyond 2**63") from None
    if rows.size == 0:
        return np.empty((0, *shape), np.uint8)
    if rows.min() < 0 or rows.max() >= X.shape[0]:
        raise DataError(
            f"{numbered}; got {int(rows.min() if rows.min() < 0 else rows.max())}"
        )
    return np.asarray(X.pixels[rows].compute()).reshape(-1, *shape)


def _describe_store(path: Path, x_key: str, y_key: str):
    """Whether ``path`` is a zarr store, and (shape, dtype, raw offset, rows
    per stored chunk of a zarr store) of X and y, checked for the course's
    layout without reading the data (the offset, for :class:`_StoredRows`,
    is None but for plain HDF5 storage)."""
    if isinstance(path, Url):
        if path.holds_store():
            return _zarr_layout(path, x_key, y_key)
        head = path.head(HEAD_BYTES)
        if head is not None:
            raise DataError(
                f"{path}: is {describe_bytes(head)}; logitnet reads data on object "
                "storage as zarr stores only (HDF5 stays on local disk): copy it "
                "to a local disk, or write the pictures there as a zarr store "
                "('logitnet convert DIR URL.zarr')"
            )
        raise DataError(f"{path}: {path.missing()}")
    kind = file_kind(path)
    if kind is None:
        raise DataError(f"{path}: no such file or zarr store")
    if kind == "directory":
        return _zarr_layout(path, x_key, y_key)
    if kind != "file":
        # Never opened: a FIFO would block, a device never end.
        raise DataError(f"{path}: {not_a_file(kind, 'an HDF5 file or zarr store')}")
    reason = not_hdf5_reason(path)
    if reason:
        raise DataError(f"{path}: {reason} (nor a zarr store)")
    with checked_hdf5(path, x_key, y_key, classes_required=False) as (x, y, _):
        return (
            False,
            (x.shape, x.dtype, _raw_offset(path, x.file, x_key), None),
            (y.shape, y.dtype, _raw_offset(path, y.file, y_key), None),
        )


def _zarr_layout(path: Path | Url, x_key: str, y_key: str):
    """:func:`_describe_store` for a zarr store."""
    (x, y), _ = zarr_store.checked_arrays(path, x_key, y_key)
    check_layout(path, x_key, _Meta(x), y_key, _Meta(y), None)
    return (
        True,
        (x.shape, np.dtype(x.dtype), None, int(x.chunks[0])),
        (y.shape, np.dtype(y.dtype), None, None),
    )


class _Meta:
    """Shape, ndim and NumPy dtype of a zarr array, as ``check_layout``
    reads them from an h5py dataset."""

    def __init__(self, array):
        self.shape = tuple(array.shape)
        self.ndim = len(self.shape)
        self.dtype = np.dtype(array.dtype)
