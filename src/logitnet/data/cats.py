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

import logging
import os
import sys
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from logitnet.data.layout import is_lfs_pointer, read_split
from logitnet.exceptions import DataError

__all__ = [
    "DEFAULT_BASE_URL",
    "FILES",
    "SHA256",
    "fetch_dataset",
    "load_dataset",
    "load_split",
    "resolve_data_dir",
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

#: Size in bytes of each file as the course distributes it: a download stops
#: as soon as it grows past this, before the disk fills.
SIZES = {"train_catvnoncat.h5": 2_572_022, "test_catvnoncat.h5": 616_958}

#: A public copy of the two files, pinned to one commit.
DEFAULT_BASE_URL = (
    "https://raw.githubusercontent.com/Hiren2002/Logistic-Regression/"
    "a6139a838a0e624f4ab923377df0c5d3386fdf1f/datasets/"
)

ENV_DATA_DIR = "LOGITNET_DATA_DIR"
ENV_CACHE_DIR = "LOGITNET_CACHE_DIR"
ENV_DATA_URL = "LOGITNET_DATA_URL"


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
    splits: tuple[str, ...] = ("train", "test"),
) -> Path:
    """Download the course files into a cache, verified by SHA-256.

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
    splits : tuple of {"train", "test"}, default=("train", "test")
        The files wanted (scoring a model needs the test file only).

    Returns
    -------
    Path
        The cache directory, holding the files of ``splits``.

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
        for name in (FILES[split] for split in splits):
            _retrieve(pooch, requests, base_url + name, name, SHA256[name],
                      cache_dir, downloader)  # fmt: skip
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
        # The exception's own text runs to hundreds of characters of urllib3
        # internals; its kind (or the HTTP status) is enough, and the way
        # out is what helps.
        response = getattr(e, "response", None)
        reason = (
            f"HTTP {response.status_code}" if response is not None else type(e).__name__
        )
        raise DataError(
            f"{url}: download failed ({reason}) and the course's data "
            f"is not on this machine: set {ENV_DATA_DIR}=DIR or give --data-dir "
            f"DIR (Python: load_dataset(DIR)), a directory holding "
            f"{FILES['train']} and {FILES['test']}"
        ) from e
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
        if check_only:
            return self.http(url, output_file, pooch, check_only=check_only)
        limit = SIZES.get(Path(url).name)
        with open(output_file, "w+b") as raw:
            result = self.http(url, _Capped(raw, limit, url), pooch)
        if is_lfs_pointer(output_file):
            raise DataError(
                f"{url}: serves a Git LFS pointer file, not the data; "
                "use a URL that serves the file itself"
            )
        return result


class _Capped:
    """A file being downloaded that refuses to grow past ``limit`` bytes
    (no limit when None): a server sending more than the expected file is
    stopped at once, not after filling the disk."""

    def __init__(self, raw, limit: int | None, url: str) -> None:
        self.raw, self.limit, self.url, self.written = raw, limit, url, 0

    def write(self, data: bytes) -> int:
        self.written += len(data)
        if self.limit is not None and self.written > self.limit:
            raise DataError(
                f"{self.url}: the download is larger than the course file's "
                f"{self.limit} bytes; stopped, refusing to use it"
            )
        return self.raw.write(data)

    def flush(self) -> None:
        self.raw.flush()


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


def load_split(
    split: str,
    data_dir: str | os.PathLike[str] | None = None,
    *,
    verify: bool = True,
) -> tuple[NDArray[np.uint8], NDArray[np.int64], NDArray[np.bytes_]]:
    """One of the course's files, found (or downloaded) as
    :func:`load_dataset` finds it, the other neither read nor fetched:
    scoring a model on the test set needs ``test_catvnoncat.h5`` only.

    Parameters
    ----------
    split : {"train", "test"}
    data_dir : path-like, optional
    verify : bool, default=True
        As for :func:`load_dataset`.

    Returns
    -------
    x : ndarray of shape (m, 64, 64, 3), uint8
    y : ndarray of shape (1, m), int64
    classes : ndarray of shape (2,), bytes

    Raises
    ------
    DataError
        Naming the file and what is wrong with it.
    """
    directory = resolve_data_dir(data_dir)
    if directory is None:
        directory = fetch_dataset(splits=(split,))
    name = FILES[split]
    return read_split(directory / name, split, SHA256[name] if verify else None)
