"""An in-memory NumPy X, in row blocks sized for the cache.

Above :data:`SINGLE_PASS_BYTES` a pass runs over row blocks of about
:data:`BLOCK_BYTES`: each block is used for both of the loss's products
while it is still in cache, so X streams from memory once per evaluation
instead of twice. Below it, one BLAS call per product is faster (X already
sits in the last-level cache and BLAS spreads one large call over all
cores). Both sizes were chosen by measurement on the benchmark machine; see
``benchmarks/RESULTS.md``.

Stored pixels (``convert``) are always converted in blocks, into one reused
buffer, so the floats are made and used in cache: converting all of X first
would write and re-read four or eight bytes per pixel (measured: a 64 MiB
chunk of 1,365 images takes 10 ms this way, 22 ms that way).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np

__all__ = [
    "BLOCK_BYTES",
    "MAP_BLOCK_BYTES",
    "SINGLE_PASS_BYTES",
    "check_X",
    "row_blocks",
    "row_map",
    "row_sums",
    "rows_per_block",
]

SINGLE_PASS_BYTES = 64 * 2**20
BLOCK_BYTES = 4 * 2**20
#: Rows per block of :func:`row_map`, in bytes of floats. Its blocks compute
#: one value per row with no BLAS call to feed, and each is turned into a
#: float64 product before it is added up: blocks that stay in the core's
#: own cache are fastest (measured, 4,000 rows of 12,288 uint8 pixels
#: converted, multiplied and summed: 50 ms in 786 KiB blocks, 65 ms in
#: 3 MiB ones).
MAP_BLOCK_BYTES = 2**19


def check_X(X: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """NumPy arrays are checked by scikit-learn's ``validate_data`` in the
    estimator; here only the dtype is made right."""
    return X.astype(dtype, copy=False)


def rows_per_block(X: np.ndarray, dtype=None, block_bytes: int | None = None) -> int:
    """Rows of X per block.

    ``dtype``: X is stored in another form, used as floats of this dtype;
    it is always converted in blocks of about :data:`BLOCK_BYTES` of floats.
    Otherwise all rows make one block when X is small (at most
    :data:`SINGLE_PASS_BYTES`). ``block_bytes``: blocks of about this many
    bytes of float64 whatever X's size (:func:`row_map`).
    """
    m = X.shape[0]
    if block_bytes is None and dtype is None and X.nbytes <= SINGLE_PASS_BYTES:
        return max(m, 1)
    if block_bytes is not None:
        itemsize = 8
    else:
        block_bytes = BLOCK_BYTES
        itemsize = X.dtype.itemsize if dtype is None else np.dtype(dtype).itemsize
    row_bytes = max(int(np.prod(X.shape[1:])) * itemsize, 1)
    return max(block_bytes // row_bytes, 1)


def row_blocks(
    X: np.ndarray,
    convert: Callable | None = None,
    dtype=None,
    block_bytes: int | None = None,
) -> Iterator[tuple[int, int, np.ndarray]]:
    """(start, stop, the floats of X[start:stop]) for the row blocks of X.

    With ``convert``, each block is ``convert(X[start:stop], dtype, out=...)``
    in one buffer reused for every block: a block is used before the next
    one overwrites it. At least one block is given, empty when X has no rows.
    ``block_bytes``: as for :func:`rows_per_block`.
    """
    m = X.shape[0]
    rows = rows_per_block(X, None if convert is None else dtype, block_bytes)
    if convert is not None:
        buffer = np.empty((min(rows, m), *X.shape[1:]), dtype)
    for start in range(0, max(m, 1), rows):
        stop = min(start + rows, m)
        Xb = X[start:stop]
        if convert is not None:
            Xb = convert(Xb, dtype, out=buffer[: stop - start])
        yield start, stop, Xb


def _add_into(total: tuple | None, part: tuple) -> tuple:
    """``total + part`` elementwise (None stays None), arrays added in place.

    ``total`` holds the running sums of one pass, all made by its blocks, so
    they are this function's to change: a block's n_features sums are added
    in place, with no new array per block.
    """
    if total is None:
        return part
    summed = []
    for t, p in zip(total, part, strict=True):
        if isinstance(t, np.ndarray) and t.ndim:
            t += p
        elif t is not None:
            t = t + p
        summed.append(t)
    return tuple(summed)


def row_sums(
    block: Callable[..., tuple],
    X: np.ndarray,
    rows: Sequence[np.ndarray | None],
    shared: Sequence[Any] = (),
    *,
    convert: Callable | None = None,
    dtype=None,
    reads_files: bool = False,
) -> tuple:
    """The sum of ``block(Xb, *rows_b, *shared)`` over X's row blocks."""
    total = None
    for start, stop, Xb in row_blocks(X, convert, dtype):
        part_rows = [None if r is None else r[start:stop] for r in rows]
        total = _add_into(total, block(Xb, *part_rows, *shared))
    return total


def row_map(
    block: Callable[..., np.ndarray],
    X: np.ndarray,
    shared: Sequence[Any] = (),
    *,
    convert: Callable | None = None,
    dtype=None,
) -> np.ndarray:
    """``block(Xb, *shared)`` of each row block: one value (or one row of
    values) per row, in the dtype ``block`` returns; blocks of about
    :data:`MAP_BLOCK_BYTES`."""
    out = None
    for start, stop, Xb in row_blocks(X, convert, dtype, MAP_BLOCK_BYTES):
        values = block(Xb, *shared)
        if out is None:
            out = np.empty((X.shape[0], *values.shape[1:]), values.dtype)
        out[start:stop] = values
    return out
