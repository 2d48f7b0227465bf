"""Synthetic image data sets of any size, with a known true model.

:func:`make_images` writes random images in the course's layout (an HDF5
file, or a zarr store for a URL or a name ending in ``.zarr``), with
labels drawn from a planted logistic model on the scaled pixels:

    x_i = pixels_i / 255,   p(y_i = 1) = sigma(w_true . x_i + b_true)

or, for k >= 3 classes, a planted softmax model:

    p(y_i = j) = softmax(x_i W_true + b_true)_j,   j = 0 .. k-1

so that a fit can be checked against the truth, and so that data sets larger
than memory exist for tests and benchmarks. The file is written block by
block: memory stays bounded whatever ``n_samples`` is.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from functools import partial
from pathlib import Path

import h5py
import numpy as np
from numpy.typing import NDArray

from logitnet.checks import MAX_CLASSES, check_image_shape, check_int
from logitnet.core.loss import sigmoid
from logitnet.core.softmax import softmax
from logitnet.data.storage import Url, locate
from logitnet.data.zarr_store import is_store_name, new_array, new_store
from logitnet.files import atomic_path, check_output_path

__all__ = ["CLASSES", "ROWS_PER_BLOCK", "class_names", "make_images", "true_model"]

#: Images drawn and written at a time; also the unit of the random streams,
#: so the images depend only on the seed and their position, never on how
#: many are written: the first k images of a larger set are the smaller set.
ROWS_PER_BLOCK = 1024

#: Class names written to ``list_classes`` for two classes: index = label.
CLASSES = (b"negative", b"positive")


def class_names(n_classes: int) -> tuple[bytes, ...]:
    """The names :func:`make_images` writes to ``list_classes``: :data:`CLASSES`
    for two classes, ``class 0`` .. ``class k-1`` for more."""
    if n_classes == 2:
        return CLASSES
    return tuple(f"class {j}".encode() for j in range(n_classes))


#: Standard deviation of w_true . x + b_true over uniform pixels: labels are
#: learnable (most |z| > 1) yet not separable.
_Z_SCALE = 3.0


def true_model(
    n_features: int, seed: int = 0, n_classes: int = 2
) -> tuple[NDArray[np.float64], float | NDArray[np.float64]]:
    """The planted weights and bias of :func:`make_images` for a seed.

    Each column of w_true is Gaussian, scaled so that z = x w_true + b_true
    has standard deviation about 3 over uniform pixels in [0, 1]; b_true
    centres z at 0, so every label is about equally common.

    Parameters
    ----------
    n_features : int
        height * width * channels.
    seed : int, default=0
    n_classes : int, default=2
        Two: the logistic model; k >= 3: the softmax model, one column per
        class (from a random stream of its own).

    Returns
    -------
    w_true : ndarray of shape (n_features,) or (n_features, k), float64
    b_true : float, or ndarray of shape (k,), float64
    """
    # Var(w . x) = ||w||^2 / 12 for independent uniform x in [0, 1].
    scale = _Z_SCALE * np.sqrt(12.0 / n_features)
    if n_classes == 2:
        w = np.random.default_rng([seed, 2]).normal(scale=scale, size=n_features)
        return w, -0.5 * float(w.sum())
    rng = np.random.default_rng([seed, 2, n_classes])
    W = rng.normal(scale=scale, size=(n_features, n_classes))
    return W, -0.5 * W.sum(axis=0)


def make_images(
    path: str | os.PathLike[str],
    n_samples: int,
    *,
    image_shape: tuple[int, int, int] = (64, 64, 3),
    seed: int = 0,
    test_samples: int = 0,
    n_classes: int = 2,
    progress: Callable[[int], None] | None = None,
) -> Path:
    """Write a synthetic data set in the course's HDF5 layout.

    Pixels are independent and uniform in 0..255; label i is 1 with
    probability sigma(w_true . x_i + b_true), x_i the pixels / 255 and
    (w_true, b_true) from :func:`true_model`; with k >= 3 classes, label i
    is j with probability softmax(x_i W_true + b_true)_j. The file holds:

    - ``train_set_x`` (n_samples, h, w, c) uint8 and ``train_set_y``
      (n_samples,) int64, labels 0 .. k-1, as the course's files;
    - ``test_set_x`` / ``test_set_y`` likewise, when ``test_samples`` > 0
      (other images, the same model);
    - ``list_classes``: :func:`class_names` (:data:`CLASSES` for two);
    - ``true_w`` (h * w * c,) float64 and ``true_b`` (), the planted model;
      for k classes, (h * w * c, k) and (k,).

    The arrays are stored contiguously, uncompressed: random pixels do not
    compress, and one contiguous range per chunk is the fastest to read.
    The file appears only when complete (written under a temporary name,
    then renamed). The same arguments give the same file.

    Parameters
    ----------
    path : path-like or URL
        The HDF5 file to write, replaced if it exists; or, for a URL
        (:mod:`logitnet.data.storage`) or a name ending in ``.zarr``, the
        zarr store to write, in chunks of :data:`ROWS_PER_BLOCK` pictures
        (refused if something is there already, removed if the write
        fails).
    n_samples : int
        Training images, >= 1.
    image_shape : (height, width, channels), default=(64, 64, 3)
    seed : int, default=0
        >= 0.
    test_samples : int, default=0
        Test images, >= 0.
    n_classes : int, default=2
        2 to :data:`~logitnet.checks.MAX_CLASSES`. Two classes give the same
        file as before there were more.
    progress : callable (images_written) -> None, optional
        Called after each block, with the count so far (train and test).

    Returns
    -------
    Path or Url
        ``path``.

    Raises
    ------
    ValueError
        For a bad count, shape, seed or number of classes.
    logitnet.exceptions.OutputPathError
        When ``path`` cannot be written (a directory, a missing folder).
    """
    n_samples = check_int(n_samples, "n_samples", minimum=1)
    test_samples = check_int(test_samples, "test_samples", minimum=0)
    seed = check_int(seed, "seed", minimum=0)
    n_classes = check_int(n_classes, "n_classes", minimum=2, maximum=MAX_CLASSES)
    image_shape = check_image_shape(image_shape)
    path = locate(path)
    store = is_store_name(path)
    if not store:
        path = check_output_path(path)
    elif isinstance(path, Url):
        path.check_writable()
    n_features = int(np.prod(image_shape))
    w_true, b_true = true_model(n_features, seed, n_classes)
    done = 0
    with _new_data_set(path, store) as (f, create):
        for split, count, stream in (
            ("train", n_samples, 0),
            ("test", test_samples, 1),
        ):
            if count == 0:
                continue
            x = create(f"{split}_set_x", (count, *image_shape), np.uint8)
            y = create(f"{split}_set_y", (count,), np.int64)
            for start in range(0, count, ROWS_PER_BLOCK):
                stop = min(start + ROWS_PER_BLOCK, count)
                pixels, labels = _block(
                    seed, stream, start // ROWS_PER_BLOCK, n_features, w_true, b_true
                )
                x[start:stop] = pixels[: stop - start].reshape(-1, *image_shape)
                y[start:stop] = labels[: stop - start]
                done += stop - start
                if progress is not None:
                    progress(done)
        names = np.array(class_names(n_classes))
        for name, value in (("list_classes", names), ("true_w", w_true),
                            ("true_b", np.asarray(b_true))):  # fmt: skip
            if store:  # zarr's text of any length, a type of its specification
                text = value.dtype.kind == "S"
                stored = f.create_array(
                    name,
                    shape=value.shape,
                    dtype=str if text else value.dtype,
                    config={"write_empty_chunks": True},
                )
                stored[...] = value.astype(str) if text else value
            else:
                f[name] = value
    return path


@contextlib.contextmanager
def _new_data_set(path, store: bool):
    """(the open file or zarr group, ``create(name, shape, dtype)`` of an
    empty array in it): an HDF5 file written atomically, or a zarr store
    (:func:`logitnet.data.zarr_store.new_store`) in chunks of one block."""
    if store:
        with new_store(path) as group:
            yield group, partial(_zarr_array, group)
        return
    with atomic_path(path) as tmp, h5py.File(tmp, "w") as f:
        yield (
            f,
            lambda name, shape, dtype: f.create_dataset(name, shape=shape, dtype=dtype),
        )


def _zarr_array(group, name, shape, dtype):
    return new_array(group, name, shape, dtype, ROWS_PER_BLOCK)


def _block(seed, stream, index, n_features, w_true, b_true):
    """Images and labels of block ``index`` of a stream (0 train, 1 test),
    from a generator of their own: any block can be made alone."""
    rng = np.random.default_rng([seed, stream, index])
    # Random bytes are uniform on 0..255 and several times faster to draw
    # than integers in a range.
    pixels = np.frombuffer(
        rng.bytes(ROWS_PER_BLOCK * n_features), dtype=np.uint8
    ).reshape(ROWS_PER_BLOCK, n_features)
    # z in float32 (plenty to draw labels), converting 32 rows at a time:
    # a float copy that stays in cache is several times faster than one of
    # the whole block, or than letting matmul convert uint8 itself.
    w32 = (w_true / 255).astype(np.float32)
    z = np.empty((ROWS_PER_BLOCK, *w32.shape[1:]), dtype=np.float32)
    for start in range(0, ROWS_PER_BLOCK, 32):
        z[start : start + 32] = pixels[start : start + 32].astype(np.float32) @ w32
    z += np.asarray(b_true, np.float32)
    u = rng.random(ROWS_PER_BLOCK)
    if z.ndim == 1:
        return pixels, (u < sigmoid(z)).astype(np.int64)
    # Class j where u falls in [P_0 + .. + P_(j-1), P_0 + .. + P_j): the
    # number of cumulative probabilities below u (at most k-1 when they
    # round to just under 1).
    below = np.cumsum(softmax(z.astype(np.float64)), axis=1) < u[:, None]
    return pixels, np.minimum(below.sum(axis=1), z.shape[1] - 1).astype(np.int64)
