"""The NumPy warm-up functions of the course, made safe for every finite input.

Each function keeps the course's name and meaning. What differs from the
textbook one-liners is numerical care: no function here overflows, warns or
returns NaN for finite input. float32 input is computed and returned in
float32; every other real input (integers, float16, float64) in float64.
Non-real input (strings, booleans, complex numbers) raises ValueError;
``basic_sigmoid``, like the ``math`` module it uses, raises TypeError.
"""

from __future__ import annotations

import math
from numbers import Real

import numpy as np
from numpy.typing import ArrayLike, NDArray

from logitnet.checks import float_array
from logitnet.core.loss import sigmoid as core_sigmoid

__all__ = [
    "basic_sigmoid",
    "image2vector",
    "l1",
    "l2",
    "normalize_rows",
    "sigmoid",
    "sigmoid_derivative",
    "sigmoid_grad",
    "softmax",
]


def _require_ndim(arr: np.ndarray, ndim: int, name: str, layout: str) -> None:
    if arr.ndim != ndim:
        raise ValueError(
            f"{name} must be a {ndim}-d array of shape {layout}; got shape {arr.shape}"
        )


def basic_sigmoid(x: float) -> float:
    """Sigmoid of one real number, with the ``math`` module.

    sigmoid(x) = 1 / (1 + exp(-x)).

    Parameters
    ----------
    x : real number
        Any finite real number: int (of any size), float, or a NumPy scalar.

    Returns
    -------
    s : float
        sigmoid(x) in [0, 1].

    Examples
    --------
    >>> basic_sigmoid(3)
    0.9525741268224334
    """
    if isinstance(x, bool | np.bool_) or not isinstance(x, Real):
        raise TypeError(f"x must be a real number; got {type(x).__name__}")
    try:
        x = float(x)
    except OverflowError:  # an int beyond the float range: sigma is 0 or 1
        x = math.inf if x > 0 else -math.inf
    # exp(-x) overflows for x < -709; for negative x the equivalent
    # exp(x) / (1 + exp(x)) only ever underflows, quietly, to 0.
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    e = math.exp(x)
    return e / (1.0 + e)


def sigmoid(x: ArrayLike) -> NDArray[np.floating]:
    """Elementwise sigmoid, 1 / (1 + exp(-x)).

    Parameters
    ----------
    x : array_like of any shape
        Real numbers.

    Returns
    -------
    s : ndarray of the same shape as x
        sigmoid(x), in [0, 1]; the float dtype of ``x`` (float64 for integers).
        sigmoid(-1000) is exactly 0.0 and sigmoid(1000) exactly 1.0.

    Examples
    --------
    >>> sigmoid(np.array([1, 2, 3]))
    array([0.73105858, 0.88079708, 0.95257413])
    """
    # The neuron's own sigma, a picture's (core.loss.sigmoid): its e^-x is
    # the same on every CPU, and it never warns, where the naive formula's
    # np.exp overflows for x < -709.
    return core_sigmoid(float_array(x, "x"))


def sigmoid_grad(x: ArrayLike) -> NDArray[np.floating]:
    """Derivative of the sigmoid, sigma'(x) = sigma(x) * (1 - sigma(x)).

    Parameters
    ----------
    x : array_like of any shape
        Real numbers.

    Returns
    -------
    ds : ndarray of the same shape as x
        sigma'(x), in [0, 0.25]; the float dtype of ``x``.

    Examples
    --------
    >>> sigmoid_grad(np.array([1, 2, 3]))
    array([0.19661193, 0.10499359, 0.04517666])
    """
    s = sigmoid(x)
    return s * (1 - s)


#: The course's original name for :func:`sigmoid_grad`.
sigmoid_derivative = sigmoid_grad


def image2vector(image: ArrayLike) -> NDArray:
    """Unroll an image into a column vector.

    Parameters
    ----------
    image : array_like of shape (length, height, depth)

    Returns
    -------
    v : ndarray of shape (length * height * depth, 1)
        The pixels in C order (depth fastest), the same dtype as ``image``;
        a view when ``image`` is C-contiguous.
    """
    arr = np.asarray(image)
    _require_ndim(arr, 3, "image", "(length, height, depth)")
    return arr.reshape(-1, 1)


def normalize_rows(x: ArrayLike) -> NDArray[np.floating]:
    """Divide each row by its Euclidean (L2) norm.

    Parameters
    ----------
    x : array_like of shape (n, m)

    Returns
    -------
    x_normalized : ndarray of shape (n, m)
        Every non-zero row has norm 1; a row of zeros stays zeros.

    Examples
    --------
    >>> normalize_rows(np.array([[0, 3, 4], [1, 6, 4]]))
    array([[0.        , 0.6       , 0.8       ],
           [0.13736056, 0.82416338, 0.54944226]])
    """
    arr = float_array(x, "x")
    _require_ndim(arr, 2, "x", "(n, m)")
    # Squaring entries near the float limit overflows (1e200**2 = inf) and
    # subnormal entries underflow to 0, so each row is first scaled by its
    # largest magnitude: the norm is then computed from values in [-1, 1].
    if arr.shape[1] == 0:
        return arr.copy()
    scale = np.max(np.abs(arr), axis=1, keepdims=True)
    scale = np.where(scale == 0, 1, scale).astype(arr.dtype, copy=False)
    scaled = arr / scale
    norm = np.sqrt(np.sum(scaled * scaled, axis=1, keepdims=True))
    return scaled / np.where(norm == 0, 1, norm).astype(arr.dtype, copy=False)


def softmax(x: ArrayLike) -> NDArray[np.floating]:
    """Row-wise softmax, exp(x_ij) / sum_j exp(x_ij).

    Parameters
    ----------
    x : array_like of shape (n, m)

    Returns
    -------
    s : ndarray of shape (n, m)
        Each row is non-negative and sums to 1.

    Notes
    -----
    Softmax is unchanged by subtracting a constant from a row, so each row's
    maximum is subtracted first: every exponent is then <= 0 and exp cannot
    overflow, even for entries in the thousands.
    """
    arr = float_array(x, "x")
    _require_ndim(arr, 2, "x", "(n, m)")
    if arr.shape[1] == 0:
        return arr.copy()
    # A difference beyond the float range (1e308 - -1e308) rounds to -inf,
    # whose exp is exactly the right 0: that overflow is harmless.
    with np.errstate(over="ignore"):
        shifted = arr - np.max(arr, axis=1, keepdims=True)
    e = np.exp(shifted)
    return e / np.sum(e, axis=1, keepdims=True)


def _check_pair(yhat: ArrayLike, y: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    yhat_arr = float_array(yhat, "yhat")
    y_arr = float_array(y, "y")
    if yhat_arr.shape != y_arr.shape:
        raise ValueError(
            f"yhat and y must have the same shape; got {yhat_arr.shape} "
            f"and {y_arr.shape}"
        )
    return yhat_arr, y_arr


def l1(yhat: ArrayLike, y: ArrayLike) -> float:
    """L1 loss, sum_i |y_i - yhat_i|.

    Parameters
    ----------
    yhat : array_like of shape (m,)
        Predictions.
    y : array_like of shape (m,)
        True values.

    Returns
    -------
    loss : float
        The loss; ``inf`` (without a warning) where the true sum exceeds the
        largest float.
    """
    yhat_arr, y_arr = _check_pair(yhat, y)
    # Differences of values near the float limit can exceed it: the honest
    # answer is inf, which is returned without a RuntimeWarning.
    with np.errstate(over="ignore"):
        return float(np.sum(np.abs(y_arr - yhat_arr)))


def l2(yhat: ArrayLike, y: ArrayLike) -> float:
    """L2 loss, sum_i (y_i - yhat_i)**2.

    Parameters
    ----------
    yhat : array_like of shape (m,)
        Predictions.
    y : array_like of shape (m,)
        True values.

    Returns
    -------
    loss : float
        The loss; ``inf`` (without a warning) where the true sum exceeds the
        largest float.
    """
    yhat_arr, y_arr = _check_pair(yhat, y)
    with np.errstate(over="ignore"):
        d = y_arr - yhat_arr
        return float(np.dot(d.ravel(), d.ravel()))
