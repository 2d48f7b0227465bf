"""Model files: a trained neuron kept on disk, safely, and put to use.

Format (version 2; 3 for a model without a picture shape; 4 for k >= 3
classes): a NumPy ``.npz`` archive holding exactly

- ``w``: float64 array of shape (n_x,), the weights; for k >= 3 classes
  (k, n_x), one row per class (``SavedModel.w`` is its transpose, one
  column per class, as the core computes);
- ``b``: float64 array of shape (), the bias; (k,) for k >= 3 classes;
- ``metadata``: a 0-d unicode array, a JSON object with ``format``
  (``"logitnet-model"``), ``format_version``, ``logitnet_version``,
  ``classes`` (the class names, index = label), ``image_shape``
  ([height, width, channels]; null in version 3, which gives
  ``n_features`` instead), ``preprocessing`` (how a photo becomes the
  input, see :mod:`logitnet.data.images`; empty without a picture shape),
  ``training`` (data, solver settings, the cost curve), ``metrics`` (on the
  training and test sets; an undefined metric is ``null``, and a NaN an
  older file holds is read as None), optionally ``labels`` (the estimator's class
  labels when they are numbers, not the names) and ``feature_names``, and
  ``sha256``, the checksum of everything else: weights, bias and metadata.

A two-class model with a picture shape is written as version 2, so that
every logitnet that reads version 2 reads it; a file of a version this
logitnet does not know is refused by its number. :meth:`SavedModel.from_estimator`
(and :func:`save_model` given a fitted estimator) is the one conversion from
a fitted :class:`logitnet.LogisticRegression`; :meth:`SavedModel.to_estimator`
goes back, with the training settings the file records.

Its members are read as .npy arrays, never unpickled: loading a file can
never run code. A file that is not a model file is named for what it is,
from its first bytes (:func:`logitnet.files.describe_file`); one that was
cut short, changed after it was written (the checksum no longer matches),
written by another program, of an unknown version, with a member twice or a
member that is not an array, or with a metadata field of the wrong type or
range (:mod:`logitnet.app.modelschema`, which also bounds the picture shape)
is refused with a message naming it, before anything uses it. Version 1
files (no checksum) are still read. Writes are atomic
(:func:`logitnet.files.atomic_path`); to a URL (object storage,
:mod:`logitnet.data.storage`) the finished file is written in one request,
so no half-written model is ever there.
"""

from __future__ import annotations

import hashlib
import io
import json
import lzma
import math
import os
import stat
import zipfile
import zlib
from pathlib import Path
from typing import Any

import numpy as np

from logitnet.app.evaluation import undefined_as_none
from logitnet.app.model import SavedModel, features_not_pictures
from logitnet.app.modelschema import check_fields, model_inputs
from logitnet.data.images import PREPROCESSING
from logitnet.data.storage import StorageError, Url, failure, locate
from logitnet.exceptions import ModelFileError
from logitnet.files import ZIP_ARCHIVE, atomic_path, check_output_path, describe_file

__all__ = [
    "FORMAT",
    "FORMAT_VERSION",
    "READABLE_VERSIONS",
    "SavedModel",
    "load_model",
    "load_picture_model",
    "save_model",
]

FORMAT = "logitnet-model"
#: The newest version: 3 allows a model without a picture shape, 4 a model
#: of k >= 3 classes (w of shape (k, n_x), b of shape (k,)).
FORMAT_VERSION = 4
#: Versions :func:`load_model` reads.
READABLE_VERSIONS = (1, 2, 3, 4)

#: What a file given as a model should have been.
A_MODEL_FILE = "a model file from 'logitnet train --out'"

#: Largest metadata member accepted (its size as the zip directory declares
#: it, checked before anything is decompressed): the cost curve of a long
#: training run is far below it.
MAX_METADATA_BYTES = 16 * 2**20

#: Deepest nesting of JSON objects and lists accepted in the metadata.
MAX_METADATA_DEPTH = 32

#: Room for an .npy member's header beside its values.
_NPY_HEADER_BYTES = 4096

#: How much of a member is decompressed at a time.
_READ_BYTES = 2**20

#: What version 1 files said of their preprocessing, when they say nothing.
_V1_PREPROCESSING = {
    "flatten": "C order: (height, width, channels) -> height*width*channels",
    "scale": "pixel / 255",
}


def save_model(
    path: str | os.PathLike[str],
    model,
    *,
    image_shape: tuple[int, int, int] | None = None,
    classes: list[str] | None = None,
) -> Path:
    """Write ``model`` to ``path`` atomically.

    Parameters
    ----------
    path : path-like
        The file to write (any name; no suffix is added). Its directory must
        exist.
    model : SavedModel or LogisticRegression
        A model, or a fitted :class:`logitnet.LogisticRegression`
        (converted by :meth:`SavedModel.from_estimator`: class names from
        its ``classes_``, its settings and cost curve).
    image_shape : (height, width, channels), optional
        With an estimator fitted on pictures: their shape. Its X must have
        been the pictures flattened in C order and divided by 255
        (:func:`logitnet.app.prediction.pictures_to_X`), as the model file
        records; ``logitnet predict``, ``explain``, ``serve`` and
        ``report`` then take the file. Without it the model takes
        ``n_features_in_`` features, and loads back for
        :meth:`SavedModel.to_estimator`.
    classes : list of str, optional
        With an estimator: the names of its ``classes_[0]``,
        ``classes_[1]``, ... (default: the labels as text). A model is scored on
        a data set whose class names are the model's, in the same order:
        ``["non-cat", "cat"]`` for one fitted on the course's 0/1 labels.

    Returns
    -------
    Path
        ``path``.

    Raises
    ------
    OutputPathError
        If the directory is missing, or ``path`` is a directory or another
        non-regular file.
    ModelFileError
        If the model is one that :func:`load_model` would
        refuse (weights that do not fit the image shape, NaN or inf, not two
        class names), or its training and metrics are not JSON-serializable.
        Nothing is written then.
    TypeError, sklearn.exceptions.NotFittedError
        If ``model`` is neither a SavedModel nor a fitted estimator; see
        :meth:`SavedModel.from_estimator`.
    OSError
        If the disk refuses the write; ``path`` is then left as it was.

    Examples
    --------
    >>> from logitnet import LogisticRegression
    >>> from logitnet.app.prediction import pictures_to_X
    >>> pictures = np.random.default_rng(0).integers(0, 256, (20, 4, 4, 3), np.uint8)
    >>> labels = pictures.mean(axis=(1, 2, 3)) > 127
    >>> clf = LogisticRegression(solver="lbfgs").fit(pictures_to_X(pictures), labels)
    >>> save_model("mine.npz", clf, image_shape=(4, 4, 3), classes=["dark", "bright"])
    PosixPath('mine.npz')
    >>> labels[:3]
    array([False,  True,  True])
    >>> load_model("mine.npz").predict(pictures[:3])
    ['dark', 'bright', 'bright']
    """
    path = locate(path)
    if not isinstance(model, SavedModel):
        model = SavedModel.from_estimator(
            model, image_shape=image_shape, classes=classes
        )
    elif image_shape is not None or classes is not None:
        raise ValueError(
            "image_shape= and classes= are for an estimator; a SavedModel has its own"
        )
    if isinstance(path, Url):
        path.check_writable()
    else:
        check_output_path(path)
    shape, names = model.image_shape, model.classes
    w = np.asarray(model.w, dtype=np.float64)
    b = np.asarray(model.b, dtype=np.float64)
    if w.ndim == 2:  # k classes: one row of weights per class in the file
        w = np.ascontiguousarray(w.T)
    else:
        w = w.ravel()
        if b.size == 1:
            b = b.reshape(())  # a one-element array is a scalar bias
    metadata = {
        "format": FORMAT,
        # The oldest version that has what this model needs.
        "format_version": 4 if w.ndim == 2 else 2 if shape is not None else 3,
        "logitnet_version": model.logitnet_version,
        "classes": list(names) if isinstance(names, tuple | list) else names,
        "image_shape": list(shape) if isinstance(shape, tuple | list) else shape,
        "preprocessing": model.preprocessing,
        "training": model.training,
        "metrics": undefined_as_none(model.metrics),  # NaN is written as null
    }
    if shape is None:
        metadata["n_features"] = w.shape[-1]
    for key in ("labels", "feature_names"):
        if getattr(model, key) is not None:
            metadata[key] = getattr(model, key)
    _, shape, n_x = _check_metadata(path, metadata)
    if shape is not None:
        metadata["image_shape"] = list(shape)  # NumPy integers as ints
    _check_parts(path, w, b, n_x, shape, len(names))
    try:
        text = json.dumps(metadata, sort_keys=True, allow_nan=False)
    except (TypeError, ValueError) as e:
        raise ModelFileError(
            f"{path}: training settings and metrics must be JSON-serializable "
            f"(plain finite numbers, strings, lists, dicts): {e}"
        ) from e
    metadata["sha256"] = _checksum(w, b, metadata)
    text = json.dumps(metadata, sort_keys=True, allow_nan=False)
    arrays = {"w": w, "b": b, "metadata": np.array(text)}
    if isinstance(path, Url):
        finished = io.BytesIO()
        np.savez(finished, **arrays)
        path.write_bytes(finished.getvalue())  # one PUT of the whole file
        return path
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        np.savez(f, **arrays)  # a file object: np.savez would add ".npz" to a name
    return path


def load_model(path: str | os.PathLike[str]) -> SavedModel:
    """Read and check a model file written by :func:`save_model`.

    Everything is checked here, once, so that nothing that uses the model
    afterwards can fail on what the file holds: the archive's members (each
    once, NumPy arrays, no larger than a model's, checked before a byte is
    decompressed), every metadata field logitnet reads
    (:mod:`logitnet.app.modelschema`: the picture shape within its bounds
    before the weights are read), the weights and bias, the checksum.

    Raises
    ------
    ModelFileError
        Naming the file and the problem: missing; not a model file, said
        for what it is (a directory, an HDF5 file, a PNG image, a text
        file, ...); truncated, foreign or tampered; a member that is not an
        array, or is there twice; an unknown format version; a metadata
        field of the wrong type or out of range, by name; or weights that
        do not fit the image shape.
    """
    return _load(locate(path), pictures=False)


def load_picture_model(path: str | os.PathLike[str]) -> SavedModel:
    """:func:`load_model` for what classifies pictures (``predict``,
    ``explain``, ``evaluate``, ``report``, ``serve``): a model without a
    picture shape is refused too, in one line naming the file, before its
    weights are read."""
    return _load(locate(path), pictures=True)


def _load(path: Path | Url, *, pictures: bool) -> SavedModel:
    if isinstance(path, Url):
        return _load_url(path, pictures=pictures)
    what = describe_file(path)
    if what is None:
        raise ModelFileError(f"{path}: no such model file")
    _check_zip(path, what)
    with open(path, "rb") as f:
        return _load_archive(path, f, what, pictures=pictures)


def _load_url(url: Url, *, pictures: bool) -> SavedModel:
    """:func:`_load` on object storage: the archive read by ranges."""
    from logitnet.files import HEAD_BYTES, describe_bytes

    head = url.head(HEAD_BYTES)
    if head is None:
        raise ModelFileError(f"{url}: {url.missing('no such model file')}")
    what = describe_bytes(head)
    _check_zip(url, what)
    try:
        with url.open_to_read() as f:
            return _load_archive(url, f, what, pictures=pictures)
    except (ModelFileError, StorageError):
        raise
    except Exception as e:
        raise failure(url, e) from None


def _check_zip(path, what: str) -> None:
    if what != ZIP_ARCHIVE:  # said first: NumPy would call an HDF5 file a pickle
        raise ModelFileError(f"{path}: is {what}, not {A_MODEL_FILE}")


def _load_archive(path, f, what: str, *, pictures: bool) -> SavedModel:
    """The model in the open file ``f`` (``what`` its first bytes are)."""
    try:
        with zipfile.ZipFile(f) as archive:
            _check_members(path, archive, what)
            raw = _read_array(path, archive, "metadata", MAX_METADATA_BYTES)
            metadata = _parse_metadata(path, raw)
            version, shape, n_x = _check_metadata(path, metadata)
            if pictures and shape is None:
                raise ModelFileError(f"{path}: {features_not_pictures(n_x)}")
            rows = _weight_rows(metadata)
            w = _read_array(path, archive, "w", 8 * n_x * rows)
            b = _read_array(path, archive, "b", 8 * rows)
    except (ModelFileError, StorageError):
        raise
    except _UNREADABLE as e:
        if isinstance(path, Url) and isinstance(failure(path, e), StorageError):
            raise failure(path, e) from None
        raise ModelFileError(f"{path}: not a readable model file ({_reason(e)})") from e
    _check_parts(path, w, b, n_x, shape, len(metadata["classes"]))
    if version >= 2 and metadata.get("sha256") != _checksum(w, b, metadata):
        raise ModelFileError(
            f"{path}: weights or metadata do not match the file's checksum "
            "(the file was changed after logitnet wrote it)"
        )
    default = PREPROCESSING if version >= 2 else _V1_PREPROCESSING
    return SavedModel(
        w=w.T if w.ndim == 2 else w,  # (n_x, k): one column per class, as fitted
        b=b.copy() if b.ndim else float(b),
        classes=metadata["classes"],
        image_shape=shape,
        training=metadata.get("training", {}),
        metrics=undefined_as_none(metadata.get("metrics", {})),
        preprocessing=metadata.get("preprocessing", dict(default)),
        logitnet_version=metadata.get("logitnet_version", "unknown"),
        labels=metadata.get("labels"),
        feature_names=metadata.get("feature_names"),
    )


#: What a damaged archive or member raises while it is read.
_UNREADABLE = (
    OSError,
    ValueError,
    EOFError,
    KeyError,
    NotImplementedError,  # a compression method zipfile does not know
    zipfile.BadZipFile,
    zlib.error,
    lzma.LZMAError,
)

#: The members of a model file, each exactly once.
_MEMBERS = {"w.npy", "b.npy", "metadata.npy"}


def _check_members(path: Path, archive: zipfile.ZipFile, what: str) -> None:
    """A model file holds ``w.npy``, ``b.npy`` and ``metadata.npy``, each
    once (zipfile would silently read the last of two copies)."""
    names = archive.namelist()
    if set(names) != _MEMBERS:
        if not any(n.endswith(".npy") for n in names):
            raise ModelFileError(f"{path}: is {what}, not {A_MODEL_FILE}")
        arrays = sorted({n.removesuffix(".npy") for n in names})
        raise ModelFileError(
            f"{path}: is a NumPy .npz archive of {arrays}, not "
            f"{A_MODEL_FILE} (which holds ['b', 'metadata', 'w'])"
        )
    for name in sorted(_MEMBERS):
        if names.count(name) > 1:
            raise ModelFileError(
                f"{path}: member '{name}' is in the archive {names.count(name)} "
                "times (a model file holds each member once)"
            )


def _read_array(path: Path, archive: zipfile.ZipFile, name: str, limit: int):
    """Member ``name``.npy as an array, at most ``limit`` bytes of values.

    Its size as the zip directory declares it is checked before a byte is
    decompressed (zipfile never inflates a member past it), so a bomb costs
    nothing; then its .npy header, before any value is read: an array
    (never Python objects), of no more values than the member holds.
    """
    member = f"{name}.npy"
    info = archive.getinfo(member)

    def bad(problem: str) -> ModelFileError:
        return ModelFileError(f"{path}: member '{member}' {problem}")

    if stat.S_ISLNK(info.external_attr >> 16):
        raise bad("is a symbolic link, not NumPy .npy data")
    if info.flag_bits & 0x1:
        raise bad("is encrypted")
    if info.file_size > limit + _NPY_HEADER_BYTES:
        raise ModelFileError(
            f"{path}: not a logitnet model ('{name}' declares {info.file_size} "
            f"bytes, more than the {limit + _NPY_HEADER_BYTES} a model's {name} "
            "can take)"
        )
    with archive.open(info) as f:
        try:
            version = np.lib.format.read_magic(f)
        except ValueError:
            raise bad("is not NumPy .npy data") from None
        if version not in ((1, 0), (2, 0)):  # what np.save writes for numbers
            raise bad(f"is .npy version {version[0]}.{version[1]}, not a model's")
        try:
            if version == (1, 0):
                shape, fortran, dtype = np.lib.format.read_array_header_1_0(f)
            else:
                shape, fortran, dtype = np.lib.format.read_array_header_2_0(f)
        except ValueError as e:
            raise bad(f"has a damaged .npy header ({e})") from None
        if dtype.hasobject:
            raise bad("holds Python objects, which a model file never does")
        size = math.prod(shape) * dtype.itemsize
        if dtype.itemsize == 0 or size > info.file_size:
            raise bad(f"declares {size} bytes of {dtype} values in {info.file_size}")
        # Read in pieces into the array's own memory: one copy of the values,
        # none of them twice in memory.
        values, done = bytearray(size), 0
        while done < size:
            piece = f.read(min(_READ_BYTES, size - done))
            if not piece:
                raise bad("is cut short")
            values[done : done + len(piece)] = piece
            done += len(piece)
        if f.read(1):  # at the end, zipfile checks the CRC
            raise bad("holds more bytes than its array")
    order = "F" if fortran else "C"
    return np.frombuffer(values, dtype).reshape(shape, order=order)


def _parse_metadata(path: Path, raw: np.ndarray) -> Any:
    """The metadata member's JSON, refused when not text, not JSON or
    nested deeper than :data:`MAX_METADATA_DEPTH`."""
    if raw.dtype.kind != "U" or raw.shape != ():
        raise ModelFileError(
            f"{path}: not a logitnet model (metadata must be one string; got "
            f"{raw.dtype} of shape {raw.shape})"
        )
    try:
        metadata = json.loads(str(raw))
    except RecursionError:
        metadata = None
    except ValueError as e:
        raise ModelFileError(f"{path}: metadata is not valid JSON ({e})") from e
    if metadata is None or _depth(metadata) > MAX_METADATA_DEPTH:
        raise ModelFileError(
            f"{path}: metadata is nested too deep (more than "
            f"{MAX_METADATA_DEPTH} levels of objects and lists)"
        )
    return metadata


def _depth(value: Any) -> int:
    """How deeply JSON objects and lists nest in ``value`` (no recursion)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            deepest = max(deepest, depth)
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children)
    return deepest


def _check_metadata(path: Path, meta: Any) -> tuple[int, tuple | None, int]:
    """The format tag and version, then every field
    (:mod:`logitnet.app.modelschema`), whether a model is being saved or
    loaded: (version, picture shape or None, n_x)."""
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise ModelFileError(
            f"{path}: not a logitnet model (no 'logitnet-model' format tag)"
        )
    version = meta.get("format_version")
    if type(version) is not int or version not in READABLE_VERSIONS:
        raise ModelFileError(
            f"{path}: model format version {version!r} is not supported "
            f"(this logitnet reads versions "
            f"{', '.join(map(str, READABLE_VERSIONS))}; a newer logitnet wrote it?)"
        )
    try:
        shape, n_x = model_inputs(meta, version)
        check_fields(meta, n_x)
    except ValueError as e:
        raise ModelFileError(f"{path}: {e}") from None
    k = len(meta["classes"])
    if (k > 2) != (version >= 4):
        raise ModelFileError(
            f"{path}: a model file of format version {version} holds "
            f"{'two classes' if version < 4 else 'three or more classes'}; "
            f"this one names {k}"
        )
    return version, shape, n_x


def _reason(error: BaseException) -> str:
    """Why NumPy or zipfile could not read a member, without NumPy's advice
    to allow pickles: a model file never holds Python objects, and logitnet
    never unpickles."""
    text = str(error)
    if "pickle" in text.lower():
        return "it holds Python objects, which a model file never does"
    return text or type(error).__name__


def _checksum(w: np.ndarray, b: np.ndarray, metadata: dict) -> str:
    """SHA-256 of the weights, the bias and the metadata but its checksum."""
    rest = {k: v for k, v in metadata.items() if k != "sha256"}
    digest = hashlib.sha256(w.astype("<f8").tobytes())
    digest.update(b.astype("<f8").tobytes())
    digest.update(json.dumps(rest, sort_keys=True).encode("utf-8"))
    return digest.hexdigest()


def _check_parts(
    path: Path, w: np.ndarray, b: np.ndarray, n_x: int, shape: tuple | None, k: int
) -> None:
    """What the arrays must be, whether a model is being saved or loaded:
    weights that fit the picture shape (or, when it is None, ``n_x``
    features), one row of them per class for k >= 3 classes, a bias per
    class (a scalar for two), all finite."""
    fit = f"for {n_x} features" if shape is None else f"for images of shape {shape}"
    rows = () if k == 2 else (k,)
    if w.dtype != np.float64 or w.shape != (*rows, n_x):
        raise ModelFileError(
            f"{path}: weights must be float64 of shape {(*rows, n_x)} {fit}"
            f"{'' if k == 2 else f' and {k} classes'}; "
            f"got {w.dtype} of shape {w.shape}"
        )
    if b.dtype != np.float64 or b.shape != rows:
        kind = "a float64 scalar" if k == 2 else f"float64 of shape ({k},)"
        raise ModelFileError(
            f"{path}: bias must be {kind}; got {b.dtype} of shape {b.shape}"
        )
    if not (np.isfinite(w).all() and np.isfinite(b).all()):
        raise ModelFileError(f"{path}: weights or bias contain NaN or inf")


def _weight_rows(metadata: dict) -> int:
    """Rows of weights a model's file holds: one for two classes (the
    sigmoid's w), k for k >= 3 (the softmax's)."""
    k = len(metadata["classes"])
    return 1 if k == 2 else k
