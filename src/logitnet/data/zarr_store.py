"""zarr stores in the course's layout: checked as HDF5 files are, before
any chunk is read.

zarr reads a chunk that is not in the store as the array's fill value,
without a word, and decompresses a chunk of any size it is given. So the
rules of :func:`logitnet.data.layout.check_storage` are applied to each
array a command reads, from its metadata and the store's listing alone:

- every chunk is in the store: a missing one would be read as zeros. zarr
  itself leaves out chunks that equal the fill value unless the store is
  written with ``write_empty_chunks=True``, and nothing tells such a chunk
  from a lost one, so both are refused, with that advice;
- chunks of :data:`~logitnet.data.layout.MIN_CHUNK_BYTES` to
  :data:`~logitnet.data.layout.MAX_CHUNK_BYTES` (or a few smaller ones),
  at most :data:`MAX_CHUNKS` of them: a 5 MB store can hold a 1.2 GB chunk
  of zeros;
- codecs zarr and logitnet know (:data:`KNOWN_CODECS`), no sharding, no
  storage transformers;
- values stored in the store itself: no chunk or array folder that is a
  symbolic link to elsewhere (a store on object storage, a
  :class:`~logitnet.data.storage.Url`, is listed by its filesystem: its
  objects are in the store by what they are);
- an uncompressed chunk holds exactly the bytes its shape declares.

What the metadata cannot show (a compressed chunk that is damaged) is
found when it is read: :func:`read` turns zarr's error into one line
naming the store and the array.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import itertools
import json
import logging
import math
import os
import shutil
import sys
import uuid
from pathlib import Path

import numpy as np

from logitnet.data.layout import MAX_CHUNK_BYTES, MAX_SMALL_CHUNKS, MIN_CHUNK_BYTES
from logitnet.data.storage import StorageError, Url, failure, said_by_storage
from logitnet.exceptions import DataError
from logitnet.files import removed_on_stop

__all__ = [
    "KNOWN_CODECS",
    "MAX_CHUNKS",
    "check_array",
    "checked_arrays",
    "is_store_name",
    "new_array",
    "new_store",
    "read",
]

#: Chunks an array may have: each is a file to list, stat and open.
MAX_CHUNKS = 2**20

#: Codecs (zarr v3 names, v2 numcodecs ids) an array may use. Anything else
#: (sharding, an unknown filter) is refused before reading.
KNOWN_CODECS = frozenset(
    {
        "bytes", "transpose", "crc32c", "zstd", "blosc", "gzip", "zlib", "lz4",
        "bz2", "lzma", "vlen-utf8", "vlen-bytes",
    }
)  # fmt: skip

#: Codecs that leave a chunk's bytes as they are (but a 4-byte checksum).
_RAW_CODECS = {"bytes": 0, "transpose": 0, "crc32c": 4}

#: Files of a store that are metadata, not chunks.
_METADATA = {".zarray", ".zattrs", ".zgroup", ".zmetadata", "zarr.json"}


#: Labels per chunk of a store logitnet writes: 512 KiB of int64, so a
#: pass that reads one chunk of pictures reads little more than its labels.
LABEL_CHUNK_ROWS = 2**16


def is_store_name(path: Path | Url) -> bool:
    """Whether an output is written as a zarr store: a URL (data on object
    storage is zarr), or a name ending in ``.zarr``."""
    return isinstance(path, Url) or str(path).rstrip("/").endswith(".zarr")


@contextlib.contextmanager
def new_store(path: Path | Url):
    """Yield a new zarr group (format 3) at ``path`` to fill.

    A local store is written under a temporary name beside ``path`` and
    renamed to it when complete; one on object storage is written in place
    and removed if the block raises, so a failed write leaves nothing
    behind. A store already there is refused, never merged into.

    Raises
    ------
    OutputPathError
        When something is already at ``path``.
    """
    import zarr

    from logitnet.exceptions import OutputPathError

    if isinstance(path, Url):
        if path.exists():
            raise OutputPathError(
                f"{path}: something is already there; remove it or give another name"
            )
        try:
            with removed_on_stop(lambda: _remove_written(path)):
                yield zarr.open_group(path.zarr_store(read_only=False), mode="w-")
        except BaseException:
            path.remove()
            raise
        return
    if os.path.lexists(path):
        raise OutputPathError(f"{path}: already exists; remove it or give another name")
    tmp = path.parent / f".{path.name[:64]}.{uuid.uuid4().hex[:8]}.tmp"
    try:
        with removed_on_stop(lambda: shutil.rmtree(tmp, ignore_errors=True)):
            yield zarr.open_group(str(tmp), mode="w-")
            os.rename(tmp, path)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _remove_written(url: Url) -> None:
    """Remove a store being written, told to stop: twice, as writes in
    flight when the first listing was taken may land after it."""
    import time

    url.remove()
    time.sleep(0.5)
    url.remove()


def new_array(group, name: str, shape: tuple, dtype, rows_per_chunk: int):
    """An empty array of a store :func:`new_store` writes: pictures stored
    raw (random or photographed pixels barely compress, and a raw chunk is
    checked against its declared size), ``rows_per_chunk`` rows a chunk
    (:data:`LABEL_CHUNK_ROWS` for one-dimensional labels), every chunk
    written even when it holds only zeros (a missing chunk is refused)."""
    rows = LABEL_CHUNK_ROWS if len(shape) == 1 else rows_per_chunk
    return group.create_array(
        name,
        shape=shape,
        dtype=dtype,
        chunks=(max(min(rows, shape[0]), 1), *shape[1:]),
        compressors=None,
        config={"write_empty_chunks": True},
    )


def write_course_store(
    path: Path | Url, train_x, train_y, classes, test_x=None, test_y=None
) -> Path | Url:
    """:func:`logitnet.data.layout.write_course_file` as a zarr store
    (:func:`new_store`): the pictures, their labels (int64) and
    ``list_classes`` as text."""
    sets = [("train", train_x, train_y)]
    if test_x is not None and len(test_x):
        sets.append(("test", test_x, test_y))
    with new_store(path) as group:
        for split, x, y in sets:
            x = np.asarray(x, np.uint8)
            rows = max(MAX_CHUNK_BYTES // 16 // max(x[0].nbytes, 1), 1)
            new_array(group, f"{split}_set_x", x.shape, np.uint8, rows)[...] = x
            labels = np.asarray(y, np.int64)
            new_array(group, f"{split}_set_y", labels.shape, np.int64, rows)[...] = (
                labels
            )
        names = group.create_array(
            "list_classes", shape=(len(classes),), dtype=str,
            config={"write_empty_chunks": True},
        )  # fmt: skip
        names[...] = np.array(list(classes), dtype=str)
    return path


def _store(path: Path | Url):
    """What zarr opens: a local store by its path, a URL through fsspec."""
    return path.zarr_store() if isinstance(path, Url) else str(path)


def checked_arrays(path: Path | Url, *keys: str, required: int | None = None):
    """The store's arrays ``keys`` (None for one that is absent), each
    checked (:func:`check_array`), and the names of all its arrays.

    Parameters
    ----------
    path : Path or Url
        A directory, or a URL: the zarr store.
    *keys : str
        The arrays wanted.
    required : int, optional
        The first ``required`` keys must be there (default: all).

    Raises
    ------
    DataError
        When zarr is not installed, ``path`` is not a zarr store, its
        metadata cannot be read, a required array is missing, or an array
        breaks a rule; each message names the store.
    """
    try:
        import zarr
    except ImportError as e:  # a dependency, but say so plainly if absent
        raise DataError(
            f"{path}: is a directory, read as a zarr store, but the zarr "
            f"package is not installed (pip install zarr)"
        ) from e
    try:
        # Each array's own metadata, never a consolidated copy of it, which
        # could say otherwise than what the reads will find.
        group = zarr.open_group(_store(path), mode="r", use_consolidated=False)
        found = sorted(group.array_keys())
    except StorageError:
        raise
    except Exception as e:
        if isinstance(path, Url):
            raise _remote_failure(path, e) from None
        raise DataError(
            f"{path}: is a directory but not a zarr store ({type(e).__name__}: {e})"
        ) from e
    for key in keys[: len(keys) if required is None else required]:
        if key not in found:
            raise DataError(
                f"{path}: missing array {key!r} (it has: "
                f"{', '.join(found) or 'nothing'})"
            )
    arrays = []
    for key in keys:
        try:
            array = group[key] if key in found else None
        except Exception as e:
            if isinstance(path, Url):
                raise _remote_failure(path, e) from None
            raise DataError(
                f"{path}: {key}'s metadata cannot be read ({type(e).__name__}: {e})"
            ) from e
        if array is not None:
            check_array(path, array, key)
        arrays.append(array)
    return arrays, found


def read(path: Path | Url, key: str, selection=...) -> np.ndarray:
    """``selection`` of the array ``key`` of the store at ``path``; a chunk
    zarr cannot decode (truncated, garbage) is a DataError naming both, and
    a request object storage fails a StorageError naming the URL."""
    import zarr

    try:
        if isinstance(path, Url):
            stored = _opened(path, json.dumps(path.options, sort_keys=True), key)
        else:
            stored = zarr.open_array(_store(path), path=key, mode="r")
        return np.asarray(stored[selection])
    except Exception as e:
        # zarr reads a block's chunks as tasks on its own event loop; when
        # one fails, asyncio would log the others, left pending, at exit.
        logging.getLogger("asyncio").addFilter(_not_pending_tasks)
        if isinstance(path, Url):
            remote = _remote_failure(path, e)
            if isinstance(remote, StorageError):
                # The other chunks' requests in flight fail too, and their
                # coroutines, abandoned, would be reported at exit.
                sys.unraisablehook = _QuietCoroutines(sys.unraisablehook)
                raise remote from None
        raise DataError(
            f"{path}: {key} has a chunk that cannot be read, the store is "
            f"damaged ({type(e).__name__}: {e})"
        ) from e


@functools.lru_cache(maxsize=64)
def _opened(url: Url, options: str, key: str):
    """An array of a store on object storage, opened once per process
    (``options`` keeps apart two spellings of one URL with other options):
    each read is then its chunks' requests alone, never the metadata's."""
    import zarr

    return zarr.open_array(url.zarr_store(), path=key, mode="r")


def _remote_failure(url: Url, error: BaseException) -> Exception:
    """A failure of a store on object storage, in words (a missing bucket,
    refused credentials, an endpoint that is down) when storage caused it;
    else a DataError that the store cannot be read as zarr."""
    if isinstance(error, DataError):
        return error
    if said_by_storage(error):
        return failure(url, error)
    return DataError(
        f"{url}: not a zarr store, or one that cannot be read "
        f"({type(error).__name__}: {error})"
    )


class _QuietCoroutines:
    """An unraisable-exception hook that drops those of abandoned
    coroutines (after a failed read: the one line has said it)."""

    def __init__(self, previous):
        self.previous = getattr(previous, "previous", previous)

    def __call__(self, unraisable) -> None:
        if not asyncio.iscoroutine(unraisable.object):
            self.previous(unraisable)


def _not_pending_tasks(record: logging.LogRecord) -> bool:
    return not record.getMessage().startswith("Task was destroyed but it is pending")


def check_array(path: Path | Url, array, key: str) -> None:
    """Refuse an array of the store that zarr would read as something else
    than what is stored, or in unbounded memory (see the module's rules).

    Raises
    ------
    DataError
        Naming the store, the array and what is wrong, before any chunk is
        read.
    """
    codecs = _codecs(array.metadata)
    unknown = [name for name in codecs if name not in KNOWN_CODECS]
    if unknown or getattr(array.metadata, "storage_transformers", ()):
        raise DataError(
            f"{path}: {key} uses {', '.join(unknown) or 'a storage transformer'}; "
            "logitnet reads zarr arrays, without sharding, coded with "
            f"{', '.join(sorted(KNOWN_CODECS))}: rewrite it with those"
        )
    shape, chunks = tuple(array.shape), tuple(array.chunks)
    grid = [-(-n // c) for n, c in zip(shape, chunks, strict=True)]
    n_chunks = math.prod(grid)
    dtype = np.dtype(array.dtype)
    chunk_bytes = math.prod(chunks) * dtype.itemsize
    fixed = dtype.kind not in "OTU" and dtype.itemsize > 0
    tiny = chunk_bytes < MIN_CHUNK_BYTES and n_chunks > MAX_SMALL_CHUNKS
    if fixed and (tiny or chunk_bytes > MAX_CHUNK_BYTES or n_chunks > MAX_CHUNKS):
        raise DataError(
            f"{path}: {key} is stored in chunks of shape {chunks} ({n_chunks} "
            f"chunks of {chunk_bytes} bytes); logitnet reads chunks of "
            f"{MIN_CHUNK_BYTES} bytes to {MAX_CHUNK_BYTES // 2**20} MiB (or a few "
            f"smaller ones), at most {MAX_CHUNKS:,} of them, in bounded memory: "
            "rewrite the store with other chunks"
        )
    stored = _chunk_files(path, key)
    raw = all(name in _RAW_CODECS for name in codecs) and fixed
    size = chunk_bytes + sum(_RAW_CODECS.get(name, 0) for name in codecs)
    missing, first = 0, None
    for coords in itertools.product(*map(range, grid)):
        name = array.metadata.encode_chunk_key(coords)
        if name not in stored:
            missing, first = missing + 1, first or name
        elif raw and stored[name] != size and stored[name] != _UNKNOWN:
            raise DataError(
                f"{path}: {key}'s chunk {name} holds {stored[name]} bytes, not "
                f"the {size} its shape declares; the store is damaged"
            )
    if missing:
        raise DataError(
            f"{path}: {key} is missing {missing} of its {n_chunks} chunks "
            f"(first: {first}), which zarr would read as {_value(array.fill_value)}; "
            "the store is damaged, or was written without "
            "write_empty_chunks=True (zarr then leaves out chunks of fill "
            "values): logitnet reads only values that are stored"
        )


def _value(fill_value) -> str:
    """A fill value as a user wrote it (0, not np.uint8(0))."""
    return repr(fill_value.item() if hasattr(fill_value, "item") else fill_value)


def _codecs(metadata) -> list[str]:
    """The names of an array's codecs, zarr v3's or v2's."""
    if hasattr(metadata, "codecs"):
        # zarr names numcodecs' codecs without a v3 spec "numcodecs.<id>".
        names = [codec.to_dict()["name"] for codec in metadata.codecs]
        return [name.removeprefix("numcodecs.") for name in names]
    found = [f.codec_id for f in metadata.filters or ()]
    if metadata.compressor is not None:
        found.append(metadata.compressor.codec_id)
    return found or ["bytes"]


def _chunk_files(path: Path | Url, key: str) -> dict[str, int]:
    """Each file under the array's folder (its name as a chunk key) and its
    size, metadata left out. Symbolic links are refused: their bytes live
    elsewhere. Stops past :data:`MAX_CHUNKS` files."""
    if isinstance(path, Url):
        return _chunk_objects(path, key)
    top = path / key
    if top.is_symlink():
        raise DataError(
            f"{path}: {key} is a symbolic link to {os.readlink(top)!r}; logitnet "
            "reads only data stored in the store itself"
        )
    found: dict[str, int] = {}
    for folder, folders, files in os.walk(top):
        for name in itertools.chain(folders, files):
            entry = Path(folder, name)
            if entry.is_symlink():
                raise DataError(
                    f"{path}: {key} holds a symbolic link, {entry.relative_to(path)}; "
                    "logitnet reads only data stored in the store itself"
                )
        for name in files:
            if name not in _METADATA:
                entry = Path(folder, name)
                found[entry.relative_to(top).as_posix()] = entry.stat().st_size
        if len(found) > MAX_CHUNKS:
            raise DataError(
                f"{path}: {key} holds more than {MAX_CHUNKS:,} files; logitnet "
                f"reads at most {MAX_CHUNKS:,} chunks"
            )
    return found


#: The size of an object a listing does not give (an HTTP server's page of
#: links): its bytes are checked when read (zarr refuses a raw chunk of the
#: wrong size), not before.
_UNKNOWN = -1


def _chunk_objects(url: Url, key: str) -> dict[str, int]:
    """:func:`_chunk_files` for a store on object storage: each object
    under the array's prefix and its size, from the filesystem's listing
    (one request per thousand objects on S3)."""
    fs, root = url.filesystem()
    top = f"{root}/{key}"
    try:
        listing = fs.find(top, detail=True)
    except Exception as e:
        raise failure(url, e) from None
    found: dict[str, int] = {}
    for name, info in listing.items():
        relative = name[len(top) :].lstrip("/")
        if relative.rsplit("/", 1)[-1] not in _METADATA:
            size = info.get("size")
            found[relative] = _UNKNOWN if size is None else int(size)
    if len(found) > MAX_CHUNKS:
        raise DataError(
            f"{url}: {key} holds more than {MAX_CHUNKS:,} objects; logitnet "
            f"reads at most {MAX_CHUNKS:,} chunks"
        )
    return found
