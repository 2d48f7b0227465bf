"""Checks for values entering logitnet's public functions.

Broadcasting silently turns a rank-1 ``w`` of shape (n_x,) into nonsense
(w.T @ X still "works"), so the course API's shapes are checked exactly,
once, at the door. Every check raises ValueError with a message that names
the argument, what was expected and what was given.
"""

from __future__ import annotations

import math
from numbers import Integral, Real

import numpy as np
from numpy.typing import ArrayLike, DTypeLike, NDArray


def _numeric_array(x: ArrayLike, name: str) -> np.ndarray:
    arr = np.asarray(x)
    if arr.dtype == np.bool_ or not (
        np.issubdtype(arr.dtype, np.integer) or np.issubdtype(arr.dtype, np.floating)
    ):
        raise ValueError(f"{name} must hold real numbers; got dtype {arr.dtype}")
    return arr


def float_array(x: ArrayLike, name: str) -> NDArray[np.floating]:
    """``x`` as a real array in the dtype logitnet computes in.

    float32 is kept (for speed); everything else (integers, float16 with its
    65504 ceiling, longdouble) becomes float64.
    """
    arr = _numeric_array(x, name)
    if arr.dtype not in (np.float32, np.float64):
        arr = arr.astype(np.float64)
    return arr


def _require_finite(arr: np.ndarray, name: str) -> None:
    if np.issubdtype(arr.dtype, np.floating) and not np.isfinite(arr).all():
        bad = "NaN" if np.isnan(arr).any() else "inf"
        raise ValueError(f"{name} must be finite; it contains {bad}")


#: Seeds are 32-bit, as scikit-learn's ``random_state`` and NumPy's legacy
#: generator take them.
MAX_SEED = 2**32 - 1


def check_int(
    value: object, name: str, *, minimum: int, maximum: int | None = None
) -> int:
    """Return ``value`` as an int >= ``minimum`` (and <= ``maximum``), else
    raise ValueError."""
    if isinstance(value, bool) or not isinstance(value, Integral):
        raise ValueError(f"{name} must be an integer; got {value!r}")
    if value < minimum or (maximum is not None and value > maximum):
        allowed = f">= {minimum}" if maximum is None else f"from {minimum} to {maximum}"
        raise ValueError(f"{name} must be {allowed}; got {value}")
    return int(value)


#: Most classes a model may have: far beyond any one neuron's use on
#: pictures, and a bound on what a file's class list can cost.
MAX_CLASSES = 10_000


def check_class_names(classes: object) -> list[str]:
    """At least two distinct class names (label i is ``classes[i]``), else
    ValueError."""
    if not (
        isinstance(classes, list | tuple)
        and 2 <= len(classes) <= MAX_CLASSES
        and all(isinstance(c, str) for c in classes)
    ):
        shown = repr(classes)
        shown = shown if len(shown) < 200 else shown[:200] + "..."
        raise ValueError(f"'classes' must be 2 to {MAX_CLASSES} names; got {shown}")
    if len(set(classes)) != len(classes):
        seen: set[str] = set()
        twice = next(c for c in classes if c in seen or seen.add(c))
        raise ValueError(f"'classes' must be different names; got {twice!r} twice")
    return list(classes)


def check_real(
    value: object, name: str, *, minimum: float, inclusive: bool = False
) -> float:
    """Return ``value`` as a finite float > ``minimum`` (>= when inclusive)."""
    if isinstance(value, bool) or not isinstance(value, Real):
        raise ValueError(f"{name} must be a number; got {value!r}")
    above = value >= minimum if inclusive else value > minimum
    if not (math.isfinite(value) and above):
        sign = ">=" if inclusive else ">"
        raise ValueError(
            f"{name} must be a finite number {sign} {minimum:g}; got {value}"
        )
    return float(value)


def check_learning_rate(value: object) -> float:
    """Return ``value`` as a finite float > 0, else raise ValueError."""
    return check_real(value, "learning_rate", minimum=0.0)


def check_X(X: ArrayLike, name: str = "X") -> NDArray[np.floating]:
    """X as a finite float array of shape (n_x, m)."""
    arr = float_array(X, name)
    if arr.ndim != 2:
        raise ValueError(
            f"{name} must have shape (n_x, m), one column per example; "
            f"got shape {arr.shape}"
        )
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise ValueError(
            f"{name} must have at least one feature and one example; "
            f"got shape {arr.shape}"
        )
    _require_finite(arr, name)
    return arr


def _require_in_range(arr: np.ndarray, dtype: np.dtype, name: str) -> None:
    """Values must survive the cast to ``dtype`` (float32 tops out at 3.4e38)."""
    dtype = np.dtype(dtype)
    limit = np.finfo(dtype).max
    if arr.size and np.max(np.abs(arr)) > limit:
        raise ValueError(
            f"{name} has values beyond the range of {dtype} (|value| <= {limit:.3g}), "
            f"the dtype of X"
        )


def check_w(w: ArrayLike, n_x: int, dtype: np.dtype) -> NDArray[np.floating]:
    """w as a finite array of shape (n_x, 1) in ``dtype``."""
    arr = _numeric_array(w, "w")
    if arr.shape != (n_x, 1):
        hint = " (a rank-1 array: use w.reshape(-1, 1))" if arr.ndim == 1 else ""
        raise ValueError(f"w must have shape ({n_x}, 1); got shape {arr.shape}{hint}")
    _require_finite(arr, "w")
    _require_in_range(arr, dtype, "w")
    return arr.astype(dtype, copy=False)


def check_b(b: object, dtype: DTypeLike = np.float64) -> float:
    """b as a finite Python float (a 0-d or one-element array is accepted)."""
    arr = _numeric_array(b, "b")
    if arr.size != 1:
        raise ValueError(f"b must be a scalar; got an array of shape {arr.shape}")
    value = float(arr.reshape(()))
    if not math.isfinite(value):
        raise ValueError(f"b must be finite; got {value}")
    _require_in_range(np.array(value), np.dtype(dtype), "b")
    return value


def check_Y(Y: ArrayLike, m: int, dtype: np.dtype, name: str = "Y") -> np.ndarray:
    """Y as labels 0/1 of shape (1, m) in ``dtype``."""
    arr = _numeric_array(Y, name)
    if arr.shape != (1, m):
        hint = f" (a rank-1 array: use {name}.reshape(1, -1))" if arr.ndim == 1 else ""
        raise ValueError(
            f"{name} must have shape (1, {m}), one label per example; "
            f"got shape {arr.shape}{hint}"
        )
    check_binary_labels(arr, name)
    return arr.astype(dtype, copy=False)


def check_weight_shape(shape: tuple[int, ...], n_samples: int) -> None:
    """Sample weights must be one per example."""
    if tuple(shape) != (n_samples,):
        raise ValueError(
            f"sample_weight must have shape ({n_samples},), one weight per "
            f"example; got shape {tuple(shape)}"
        )


def check_weight_values(smallest: float, total: float) -> None:
    """Sample weights must be non-negative with a positive sum (given their
    smallest value and their sum, however they were computed)."""
    if smallest < 0:
        raise ValueError("sample_weight must be non-negative; it has negative values")
    if not total > 0:
        raise ValueError("sample_weight must have a positive sum; all weights are zero")


def check_image_shape(
    image_shape: object, *, channels: tuple[int, ...] | None = None
) -> tuple[int, int, int]:
    """``image_shape`` as (height, width, channels), three positive ints.

    ``channels``: the channel counts allowed (any when None).
    """
    shape = tuple(image_shape) if isinstance(image_shape, tuple | list) else ()
    if len(shape) != 3 or not all(
        isinstance(n, Integral) and not isinstance(n, bool) and n > 0 for n in shape
    ):
        raise ValueError(
            f"image_shape must be (height, width, channels), 3 positive "
            f"integers; got {image_shape!r}"
        )
    if channels is not None and shape[2] not in channels:
        names = {1: "1 (grey)", 3: "3 (RGB)"}
        allowed = " or ".join(names.get(c, str(c)) for c in channels)
        raise ValueError(
            f"image_shape must have {allowed} channels; got {image_shape!r}"
        )
    return int(shape[0]), int(shape[1]), int(shape[2])


def check_binary_labels(labels: np.ndarray, name: str) -> None:
    """Labels must be 0 or 1; the message shows the first that is not."""
    check_class_labels(labels, name, 2)


def check_class_labels(labels: np.ndarray, name: str, n_classes: int) -> None:
    """Labels must be whole numbers 0 .. ``n_classes`` - 1, one class's index
    each; the message shows the first that is not."""
    bad = (labels < 0) | (labels >= n_classes)
    if not np.issubdtype(labels.dtype, np.integer):
        bad |= labels != np.floor(labels)  # 0.5; NaN too (NaN != NaN)
    if bad.any():
        allowed = "0 and 1" if n_classes == 2 else f"0 to {n_classes - 1}"
        first = labels[bad].flat[0].item()
        raise ValueError(f"{name} must hold labels {allowed} only; got {first!r}")
