"""The one implementation of the neuron's math: cross-entropy cost and gradient.

Every caller goes through :func:`loss_and_grad`: the course API in
:mod:`logitnet.course.neuron`, every solver in :mod:`logitnet.core.solvers`, and the
command line. Inputs are trusted here; they are checked where they enter.

For one neuron with weights w and bias b on examples x_i with labels y_i:

    forward    z_i = w . x_i + b
               a_i = sigma(z_i)
               J   = -(1/m) sum_i [ y_i log a_i + (1 - y_i) log(1 - a_i) ]
    backward   dz_i = a_i - y_i
               dw   = (1/m) sum_i x_i dz_i
               db   = (1/m) sum_i dz_i

Since log a = -softplus(-z) and log(1 - a) = -softplus(z), with
softplus(t) = log(1 + e^t), the loss of one example is softplus(-z) when
y = 1 and softplus(z) when y = 0, that is softplus((1 - 2y) z). The cost is
evaluated in that form, with a stable softplus (``logaddexp(0, t)``): it
never takes log(0), stays finite and right for |z| in the thousands, where a
rounds to exactly 0 or 1, and has no y * z product that could make inf - inf.

Every sum is a sum over examples, so the work splits by rows: each row block
gives partial sums (of the losses, of x_i dz_i, of dz_i, of the weights) and
the partial sums add up. :func:`block_sums` computes them for one block of
rows, the whole of an in-memory X or one chunk of a Dask array, and is the
only place where the formulas above are written.

Arrays of any library that follows the Python array API standard work
unchanged (NumPy, CuPy, PyTorch, array-api-strict, ...): the arithmetic is
written against the namespace of X (``array_api_compat.array_namespace``),
on X's device, so X is never copied to NumPy. A Dask X is summed chunk by
chunk (see :func:`loss_and_grad`).

Overflow is not warned about here: a z beyond the float range becomes +-inf,
where sigma and softplus still give the right limits (0, 1, inf). Only absurd
inputs (|w| |x| near 1e308 with mixed signs) can make inf - inf = NaN; the
callers check that their results are finite and say what went wrong.
"""

from __future__ import annotations

import functools
import os
from typing import Any

import numpy as np
from array_api_compat import (
    array_namespace,
    device,
    is_dask_array,
    is_numpy_array,
    is_numpy_namespace,
)
from scipy.special import expit

__all__ = [
    "block_sums",
    "decision_function",
    "loss_and_grad",
    "numpy_dtype",
    "rows_per_block",
    "sigmoid",
    "softplus",
    "to_numpy",
]

#: An array of any array-API library (NumPy, CuPy, PyTorch, Dask, ...).
Array = Any


def _namespace(x: Array):
    """The array-API namespace of x; NumPy itself for NumPy arrays.

    NumPy's own functions do all that is used here, without the few
    microseconds per call of the compatibility wrappers: the cat data's
    evaluation takes 0.4 ms, and those add up to a measurable part of it.
    """
    return np if is_numpy_array(x) else array_namespace(x)


def _as_weights(w: Array, X: Array, xp) -> Array:
    """w in X's namespace, dtype and device; no copy when it already is.

    The optimizer keeps w in NumPy (it is small); a GPU X gets a copy of w on
    its device, n_features numbers per evaluation.
    """
    if is_numpy_namespace(xp):
        return np.asarray(to_numpy(w), dtype=X.dtype)
    return xp.asarray(w, dtype=X.dtype, device=device(X))


def decision_function(w: Array, b: float, X: Array) -> Array:
    """Pre-activation z = X w + b.

    Parameters
    ----------
    w : array of shape (n_features,)
        NumPy or X's namespace; cast to X's dtype and device.
    b : float
    X : array of shape (n_samples, n_features)
        Any memory layout; the course's (n_x, m) array is passed as its
        transpose ``X.T``, a view, so no copy is made. Any array-API array,
        Dask included (the result is then a lazy Dask array).

    Returns
    -------
    z : array of shape (n_samples,)
        X's namespace, dtype and device.
    """
    if is_dask_array(X):
        from logitnet.data.cats import pixel_source

        pixels = pixel_source(X)
        if pixels is not None:  # as in a loss pass: no float copy of a chunk
            import dask

            w = dask.delayed(np.asarray(to_numpy(w)), pure=True)
            return pixels.map_blocks(
                _pixel_decision, w, float(b), np.dtype(X.dtype),
                drop_axis=1, dtype=X.dtype, meta=np.empty((0,), X.dtype),
            )  # fmt: skip
    xp = _namespace(X)
    w = _as_weights(w, X, xp)
    with np.errstate(over="ignore", invalid="ignore"):
        z = X @ w
        z += float(b)  # a NumPy scalar is no Python float to strict libraries
    return z


def sigmoid(z: Array) -> Array:
    """sigma(z) = 1 / (1 + e^-z), without overflow for any z.

    Parameters
    ----------
    z : array of any shape, real floating dtype

    Returns
    -------
    array of the shape, dtype and namespace of z, in [0, 1]
    """
    return _sigmoid(z, _namespace(z))


def _sigmoid(z: Array, xp) -> Array:
    if is_numpy_namespace(xp):
        # SciPy's ufunc does in one pass what the general form below does
        # in six; it is NumPy-only, hence the two branches.
        return expit(z)
    # e^-|z| is in (0, 1]: nothing overflows, and each branch keeps its
    # accuracy where the other would round 1 - a or a to 0.
    e = xp.exp(-xp.abs(z))
    return xp.where(z >= 0, 1 / (1 + e), e / (1 + e))


def softplus(t: Array) -> Array:
    """log(1 + e^t), without overflow for any t.

    Parameters
    ----------
    t : array of any shape, real floating dtype

    Returns
    -------
    array of the shape, dtype and namespace of t, >= 0
    """
    return _softplus(t, _namespace(t))


def _softplus(t: Array, xp) -> Array:
    if is_numpy_namespace(xp):
        return np.logaddexp(0, t)
    return xp.logaddexp(xp.zeros_like(t), t)


def _accumulator(xp, X: Array):
    """float64 for the sums over examples, where X's namespace and device
    have it (not, for instance, PyTorch on Apple's GPUs); else X's dtype."""
    if is_numpy_namespace(xp):
        return np.float64
    try:
        kinds = xp.__array_namespace_info__().dtypes(
            device=device(X), kind="real floating"
        )
    except (AttributeError, TypeError):
        return xp.float64
    return kinds.get("float64", X.dtype)


#: Above this size an in-memory NumPy X is processed in row blocks of about
#: ``BLOCK_BYTES``: each block is used for both products while it is still in
#: cache, so X streams from memory once per evaluation instead of twice.
#: Below it, one BLAS call per product is faster (X already sits in the
#: last-level cache and BLAS spreads one large call over all cores). Both
#: sizes were chosen by measurement on the benchmark machine; see
#: ``benchmarks/RESULTS.md``. Other libraries get one block: their
#: devices (GPUs) have no such cache trade-off, and launching many small
#: kernels costs more than it saves.
SINGLE_PASS_BYTES = 64 * 2**20
BLOCK_BYTES = 4 * 2**20


def rows_per_block(X: Array, dtype=None) -> int:
    """Rows of X per block in :func:`block_sums` (all of them when small).

    ``dtype``: X holds pixels used as floats of this dtype (see
    :func:`block_sums`); they are always converted in blocks.
    """
    m = X.shape[0]
    if dtype is None and (not is_numpy_array(X) or X.nbytes <= SINGLE_PASS_BYTES):
        return max(m, 1)
    itemsize = X.dtype.itemsize if dtype is None else np.dtype(dtype).itemsize
    row_bytes = max(int(np.prod(X.shape[1:])) * itemsize, 1)
    return max(BLOCK_BYTES // row_bytes, 1)


def block_sums(
    w: Array,
    b: float,
    X: Array,
    y: Array,
    sample_weight: Array | None = None,
    compute_loss: bool = True,
    pixels_as: np.dtype | None = None,
) -> tuple[Array | None, Array, Array, Array]:
    """The neuron's sums over the examples in X, forward and backward.

    With s_i the sample weights (1 when None), for the rows i of X:

        cost_sum   = sum_i s_i L(a_i, y_i)
        dw_sum     = sum_i s_i (a_i - y_i) x_i
        db_sum     = sum_i s_i (a_i - y_i)
        weight_sum = sum_i s_i

    Sums of row blocks add up to the sums of the whole, which is how
    :func:`loss_and_grad` uses this on each chunk of a Dask array.

    Parameters
    ----------
    w : array of shape (n_features,)
        Cast to X's dtype and device.
    b : float
    X : array of shape (n_samples, n_features)
        In memory, any array-API namespace (not Dask: see
        :func:`loss_and_grad`).
    y : array of shape (n_samples,)
        Labels 0.0 / 1.0, X's namespace and dtype.
    sample_weight : array of shape (n_samples,), optional
        X's namespace and dtype.
    compute_loss : bool, default=True
        False skips the cost (one log per example); cost_sum is then None.
    pixels_as : numpy float dtype, optional
        X is a NumPy array of uint8 pixels, used as ``X / 255`` in this
        dtype (:func:`logitnet.data.cats.scale`, on each block). Each row block
        is converted just before its two products, into one reused buffer,
        so the floats are made and used in cache; converting all of X first
        would write and re-read four or eight bytes per pixel (measured: a
        64 MiB chunk of 1,365 images takes 10 ms this way, 22 ms that way).

    Returns
    -------
    cost_sum : 0-d array or None
        float64 where the namespace has it, as is db_sum.
    dw_sum : array of shape (n_features,)
        X's namespace and dtype.
    db_sum : 0-d array
    weight_sum : 0-d array or float
        A Python float when there are no sample weights.
    """
    xp = _namespace(X)
    acc = _accumulator(xp, X)
    b = float(b)
    m = X.shape[0]
    if pixels_as is not None:
        w = np.asarray(to_numpy(w), dtype=pixels_as)
    else:
        w = _as_weights(w, X, xp)
    dw = None
    cost_sum = db_sum = 0.0
    with np.errstate(over="ignore", invalid="ignore"):
        for start, stop, Xb in _row_blocks(X, pixels_as):
            yb = y[start:stop]
            sb = None if sample_weight is None else sample_weight[start:stop]
            z = Xb @ w
            z += b
            dz = _sigmoid(z, xp)  # a = sigma(z), overwritten in place by dz = a - y
            dz -= yb
            if sb is not None:
                dz *= sb
            # Xb is still in cache from the first product: this one is cheap.
            part = Xb.T @ dz
            if dw is None:
                dw = part
            else:
                dw += part
            # Sums in float64 whatever X's dtype: O(n_samples), and the
            # optimizer compares costs that differ in their last digits.
            db_sum = db_sum + xp.sum(dz, dtype=acc)
            if compute_loss:
                # +1 for y = 0, -1 for y = 1: exact, and so is z * sign.
                losses = _softplus(z * (1 - 2 * yb), xp)
                if sb is not None:
                    losses *= sb
                cost_sum = cost_sum + xp.sum(losses, dtype=acc)
    if dw is None:  # no rows
        dw = xp.zeros_like(w)
    weight_sum = float(m) if sample_weight is None else xp.sum(sample_weight, dtype=acc)
    return (cost_sum if compute_loss else None), dw, db_sum, weight_sum


def _row_blocks(X: Array, pixels_as: np.dtype | None):
    """(start, stop, X[start:stop] as floats) for the row blocks of X.

    ``pixels_as``: X holds uint8 pixels, converted to ``X / 255`` in this
    dtype block by block, into one reused buffer (see :func:`block_sums`).
    """
    m = X.shape[0]
    rows = rows_per_block(X, pixels_as)
    if pixels_as is not None:
        from logitnet.data.cats import scale

        buffer = np.empty((min(rows, m), X.shape[1]), pixels_as)
    for start in range(0, m, rows):
        stop = min(start + rows, m)
        Xb = X[start:stop, :]
        if pixels_as is not None:
            Xb = scale(Xb, pixels_as, out=buffer[: stop - start])
        yield start, stop, Xb


def _pixel_decision(pixels: np.ndarray, w, b: float, dtype: np.dtype) -> np.ndarray:
    """z of one chunk of uint8 pixels, converted block by block: what
    :func:`decision_function` gives for their floats."""
    w = np.asarray(w, dtype=dtype)
    z = np.empty(pixels.shape[0], dtype)
    with np.errstate(over="ignore", invalid="ignore"):
        for start, stop, Xb in _row_blocks(pixels, dtype):
            np.matmul(Xb, w, out=z[start:stop])
        z += b
    return z


def loss_and_grad(
    w: Array,
    b: float,
    X: Array,
    y: Array,
    *,
    sample_weight: Array | None = None,
    alpha: float = 0.0,
    compute_loss: bool = True,
) -> tuple[float | None, Array, float]:
    """Cross-entropy cost of one sigmoid neuron and its gradient, in one pass.

    With sample weights s_i (all 1 by default) and L2 strength alpha:

        J  = sum_i s_i L(a_i, y_i) / sum_i s_i  +  (alpha / 2) ||w||^2
        dw = X^T (s * (a - y)) / sum_i s_i      +  alpha w
        db = sum_i s_i (a_i - y_i) / sum_i s_i

    The bias is never penalized.

    A Dask X is one pass over its data: every row chunk (X's column chunks
    merged) gives its :func:`block_sums` in one task, the partial sums are
    added in a tree, and all of it runs in one ``dask.compute``, on the
    local scheduler or, when a ``dask.distributed`` client is the default,
    on its cluster. A chunk is read, used for both products and dropped, so
    memory is bounded by a few chunks per thread whatever the data's size.

    Parameters
    ----------
    w : array of shape (n_features,)
        Weights: NumPy, or X's namespace; used in X's dtype and on its device.
    b : float
        Bias.
    X : array of shape (n_samples, n_features)
        Examples, one per row (a transposed view of the course's (n_x, m)),
        float32 or float64; any array-API namespace, or Dask.
    y : array of shape (n_samples,)
        Labels 0.0 or 1.0 in X's dtype and namespace (NumPy or Dask for a
        Dask X).
    sample_weight : array of shape (n_samples,), optional
        Non-negative weights with a positive sum, like ``y``.
    alpha : float, default=0.0
        L2 penalty strength, >= 0.
    compute_loss : bool, default=True
        Skip the cost (one log per example) when only the gradient is needed.

    Returns
    -------
    cost : float or None
        J(w, b), or None when ``compute_loss`` is False.
    dw : array of shape (n_features,)
        dJ/dw in X's dtype, namespace and device; for a Dask X, the computed
        array (NumPy for NumPy chunks).
    db : float
        dJ/db.
    """
    if is_dask_array(X):
        cost_sum, dw, db_sum, total = _dask_block_sums(
            w, b, X, y, sample_weight, compute_loss
        )
    else:
        cost_sum, dw, db_sum, total = block_sums(
            w, b, X, y, sample_weight, compute_loss
        )
    total = float(total)
    with np.errstate(over="ignore", invalid="ignore"):
        dw /= total
        db = float(db_sum) / total
        cost = float(cost_sum) / total if compute_loss else None
        if alpha:
            w = _as_weights(w, dw, _namespace(dw))
            dw += alpha * w
            if compute_loss:
                cost += 0.5 * alpha * float(w @ w)
    return cost, dw, db


# -- Dask: the same block sums, one task per row chunk ---------------------------


def _packed_block_sums(X, y, sample_weight, w, b, compute_loss, pixels_as=None):
    """:func:`block_sums` of one chunk as one float64 vector
    [cost_sum, db_sum, weight_sum, dw_sum...], so that partial sums of
    chunks add with one ``+``."""
    cost, dw, db, total = block_sums(w, b, X, y, sample_weight, compute_loss, pixels_as)
    xp = _namespace(dw)
    head = xp.stack(
        [
            xp.asarray(v, dtype=xp.float64)
            for v in (0.0 if cost is None else cost, db, total)
        ]
    )
    return xp.concat([xp.astype(head, xp.float64), xp.astype(dw, xp.float64)])


def _add(*parts):
    total = parts[0]
    for part in parts[1:]:
        total = total + part
    return total


#: Chunks per ``dask.compute`` of a pass. The scheduler may finish many
#: chunks before the additions that free their partial sums (n_features
#: float64 numbers each), so memory grew with the number of chunks: a pass
#: over 2.5 million images peaked 100 MB above one over 200,000. Waves of
#: this many chunks bound it, for the cost of a wave's last few tasks
#: running with idle threads.
_CHUNKS_PER_COMPUTE = 256

#: Partial sums are added this many at a time: a shallow tree, so a cluster
#: adds in parallel, while each addition holds few n_features vectors.
_FAN_IN = 8


def _dask_block_sums(w, b, X, y, sample_weight, compute_loss):
    import dask
    import dask.array as da

    from logitnet.data.cats import pixel_source

    if X.numblocks[1] != 1:
        # A task needs whole rows: its chunk's z is complete only then.
        X = X.rechunk({1: -1})
    rows = X.chunks[0]
    # X = pixels / 255 from open_images: the tasks read the uint8 chunks and
    # convert them block by block in block_sums, never a whole float chunk.
    pixels = pixel_source(X)
    pixels_as = None if pixels is None else np.dtype(X.dtype)
    chunks = (X if pixels is None else pixels).to_delayed(optimize_graph=True)

    def aligned(v):
        if v is None:
            return [None] * len(rows)
        if not is_dask_array(v):
            v = da.from_array(np.asarray(v), chunks=(rows,))
        elif v.chunks[0] != rows:
            v = v.rechunk((rows,))
        return list(v.to_delayed(optimize_graph=True).ravel())

    # One copy of the weights in the graph, not one per task: a cluster would
    # ship n_features numbers for each of thousands of chunks otherwise.
    w = dask.delayed(np.asarray(w), pure=True)
    parts = [
        dask.delayed(_packed_block_sums, pure=True)(
            xb, yb, sb, w, b, compute_loss, pixels_as
        )
        for xb, yb, sb in zip(
            chunks.ravel(),
            aligned(y),
            aligned(sample_weight),
            strict=True,
        )
    ]
    packed = None
    for first in range(0, len(parts), _CHUNKS_PER_COMPUTE):
        wave = parts[first : first + _CHUNKS_PER_COMPUTE]
        while len(wave) > 1:
            wave = [
                dask.delayed(_add, pure=True)(*wave[i : i + _FAN_IN])
                for i in range(0, len(wave), _FAN_IN)
            ]
        total = _compute(wave[0], reads_files=pixels is not None)
        packed = total if packed is None else packed + total
    xp = _namespace(packed)
    n = X.shape[1]
    dw = xp.astype(packed[3 : 3 + n], X.dtype)
    cost = packed[0] if compute_loss else None
    return cost, dw, packed[1], packed[2]


#: Threads per core of a pass that reads a file, on the local threaded
#: scheduler (unless ``num_workers`` or ``pool`` is configured). A task
#: waiting for the disk holds no core, so one core per thread leaves the
#: disk idle while both compute. Measured on a 30.7 GB file, direct I/O,
#: 2 cores: a pass takes 33.1 s with 2 threads, 24.9 s with 4.
IO_THREADS_PER_CORE = 2


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


def numpy_dtype(X: Array) -> np.dtype:
    """The NumPy float dtype of X's precision (float32 for a PyTorch
    float32 tensor): the dtype the optimizer keeps the weights in."""
    if isinstance(X.dtype, np.dtype):
        return X.dtype
    return np.dtype(f"float{_namespace(X).finfo(X.dtype).bits}")


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
