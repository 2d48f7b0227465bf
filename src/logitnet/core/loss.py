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
rows: the two products with X, and between them :func:`example_sums`, the
per-example part (sigma, softplus, a - y, the weights) and the only place
where those formulas are written. :mod:`logitnet.core.span` reaches the
same z = X w + b another way and hands it to the same :func:`example_sums`. How the
blocks are run, and where, is the business of :mod:`logitnet.backends`:
:func:`loss_and_grad` hands :func:`block_sums` to the backend of X (NumPy
row blocks, another array-API library on its device, or Dask chunks), so
nothing here reads files or drives Dask.

Arrays of any library that follows the Python array API standard work
unchanged (NumPy, CuPy, PyTorch, array-api-strict, ...): the arithmetic is
written against the namespace of X, on X's device, so X is never copied to
NumPy.

Overflow is not warned about here: a z beyond the float range becomes +-inf,
where sigma and softplus still give the right limits (0, 1, inf). Only absurd
inputs (|w| |x| near 1e308 with mixed signs) can make inf - inf = NaN; the
callers check that their results are finite and say what went wrong.
"""

from __future__ import annotations

import numpy as np

from logitnet.backends import Array, backend_for, namespace
from logitnet.backends.array_api import accumulator, as_weights, to_numpy
from logitnet.core.pixels import ScaledPixels, scale
from logitnet.core.portable import portable_exp
from logitnet.core.softmax import example_sums as softmax_sums
from logitnet.core.softmax import softmax

__all__ = [
    "block_decision",
    "block_sums",
    "decision_function",
    "example_sums",
    "loss_and_grad",
    "portable_exp",
    "probabilities",
    "row_dot",
    "sigmoid",
    "softplus",
]


def sigmoid(z: Array) -> Array:
    """sigma(z) = 1 / (1 + e^-z), without overflow for any z.

    For NumPy, the same bits on every CPU: e^-z is :func:`portable_exp`, so
    a picture's probability does not depend on the machine that computes it
    (one picture, one answer). The formula is SciPy's ``expit``'s, whose
    results it gives but for the last bit of about 1 in 300.

    Parameters
    ----------
    z : array of any shape, real floating dtype

    Returns
    -------
    array of the shape, dtype and namespace of z, in [0, 1]
        sigma(-inf) = 0, sigma(inf) = 1, sigma(nan) = nan; in float64,
        sigma(z) is 0 below z = -709.78, where e^-z is inf.
    """
    xp = namespace(z)
    if xp is np:
        z = np.asarray(z)
        # Computed in float64 whatever z's dtype, then rounded to it.
        a = 1.0 / (1.0 + portable_exp(-np.asarray(z, dtype=np.float64)))
        return np.asarray(a, dtype=z.dtype)
    return _sigmoid(z, xp)


def _sigmoid(z: Array, xp) -> Array:
    """sigma for training's per-example sums (and other array libraries)."""
    if xp is np:
        # Training keeps SciPy's ufunc, fast and as the course's run has
        # always computed it; imported here, so that a prediction, which
        # needs only :func:`sigmoid`, does not pay SciPy's 0.14 s import.
        from scipy.special import expit

        return expit(z)
    # e^-|z| is in (0, 1]: nothing overflows, and each branch keeps its
    # accuracy where the other would round 1 - a or a to 0.
    e = xp.exp(-xp.abs(z))
    return xp.where(z >= 0, 1 / (1 + e), e / (1 + e))


def probabilities(z: Array) -> Array:
    """Every class's probabilities from decision values.

    Parameters
    ----------
    z : array of shape (m,) or (m, k), real floating dtype
        Two classes: z, the log-odds of class 1. k >= 3 classes: one column
        per class (:func:`logitnet.core.softmax.softmax`).

    Returns
    -------
    array of shape (m, 2) or (m, k)
        Two classes: column 0 is sigma(-z) (class 0), column 1 sigma(z)
        (class 1); sigma(-z), not 1 - sigma(z): no rounding to 0 for large
        z. Rows sum to 1.
    """
    if z.ndim == 2:
        return softmax(z)
    return namespace(z).stack([sigmoid(-z), sigmoid(z)], axis=1)


def softplus(t: Array) -> Array:
    """log(1 + e^t), without overflow for any t.

    Parameters
    ----------
    t : array of any shape, real floating dtype

    Returns
    -------
    array of the shape, dtype and namespace of t, >= 0
    """
    return _softplus(t, namespace(t))


def _softplus(t: Array, xp) -> Array:
    if xp is np:
        return np.logaddexp(0, t)
    return xp.logaddexp(xp.zeros_like(t), t)


def block_sums(
    X: Array,
    y: Array,
    sample_weight: Array | None,
    w: Array,
    b: float,
    compute_loss: bool = True,
) -> tuple[Array | None, Array, Array, Array | float]:
    """The neuron's sums over one block of examples, forward and backward.

    With s_i the sample weights (1 when None), for the rows i of X:

        cost_sum   = sum_i s_i L(a_i, y_i)
        dw_sum     = sum_i s_i (a_i - y_i) x_i
        db_sum     = sum_i s_i (a_i - y_i)
        weight_sum = sum_i s_i

    Sums of row blocks add up to the sums of the whole: a backend runs this
    on each block and adds the results (:func:`loss_and_grad`).

    Parameters
    ----------
    X : array of shape (n_samples, n_features)
        In memory, float32 or float64, any array-API namespace.
    y : array of shape (n_samples,)
        Labels 0.0 / 1.0, X's namespace and dtype.
    sample_weight : array of shape (n_samples,) or None
        X's namespace and dtype.
    w : array of shape (n_features,) or (n_features, k)
        Cast to X's dtype and device. Two dimensions: k >= 3 classes, y
        labels 0 .. k-1 (:func:`logitnet.core.softmax.example_sums`).
    b : float, or array of shape (k,)
    compute_loss : bool, default=True
        False skips the cost (one log per example); cost_sum is then None.

    Returns
    -------
    cost_sum : 0-d array or None
        float64 where the namespace has it, as is db_sum.
    dw_sum : array of the shape of w
        X's namespace and dtype.
    db_sum : 0-d array, or of shape (k,)
    weight_sum : 0-d array or float
        A Python float when there are no sample weights.
    """
    w = as_weights(w, X)
    if w.ndim == 2:  # k classes: one product for all of them
        return _softmax_block_sums(X, y, sample_weight, w, b, compute_loss)
    with np.errstate(over="ignore", invalid="ignore"):
        z = X @ w
        z += b
        cost_sum, dz, db_sum, weight_sum = example_sums(
            z, y, sample_weight, compute_loss
        )
        # X is still in cache from the first product: this one is cheap.
        dw = X.T @ dz
    return cost_sum, dw, db_sum, weight_sum


def _softmax_block_sums(X, y, sample_weight, W, b, compute_loss: bool):
    """:func:`block_sums` for W of shape (n_features, k).

    Z is made column-major, each class's z contiguous, the layout in which
    the softmax's reductions over a row's classes are fast
    (:func:`logitnet.core.softmax.example_sums`), and the gradient is
    (dZ^T X)^T, which reads a row-major X along its rows. How BLAS makes a
    column-major Z best depends on the block's shape (measured, one
    thread): for more rows than features it writes it directly (the
    digits, 1,797 x 64, 10 classes: 57 microseconds, against 81 for X W
    and 92 with a copy), for fewer it computes X W and Z is copied (85
    rows of 12,288 float32 pixels: 450 microseconds and a 0.4 microsecond
    copy, against 720 written directly); dZ^T X took 73 and 420
    microseconds there, X^T dZ 98 and 470.
    """
    b = as_weights(b, X)
    with np.errstate(over="ignore", invalid="ignore"):
        if namespace(X) is not np:
            Z = X @ W
        elif X.shape[0] > X.shape[1]:
            Z = np.matmul(X, W, out=np.empty((W.shape[1], X.shape[0]), X.dtype).T)
        else:
            Z = np.asfortranarray(X @ W)
        Z += b
        cost_sum, dZ, db_sum, weight_sum = softmax_sums(
            Z, y, sample_weight, compute_loss
        )
        dW = (dZ.T @ X).T
    return cost_sum, dW, db_sum, weight_sum


def example_sums(
    z: Array, y: Array, sample_weight: Array | None, compute_loss: bool = True
) -> tuple[Array | None, Array, Array, Array | float]:
    """Everything of the neuron's math that is one number per example.

    From the pre-activations z_i (however they were computed: X w + b here,
    K c + b in :mod:`logitnet.core.span`) to

        dz_i       = s_i (sigma(z_i) - y_i)
        cost_sum   = sum_i s_i softplus((1 - 2 y_i) z_i)
        db_sum     = sum_i dz_i
        weight_sum = sum_i s_i

    Parameters
    ----------
    z : array of shape (n_samples,)
        Only read.
    y, sample_weight : arrays of shape (n_samples,) (weights may be None)
        z's namespace and dtype.
    compute_loss : bool, default=True
        As for :func:`block_sums`.

    Returns
    -------
    cost_sum, dz, db_sum, weight_sum
        As :func:`block_sums` returns them, with dz (shape (n_samples,),
        z's namespace and dtype) in the place of dw_sum.

    Called under ``np.errstate(over="ignore", invalid="ignore")``, which
    both callers hold around their products anyway (a second context per
    block costs about 1 % of a pass over a large X).
    """
    # The namespace is looked up once: this runs once per row block, and
    # each lookup costs a microsecond or two (3 % of a pass over 20,000 x
    # 12,288 float32 rows, measured).
    xp = namespace(z)
    acc = np.float64 if xp is np else accumulator(z)
    dz = _sigmoid(z, xp)  # a = sigma(z), overwritten in place by dz = a - y
    dz -= y
    if sample_weight is not None:
        dz *= sample_weight
    # Sums in float64 whatever z's dtype: O(n_samples), and the
    # optimizer compares costs that differ in their last digits.
    db_sum = xp.sum(dz, dtype=acc)
    cost_sum = None
    if compute_loss:
        # +1 for y = 0, -1 for y = 1: exact, and so is z * sign.
        losses = _softplus(z * (1 - 2 * y), xp)
        if sample_weight is not None:
            losses *= sample_weight
        cost_sum = xp.sum(losses, dtype=acc)
    if sample_weight is None:
        weight_sum = float(z.shape[0])
    else:
        weight_sum = xp.sum(sample_weight, dtype=acc)
    return cost_sum, dz, db_sum, weight_sum


def row_dot(X: Array, w: Array) -> Array:
    """Each row's dot product with w, summed in a fixed order in float64.

    One picture, one answer: a row's result depends only on that row and w,
    never on how many rows are computed together, their order, or the CPU.
    ``X @ w`` gives no such promise: BLAS splits its sums by the number of
    rows in the call and by the CPU's vector width, and the last bits move
    (measured on an AVX-512 Xeon: up to 2.3e-13 between a row alone and the
    same row among 4,000 of 12,288 features). Here each x_ij w_j is rounded
    to float64 on its own, then each row is added up by NumPy's pairwise
    summation (8 interleaved partial sums, blocks of 128), an order fixed by
    the number of features alone and the same on every CPU; other array-API
    libraries add columns in a fixed halving tree, with elementwise
    additions only.

    Parameters
    ----------
    X : array of shape (n_samples, n_features)
        Any real dtype, any array-API namespace. Rows are independent, so a
        caller may pass any slice of rows: the results are bit-identical.
    w : array of shape (n_features,)
        NumPy or X's namespace.

    Returns
    -------
    array of shape (n_samples,)
        float64 (where X's namespace and device have it), X's namespace.
    """
    xp = namespace(X)
    if xp is np:
        products = np.multiply(X, to_numpy(w), dtype=np.float64)
        # Pairwise summation along each row: as fast as a BLAS dot product
        # (0.27 ns an element here), unlike a tree of array additions (3x).
        return np.add.reduce(products, axis=1)
    acc = accumulator(X)
    products = xp.astype(X, acc) * xp.astype(as_weights(w, X), acc)
    n = products.shape[1]
    while n > 1:
        # Column j += column j + half; for an odd n, the middle column
        # waits for the next round.
        half = (n + 1) // 2
        added = products[:, : n - half] + products[:, half:n]
        products = xp.concat([added, products[:, n - half : half]], axis=1)
        n = half
    return products[:, 0] if n == 1 else xp.zeros(products.shape[0], dtype=acc)


def block_decision(X: Array, w: Array, b: float | tuple[float, ...]) -> Array:
    """z = X w + b for one block of rows (:func:`row_dot`, then + b); for a
    w of shape (n_features, k), one :func:`row_dot` per column (the block
    is in cache) and b a tuple of k floats: Z of shape (rows, k)."""
    with np.errstate(over="ignore", invalid="ignore"):
        if w.ndim == 1:
            z = row_dot(X, w)
            z += b  # a Python float: a NumPy scalar is not one to strict libraries
            return z
        columns = []
        for j, bias in enumerate(b):
            z = row_dot(X, w[:, j])
            z += bias
            columns.append(z)
        return namespace(columns[0]).stack(columns, axis=1)


def _pass(X: Array | ScaledPixels, dtype=None):
    """X's backend and the arguments that tell it how X is stored.

    ``dtype``: the float dtype stored pixels become (X's own by default).
    """
    if isinstance(X, ScaledPixels):
        options = {"convert": scale, "dtype": dtype or X.dtype}
        return backend_for(X.pixels), X.pixels, options
    return backend_for(X), X, {}


def decision_function(w: Array, b: float, X: Array | ScaledPixels) -> Array:
    """Pre-activation z = X w + b, one answer per row whatever the batch.

    Each row's z is computed on its own terms (:func:`row_dot`): the same
    picture gets the same z, to the last bit, alone or among any others, in
    any order, in any chunking of a file, on any CPU. Stored pixels are
    converted to float64 (``pixels / 255``, as a photo's are), whatever
    dtype the model was trained in.

    Parameters
    ----------
    w : array of shape (n_features,), or (n_features, k) for k classes
        NumPy or X's namespace.
    b : float, or array of shape (k,)
    X : array of shape (n_samples, n_features), or ScaledPixels
        Any memory layout; the course's (n_x, m) array is passed as its
        transpose ``X.T``, a view, so no copy is made. Any array-API array,
        Dask included (the result is then a lazy Dask array).

    Returns
    -------
    z : array of shape (n_samples,), or (n_samples, k), float64
        X's namespace and device (a lazy Dask array for Dask); float64
        where the namespace and device have it.
    """
    backend, stored, options = _pass(X, dtype=np.float64)
    multi = getattr(w, "ndim", 1) == 2
    b = tuple(float(v) for v in to_numpy(b)) if multi else float(b)
    return backend.row_map(block_decision, stored, (w, b), **options)


def loss_and_grad(
    w: Array,
    b: float,
    X: Array | ScaledPixels,
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

    The bias is never penalized. X's backend runs :func:`block_sums` over
    its rows (:mod:`logitnet.backends`): in cache-sized row blocks for a
    large NumPy X, on the device for other array-API libraries, and one
    task per chunk for Dask, on the local scheduler or on the cluster of
    the default ``dask.distributed`` client, in bounded memory.

    Parameters
    ----------
    w : array of shape (n_features,), or (n_features, k) for k >= 3 classes
        Weights: NumPy, or X's namespace; used in X's dtype and on its device.
        With k columns the neuron is the softmax one
        (:mod:`logitnet.core.softmax`): J sums -log a_y, every column is
        penalized.
    b : float, or array of shape (k,)
        Bias.
    X : array of shape (n_samples, n_features), or ScaledPixels
        Examples, one per row (a transposed view of the course's (n_x, m)),
        float32 or float64; any array-API namespace, or Dask; or stored
        pixels (:class:`~logitnet.core.pixels.ScaledPixels`), converted a
        few rows at a time.
    y : array of shape (n_samples,)
        Labels 0.0 or 1.0 (k classes: 0.0 .. k-1) in X's dtype and namespace
        (NumPy or Dask for a Dask X).
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
    dw : array of the shape of w
        dJ/dw in X's dtype, namespace and device; for a Dask X, the computed
        array (NumPy for NumPy chunks).
    db : float, or NumPy float64 array of shape (k,)
        dJ/db.
    """
    backend, stored, options = _pass(X)
    classes = getattr(w, "ndim", 1) == 2
    b = np.asarray(to_numpy(b), np.float64) if classes else float(b)
    cost_sum, dw, db_sum, total = backend.row_sums(
        block_sums,
        stored,
        (y, sample_weight),
        (w, b, compute_loss),
        reads_files=isinstance(X, ScaledPixels) and X.from_file,
        **options,
    )
    total = float(total)
    with np.errstate(over="ignore", invalid="ignore"):
        dw /= total
        if classes:
            db = np.asarray(to_numpy(db_sum), np.float64) / total
        else:
            db = float(db_sum) / total
        cost = float(cost_sum) / total if compute_loss else None
        if alpha:
            w = as_weights(w, dw)
            dw += alpha * w
            if compute_loss:
                flat = namespace(w).reshape(w, (-1,))
                cost += 0.5 * alpha * float(flat @ flat)
    return cost, dw, db
