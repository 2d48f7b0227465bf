"""The course's HDF5 layout: checked when read, kept when written.

A file in the course's layout holds ``{split}_set_x`` of shape
(m, height, width, 3), uint8, ``{split}_set_y`` of m integer labels 0 ..
k-1 (shape (m,) or (1, m)) and ``list_classes``, the k >= 2 class names
(label i is ``list_classes[i]``; the course's are "non-cat" and "cat"). A
label outside ``list_classes``, a training set without a picture of some
class, and a name given twice are refused, naming the file. The course's
two files are in it, so are the files :func:`write_course_file`
and :func:`logitnet.data.synth.make_images` write, and
:func:`logitnet.data.reader.open_images` reads any of them lazily.
"""

from __future__ import annotations

import contextlib
import hashlib
import math
import os
from collections.abc import Sequence
from pathlib import Path

import h5py
import numpy as np
from numpy.typing import NDArray

from logitnet.checks import MAX_CLASSES, check_class_labels, check_class_names
from logitnet.exceptions import DataError
from logitnet.files import LFS_POINTER, check_input_file, shown

__all__ = [
    "check_class_list",
    "check_every_class",
    "check_labels",
    "check_layout",
    "check_storage",
    "checked_hdf5",
    "class_names",
    "is_lfs_pointer",
    "not_hdf5_reason",
    "open_hdf5",
    "read_split",
    "write_course_file",
]

#: Stored chunks smaller than this, more than :data:`MAX_SMALL_CHUNKS` of them,
#: are refused: reading through millions of tiny chunks costs memory and time
#: out of all proportion to the data (the course's 209 pictures in chunks of
#: one byte took 13.9 GB).
MIN_CHUNK_BYTES = 4096
MAX_SMALL_CHUNKS = 1024

#: Stored chunks larger than this are refused: reading one row decompresses
#: its whole chunk.
MAX_CHUNK_BYTES = 256 * 2**20


def is_lfs_pointer(path: str | os.PathLike[str]) -> bool:
    """Whether the file is a Git LFS pointer: a small text file standing in
    for the real one in a repository clone without LFS."""
    with open(path, "rb") as f:
        return f.read(len(LFS_POINTER)) == LFS_POINTER


def not_hdf5_reason(path: Path) -> str | None:
    """Why ``path`` cannot be an HDF5 file, or None if it might be one."""
    if path.stat().st_size == 0:
        return "is empty"
    if is_lfs_pointer(path):
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
        Labels 0 .. k-1.
    classes : ndarray of shape (k,), bytes
        The class names, index = label; k >= 2.

    Raises
    ------
    DataError
        Naming the file and what is wrong: missing, a directory, empty, not
        HDF5 (or a Git LFS pointer), the wrong checksum, damaged or
        truncated, a missing key, a wrong shape or dtype, a label that is
        not the index of a name in ``list_classes``, two names alike, or
        (``split="train"``) a class without a picture.
    """
    path = check_input_file(path, "an HDF5 file", DataError)
    reason = not_hdf5_reason(path)
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
    with checked_hdf5(path, x_key, y_key) as (x, y, classes):
        try:
            x, y, classes = x[()], y[()], classes[()]
        except MemoryError:
            raise DataError(
                f"{path}: {x_key} of shape {x.shape} ({x.nbytes} bytes) does "
                "not fit in memory; train on it out of core (train --data FILE)"
            ) from None
    y = y.reshape(1, -1)
    names = class_names(classes, path)
    check_labels(path, y_key, y, len(names))
    if split == "train":
        check_every_class(path, y_key, np.unique(y), names)
    return x, y.astype(np.int64), classes


def open_hdf5(path: str | os.PathLike[str]) -> h5py.File:
    """``path`` opened with h5py for reading; a file another program holds
    open for writing (HDF5's file lock) is a DataError naming it."""
    try:
        return h5py.File(path, "r")
    except BlockingIOError as e:
        raise DataError(
            f"{path}: is locked by a program writing it (HDF5 file locking); "
            "try again when that program has closed it"
        ) from e


@contextlib.contextmanager
def checked_hdf5(path: Path, x_key: str, y_key: str, classes_required: bool = True):
    """The file's images, labels and class names (h5py datasets; classes
    None when absent and not required), their layout checked, for reading
    inside the ``with``; any h5py failure there becomes a DataError."""
    try:
        with open_hdf5(path) as f:
            required = (x_key, y_key, "list_classes")[: 3 if classes_required else 2]
            for key in ("list_classes", *required):  # links first: see check_storage
                if f.get(key, getlink=True) is not None:
                    check_storage(path, f, key)
            for key in required:
                if key not in f or not isinstance(f[key], h5py.Dataset):
                    raise DataError(
                        f"{path}: missing dataset {key!r} (it has: "
                        f"{', '.join(sorted(map(str, f.keys()))) or 'nothing'})"
                    )
            x, y, classes = f[x_key], f[y_key], f.get("list_classes")
            check_layout(path, x_key, x, y_key, y, classes)
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


def check_storage(path: Path, f: h5py.File, key: str) -> None:
    """A dataset's values must be stored in the file itself, in chunks of a
    sane size: read as what they claim to be, in bounded memory.

    Refused, naming the file and the dataset: an external link (the values
    are another file's), external storage (the values are raw bytes of other
    files, any file), a virtual dataset (its values live in source files,
    read as zeros where a source is missing), and chunks smaller than
    :data:`MIN_CHUNK_BYTES` or larger than :data:`MAX_CHUNK_BYTES`, and
    plain storage holding fewer bytes than the shape declares, or chunked
    storage fewer chunks (both read as zeros). The metadata alone decides,
    before any value is read.
    """
    link = f.get(key, getlink=True)
    if isinstance(link, h5py.ExternalLink):
        raise DataError(
            f"{path}: {key} is an external link to {link.filename!r}; logitnet "
            "reads only data stored in the file itself (open that file, or "
            "copy the dataset in)"
        )
    d = f.get(key)
    if not isinstance(d, h5py.Dataset):
        return
    if d.is_virtual:
        raise DataError(
            f"{path}: {key} is a virtual dataset (its values live in other "
            "files); logitnet reads only data stored in the file itself"
        )
    if d.external:
        raise DataError(
            f"{path}: {key} uses external storage (its values are bytes of "
            f"{', '.join(repr(name) for name, *_ in d.external)}); logitnet "
            "reads only data stored in the file itself"
        )
    if d.chunks is None:
        stored = d.id.get_storage_size()
        if d.nbytes and stored < d.nbytes:
            raise DataError(
                f"{path}: {key} declares shape {d.shape} ({d.nbytes} bytes) but "
                f"stores {stored} bytes; the file is damaged or was never "
                "filled in"
            )
        return
    chunk_bytes = int(np.prod(d.chunks, dtype=np.int64)) * d.dtype.itemsize
    n_chunks = math.prod(-(-n // c) for n, c in zip(d.shape, d.chunks, strict=True))
    tiny = chunk_bytes < MIN_CHUNK_BYTES and n_chunks > MAX_SMALL_CHUNKS
    if tiny or chunk_bytes > MAX_CHUNK_BYTES:
        raise DataError(
            f"{path}: {key} is stored in chunks of shape {d.chunks} "
            f"({n_chunks} chunks of {chunk_bytes} bytes); logitnet reads chunks "
            f"of {MIN_CHUNK_BYTES} bytes to {MAX_CHUNK_BYTES // 2**20} MiB "
            "(or a few smaller ones) in bounded memory: rewrite the file with "
            "larger chunks or none (e.g. h5repack -l CHUNK=...)"
        )
    stored = d.id.get_num_chunks()
    if stored < n_chunks:
        raise DataError(
            f"{path}: {key} stores {stored} of its {n_chunks} chunks; h5py would "
            "read the others as zeros: the file is damaged or was never filled in"
        )


def check_layout(path, x_key, x, y_key, y, classes) -> None:
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
    check_class_list(path, classes.shape, classes.dtype)


def check_class_list(path, shape: tuple[int, ...], dtype=None) -> None:
    """``list_classes`` must be 2 to :data:`~logitnet.checks.MAX_CLASSES`
    names, a vector of strings (of bytes or str; ``dtype`` None: not
    checked), checked before it is read."""
    if (
        len(shape) != 1
        or not 2 <= shape[0] <= MAX_CLASSES
        or (dtype is not None and dtype.kind not in "SU")
    ):
        kind = "" if dtype is None else f", dtype {dtype}"
        raise DataError(
            f"{path}: list_classes must be 2 to {MAX_CLASSES} class names, "
            f"one per label; got shape {tuple(shape)}{kind}"
        )


def class_names(classes, path: Path | None = None) -> list[str]:
    """``list_classes`` (bytes or str) as k >= 2 distinct names; bytes that are
    not UTF-8 become backslash escapes, so the names can be printed, saved
    and drawn. With ``path``, a problem is a DataError naming the file."""
    names = [
        c.decode("utf-8", "backslashreplace") if isinstance(c, bytes) else str(c)
        for c in np.asarray(classes).reshape(-1)
    ]
    try:
        return check_class_names(names)
    except ValueError as e:
        if path is None:
            raise
        raise DataError(f"{path}: list_classes: {e}") from None


def check_every_class(path: Path, key: str, present, classes: Sequence[str]) -> None:
    """A training set must hold a picture of every class: ``present`` is the
    set of labels found in ``path``'s array ``key``, ``classes`` the names."""
    present = sorted(int(label) for label in present)
    if len(classes) == 2 and len(present) < 2:
        raise DataError(
            f"{path}: {key} holds only label {present[0] if present else '-'}; "
            "training needs pictures of both classes (labels 0 and 1)"
        )
    missing = sorted(set(range(len(classes))) - set(present))
    if missing:
        named = ", ".join(f"{i} ({shown(classes[i])})" for i in missing[:5])
        more = f" and {len(missing) - 5} more" if len(missing) > 5 else ""
        raise DataError(
            f"{path}: {key} has no picture of class {named}{more}; training "
            f"needs pictures of every class in list_classes ({len(classes)} names)"
        )


def check_labels(path: Path, key: str, labels: np.ndarray, n_classes: int = 2) -> None:
    """Labels read from ``path``'s array ``key`` must be indices 0 ..
    ``n_classes`` - 1 of ``list_classes`` (0 and 1 in a file without it)."""
    try:
        check_class_labels(np.asarray(labels), key, n_classes)
    except ValueError as e:
        names = f" (list_classes names {n_classes} classes)" if n_classes > 2 else ""
        raise DataError(f"{path}: {e}{names}") from None


def write_course_file(
    path: str | os.PathLike[str],
    train_images: NDArray[np.uint8],
    train_labels: NDArray[np.int64],
    classes: Sequence[str],
    test_images: NDArray[np.uint8] | None = None,
    test_labels: NDArray[np.int64] | None = None,
) -> Path:
    """Write images in the course's HDF5 layout, atomically (a zarr store
    for a URL or a name ending in ``.zarr``:
    :func:`logitnet.data.zarr_store.write_course_store`).

    The file holds ``train_set_x`` (m, height, width, 3) uint8,
    ``train_set_y`` (m,) int64 (labels 0 .. k-1) and ``list_classes`` (k,)
    bytes (the names in UTF-8, label i is ``classes[i]``), as the course's
    training file does, and, when test images are given and not
    empty, ``test_set_x`` and ``test_set_y`` too.

    Returns
    -------
    Path
        ``path``.
    """
    from logitnet.data import zarr_store
    from logitnet.data.storage import locate
    from logitnet.files import atomic_path

    if zarr_store.is_store_name(locate(path)):
        return zarr_store.write_course_store(
            locate(path), train_images, train_labels, classes, test_images, test_labels
        )
    names = np.array([c.encode("utf-8") for c in classes])
    with atomic_path(path) as tmp, h5py.File(tmp, "w") as f:
        f.create_dataset("train_set_x", data=train_images)
        f.create_dataset("train_set_y", data=np.asarray(train_labels, np.int64))
        f.create_dataset("list_classes", data=names)
        if test_images is not None and len(test_images):
            f.create_dataset("test_set_x", data=test_images)
            f.create_dataset("test_set_y", data=np.asarray(test_labels, np.int64))
    return Path(path)
