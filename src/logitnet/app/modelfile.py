"""Model files: a trained neuron kept on disk, safely, and put to use.

Format (version 2): a NumPy ``.npz`` archive holding exactly

- ``w``: float64 array of shape (n_x,), the weights;
- ``b``: float64 array of shape (), the bias;
- ``metadata``: a 0-d unicode array, a JSON object with ``format``
  (``"logitnet-model"``), ``format_version`` (2), ``logitnet_version``,
  ``classes`` (the two class names, index = label), ``image_shape``
  ([height, width, channels]), ``preprocessing`` (how a photo becomes the
  input, see :mod:`logitnet.data.images`), ``training`` (data, solver settings,
  the cost curve), ``metrics`` (on the training and test sets; an
  undefined metric is ``null``, and a NaN an older file holds is read as
  None) and
  ``sha256``, the checksum of everything else: weights, bias and metadata.

It is read with ``allow_pickle=False``: loading a file can never run code.
A file that was cut short, changed after it was written (the checksum no
longer matches), written by another program, or of an unknown version is
refused with a message naming it. Version 1 files (no checksum) are still
read. Writes are atomic (:func:`logitnet.files.atomic_path`).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from logitnet import __version__
from logitnet.app.evaluation import undefined_as_none
from logitnet.app.prediction import classify, model_input
from logitnet.checks import check_class_names, check_image_shape
from logitnet.data.images import PREPROCESSING
from logitnet.exceptions import ModelFileError
from logitnet.files import atomic_path, check_input_file, check_output_path

__all__ = [
    "FORMAT",
    "FORMAT_VERSION",
    "READABLE_VERSIONS",
    "SavedModel",
    "load_model",
    "save_model",
]

FORMAT = "logitnet-model"
FORMAT_VERSION = 2
#: Versions :func:`load_model` reads.
READABLE_VERSIONS = (1, 2)

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


@dataclass
class SavedModel:
    """A trained neuron and what is needed to use it.

    Attributes
    ----------
    w : ndarray of shape (n_x,), float64
    b : float
    classes : list of str
        Class names; label i is ``classes[i]``.
    image_shape : tuple of int
        (height, width, channels) the model takes; n_x is their product.
    training : dict
        Solver settings and the recorded costs.
    metrics : dict
        Accuracy on the training and test sets, in percent, and the full
        metrics of each (:mod:`logitnet.app.evaluation`); None where a
        metric is undefined.
    preprocessing : dict
    logitnet_version : str
    """

    w: NDArray[np.float64]
    b: float
    classes: list[str]
    image_shape: tuple[int, ...]
    training: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    preprocessing: dict[str, str] = field(default_factory=lambda: dict(PREPROCESSING))
    logitnet_version: str = __version__

    # -- using the model -------------------------------------------------------

    def to_estimator(self):
        """The model as a fitted :class:`logitnet.LogisticRegression`.

        Its ``classes_`` are the class names in label order, so
        ``predict_proba``'s columns are ``classes``.
        """
        from logitnet.core.estimator import LogisticRegression

        est = LogisticRegression()
        est.classes_ = np.array(self.classes, dtype=object)
        est.coef_ = np.asarray(self.w, np.float64).reshape(1, -1)
        est.intercept_ = np.array([self.b], np.float64)
        est.n_features_in_ = est.coef_.shape[1]
        est.n_iter_ = np.array([self.training.get("n_iter", 0)])
        est.converged_ = bool(self.training.get("converged", False))
        est.loss_curve_ = list(self.training.get("costs", []))
        est.representation_ = self.training.get("representation", "primal")
        return est

    def images_to_X(self, images) -> NDArray[np.float64]:
        """Pictures as the model's input matrix.

        Parameters
        ----------
        images : path-like, PIL image, ndarray, or a sequence of them
            One picture, or several (at least one); an ndarray of shape
            (k, h, w, c) is k pictures. See
            :func:`logitnet.data.images.read_image`.

        Returns
        -------
        X : ndarray of shape (k, height * width * channels), float64
            One flattened, scaled picture per row
            (:func:`logitnet.app.prediction.model_input`).
        """
        return model_input(self, self._pictures(images))

    def predict_proba(self, images) -> NDArray[np.float64]:
        """Probability of each class for each picture (see ``images_to_X``).

        Returns
        -------
        proba : ndarray of shape (k, 2)
            Columns in the order of ``classes``.
        """
        return classify(self, self._pictures(images)).probabilities

    def predict(self, images) -> list[str]:
        """The more probable class name of each picture (see ``images_to_X``)."""
        return classify(self, self._pictures(images)).labels

    def _pictures(self, images) -> NDArray[np.uint8]:
        """Pictures read and brought to ``image_shape``: (k, h, w, c) uint8."""
        from logitnet.data.images import read_image

        batch = [read_image(image, self.image_shape) for image in _as_list(images)]
        return np.stack(batch) if batch else np.empty((0, *self.image_shape), np.uint8)


def _as_list(images) -> list:
    """One picture or several, as a list of pictures."""
    from PIL import Image

    if isinstance(images, str | os.PathLike | Image.Image):
        return [images]
    if isinstance(images, np.ndarray):
        return list(images) if images.ndim == 4 else [images]
    return list(images)


def save_model(path: str | os.PathLike[str], model: SavedModel) -> Path:
    """Write ``model`` to ``path`` atomically.

    Parameters
    ----------
    path : path-like
        The file to write (any name; no suffix is added). Its directory must
        exist.
    model : SavedModel

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
    OSError
        If the disk refuses the write; ``path`` is then left as it was.
    """
    path = Path(path)
    check_output_path(path)
    w = np.asarray(model.w, dtype=np.float64).ravel()
    b = np.asarray(model.b, dtype=np.float64)
    if b.size == 1:
        b = b.reshape(())  # a one-element array is a scalar bias
    shape = list(model.image_shape)
    _check_parts(path, w, b, list(model.classes), shape)
    metadata = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "logitnet_version": model.logitnet_version,
        "classes": list(model.classes),
        "image_shape": [int(n) for n in shape],
        "preprocessing": model.preprocessing,
        "training": model.training,
        "metrics": undefined_as_none(model.metrics),  # NaN is written as null
    }
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
        Naming the file and the problem: missing, a directory, not a model
        file (truncated, foreign, tampered), an unknown format version, or
        weights that do not fit the image shape.
    """
    path = check_input_file(
        path, "a model file", ModelFileError, missing="no such model file"
    )
    try:
        # The file is opened here, not by np.load, so that it is closed even
        # when np.load fails part-way through a damaged archive.
        with open(path, "rb") as f:
            npz = np.load(f, allow_pickle=False)
            if not isinstance(npz, np.lib.npyio.NpzFile):
                raise ModelFileError(
                    f"{path}: not a logitnet model (a single .npy array, "
                    "not an .npz archive)"
                )
            with npz:
                names = set(npz.files)
                if names != {"w", "b", "metadata"}:
                    raise ModelFileError(
                        f"{path}: not a logitnet model (holds {sorted(names)}, "
                        "expected ['b', 'metadata', 'w'])"
                    )
                # Sizes as the zip directory declares them, checked before a
                # byte is decompressed: a bomb costs nothing. (zipfile never
                # inflates a member past its declared size.)
                _check_size(path, npz, "metadata", MAX_METADATA_BYTES)
                _check_size(path, npz, "b", 8)
                raw = npz["metadata"]
                metadata = _parse_metadata(path, raw)
                _check_size(path, npz, "w", 8 * _declared_n_x(metadata))
                w, b = npz["w"], npz["b"]
    except ModelFileError:
        raise
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, KeyError) as e:
        raise ModelFileError(f"{path}: not a readable model file ({_reason(e)})") from e
    return _from_parts(path, w, b, metadata)


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
    """How many weights the metadata's image shape calls for (a valid shape;
    else 0, and the weights are refused for their size or by _from_parts)."""
    shape = metadata.get("image_shape") if isinstance(metadata, dict) else None
    try:
        return math.prod(check_image_shape(shape))
    except ValueError:
        return 0


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


def _check_parts(path: Path, w: np.ndarray, b: np.ndarray, classes, shape) -> None:
    """What a model must be, whether it is being saved or loaded."""

    def bad(what: str) -> ModelFileError:
        return ModelFileError(f"{path}: {what}")

    try:
        check_class_names(classes)
    except ValueError as e:
        raise bad(str(e)) from None
    try:
        # A JSON list; a tuple reaches here only from a SavedModel being saved.
        check_image_shape(list(shape) if isinstance(shape, tuple) else shape)
    except ValueError as e:
        raise bad(str(e)) from None
    n_x = math.prod(shape)
    if w.dtype != np.float64 or w.shape != (n_x,):
        raise bad(
            f"weights must be float64 of shape ({n_x},) for images of shape "
            f"{tuple(shape)}; got {w.dtype} of shape {w.shape}"
        )
    if b.dtype != np.float64 or b.shape != ():
        raise bad(f"bias must be a float64 scalar; got {b.dtype} of shape {b.shape}")
    if not (np.isfinite(w).all() and np.isfinite(b)):
        raise bad("weights or bias contain NaN or inf")


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
    _check_parts(path, w, b, classes, shape)
    if version >= 2 and meta.get("sha256") != _checksum(w, b, meta):
        raise ModelFileError(
            f"{path}: weights or metadata do not match the file's checksum "
            "(the file was changed after logitnet wrote it)"
        )
    for key in ("training", "metrics", "preprocessing"):
        if not isinstance(meta.get(key, {}), dict):
            raise ModelFileError(f"{path}: {key!r} must be a JSON object")
    return SavedModel(
        w=w,
        b=float(b),
        classes=classes,
        image_shape=tuple(shape),
        training=meta.get("training", {}),
        metrics=undefined_as_none(meta.get("metrics", {})),
        preprocessing=meta.get(
            "preprocessing", dict(PREPROCESSING if version >= 2 else _V1_PREPROCESSING)
        ),
        logitnet_version=meta.get("logitnet_version", "unknown"),
    )
