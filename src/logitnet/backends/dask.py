"""A Dask X: one task per row chunk, partial sums added in a tree.

This module is the one place logitnet drives Dask. A pass over X is:

1. one task per row chunk (X's column chunks merged first: a block's
   products need whole rows), which runs the block function on the chunk
   with the NumPy or array-API backend and returns its partial sums in
   float64, with the dtype the block gave each (the pass's result is
   given back in it);
2. the partial sums added :data:`FAN_IN` at a time, in a shallow tree;
3. :data:`CHUNKS_PER_COMPUTE` chunks per ``dask.compute`` (a wave), on the
   local scheduler or, when a ``dask.distributed`` client is the default, on
   its cluster.

A chunk is read, used for both products and dropped, so memory is bounded
by a few chunks per thread whatever the data's size. The block function and
its shared values (the weights) are put into the graph once, not once per
task.
"""

from __future__ import annotations

import contextlib
import functools
import math
import operator
import os
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np

from logitnet.backends.array_api import as_float64
from logitnet.checks import check_weight_shape, check_weight_values
from logitnet.exceptions import DataError

__all__ = [
    "CHUNKS_PER_COMPUTE",
    "FAN_IN",
    "IO_THREADS_PER_CORE",
    "array_module",
    "check_X",
    "check_labels",
    "check_weights",
    "chunked",
    "classes_with_positive_weight",
    "compute",
    "connect",
    "label_codes",
    "row_map",
    "row_sums",
]

#: Chunks per ``dask.compute`` of a pass. The scheduler may finish many
#: chunks before the additions that free their partial sums (n_features
#: float64 numbers each), so memory grew with the number of chunks: a pass
#: over 2.5 million images peaked 100 MB above one over 200,000. Waves of
#: this many chunks bound it, for the cost of a wave's last few tasks
#: running with idle threads.
CHUNKS_PER_COMPUTE = 256

#: Partial sums are added this many at a time: a shallow tree, so a cluster
#: adds in parallel, while each addition holds few n_features vectors.
FAN_IN = 8

#: Threads per core of a pass that reads a file, on the local threaded
#: scheduler (unless ``num_workers`` or ``pool`` is configured). A task
#: waiting for the disk holds no core, so one core per thread leaves the
#: disk idle while both compute. Measured on a 30.7 GB file, direct I/O,
#: 2 cores: a pass takes 33.1 s with 2 threads, 24.9 s with 4.
IO_THREADS_PER_CORE = 2


def array_module():
    """``dask.array``, the namespace of Dask arrays."""
    import dask.array as da

    return da


# -- checks at the door ----------------------------------------------------------


def check_X(X, dtype: np.dtype):
    """A Dask X's shape and dtype, checked without reading it; converted to
    ``dtype`` lazily, chunk by chunk. Its finiteness is checked on the first
    pass of a fit (:func:`logitnet.core.solvers._check_start`)."""
    if X.ndim != 2:
        raise ValueError(
            f"Expected 2D array, got a {X.ndim}D Dask array of shape {X.shape} instead"
        )
    if any(math.isnan(n) for n in X.shape):
        raise ValueError(
            "X has unknown chunk sizes; call X.compute_chunk_sizes() first"
        )
    if X.shape[0] < 1 or X.shape[1] < 1:
        raise ValueError(
            f"X must have at least one sample and one feature; got shape {X.shape}"
        )
    if X.dtype.kind not in "iuf":
        raise ValueError(f"X must hold real numbers; got dtype {X.dtype}")
    return X.astype(dtype) if X.dtype != dtype else X


def check_labels(y, m: int, rows: tuple[int, ...]):
    """A Dask y of one label per row of X: its distinct values (one pass),
    and y chunked as X's rows."""
    import dask.array as da

    if y.ndim != 1 or y.shape[0] != m:
        raise ValueError(
            f"y must have shape ({m},), one label per row of X; got shape {y.shape}"
        )
    return np.asarray(da.unique(y).compute()), y.rechunk((rows,))


def label_codes(y, classes: np.ndarray, dtype: np.dtype):
    """A Dask y's labels as codes 0.0 .. k-1 (their places in the sorted
    ``classes``), lazily, chunk by chunk."""
    return y.map_blocks(
        lambda block: np.searchsorted(classes, block).astype(dtype), dtype=dtype
    )


def chunked(values: np.ndarray, rows: tuple[int, ...]):
    """A NumPy vector as a Dask array chunked as X's rows."""
    import dask.array as da

    return da.from_array(values, chunks=(rows,))


def check_weights(weights, m: int, dtype: np.dtype, rows: tuple[int, ...]):
    """Dask sample weights: finite, non-negative, with a positive sum (one
    pass), chunked as X's rows, in ``dtype``."""
    import dask
    import dask.array as da

    check_weight_shape(weights.shape, m)
    weights = weights.astype(dtype).rechunk((rows,))
    finite, smallest, total = dask.compute(
        da.isfinite(weights).all(), weights.min(), weights.sum()
    )
    if not finite:
        raise ValueError("sample_weight must be finite; it contains NaN or inf")
    check_weight_values(smallest, total)
    return weights


def classes_with_positive_weight(codes, weights) -> int:
    """How many classes (codes 0 .. k-1) have an example of positive weight:
    one pass."""
    import dask.array as da

    return int(da.unique(codes[weights > 0]).compute().size)


# -- passes ------------------------------------------------------------------------


def _whole_rows(X):
    # A task needs whole rows: its chunk's z is complete only then.
    return X.rechunk({1: -1}) if X.numblocks[1] != 1 else X


def _chunk_sums(block, X, *rest, n_rows, convert, dtype):
    """One chunk's partial sums, by the backend of its arrays, in float64
    so that chunks add up without losing digits, and the dtype of each as
    the block gave it (None for a number or None)."""
    from logitnet.backends import backend_for

    rows, shared = rest[:n_rows], rest[n_rows:]
    part = backend_for(X).row_sums(block, X, rows, shared, convert=convert, dtype=dtype)
    return (
        tuple(as_float64(v) for v in part),
        tuple(getattr(v, "dtype", None) for v in part),
    )


def _add(*parts: tuple) -> tuple:
    """The sum of chunks' (sums, dtypes), the first's dtypes kept (every
    chunk's are the same)."""
    sums = tuple(
        None if values[0] is None else functools.reduce(operator.add, values)
        for values in zip(*(p[0] for p in parts), strict=True)
    )
    return sums, parts[0][1]


def row_sums(
    block: Callable[..., tuple],
    X,
    rows: Sequence[Any],
    shared: Sequence[Any] = (),
    *,
    convert: Callable | None = None,
    dtype=None,
    reads_files: bool = False,
) -> tuple:
    """The sum of ``block(Xb, *rows_b, *shared)`` over X's row chunks, in one
    pass (see the module's documentation); each array sum comes back in the
    dtype the block gave it, as the NumPy backend's do (a gradient in X's
    dtype, or ``dtype`` when converted; sums the block makes in float64,
    such as k classes' bias sums, in float64), numbers in float64.

    ``rows``: NumPy or Dask arrays (or None), aligned with X's rows.
    ``reads_files``: the chunks are read from a file, so the local
    threaded scheduler runs :data:`IO_THREADS_PER_CORE` tasks per core.
    """
    import dask
    import dask.array as da

    X = _whole_rows(X)
    chunk_rows = X.chunks[0]

    def aligned(v):
        if v is None:
            return [None] * len(chunk_rows)
        if not isinstance(v, da.Array):
            v = da.from_array(np.asarray(v), chunks=(chunk_rows,))
        elif v.chunks[0] != chunk_rows:
            v = v.rechunk((chunk_rows,))
        return list(v.to_delayed(optimize_graph=True).ravel())

    # One copy of each shared value in the graph, not one per task: a
    # cluster would ship n_features numbers for each of thousands of chunks.
    shared = [dask.delayed(v, pure=True) for v in shared]
    task = dask.delayed(
        functools.partial(
            _chunk_sums, block, n_rows=len(rows), convert=convert, dtype=dtype
        ),
        pure=True,
    )
    row_parts = [aligned(r) for r in rows]
    parts = [
        task(xb, *rb, *shared)
        for xb, *rb in zip(
            X.to_delayed(optimize_graph=True).ravel(), *row_parts, strict=True
        )
    ]
    total = None
    for first in range(0, len(parts), CHUNKS_PER_COMPUTE):
        wave = parts[first : first + CHUNKS_PER_COMPUTE]
        while len(wave) > 1:
            wave = [
                dask.delayed(_add, pure=True)(*wave[i : i + FAN_IN])
                for i in range(0, len(wave), FAN_IN)
            ]
        result = _compute(wave[0], reads_files=reads_files)
        total = result if total is None else _add(total, result)
    sums, dtypes = total
    return tuple(
        v.astype(d) if getattr(v, "ndim", 0) >= 1 else v
        for v, d in zip(sums, dtypes, strict=True)
    )


def _chunk_map(block, X, *shared, convert, dtype):
    from logitnet.backends import backend_for

    return backend_for(X).row_map(block, X, shared, convert=convert, dtype=dtype)


def row_map(
    block: Callable[..., Any],
    X,
    shared: Sequence[Any] = (),
    *,
    convert: Callable | None = None,
    dtype=None,
):
    """``block(Xb, *shared)`` of every row chunk: a lazy Dask array of one
    value (or one row of k values) per row, chunked as X's rows, in the
    dtype ``block`` returns."""
    import dask

    X = _whole_rows(X)
    # The dtype and shape of the values: what the block gives for no rows.
    probe = _chunk_map(
        block, np.empty((0, X.shape[1]), X.dtype), *shared, convert=convert, dtype=dtype
    )
    shared = [dask.delayed(v, pure=True) for v in shared]
    mapped = functools.partial(_chunk_map, block, convert=convert, dtype=dtype)
    if probe.ndim == 2:  # k values per row: the one column chunk becomes k
        return X.map_blocks(
            mapped,
            *shared,
            chunks=(X.chunks[0], (probe.shape[1],)),
            dtype=probe.dtype,
            meta=np.empty((0, 0), probe.dtype),
        )
    meta = np.empty((0,), probe.dtype)
    return X.map_blocks(mapped, *shared, drop_axis=1, dtype=probe.dtype, meta=meta)


def _compute(result, reads_files: bool = False):
    """``dask.compute(result)``; on the local threaded scheduler, with BLAS
    limited to one thread, and more threads than cores when the tasks read
    files (:data:`IO_THREADS_PER_CORE`).

    Each of that scheduler's threads runs one chunk's products at a time;
    BLAS spreading each product over all the cores as well puts two
    threads on every core. Measured on 200,000 images of 64 x 64 x 3 (file
    cached): a pass takes 4.2 s so, 2.3 s with one BLAS thread per task. A
    cluster's workers start with one BLAS thread each.
    """
    import dask
    import dask.threaded
    from dask.base import get_scheduler

    if get_scheduler(collections=[result]) is not dask.threaded.get:
        return dask.compute(result)[0]
    options = {}
    chosen = dask.config.get("num_workers", None) or dask.config.get("pool", None)
    if reads_files and not chosen:
        options["num_workers"] = IO_THREADS_PER_CORE * (os.cpu_count() or 1)
    with _blas_controller().limit(limits=1, user_api="blas"):
        return dask.compute(result, **options)[0]


@functools.cache
def _blas_controller():
    # Finding the loaded BLAS libraries takes milliseconds: once a process.
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController()


def compute(*arrays) -> tuple:
    """The arrays' values, computed together in one ``dask.compute`` (one
    read of the chunks they share)."""
    import dask

    return dask.compute(*arrays)


@contextlib.contextmanager
def connect(scheduler: str | None) -> Iterator[Any]:
    """A ``distributed.Client`` of the Dask scheduler at ``scheduler``, the
    default for the computations inside the ``with``; None (this machine's
    threads) when ``scheduler`` is None.

    Raises
    ------
    DataError
        When the scheduler cannot be reached within 10 seconds.
    """
    if scheduler is None:
        yield None
        return
    from distributed import Client

    try:
        client = Client(scheduler, timeout="10s")
    except (OSError, TimeoutError) as e:
        raise DataError(
            f"{scheduler}: cannot reach the Dask scheduler ({type(e).__name__}: {e})"
        ) from e
    except (ValueError, TypeError) as e:  # an unknown scheme: foo://x
        raise DataError(
            f"{scheduler}: not a Dask scheduler address, such as tcp://host:8786 ({e})"
        ) from e
    try:
        yield client
    finally:
        client.close()
