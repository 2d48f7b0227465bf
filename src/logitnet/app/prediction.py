"""A model put to use: pictures in, the model's answers out.

:func:`classify` is the one path from a batch of pictures to the model's
answers; :meth:`SavedModel.predict_proba <logitnet.app.modelfile.SavedModel>`,
:meth:`SavedModel.predict`, :func:`logitnet.app.evaluation.evaluate` and the
``predict`` and ``explain`` commands all go through it. A picture becomes the
model's input as in training (:func:`logitnet.core.pixels.flatten`, then
:func:`~logitnet.core.pixels.scale`), and the answers come from the math the
estimator's ``decision_function``, ``predict_proba`` and ``predict`` use
(:func:`logitnet.core.loss.decision_function` and
:func:`~logitnet.core.loss.probabilities`, label ``classes[1]`` where
z > 0), so nothing here re-derives it. No estimator is built: a prediction
imports NumPy, Pillow and the model file, not scikit-learn.

:func:`predict_files` is ``logitnet predict`` as a function: picture files
and directories in, one result per file out, a file that cannot be read
recorded as an error instead of stopping the others.

:func:`format_probabilities` is how a person reads an answer, wherever it
is shown (``predict``, ``explain``, the report and the galleries): ``cat
78.1 %, non-cat 21.9 %``. JSON keeps the numbers whole.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from logitnet.exceptions import LogitnetError

if TYPE_CHECKING:
    from logitnet.app.modelfile import SavedModel

__all__ = [
    "DEFAULT_TOP",
    "Predictions",
    "classify",
    "format_probabilities",
    "model_input",
    "pictures_to_X",
    "predict_file",
    "predict_files",
    "predict_pictures",
    "top_classes",
    "without_name",
]

#: The error recorded for a directory named on the command line that holds
#: no image files.
NO_IMAGES = "directory holds no image files"

#: The error recorded for a URL named as a picture (after "PATH: ").
NOT_ON_DISK = "is a URL, not a picture on disk; download it first"


@dataclass
class Predictions:
    """The model's answers for k pictures.

    Attributes
    ----------
    decision_values : ndarray of shape (k,) or (k, n_classes), float64
        Two classes: z = w . x + b, the log-odds of ``classes[1]``; more:
        one z per class.
    probabilities : ndarray of shape (k, n_classes), float64
        The probability of each class, columns in the order of ``classes``.
    labels : list of str
        The most probable class name of each picture (two classes:
        ``classes[1]`` where z > 0).
    classes : list of str
        The model's class names, the columns of ``probabilities``.
    """

    decision_values: NDArray[np.float64]
    probabilities: NDArray[np.float64]
    labels: list[str]
    classes: list[str]

    def answer(self, i: int) -> dict[str, Any]:
        """Picture i's ``{"label", "probabilities": {class: p}}``, as
        ``predict --json`` gives it."""
        return {
            "label": self.labels[i],
            "probabilities": dict(
                zip(self.classes, map(float, self.probabilities[i]), strict=True)
            ),
        }

    def decision_value(self, i: int, target: str | None = None) -> float:
        """Picture i's z: two classes, w . x + b (``classes[1]``'s log-odds,
        whatever ``target``); more, ``target``'s z (default: the predicted
        class's), as ``explain`` reports it."""
        z = self.decision_values[i]
        if np.ndim(z) == 0:
            return float(z)
        name = self.labels[i] if target is None else target
        return float(z[self.classes.index(name)])


#: The classes ``predict`` shows of each picture without ``--top``.
DEFAULT_TOP = 3


def top_classes(
    probabilities: Mapping[str, float], top: int | None
) -> dict[str, float]:
    """The ``top`` most probable classes, the most probable first (ties in
    the model's order): ``predict --top`` and ``/api/predict?top=``.
    Without ``top``: two classes as they are, in the model's order, as
    ``predict`` has always shown them; more, the :data:`DEFAULT_TOP` most
    probable."""
    if top is None and len(probabilities) == 2:
        return dict(probabilities)
    ranked = sorted(probabilities.items(), key=lambda item: -item[1])
    return dict(ranked[: DEFAULT_TOP if top is None else top])


def format_probabilities(probabilities: Mapping[str, float]) -> str:
    """An answer as a person reads it: ``cat 78.1 %, non-cat 21.9 %``.

    Each class name (made safe to print, :func:`logitnet.files.shown`) with
    its probability in percent to one decimal, the most probable first (in
    the given order where two are equal).

    Parameters
    ----------
    probabilities : mapping of str to float
        Class name to probability in [0, 1], as ``predict --json`` gives it;
        one class alone (a gallery's caption) is fine.

    Returns
    -------
    str

    Examples
    --------
    >>> format_probabilities({"non-cat": 0.21876, "cat": 0.78124})
    'cat 78.1 %, non-cat 21.9 %'
    >>> format_probabilities({"non-cat": 5.581e-05, "cat": 0.99994419})
    'cat 100.0 %, non-cat 0.0 %'
    """
    from logitnet.files import shown

    ranked = sorted(probabilities.items(), key=lambda item: -item[1])
    return ", ".join(f"{shown(name)} {100 * p:.1f} %" for name, p in ranked)


def model_input(model: SavedModel, pictures: ArrayLike) -> NDArray[np.float64]:
    """Pictures as the model's input matrix, as in training.

    Parameters
    ----------
    model : SavedModel
    pictures : array_like of shape (k, height, width, channels), uint8
        k >= 1 pictures of ``model.image_shape``, values 0..255.

    Returns
    -------
    X : ndarray of shape (k, height * width * channels), float64
        One flattened picture per row, each pixel divided by 255.

    Raises
    ------
    ValueError
        If ``pictures`` is not k >= 1 pictures of the model's shape, naming
        both shapes.
    """
    pictures = np.asarray(pictures)
    shape = tuple(model.image_shape)
    if pictures.shape[1:] != shape or pictures.shape[0] == 0:
        raise ValueError(
            f"expected k >= 1 images of shape {shape}; "
            f"got an array of shape {pictures.shape}"
        )
    return pictures_to_X(pictures)


def pictures_to_X(pictures: NDArray[np.uint8]) -> NDArray[np.float64]:
    """The pixel conversion of training and prediction, unchecked.

    Parameters
    ----------
    pictures : ndarray of shape (k, height, width, channels), uint8

    Returns
    -------
    X : ndarray of shape (k, height * width * channels), float64
        ``scale(flatten(pictures)).T``: one picture per row, C order, each
        pixel divided by 255 in float64.
    """
    from logitnet.core.pixels import flatten, scale

    return scale(flatten(pictures)).T


def classify(model: SavedModel, pictures: ArrayLike) -> Predictions:
    """The model's decision values, probabilities and labels for pictures.

    Parameters
    ----------
    model : SavedModel
    pictures : array_like of shape (k, height, width, channels), uint8, or ScaledPixels
        k >= 1 pictures of ``model.image_shape`` (see :func:`model_input`);
        or a file's pictures as :func:`logitnet.data.reader.open_images`
        gives them (lazy, any size), read chunk by chunk in one pass.

    Returns
    -------
    Predictions

    Raises
    ------
    ValueError
        If ``pictures`` is not k >= 1 pictures of the model's shape.
    """
    from logitnet.core.loss import decision_function, probabilities
    from logitnet.core.pixels import ScaledPixels

    if isinstance(pictures, ScaledPixels):
        from logitnet.backends.dask import compute

        n_x = model.n_features
        if pictures.shape[1] != n_x or pictures.shape[0] == 0:
            raise ValueError(
                f"expected k >= 1 pictures of {n_x} values; got "
                f"{pictures.shape[0]} of {pictures.shape[1]}"
            )
        (z,) = compute(decision_function(model.w, model.b, pictures))
    else:
        z = decision_function(model.w, model.b, model_input(model, pictures))
    # Two classes: classes[1] where z > 0; more: each row's largest z.
    chosen = z.argmax(axis=1) if z.ndim == 2 else (z > 0)
    return Predictions(
        decision_values=z,
        probabilities=probabilities(z),
        labels=[model.classes[int(i)] for i in chosen],
        classes=list(model.classes),
    )


#: Pictures read and classified together by :func:`iter_predictions`: enough
#: for one vectorized pass, few enough that memory stays flat (64 x 64 x 3
#: pictures: 3 MiB of pixels, 25 MiB of floats) however many files there are.
PREDICT_BATCH = 256


def predict_files(
    model: SavedModel,
    sources: Sequence[str | os.PathLike[str]],
    *,
    progress: Callable[[list[Path]], Iterable[Path]] | None = None,
) -> list[dict[str, Any]]:
    """Classify picture files; what ``logitnet predict --json`` prints.

    Parameters
    ----------
    model : SavedModel
    sources : sequence of path-like
        Picture files, or directories whose image files are all classified
        (see :func:`logitnet.data.images.expand_paths`).
    progress : callable, optional
        Wraps the list of files being read (a progress bar).

    Returns
    -------
    list of dict
        One entry per file: ``{"path", "label", "probabilities": {class: p}}``,
        or ``{"path", "error"}`` for a file that could not be read (the
        reason, without the path in front). A directory that holds no image
        files is an error entry ``"directory holds no image files"``, a URL
        one that says it is not a picture on disk; those come first, then
        the files in the order of ``sources``. A file
        that cannot be read does not stop the others.
    """
    return list(iter_predictions(model, sources, progress=progress))


def iter_predictions(
    model: SavedModel,
    sources: Sequence[str | os.PathLike[str]],
    *,
    progress: Callable[[list[Path]], Iterable[Path]] | None = None,
    batch: int = PREDICT_BATCH,
) -> Iterator[dict[str, Any]]:
    """:func:`predict_files`' entries one at a time, in the same order,
    reading and classifying ``batch`` pictures at a time: memory does not
    grow with the number of files."""
    from logitnet.data.images import expand_paths
    from logitnet.files import url_scheme

    paths: list[Path] = []
    for source in sources:
        if url_scheme(source):
            yield {"path": str(source), "error": NOT_ON_DISK}
            continue
        found = expand_paths([source])
        if not found and Path(source).is_dir():
            yield {"path": str(source), "error": NO_IMAGES}
        paths.extend(found)
    files = iter(paths if progress is None else progress(paths))
    while chunk := list(itertools.islice(files, batch)):
        yield from predict_pictures(model, [(str(path), path) for path in chunk])


def predict_pictures(
    model: SavedModel,
    pictures: Iterable[tuple[str, Any]],
    *,
    fatal: tuple[type[BaseException], ...] = (),
) -> list[dict[str, Any]]:
    """``predict --json``'s entries for named pictures, in their order: each
    read, then all readable ones classified in one :func:`classify` call.

    Parameters
    ----------
    model : SavedModel
    pictures : iterable of (name, source)
        ``source`` is anything :func:`logitnet.data.images.read_image` takes
        (a path, the bytes of an uploaded file, ...); ``name`` is the entry's
        ``"path"`` and what error messages call it.
    fatal : tuple of exception classes, optional
        Errors that refuse the whole batch instead of becoming one entry's
        ``"error"`` (the server refuses a request holding a decompression
        bomb).

    Returns
    -------
    list of dict
        ``{"path", "label", "probabilities": {class: p}}``, or
        ``{"path", "error"}`` (the reason, without the name in front).
    """
    from logitnet.data.images import read_image

    entries: list[dict[str, Any]] = []
    read: list[tuple[dict[str, Any], NDArray[np.uint8]]] = []
    for name, source in pictures:
        entry: dict[str, Any] = {"path": name}
        entries.append(entry)
        try:
            read.append((entry, read_image(source, model.image_shape, name=name)))
        except fatal:
            raise
        except LogitnetError as e:
            entry["error"] = without_name(str(e), name)
    if read:
        answers = classify(model, np.stack([pixels for _, pixels in read]))
        for i, (entry, _) in enumerate(read):
            entry.update(answers.answer(i))
    return entries


def predict_file(
    model: SavedModel, path: str | os.PathLike[str], split: str = "test"
) -> list[dict[str, Any]]:
    """Classify the pictures of a file in the course's layout (HDF5 or zarr,
    ``convert``'s or ``synth``'s output), read lazily, chunk by chunk.

    Parameters
    ----------
    model : SavedModel
    path : path-like
        See :func:`logitnet.data.reader.open_images`.
    split : {"train", "test"}, default="test"

    Returns
    -------
    list of dict
        One entry per picture, in file order: ``{"path": "FILE[split i]",
        "label", "probabilities": {class: p}}``.
    """
    from logitnet.data.reader import open_images

    X, _ = open_images(path, split)
    answers = classify(model, X)
    return [
        {"path": f"{path}[{split} {i}]", **answers.answer(i)}
        for i in range(len(answers.labels))
    ]


def without_name(message: str, name: str) -> str:
    """An error message without the file name it starts with."""
    prefix = f"{name}: "
    return message[len(prefix) :] if message.startswith(prefix) else message
