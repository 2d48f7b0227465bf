"""Pixels to the neuron's input: the only place a picture becomes numbers.

A picture of shape (height, width, channels) with values 0..255 becomes one
example of n_x = height * width * channels features in [0, 1]:
:func:`flatten` unrolls it (C order, channels fastest, as the course does),
:func:`scale` divides by 255 in the float dtype of the computation.

Data too large for memory is kept as uint8 pixels and converted a few rows at
a time, in cache, just before it is used: :class:`ScaledPixels` is how a
reader says so to a pass (it is a value, not an attribute hidden on an array,
so nothing is lost when it is passed around).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import DTypeLike, NDArray

__all__ = ["ScaledPixels", "flatten", "scale"]


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


@dataclass(frozen=True)
class ScaledPixels:
    """Examples stored as uint8 pixels, standing for ``pixels / 255``.

    What :func:`logitnet.data.reader.open_images` returns as X. Every part
    of logitnet that takes an X (``LogisticRegression.fit`` and its
    predictions, :func:`logitnet.core.loss.loss_and_grad`) takes this too,
    and converts the pixels to floats a few rows at a time, just before
    using them, so no float copy of the data is ever made; the results are
    those of :meth:`to_floats`, bit for bit.

    Attributes
    ----------
    pixels : array of shape (m, n_features), uint8
        A Dask array (data larger than memory) or a NumPy array.
    dtype : numpy.dtype
        float32 or float64: the dtype the examples are used in.
    from_file : bool, default=False
        Reading a chunk waits for a disk: a pass runs more tasks than cores.
    """

    pixels: Any
    dtype: np.dtype
    from_file: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "dtype", np.dtype(self.dtype))
        if self.dtype not in (np.float32, np.float64):
            raise ValueError(
                f"dtype must be numpy.float64 or numpy.float32; got {self.dtype}"
            )
        if self.pixels.dtype != np.uint8 or self.pixels.ndim != 2:
            raise ValueError(
                f"pixels must be uint8 of shape (m, n_features); got "
                f"{self.pixels.dtype} of shape {self.pixels.shape}"
            )

    @property
    def shape(self) -> tuple[int, int]:
        return tuple(self.pixels.shape)

    @property
    def ndim(self) -> int:
        return 2

    @property
    def chunks(self):
        """The row and column chunks of Dask pixels."""
        return self.pixels.chunks

    def to_floats(self):
        """``pixels / 255`` in ``dtype``: lazily, chunk by chunk, for Dask
        pixels (a new Dask array, for anything logitnet does not do itself);
        at once for NumPy pixels."""
        if isinstance(self.pixels, np.ndarray):
            return scale(self.pixels, self.dtype)
        return self.pixels.map_blocks(scale, self.dtype, dtype=self.dtype)
