"""What a fit takes, checked at the door: X, the labels as 0 .. k-1, the weights.

:class:`logitnet.LogisticRegression.fit` calls :func:`fit_inputs` once; the
solvers and the loss trust what it returns. X may be NumPy (checked by
scikit-learn's ``validate_data``), another array-API library's array
(checked on its device), a Dask array or stored pixels (checked lazily: the
labels and weights are computed, X is read only by the fit itself).

Labels of any kind (numbers, strings) become ``classes_`` (sorted) and
codes 0.0 .. k-1 in the fit's dtype: for two classes 0.0 / 1.0, the
sigmoid neuron's y; for k >= 3, the softmax neuron's.
"""

from __future__ import annotations

import numpy as np
from array_api_compat import is_dask_array
from numpy.typing import NDArray
from sklearn.utils import column_or_1d
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import validate_data

from logitnet.backends import array_api as array_api_backend
from logitnet.backends import dask as dask_backend
from logitnet.backends import is_other_namespace, to_numpy
from logitnet.core.pixels import ScaledPixels
from logitnet.core.weights import check_sample_weight

__all__ = ["fit_inputs", "is_lazy", "move_to_namespace_of"]


def is_lazy(X) -> bool:
    """Whether X is a Dask array, or pixels stored in one."""
    return is_dask_array(X.pixels if isinstance(X, ScaledPixels) else X)


def fit_inputs(estimator, X, y, sample_weight, dtype: np.dtype):
    """X, the label codes and the sample weights of a fit, checked.

    Sets ``estimator.classes_`` and ``n_features_in_`` (and
    ``feature_names_in_`` for a DataFrame).

    Returns
    -------
    X : array of shape (n_samples, n_features) in ``dtype``, or ScaledPixels
    codes : array of shape (n_samples,)
        0.0 .. k-1 in ``dtype``, like X (NumPy, Dask, or X's namespace).
    weights : array of shape (n_samples,) or None
    namespace : array or None
        X when its library is another array-API one: the fitted arrays go
        there at the end (:func:`move_to_namespace_of`).
    """
    if isinstance(X, ScaledPixels):
        X = ScaledPixels(X.pixels, dtype, X.from_file)
    if is_lazy(X):
        return (*_dask_data(estimator, X, y, sample_weight, dtype), None)
    if is_other_namespace(X) or isinstance(X, ScaledPixels):
        X, codes, weights = _in_memory_data(estimator, X, y, sample_weight, dtype)
        return X, codes, weights, None if isinstance(X, ScaledPixels) else X
    X, y = validate_data(estimator, X, y, dtype=dtype, y_numeric=False)
    codes = _encode_labels(estimator, y, dtype)
    return X, codes, check_sample_weight(sample_weight, X.shape[0], dtype), None


def _encode_labels(estimator, y: NDArray, dtype: np.dtype) -> NDArray[np.floating]:
    """Set ``classes_``; y as codes 0.0 .. k-1 in ``dtype``."""
    check_classification_targets(y)
    estimator.classes_, codes = np.unique(y, return_inverse=True)
    _check_classes(estimator.classes_)
    return codes.astype(dtype)


def _check_classes(classes) -> None:
    if classes.size < 2:
        found = ", ".join(repr(c) for c in classes[:5].tolist())
        raise ValueError(
            f"LogisticRegression needs at least 2 classes in y; got "
            f"{classes.size} class ({found})"
        )


def _set_n_features(estimator, X) -> None:
    estimator.n_features_in_ = int(X.shape[1])
    if hasattr(estimator, "feature_names_in_"):
        del estimator.feature_names_in_


def _dask_data(estimator, X, y, sample_weight, dtype):
    """X, the codes and the weights of a Dask fit (X a Dask array, or Dask
    pixels), all lazy Dask arrays.

    Only the labels (and weights) are computed here, each with one cheap
    pass; X is never read: its finiteness is checked by the solver on the
    first pass of the fit (:func:`logitnet.core.solvers._check_start`).
    """
    if not isinstance(X, ScaledPixels):
        X = dask_backend.check_X(X, dtype)
    _set_n_features(estimator, X)
    m, rows = X.shape[0], X.chunks[0]
    if is_dask_array(y):
        classes, y = dask_backend.check_labels(y, m, rows)
        check_classification_targets(classes)
        estimator.classes_ = classes
        _check_classes(classes)
        codes = dask_backend.label_codes(y, classes, dtype)
    else:
        codes = dask_backend.chunked(_codes(estimator, y, m, dtype), rows)
    if sample_weight is None:
        return X, codes, None
    if not is_dask_array(sample_weight):
        weights = check_sample_weight(sample_weight, m, dtype)
        return X, codes, dask_backend.chunked(weights, rows)
    return X, codes, dask_backend.check_weights(sample_weight, m, dtype, rows)


def _codes(estimator, y, m: int, dtype: np.dtype) -> NDArray[np.floating]:
    """NumPy-like labels of the m rows of X as codes 0.0 .. k-1."""
    y = column_or_1d(to_numpy(y) if is_other_namespace(y) else np.asarray(y))
    if y.shape[0] != m:
        raise ValueError(
            f"Found input variables with inconsistent numbers of samples: "
            f"[{m}, {y.shape[0]}]"
        )
    return _encode_labels(estimator, y, dtype)


def _in_memory_data(estimator, X, y, sample_weight, dtype):
    """X, the codes and the weights of a fit on another array-API library's
    arrays, on X's device (only the labels and weights visit NumPy), or on
    NumPy pixels."""
    if not isinstance(X, ScaledPixels):
        X = array_api_backend.check_X(X, dtype)
    _set_n_features(estimator, X)
    m = X.shape[0]
    codes = _codes(estimator, y, m, dtype)
    if sample_weight is not None and is_other_namespace(sample_weight):
        sample_weight = to_numpy(sample_weight)
    weights = check_sample_weight(sample_weight, m, dtype)
    if isinstance(X, ScaledPixels):
        return X, codes, weights

    def there(a):
        return None if a is None else array_api_backend.to_namespace_of(a, X)

    return X, there(codes), there(weights)


def move_to_namespace_of(estimator, X) -> None:
    """The fitted arrays in X's namespace and on its device, as
    scikit-learn's array-API convention has them."""
    for name in ("coef_", "intercept_", "n_iter_"):
        there = array_api_backend.to_namespace_of(getattr(estimator, name), X)
        setattr(estimator, name, there)
    if estimator.classes_.dtype.kind in "biuf":
        estimator.classes_ = array_api_backend.to_namespace_of(estimator.classes_, X)
