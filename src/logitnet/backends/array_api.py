"""Arrays of any library that follows the Python array API standard.

Arithmetic is written against the namespace of X
(``array_api_compat.array_namespace``), on X's device: PyTorch, CuPy or
array-api-strict arrays are computed on where they live, never copied to
NumPy. Only small things (the optimizer's weights, results) cross over, with
:func:`to_numpy`. A pass over such an X is one block: its devices (GPUs)
have no cache trade-off, and launching many small kernels costs more than
it saves.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from array_api_compat import (
    array_namespace,
    device,
    is_dask_array,
    is_numpy_array,
)

__all__ = [
    "Array",
    "accumulator",
    "as_float64",
    "as_weights",
    "check_X",
    "check_same_namespace",
    "is_other_namespace",
    "namespace",
    "numpy_dtype",
    "row_map",
    "row_sums",
    "to_namespace_of",
    "to_numpy",
]

#: An array of any array-API library (NumPy, CuPy, PyTorch, Dask, ...).
Array = Any


def namespace(x: Array):
    """The array-API namespace of x: NumPy itself for NumPy arrays, Dask's
    array module for Dask arrays.

    NumPy's own functions do all that logitnet uses, without the few
    microseconds per call of the compatibility wrappers: the cat data's
    evaluation takes 0.4 ms, and those add up to a measurable part of it.
    """
    if is_numpy_array(x):
        return np
    if is_dask_array(x):
        from logitnet.backends import dask

        return dask.array_module()
    return array_namespace(x)


def is_other_namespace(x: Array) -> bool:
    """Whether x is an array of an array-API library other than NumPy and
    Dask (lists, DataFrames and NumPy arrays are NumPy-like)."""
    if is_numpy_array(x) or is_dask_array(x) or not hasattr(x, "shape"):
        return False
    try:
        array_namespace(x)
    except TypeError:
        return False
    return True


def as_weights(w: Array, X: Array) -> Array:
    """w in X's namespace, dtype and device; no copy when it already is.

    The optimizer keeps w in NumPy (it is small); a GPU X gets a copy of w on
    its device, n_features numbers per evaluation.
    """
    if is_numpy_array(X):
        return np.asarray(to_numpy(w), dtype=X.dtype)
    xp = array_namespace(X)
    return xp.asarray(w, dtype=X.dtype, device=device(X))


def accumulator(X: Array):
    """The dtype of sums over examples: float64 where X's namespace and
    device have it (not, for instance, PyTorch on Apple's GPUs); else X's."""
    if is_numpy_array(X):
        return np.float64
    xp = array_namespace(X)
    try:
        kinds = xp.__array_namespace_info__().dtypes(
            device=device(X), kind="real floating"
        )
    except (AttributeError, TypeError):
        return xp.float64
    return kinds.get("float64", X.dtype)


def as_float64(value: Array | float | None) -> Array | float | None:
    """An array in float64 (in its own namespace); numbers and None as they are."""
    if value is None or isinstance(value, float | int):
        return value
    if is_numpy_array(value) or isinstance(value, np.generic):
        return np.asarray(value, dtype=np.float64)
    xp = array_namespace(value)
    return xp.astype(xp.asarray(value), xp.float64)


def numpy_dtype(X: Array) -> np.dtype:
    """The NumPy float dtype of X's precision (float32 for a PyTorch
    float32 tensor): the dtype the optimizer keeps the weights in."""
    if isinstance(X.dtype, np.dtype):
        return X.dtype
    return np.dtype(f"float{array_namespace(X).finfo(X.dtype).bits}")


def to_numpy(x: Array) -> np.ndarray:
    """A NumPy copy of a small array of any namespace and device (NumPy:
    itself); for the optimizer's state and results, never for X."""
    if is_numpy_array(x):
        return x
    if is_dask_array(x):
        return to_numpy(x.compute())
    xp = array_namespace(x)
    if hasattr(x, "get") and xp.__name__.startswith("cupy"):
        return x.get()
    if hasattr(x, "detach"):  # PyTorch: off the autograd graph and the GPU
        return x.detach().cpu().numpy()
    try:
        return np.asarray(x)
    except (RuntimeError, TypeError, ValueError):
        # Another device of an array-API library: through its default one.
        host = xp.__array_namespace_info__().default_device()
        return np.asarray(xp.asarray(x, device=host))


def to_namespace_of(x: Array, like: Array) -> Array:
    """x (NumPy) as an array of ``like``'s namespace, on its device."""
    return array_namespace(like).asarray(x, device=device(like))


def check_X(X: Array, dtype: np.dtype) -> Array:
    """Another array-API library's X: 2D, real, finite, in ``dtype``."""
    xp = array_namespace(X)
    if X.ndim != 2:
        raise ValueError(f"Expected 2D array, got array of shape {X.shape} instead")
    if X.shape[0] < 1 or X.shape[1] < 1:
        raise ValueError(
            f"X must have at least one sample and one feature; got shape {X.shape}"
        )
    if not (xp.isdtype(X.dtype, "real floating") or xp.isdtype(X.dtype, "integral")):
        raise ValueError(f"X must hold real numbers; got dtype {X.dtype}")
    X = xp.astype(X, xp.float32 if dtype == np.float32 else xp.float64, copy=False)
    # In memory already: one pass, small beside a fit.
    if not bool(xp.all(xp.isfinite(X))):
        bad = "NaN" if bool(xp.any(xp.isnan(X))) else "infinity"
        raise ValueError(f"Input X contains {bad}.")
    return X


def check_same_namespace(X: Array, fitted: Array, method: str) -> None:
    """X must come from the namespace and device of the fit, as
    scikit-learn requires of array-API estimators under its
    ``array_api_dispatch``."""
    X = np.asarray(X) if not hasattr(X, "shape") else X
    X_xp, fitted_xp = namespace(X), namespace(fitted)
    X_where, fitted_where = device(X), device(fitted)
    if X_xp is not fitted_xp or X_where != fitted_where:
        raise ValueError(
            f"LogisticRegression.{method}() must use the same namespace and "
            f"device as fit: fitted on {fitted_xp.__name__} ({fitted_where}), "
            f"got {X_xp.__name__} ({X_where})"
        )


def row_sums(
    block: Callable[..., tuple],
    X: Array,
    rows: Sequence[Array | None],
    shared: Sequence[Any] = (),
    *,
    convert: Callable | None = None,
    dtype=None,
    reads_files: bool = False,
) -> tuple:
    """``block(X, *rows, *shared)``: all of X is one block.

    ``convert`` is for NumPy pixels only (see :mod:`logitnet.backends`).
    """
    if convert is not None:
        raise TypeError("stored pixels must be NumPy or Dask arrays")
    return block(X, *rows, *shared)


def row_map(
    block: Callable[..., Array],
    X: Array,
    shared: Sequence[Any] = (),
    *,
    convert: Callable | None = None,
    dtype=None,
) -> Array:
    """``block(X, *shared)``: all of X is one block."""
    if convert is not None:
        raise TypeError("stored pixels must be NumPy or Dask arrays")
    return block(X, *shared)
