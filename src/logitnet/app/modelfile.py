"""Model files: a trained neuron kept on disk, safely, and put to use.

Format (version 2, and 3 for a model without a picture shape): a NumPy
``.npz`` archive holding exactly

- ``w``: float64 array of shape (n_x,), the weights;
- ``b``: float64 array of shape (), the bias;
- ``metadata``: a 0-d unicode array, a JSON object with ``format``
  (``"logitnet-model"``), ``format_version``, ``logitnet_version``,
  ``classes`` (the two class names, index = label), ``image_shape``
  ([height, width, channels]; null in version 3, which gives
  ``n_features`` instead), ``preprocessing`` (how a photo becomes the
  input, see :mod:`logitnet.data.images`; empty without a picture shape),
  ``training`` (data, solver settings, the cost curve), ``metrics`` (on the
  training and test sets; an undefined metric is ``null``, and a NaN an
  older file holds is read as None), optionally ``labels`` (the estimator's class
  labels when they are numbers, not the names) and ``feature_names``, and
  ``sha256``, the checksum of everything else: weights, bias and metadata.

A model with a picture shape is written as version 2, so that every
logitnet that reads version 2 reads it. :meth:`SavedModel.from_estimator`
(and :func:`save_model` given a fitted estimator) is the one conversion from
a fitted :class:`logitnet.LogisticRegression`; :meth:`SavedModel.to_estimator`
goes back, with the training settings the file records.

It is read with ``allow_pickle=False``: loading a file can never run code.
A file that is not a model file is named for what it is, from its first
bytes (:func:`logitnet.files.describe_file`); one that was cut short,
changed after it was written (the checksum no longer matches), written by
another program, or of an unknown version is refused with a message naming
it. Version 1 files (no checksum) are still read. Writes are atomic
(:func:`logitnet.files.atomic_path`).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from logitnet.app.evaluation import undefined_as_none
from logitnet.app.model import SavedModel
from logitnet.checks import check_class_names, check_image_shape
from logitnet.data.images import PREPROCESSING
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
#: The newest version: 3 allows a model without a picture shape.
FORMAT_VERSION = 3
#: Versions :func:`load_model` reads.
READABLE_VERSIONS = (1, 2, 3)

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
        With an estimator: the names of its ``classes_[0]`` and
        ``classes_[1]`` (default: the labels as text). A model is scored on
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
    path = Path(path)
    if not isinstance(model, SavedModel):
        model = SavedModel.from_estimator(
            model, image_shape=image_shape, classes=classes
        )
    elif image_shape is not None or classes is not None:
        raise ValueError(
            "image_shape= and classes= are for an estimator; a SavedModel has its own"
        )
    check_output_path(path)
    w = np.asarray(model.w, dtype=np.float64).ravel()
    b = np.asarray(model.b, dtype=np.float64)
    if b.size == 1:
        b = b.reshape(())  # a one-element array is a scalar bias
    shape = None if model.image_shape is None else [int(n) for n in model.image_shape]
    parts = (w, b, list(model.classes), shape, w.size if shape is None else None)
    _check_parts(path, *parts)
    metadata = {
        "format": FORMAT,
        # The oldest version that has what this model needs.
        "format_version": 2 if shape is not None else 3,
        "logitnet_version": model.logitnet_version,
        "classes": list(model.classes),
        "image_shape": shape,
        "preprocessing": model.preprocessing,
        "training": model.training,
        "metrics": undefined_as_none(model.metrics),  # NaN is written as null
    }
    if shape is None:
        metadata["n_features"] = w.size
    for key in ("labels", "feature_names"):
        if getattr(model, key) is not None:
            metadata[key] = getattr(model, key)
    _check_extras(path, metadata, w.size)
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
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        np.savez(f, **arrays)  # a file object: np.savez would add ".npz" to a name
    return path


def load_model(path: str | os.PathLike[str]) -> SavedModel:
    """Read and check a model file written by :func:`save_model`.

    Raises
    ------
    ModelFileError
        Naming the file and the problem: missing; not a model file, said
        for what it is (a directory, an HDF5 file, a PNG image, a text
        file, ...); truncated, foreign or tampered; an unknown format
        version; or weights that do not fit the image shape.
    """
    path = Path(path)
    what = describe_file(path)
    if what is None:
        raise ModelFileError(f"{path}: no such model file")
    if what != ZIP_ARCHIVE:
        # Said before anything parses it: NumPy would call an HDF5 file or
        # a PNG a pickle.
        raise ModelFileError(f"{path}: is {what}, not {A_MODEL_FILE}")
    try:
        # The file is opened here, not by np.load, so that it is closed even
        # when np.load fails part-way through a damaged archive.
        with open(path, "rb") as f, np.load(f, allow_pickle=False) as npz:
            names = set(npz.files)
            if names != {"w", "b", "metadata"}:
                if not any(n.endswith(".npy") for n in npz.zip.namelist()):
                    raise ModelFileError(f"{path}: is {what}, not {A_MODEL_FILE}")
                raise ModelFileError(
                    f"{path}: is a NumPy .npz archive of {sorted(names)}, not "
                    f"{A_MODEL_FILE} (which holds ['b', 'metadata', 'w'])"
                )
            # Sizes as the zip directory declares them, checked before a
            # byte is decompressed: a bomb costs nothing. (zipfile never
            # inflates a member past its declared size.)
            _check_size(path, npz, "metadata", MAX_METADATA_BYTES)
            _check_size(path, npz, "b", 8)
            metadata = _parse_metadata(path, npz["metadata"])
            _check_size(path, npz, "w", 8 * _declared_n_x(metadata))
            w, b = npz["w"], npz["b"]
    except ModelFileError:
        raise
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, KeyError) as e:
        raise ModelFileError(f"{path}: not a readable model file ({_reason(e)})") from e
    return _from_parts(path, w, b, metadata)


def load_picture_model(path: str | os.PathLike[str]) -> SavedModel:
    """:func:`load_model` for what classifies pictures (``predict``,
    ``explain``, ``evaluate``, ``report``, ``serve``): a model without a
    picture shape is refused too, in one line naming the file."""
    model = load_model(path)
    if model.image_shape is None:
        raise ModelFileError(f"{path}: {model.not_pictures()}")
    return model


def _check_size(path: Path, npz, name: str, limit: int) -> None:
    """Refuse member ``name`` if its declared size exceeds ``limit`` bytes
    of values (plus room for the .npy header)."""
    size = npz.zip.getinfo(f"{name}.npy").file_size
    if size > limit + _NPY_HEADER_BYTES:
        raise ModelFileError(
            f"{path}: not a logitnet model ('{name}' declares {size} bytes, "
            f"more than the {limit + _NPY_HEADER_BYTES} a model's {name} can take)"
        )


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


def _declared_n_x(metadata: Any) -> int:
    """How many weights the metadata calls for: the product of a valid image
    shape, or a version 3 file's ``n_features`` (else 0, and the weights are
    refused for their size or by :func:`_from_parts`)."""
    if not isinstance(metadata, dict):
        return 0
    shape, n_features = metadata.get("image_shape"), metadata.get("n_features")
    if shape is None:
        return n_features if _positive_int(n_features) else 0
    try:
        return math.prod(check_image_shape(shape))
    except ValueError:
        return 0


def _positive_int(value: Any) -> bool:
    return type(value) is int and value > 0


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
    path: Path, w: np.ndarray, b: np.ndarray, classes, shape, n_features
) -> None:
    """What a model must be, whether it is being saved or loaded: two class
    names, weights that fit the image shape (or, when it is None,
    ``n_features``), a scalar bias, all finite."""

    def bad(what: str) -> ModelFileError:
        return ModelFileError(f"{path}: {what}")

    try:
        check_class_names(classes)
    except ValueError as e:
        raise bad(str(e)) from None
    if shape is None:
        if not _positive_int(n_features):
            raise bad(
                "without an image shape, n_features must be a positive "
                f"integer; got {n_features!r}"
            )
        n_x, fit = n_features, f"for {n_features} features"
    else:
        try:
            check_image_shape(shape)
        except ValueError as e:
            raise bad(str(e)) from None
        n_x, fit = math.prod(shape), f"for images of shape {tuple(shape)}"
    if w.dtype != np.float64 or w.shape != (n_x,):
        raise bad(
            f"weights must be float64 of shape ({n_x},) {fit}; "
            f"got {w.dtype} of shape {w.shape}"
        )
    if b.dtype != np.float64 or b.shape != ():
        raise bad(f"bias must be a float64 scalar; got {b.dtype} of shape {b.shape}")
    if not (np.isfinite(w).all() and np.isfinite(b)):
        raise bad("weights or bias contain NaN or inf")


def _check_extras(path: Path, meta: dict, n_x: int) -> None:
    """The optional ``labels`` (two distinct numbers or strings, the
    estimator's ``classes_``) and ``feature_names`` (n_x strings)."""
    labels, names = meta.get("labels"), meta.get("feature_names")
    if labels is not None and not (
        isinstance(labels, list)
        and len(labels) == 2
        and all(isinstance(label, str | int | float) for label in labels)
        and labels[0] != labels[1]
    ):
        raise ModelFileError(
            f"{path}: 'labels' must be two different numbers or strings; got {labels!r}"
        )
    if names is not None and not (
        isinstance(names, list)
        and len(names) == n_x
        and all(isinstance(name, str) for name in names)
    ):
        raise ModelFileError(f"{path}: 'feature_names' must be {n_x} strings")


def _from_parts(path: Path, w: np.ndarray, b: np.ndarray, meta: Any) -> SavedModel:
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
    classes, shape = meta.get("classes"), meta.get("image_shape")
    if version < 3 and shape is None:  # only version 3 has models without one
        try:
            check_image_shape(shape)
        except ValueError as e:
            raise ModelFileError(f"{path}: {e}") from None
    _check_parts(path, w, b, classes, shape, meta.get("n_features"))
    _check_extras(path, meta, w.size)
    if version >= 2 and meta.get("sha256") != _checksum(w, b, meta):
        raise ModelFileError(
            f"{path}: weights or metadata do not match the file's checksum "
            "(the file was changed after logitnet wrote it)"
        )
    for key in ("training", "metrics", "preprocessing"):
        if not isinstance(meta.get(key, {}), dict):
            raise ModelFileError(f"{path}: {key!r} must be a JSON object")
    default = PREPROCESSING if version >= 2 else _V1_PREPROCESSING
    return SavedModel(
        w=w,
        b=float(b),
        classes=classes,
        image_shape=None if shape is None else tuple(shape),
        training=meta.get("training", {}),
        metrics=undefined_as_none(meta.get("metrics", {})),
        preprocessing=meta.get("preprocessing", dict(default)),
        logitnet_version=meta.get("logitnet_version", "unknown"),
        labels=meta.get("labels"),
        feature_names=meta.get("feature_names"),
    )
