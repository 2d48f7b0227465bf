"""The course's cat / non-cat data: files in, checked arrays out.

Where the two HDF5 files are looked for, in order:

1. the ``data_dir`` argument (``--data-dir`` on the command line);
2. the directory in the environment variable ``LOGITNET_DATA_DIR``;
3. a per-user cache directory (``LOGITNET_CACHE_DIR``, else the system's
   cache folder), into which they are downloaded on first use from
   ``LOGITNET_DATA_URL`` (else :data:`DEFAULT_BASE_URL`) and verified by
   SHA-256 before use.

A directory that was named explicitly is only read, never replaced by a
download. Wherever the files come from, a file whose SHA-256 is not the
course file's is never used (``load_dataset(..., verify=False)`` reads a
file of your own in the same layout), and every file is checked for the
course's layout: keys, shapes, dtypes and labels.

Data sets too large for memory, in the same layout (an HDF5 file or a zarr
store, such as :func:`logitnet.data.synth.make_images` writes), are opened lazily
as Dask arrays by :func:`open_images`.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import logging
import os
import sys
from pathlib import Path

import h5py
import numpy as np
from numpy.typing import DTypeLike, NDArray

from logitnet.exceptions import DataError

__all__ = [
    "DEFAULT_BASE_URL",
    "FILES",
    "SHA256",
    "describe_images",
    "fetch_dataset",
    "flatten",
    "load_dataset",
    "open_images",
    "pixel_source",
    "read_split",
    "resolve_data_dir",
    "scale",
]

#: File name of each split.
FILES = {"train": "train_catvnoncat.h5", "test": "test_catvnoncat.h5"}

#: SHA-256 of each file as the course distributes it.
SHA256 = {
    "train_catvnoncat.h5": (
        "fbe56ab67c3ae28d564e3a644189117976d6b31af0a3ce9bb17dbf22908af242"
    ),
    "test_catvnoncat.h5": (
        "6a9d39ce52fa85953c5834695b8534a30ed8cfd54971fb2f080b5a24d002b951"
    ),
}

#: A public copy of the two files, pinned to one commit.
DEFAULT_BASE_URL = (
    "https://raw.githubusercontent.com/Hiren2002/Logistic-Regression/"
    "a6139a838a0e624f4ab923377df0c5d3386fdf1f/datasets/"
)

ENV_DATA_DIR = "LOGITNET_DATA_DIR"
ENV_CACHE_DIR = "LOGITNET_CACHE_DIR"
ENV_DATA_URL = "LOGITNET_DATA_URL"

_LFS_POINTER = b"version https://git-lfs.github.com/spec/"


def _is_lfs_pointer(path: str | os.PathLike[str]) -> bool:
    """Whether the file is a Git LFS pointer: a small text file standing in
    for the real one in a repository clone without LFS."""
    with open(path, "rb") as f:
        return f.read(len(_LFS_POINTER)) == _LFS_POINTER


def _not_hdf5_reason(path: Path) -> str | None:
    """Why ``path`` cannot be an HDF5 file, or None if it might be one."""
    if path.stat().st_size == 0:
        return "is empty"
    if _is_lfs_pointer(path):
        return (
            "is a Git LFS pointer file, not the data (fetch the real file, "
            "e.g. with `git lfs pull`, or use another copy)"
        )
    if not h5py.is_hdf5(path):
        return "is not an HDF5 file"
    return None


def read_split(
    path: str | os.PathLike[str], split: str, sha256: str | None = None
) -> tuple[NDArray[np.uint8], NDArray[np.int64], NDArray[np.bytes_]]:
    """Read and check one file in the course's HDF5 layout.

    Parameters
    ----------
    path : path-like
        The file, holding ``{split}_set_x``, ``{split}_set_y`` and
        ``list_classes``.
    split : {"train", "test"}
    sha256 : str, optional
        The file's expected SHA-256 (hex); when given, a file with another
        checksum is refused before it is read.

    Returns
    -------
    set_x_orig : ndarray of shape (m, height, width, 3), uint8
    set_y : ndarray of shape (1, m), int64
        Labels 0 or 1.
    classes : ndarray of shape (2,), bytes
        The class names, index = label.

    Raises
    ------
    DataError
        Naming the file and what is wrong: missing, a directory, empty, not
        HDF5 (or a Git LFS pointer), the wrong checksum, damaged or
        truncated, a missing key, a wrong shape or dtype, or labels other
        than 0/1.
    """
    path = Path(path)
    if not path.exists():
        raise DataError(f"{path}: no such file")
    if path.is_dir():
        raise DataError(f"{path}: is a directory, not an HDF5 file")
    reason = _not_hdf5_reason(path)
    if reason:
        raise DataError(f"{path}: {reason}")
    if sha256 is not None:
        with open(path, "rb") as f:
            actual = hashlib.file_digest(f, "sha256").hexdigest()
        if actual != sha256:
            raise DataError(
                f"{path}: SHA-256 {actual} is not the course file's {sha256}: "
                "the file is damaged or not the course's; refusing to use it "
                "(files of your own in this layout: --no-verify, or "
                "load_dataset(..., verify=False))"
            )
    x_key, y_key = f"{split}_set_x", f"{split}_set_y"
    with _checked_hdf5(path, x_key, y_key) as (x, y, classes):
        x, y, classes = x[()], y[()], classes[()]
    y = y.reshape(1, -1)
    bad = (y != 0) & (y != 1)
    if bad.any():
        raise DataError(
            f"{path}: {y_key} must hold labels 0 and 1 only; found {y[bad].flat[0]!r}"
        )
    return x, y.astype(np.int64), classes


@contextlib.contextmanager
def _checked_hdf5(path: Path, x_key: str, y_key: str, classes_required: bool = True):
    """The file's images, labels and class names (h5py datasets; classes
    None when absent and not required), their layout checked, for reading
    inside the ``with``; any h5py failure there becomes a DataError."""
    try:
        with h5py.File(path, "r") as f:
            required = (x_key, y_key, "list_classes")[: 3 if classes_required else 2]
            for key in required:
                if key not in f or not isinstance(f[key], h5py.Dataset):
                    raise DataError(
                        f"{path}: missing dataset {key!r} (it has: "
                        f"{', '.join(sorted(map(str, f.keys()))) or 'nothing'})"
                    )
            x, y, classes = f[x_key], f[y_key], f.get("list_classes")
            _check_layout(path, x_key, x, y_key, y, classes)
            yield x, y, classes
    except DataError:
        raise
    except Exception as e:
        # h5py reports a damaged file as OSError, KeyError, RuntimeError,
        # TypeError or ValueError depending on where the damage is.
        raise DataError(
            f"{path}: cannot be read as HDF5, the file is damaged "
            f"({type(e).__name__}: {e})"
        ) from e


def _check_layout(path, x_key, x, y_key, y, classes) -> None:
    """Shapes and dtypes of the three datasets, checked before reading them
    (``classes=None``: a store without class names)."""
    if x.ndim != 4 or x.shape[-1] != 3 or x.shape[0] == 0:
        raise DataError(
            f"{path}: {x_key} must have shape (m, height, width, 3) with m >= 1; "
            f"got {x.shape}"
        )
    if x.dtype != np.uint8:
        raise DataError(f"{path}: {x_key} must be uint8 pixels; got {x.dtype}")
    m = x.shape[0]
    if y.shape not in ((m,), (1, m)):
        raise DataError(
            f"{path}: {y_key} must have shape ({m},), one label per image; "
            f"got {y.shape}"
        )
    if not np.issubdtype(y.dtype, np.integer):
        raise DataError(f"{path}: {y_key} must hold integer labels; got {y.dtype}")
    if classes is None:
        return
    if classes.shape != (2,) or classes.dtype.kind not in "SU":
        raise DataError(
            f"{path}: list_classes must be 2 class names; "
            f"got shape {classes.shape}, dtype {classes.dtype}"
        )


def resolve_data_dir(data_dir: str | os.PathLike[str] | None = None) -> Path | None:
    """The directory named by ``data_dir`` or ``LOGITNET_DATA_DIR``, else None."""
    source = ""
    if data_dir is None:
        data_dir = os.environ.get(ENV_DATA_DIR) or None
        source = f" (from {ENV_DATA_DIR})"
    if data_dir is None:
        return None
    path = Path(data_dir)
    if not path.is_dir():
        what = "is not a directory" if path.exists() else "does not exist"
        raise DataError(f"{path}: data directory{source} {what}")
    return path


def fetch_dataset(
    cache_dir: str | os.PathLike[str] | None = None,
    base_url: str | None = None,
    progressbar: bool | None = None,
) -> Path:
    """Download the two course files into a cache, verified by SHA-256.

    A file already in the cache with the right checksum is not downloaded
    again; one with a wrong checksum is downloaded afresh. A download whose
    checksum is wrong is deleted and never used.

    Parameters
    ----------
    cache_dir : path-like, optional
        Default: ``LOGITNET_CACHE_DIR``, else the system's per-user cache
        folder for logitnet.
    base_url : str, optional
        Where the files are, ending in ``/``. Default: ``LOGITNET_DATA_URL``,
        else :data:`DEFAULT_BASE_URL`.
    progressbar : bool, optional
        Show download progress on stderr. Default: only when stderr is a
        terminal.

    Returns
    -------
    Path
        The cache directory, holding both files.

    Raises
    ------
    DataError
        When a file cannot be downloaded or fails its checksum.
    """
    import pooch  # imported here: only the download path needs it
    import requests

    if cache_dir is None:
        cache_dir = os.environ.get(ENV_CACHE_DIR) or pooch.os_cache("logitnet")
    if base_url is None:
        base_url = os.environ.get(ENV_DATA_URL) or DEFAULT_BASE_URL
    if not base_url.endswith("/"):
        base_url += "/"
    if progressbar is None:
        progressbar = sys.stderr.isatty()
    downloader = _Downloader(pooch.HTTPDownloader(progressbar=progressbar))
    # pooch announces each download on stderr; where no one watches a
    # progress bar, a failure should still be the one line that explains it.
    logger = pooch.get_logger()
    level = logger.level
    if not progressbar:
        logger.setLevel(logging.WARNING)
    try:
        for name, sha256 in SHA256.items():
            _retrieve(pooch, requests, base_url + name, name, sha256, cache_dir,
                      downloader)  # fmt: skip
    finally:
        logger.setLevel(level)
    return Path(cache_dir)


def _retrieve(pooch, requests, url, name, sha256, cache_dir, downloader) -> None:
    """One verified download, every failure turned into a DataError."""
    try:
        pooch.retrieve(
            url=url,
            known_hash=f"sha256:{sha256}",
            fname=name,
            path=cache_dir,
            downloader=downloader,
        )
    except DataError:
        raise
    except requests.RequestException as e:
        raise DataError(f"{url}: download failed ({e})") from e
    except ValueError as e:
        raise DataError(
            f"{url}: the download does not match the SHA-256 checksum of "
            f"{name} ({sha256}); refusing to use it"
        ) from e
    except OSError as e:
        raise DataError(
            f"{cache_dir}: cannot be used as the download cache ({e.strerror or e})"
        ) from e


class _Downloader:
    """pooch's HTTP download, plus a look at what arrived before it is hashed.

    A Git LFS pointer would also fail the checksum, but saying what it is
    tells the user how to fix it.
    """

    def __init__(self, http):
        self.http = http

    def __call__(self, url, output_file, pooch, check_only=False):
        result = self.http(url, output_file, pooch, check_only=check_only)
        if not check_only and _is_lfs_pointer(output_file):
            raise DataError(
                f"{url}: serves a Git LFS pointer file, not the data; "
                "use a URL that serves the file itself"
            )
        return result


def load_dataset(
    data_dir: str | os.PathLike[str] | None = None,
    *,
    verify: bool = True,
) -> tuple[
    NDArray[np.uint8],
    NDArray[np.int64],
    NDArray[np.uint8],
    NDArray[np.int64],
    NDArray[np.bytes_],
]:
    """Load the course's cat / non-cat data, as the course's ``load_dataset``.

    Parameters
    ----------
    data_dir : path-like, optional
        Directory holding ``train_catvnoncat.h5`` and ``test_catvnoncat.h5``.
        Default: ``LOGITNET_DATA_DIR``, else the download cache (see the
        module's documentation).
    verify : bool, default=True
        Refuse files whose SHA-256 is not the course file's. False reads
        files of your own in the course's layout (still checked for it).

    Returns
    -------
    train_set_x_orig : ndarray of shape (209, 64, 64, 3), uint8
    train_set_y : ndarray of shape (1, 209), int64
    test_set_x_orig : ndarray of shape (50, 64, 64, 3), uint8
    test_set_y : ndarray of shape (1, 50), int64
    classes : ndarray of shape (2,), bytes
        ``[b'non-cat', b'cat']``.

    Raises
    ------
    DataError
        Naming the file and what is wrong with it.
    """
    directory = resolve_data_dir(data_dir)
    if directory is None:
        directory = fetch_dataset()
    train, test = FILES["train"], FILES["test"]
    train_x, train_y, classes = read_split(
        directory / train, "train", SHA256[train] if verify else None
    )
    test_x, test_y, test_classes = read_split(
        directory / test, "test", SHA256[test] if verify else None
    )
    if test_x.shape[1:] != train_x.shape[1:]:
        raise DataError(
            f"{directory / FILES['test']}: images of shape {test_x.shape[1:]} "
            f"do not match the training images' {train_x.shape[1:]}"
        )
    if list(test_classes) != list(classes):
        raise DataError(
            f"{directory / FILES['test']}: list_classes {list(test_classes)} "
            f"differs from the training file's {list(classes)}"
        )
    return train_x, train_y, test_x, test_y, classes


def flatten(images: NDArray) -> NDArray:
    """Unroll images into columns, as the course does by hand.

    Parameters
    ----------
    images : ndarray of shape (m, height, width, channels)

    Returns
    -------
    X : ndarray of shape (height * width * channels, m)
        Column i is image i in C order (channels fastest), the dtype of
        ``images``. A view, not a copy, when ``images`` is C-contiguous (as
        loaded); otherwise NumPy must copy to reshape.
    """
    images = np.asarray(images)
    if images.ndim != 4:
        raise ValueError(
            f"images must have shape (m, height, width, channels); "
            f"got shape {images.shape}"
        )
    return images.reshape(images.shape[0], -1).T


def scale(
    X: NDArray, dtype: DTypeLike = np.float64, *, out: NDArray | None = None
) -> NDArray[np.floating]:
    """Pixel values 0..255 to [0, 1]: ``X / 255`` in ``dtype``.

    Parameters
    ----------
    X : ndarray of any shape
        Pixel values in 0..255 (uint8 as loaded, or any real dtype).
    dtype : float dtype, default=float64
    out : ndarray of the shape of X, ``dtype``, optional
        Where to write the result (a reused buffer); a new array otherwise,
        laid out in memory as X is.

    Returns
    -------
    ndarray of the shape of X, in ``dtype``, with values in [0, 1]
        ``out`` when given.
    """
    dtype = np.dtype(dtype)
    if not np.issubdtype(dtype, np.floating):
        raise ValueError(f"dtype must be a floating dtype; got {dtype}")
    X = np.asarray(X)
    if X.dtype != np.uint8:
        if X.dtype == np.bool_ or not np.issubdtype(X.dtype, np.number):
            raise ValueError(f"X must hold pixel values 0..255; got dtype {X.dtype}")
        if X.size and not (np.min(X) >= 0 and np.max(X) <= 255):
            raise ValueError(
                f"X must hold pixel values 0..255; got values from "
                f"{np.min(X)} to {np.max(X)}"
            )
    if out is None:
        out = np.empty_like(X, dtype=dtype)
    # Each value is cast to dtype, then divided in dtype: one rounding.
    return np.divide(X, dtype.type(255), out=out, dtype=dtype)


# -- data sets larger than memory ----------------------------------------------

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
        path: str,
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
            import zarr

            stored = zarr.open_array(self.path, path=self.key, mode="r")
            block = stored[(0, rows) if self._labels_in_a_row else rows]
        else:
            with h5py.File(self.path, "r") as f:
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


def _raw_offset(f: h5py.File, key: str) -> int | None:
    """Where an HDF5 dataset's values start in its file, when they are one
    plain C-order block of native-order values there; else None.

    The answer is checked: the first and last values read at that offset
    must be the ones h5py reads.
    """
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
    with open(f.filename, "rb") as raw:
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

    Nothing is read or converted here but the labels (to check them, a
    million at a time); each chunk of X is read from the file and scaled to
    ``pixels / 255`` only when a computation needs it, so no float copy of
    the whole set ever exists.

    Parameters
    ----------
    path : path-like
        An HDF5 file, or a zarr store (a directory), holding
        ``{split}_set_x`` of shape (m, height, width, channels), uint8, and
        ``{split}_set_y`` of shape (m,) or (1, m), integer labels 0 / 1.
    split : {"train", "test"}, default="train"
    chunk_rows : int, optional
        Images per chunk. Default: as many as make about 64 MiB of floats
        (:data:`CHUNK_BYTES`), 682 images of 64 x 64 x 3 in float64.
    dtype : {numpy.float64, numpy.float32}, default=numpy.float64
        The float type of X's chunks.

    Returns
    -------
    X : dask.array.Array of shape (m, height * width * channels), ``dtype``
        Pixels / 255, one flattened image per row (C order, channels
        fastest, as :func:`flatten` gives), chunked by rows only.
    y : dask.array.Array of shape (m,), int64
        Labels 0 / 1, chunked as X's rows.

    Raises
    ------
    DataError
        Naming the file and what is wrong: missing, not HDF5 nor zarr, a
        missing array, a wrong shape or dtype, labels other than 0 / 1.
    ValueError
        For a bad ``split``, ``chunk_rows`` or ``dtype``.

    Notes
    -----
    The arrays re-open the file by its path for every chunk they read, so
    they can be sent to the workers of a ``dask.distributed`` cluster; there
    the file must be at the same path on every worker (a shared disk).
    """
    import dask.array as da
    from dask.base import tokenize

    if split not in FILES:
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
    path = Path(path)
    x_key, y_key = f"{split}_set_x", f"{split}_set_y"
    zarr_store, x_info, y_info = _describe_store(path, x_key, y_key)
    (x_shape, x_dtype, x_offset), (y_shape, y_dtype, y_offset) = x_info, y_info
    x_rows = _StoredRows(str(path), x_key, x_shape, x_dtype, zarr_store, x_offset)
    y_rows = _StoredRows(str(path), y_key, y_shape, y_dtype, zarr_store, y_offset)
    m, n = x_rows.shape
    _check_labels(path, y_key, y_rows)
    if chunk_rows is None:
        chunk_rows = max(CHUNK_BYTES // (n * dtype.itemsize), 1)
    chunk_rows = min(int(chunk_rows), m)
    # Named by the file's identity: the same file opened twice gives the same
    # graph keys (and a changed file, new ones).
    stat = path.stat()
    token = tokenize(str(path.resolve()), stat.st_mtime_ns, stat.st_size, chunk_rows)
    pixels = da.from_array(
        x_rows,
        chunks=(chunk_rows, n),
        name=f"images-{x_key}-{token}",
        inline_array=True,
        asarray=False,
        fancy=False,
        meta=np.empty((0, 0), np.uint8),  # else Dask reads a sample to learn it
    )
    # One float copy per chunk, made when the chunk is used...
    X = pixels.map_blocks(scale, dtype, dtype=dtype)
    # ...except in a loss pass, which converts in cache (see pixel_source).
    X._logitnet_pixels = pixels
    labels = da.from_array(
        y_rows,
        chunks=(X.chunks[0],),
        name=f"images-{y_key}-{token}",
        inline_array=True,
        asarray=False,
        fancy=False,
        meta=np.empty((0,), y_rows.dtype),
    )
    return X, labels.astype(np.int64)


def pixel_source(X):
    """The uint8 pixels behind an X from :func:`open_images`, or None.

    X's chunks are ``scale(pixels)``: a float copy of each chunk, four or
    eight bytes per pixel byte read. :func:`logitnet.core.loss.loss_and_grad`
    reads the pixel chunks instead and converts them a few rows at a time,
    in cache, to the same floats. Any array derived from X (sliced,
    rechunked, cast) is a new array without a pixel source, computed from
    its float chunks.

    Parameters
    ----------
    X : dask.array.Array of shape (m, n_features)

    Returns
    -------
    dask.array.Array of shape (m, n_features), uint8, chunked as X; or None
    """
    pixels = getattr(X, "_logitnet_pixels", None)
    if pixels is None or pixels.chunks != X.chunks:
        return None
    return pixels


def describe_images(path: str | os.PathLike[str]) -> dict:
    """What :func:`open_images` would open, without reading any pixels.

    Returns
    -------
    dict
        ``image_shape`` (height, width, channels), ``classes`` (the two names
        from ``list_classes``, or "0" and "1" without it), ``n_train``, and
        ``n_test`` (0 when there is no ``test_set_x``).

    Raises
    ------
    DataError
        As :func:`open_images`.
    """
    path = Path(path)
    is_zarr, (x_shape, *_), _ = _describe_store(path, "train_set_x", "train_set_y")
    if is_zarr:
        import zarr

        group = zarr.open_group(str(path), mode="r")
        keys = set(group.array_keys())
        read = lambda key: np.asarray(group[key][...])  # noqa: E731
        test_shape = group["test_set_x"].shape if "test_set_x" in keys else None
        classes = read("list_classes") if "list_classes" in keys else None
    else:
        with h5py.File(path, "r") as f:
            keys = set(f.keys())
            test_shape = f["test_set_x"].shape if "test_set_x" in keys else None
            classes = f["list_classes"][()] if "list_classes" in keys else None
    names = ["0", "1"]
    if classes is not None and np.shape(classes) == (2,):
        names = [c.decode("utf-8") if isinstance(c, bytes) else str(c) for c in classes]
    return {
        "image_shape": tuple(int(n) for n in x_shape[1:]),
        "classes": names,
        "n_train": int(x_shape[0]),
        "n_test": int(test_shape[0]) if test_shape else 0,
    }


def _describe_store(path: Path, x_key: str, y_key: str):
    """Whether ``path`` is a zarr store, and (shape, dtype, raw offset) of X
    and y, checked for the course's layout without reading the data (the
    offset, for :class:`_StoredRows`, is None but for plain HDF5 storage)."""
    if not path.exists():
        raise DataError(f"{path}: no such file or zarr store")
    if path.is_dir():
        try:
            import zarr
        except ImportError as e:  # a dependency, but say so plainly if absent
            raise DataError(
                f"{path}: is a directory, read as a zarr store, but the zarr "
                f"package is not installed (pip install zarr)"
            ) from e
        try:
            group = zarr.open_group(str(path), mode="r")
            found = sorted(group.array_keys())
        except Exception as e:
            raise DataError(
                f"{path}: is a directory but not a zarr store ({type(e).__name__}: {e})"
            ) from e
        for key in (x_key, y_key):
            if key not in found:
                raise DataError(
                    f"{path}: missing array {key!r} (it has: "
                    f"{', '.join(found) or 'nothing'})"
                )
        x, y = group[x_key], group[y_key]
        _check_layout(path, x_key, _Meta(x), y_key, _Meta(y), None)
        return (
            True,
            (x.shape, np.dtype(x.dtype), None),
            (y.shape, np.dtype(y.dtype), None),
        )
    reason = _not_hdf5_reason(path)
    if reason:
        raise DataError(f"{path}: {reason} (nor a zarr store)")
    with _checked_hdf5(path, x_key, y_key, classes_required=False) as (x, y, _):
        return (
            False,
            (x.shape, x.dtype, _raw_offset(x.file, x_key)),
            (y.shape, y.dtype, _raw_offset(y.file, y_key)),
        )


class _Meta:
    """Shape, ndim and NumPy dtype of a zarr array, as ``_check_layout``
    reads them from an h5py dataset."""

    def __init__(self, array):
        self.shape = tuple(array.shape)
        self.ndim = len(self.shape)
        self.dtype = np.dtype(array.dtype)


def _check_labels(path: Path, y_key: str, y_rows: _StoredRows) -> None:
    m = y_rows.shape[0]
    for start in range(0, m, _LABELS_PER_READ):
        y = y_rows[start : start + _LABELS_PER_READ]
        bad = (y != 0) & (y != 1)
        if bad.any():
            raise DataError(
                f"{path}: {y_key} must hold labels 0 and 1 only; "
                f"found {y[bad].flat[0].item()!r}"
            )
