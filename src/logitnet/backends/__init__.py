"""Array backends: how a pass over the rows of X runs, wherever X lives.

The neuron's math (:mod:`logitnet.core.loss`) is written for one block of
rows. A backend is handed that block function and runs it over X:

- :mod:`~logitnet.backends.numpy`: an in-memory NumPy X, in row blocks
  sized for the cache (one block when X is small);
- :mod:`~logitnet.backends.array_api`: an array of another library that
  follows the Python array API (PyTorch, CuPy, array-api-strict), as one
  block on its own device, never copied to NumPy;
- :mod:`~logitnet.backends.dask`: a Dask X, one task per row chunk (each
  chunk run by one of the two above), partial sums added in a tree, in waves
  of chunks, with one BLAS thread per task.

Each backend module has the same small interface:

``row_sums(block, X, rows, shared=(), *, convert=None, dtype=None, reads_files=False)``
    The sum over row blocks Xb of ``block(Xb, *rows_b, *shared)``, where
    ``rows`` are arrays (or None) aligned with X's rows and sliced with it,
    and ``shared`` are small values every block gets whole. ``block``
    returns a tuple of arrays, numbers or None; tuples add elementwise.
    ``reads_files``: reading X waits for a disk (only Dask, whose chunks
    are read as they are used, does something with it).
``row_map(block, X, shared=(), *, convert=None, dtype=None)``
    ``block(Xb, *shared)`` of every row block, concatenated: one value
    per row, in the dtype ``block`` returns. Each row's value must depend
    on that row alone (:func:`logitnet.core.loss.row_dot`), so the
    backend may block the rows as it likes.
``check_X(X, dtype)``
    X as this backend takes it, checked at the door.

``convert`` and ``dtype``: X is stored in another form than the floats the
block computes on (uint8 pixels, see :class:`logitnet.core.pixels.ScaledPixels`);
``convert(Xb, dtype, out=buffer)`` makes a block's floats, into one reused
buffer, just before ``block`` uses them.

Nothing here knows what the blocks compute: the math is handed in, and no
backend imports :mod:`logitnet.core`. Backends import their libraries (Dask,
threadpoolctl) only when a pass needs them.
"""

from __future__ import annotations

from types import ModuleType

from array_api_compat import is_dask_array, is_numpy_array

from logitnet.backends.array_api import (
    Array,
    is_other_namespace,
    namespace,
    numpy_dtype,
    to_numpy,
)

__all__ = [
    "Array",
    "backend_for",
    "is_other_namespace",
    "namespace",
    "numpy_dtype",
    "to_numpy",
]


def backend_for(X: Array) -> ModuleType:
    """The backend module that runs passes over X."""
    if is_numpy_array(X):
        from logitnet.backends import numpy

        return numpy
    if is_dask_array(X):
        from logitnet.backends import dask

        return dask
    from logitnet.backends import array_api

    return array_api
