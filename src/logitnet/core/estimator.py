"""The neuron as a scikit-learn estimator: :class:`LogisticRegression`.

Same model and math as :mod:`logitnet.course.neuron` in scikit-learn's conventions:
X has one example per *row*, shape (n_samples, n_features); y holds any two
labels; fitting returns the estimator; learned attributes end in ``_``. It
works wherever scikit-learn expects a classifier (pipelines, grid search,
cross-validation, ``clone``).

Beyond NumPy, X may be a Dask array, for data larger than memory or spread
over a cluster (each pass streams X chunk by chunk; see
:func:`logitnet.core.loss.loss_and_grad`), or an array of any library following
the Python array API standard (PyTorch, CuPy, ...), which is computed on in
place, on its device, never copied to NumPy.

Examples
--------
>>> import numpy as np
>>> from logitnet import LogisticRegression
>>> X = np.array([[0.0], [1.0], [2.0], [3.0]])
>>> y = np.array(["non-cat", "non-cat", "cat", "cat"])
>>> clf = LogisticRegression(alpha=0.1).fit(X, y)
>>> clf.predict([[0.2], [2.8]]).tolist()
['non-cat', 'cat']
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable
from numbers import Integral

import numpy as np
from array_api_compat import is_dask_array, is_numpy_array
from numpy.typing import ArrayLike, NDArray
from sklearn import get_config
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils.validation import check_is_fitted, validate_data

from logitnet.backends import array_api as array_api_backend
from logitnet.backends import dask as dask_backend
from logitnet.backends import is_other_namespace, namespace, to_numpy
from logitnet.checks import check_learning_rate, check_real
from logitnet.core.divergence import require_finite_result
from logitnet.core.inputs import fit_inputs, is_lazy, move_to_namespace_of
from logitnet.core.loss import (
    decision_function,
    loss_and_grad,
    probabilities,
    softplus,
)
from logitnet.core.pixels import ScaledPixels
from logitnet.core.softmax import log_softmax
from logitnet.core.solvers import (
    COST_EVERY,
    REPRESENTATIONS,
    Problem,
    Step,
    gradient_descent,
    lbfgs,
)
from logitnet.core.weights import check_class_weight, weighted

__all__ = ["DivergenceWarning", "LogisticRegression"]


class DivergenceWarning(ConvergenceWarning):
    """Gradient descent's cost rose instead of falling: the learning rate is
    too large. A :class:`~sklearn.exceptions.ConvergenceWarning`, so that
    whatever handles those handles this."""


_SOLVERS = ("lbfgs", "gd")
_DTYPES = (np.dtype(np.float64), np.dtype(np.float32))


class LogisticRegression(ClassifierMixin, BaseEstimator):
    """Binary logistic regression: one sigmoid neuron, cross-entropy cost.

    p(y = classes_[1] | x) = sigma(x . w + b), fitted by minimizing

        J(w, b) = sum_i s_i L(sigma(x_i . w + b), y_i) / sum_i s_i
                  + (alpha / 2) ||w||^2

    with L the cross-entropy and s_i the sample weights (all 1 by default).
    With ``alpha=0`` (the default, as in the course) there is no penalty;
    on separable data the unpenalized weights grow until the gradient falls
    below ``tol``.

    Parameters
    ----------
    solver : {"lbfgs", "gd"}, default="lbfgs"
        ``"lbfgs"``: limited-memory BFGS with a Wolfe line search, the fast
        choice. ``"gd"``: the course's fixed-step gradient descent, starting
        from zeros; with ``learning_rate=0.005, max_iter=2000`` on the cat
        data it reproduces :func:`logitnet.course.neuron.model`.
    alpha : float, default=0.0
        L2 penalty strength, >= 0. The bias is not penalized.
    learning_rate : float, default=0.005
        Step size of ``solver="gd"``, > 0; ignored by ``"lbfgs"``.
    max_iter : int, default=1000
        Largest number of iterations, >= 0.
    tol : float, default=1e-4
        Stop once the largest gradient component is <= tol, >= 0. With 0 the
        solver runs ``max_iter`` iterations (or until the cost cannot fall
        further at machine precision).
    fit_intercept : bool, default=True
        Learn the bias b; False keeps it at 0.
    dtype : {numpy.float64, numpy.float32}, default=numpy.float64
        The float type of the computation. X is converted to it once, at
        fit and at predict (no copy when it already has it; a Dask X chunk
        by chunk, as it is read); float32 halves memory traffic and time,
        and nothing is upcast to float64 on the way.
    verbose : int, default=0
        > 0 prints the cost as the solver goes (every iteration for lbfgs,
        every 100 for gd).
    class_weight : None, "balanced" or dict {label: weight}, default=None
        Weights of the classes, as scikit-learn defines them: each example's
        weight is its class's weight times its ``sample_weight``.
        ``"balanced"``: n_samples / (2 * count of the class), with the
        counts weighted by ``sample_weight`` when it is given (as
        scikit-learn's ``compute_class_weight``); a dict gives weights by
        label, 1 for a label it leaves out.
    representation : {"auto", "primal", "span"}, default="auto"
        Where the solver computes. ``"primal"``: on w, each evaluation two
        passes over X. ``"span"``: on the m coefficients c of w = X^T c,
        after one K = X X^T (m x m), each evaluation O(m^2): the same
        iterates up to rounding, much faster when there are fewer examples
        than features (the cat data: 209 x 12,288); needs X in memory.
        ``"auto"``: the span when X is in memory and the measured cost
        model (:func:`logitnet.core.span.pays`) says it pays.

    Attributes
    ----------
    classes_ : ndarray of shape (2,)
        The two labels, sorted; ``classes_[1]`` is the positive class.
    coef_ : ndarray of shape (1, n_features)
        Weights w, in ``dtype``.
    intercept_ : ndarray of shape (1,)
        Bias b, in ``dtype``.
    n_iter_ : ndarray of shape (1,)
        Iterations the solver took.

        After a fit on an array-API array other than NumPy and Dask (a
        PyTorch tensor, say), these four are arrays of that library on X's
        device, as scikit-learn's array-API support has them (``classes_``
        stays NumPy when the labels are not numbers). After a fit on Dask
        arrays they are NumPy arrays: small, and computed.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Column names, when X was a DataFrame with string column names.
    loss_curve_ : list of float
        The training cost J at every iteration, the start included.
    converged_ : bool
        Whether the gradient fell below ``tol``.
    representation_ : str
        ``"primal"`` or ``"span"``: where the solver computed.
    """

    def __init__(
        self,
        *,
        solver: str = "lbfgs",
        alpha: float = 0.0,
        learning_rate: float = 0.005,
        max_iter: int = 1000,
        tol: float = 1e-4,
        fit_intercept: bool = True,
        dtype: type = np.float64,
        verbose: int = 0,
        class_weight: str | dict | None = None,
        representation: str = "auto",
    ) -> None:
        self.solver = solver
        self.alpha = alpha
        self.learning_rate = learning_rate
        self.max_iter = max_iter
        self.tol = tol
        self.fit_intercept = fit_intercept
        self.dtype = dtype
        self.verbose = verbose
        self.class_weight = class_weight
        self.representation = representation

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_class = True
        tags.array_api_support = True
        return tags

    # -- fitting ---------------------------------------------------------------

    def fit(
        self,
        X: ArrayLike,
        y: ArrayLike,
        sample_weight: ArrayLike | None = None,
        *,
        callback: Callable[[Step], object] | None = None,
    ) -> LogisticRegression:
        """Fit the neuron to labelled examples.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training examples, finite; converted to ``dtype``. A Dask array
            is fitted chunk by chunk with bounded memory, on the local
            scheduler or on the cluster of the default ``dask.distributed``
            client; its finiteness is checked on the first pass of the fit
            itself (no pass of its own). Another array-API array (PyTorch,
            CuPy, ...) is computed on where it is, on its device.
        y : array-like of shape (n_samples,)
            Two distinct labels (numbers, strings, ...). NumPy, or Dask (its
            two classes are found with one pass over the labels).
        sample_weight : array-like of shape (n_samples,), optional
            Non-negative weights with a positive sum; a weight of 2 counts
            an example twice.
        callback : callable, optional
            Called as ``callback(step)`` once per iteration, before its step,
            with a :class:`~logitnet.core.solvers.Step`: a progress display.

        Returns
        -------
        self : LogisticRegression
            Fitted.

        Raises
        ------
        ValueError
            Bad parameters, shapes, NaN/inf, fewer or more than two classes,
            bad sample weights.
        logitnet.exceptions.DivergenceError
            Training that ends with weights, bias or cost that are not finite
            (``solver="gd"`` with a learning rate so large the weights or the
            cost overflow). The estimator is then left unfitted.
        """
        dtype = self._check_params()
        X, codes, weights, there = fit_inputs(self, X, y, sample_weight, dtype)
        weights = weighted(codes, weights, self.class_weight, self.classes_)
        k = len(self.classes_)
        # Two classes: one sigmoid (w, b); k >= 3: a softmax over k columns.
        w0 = np.zeros(X.shape[1] if k == 2 else (X.shape[1], k), dtype)
        b0 = 0.0 if k == 2 else np.zeros(k)
        every = COST_EVERY if self.solver == "gd" else 1  # for verbose

        def report(step: Step) -> None:
            if self.verbose and step.iteration % every == 0:
                print(f"iteration {step.iteration}: cost {step.cost:.6f}", flush=True)
            if callback is not None:
                callback(step)

        problem = Problem(
            X,
            codes,
            w0,
            b0,
            sample_weight=weights,
            alpha=float(self.alpha),
            fit_intercept=self.fit_intercept,
        )
        if self.solver == "gd":
            result = gradient_descent(
                problem,
                learning_rate=float(self.learning_rate),
                num_iterations=self.max_iter,
                tol=float(self.tol),
                record_every=1,
                representation=self.representation,
                progress=report,
            )
            if not result.converged:
                # The curve ends where the weights do, after the last step.
                final, _, _ = loss_and_grad(
                    result.w, result.b, X, codes, sample_weight=weights,
                    alpha=problem.alpha,
                )  # fmt: skip
                result.costs.append(final)
        else:
            result = lbfgs(
                problem,
                max_iter=self.max_iter,
                tol=float(self.tol),
                representation=self.representation,
                progress=report,
            )
        # coef_ (1, n) for two classes, (k, n) for more: scikit-learn's shapes.
        coef = result.w.T if result.w.ndim == 2 else result.w.reshape(1, -1)
        coef = np.ascontiguousarray(coef, dtype=dtype)
        intercept = np.array(result.b, dtype=dtype).reshape(-1)
        require_finite_result(coef, intercept, result.costs)
        self.coef_, self.intercept_ = coef, intercept
        self.n_iter_ = np.array([result.n_iter])
        if there is not None:
            move_to_namespace_of(self, there)
        self.loss_curve_ = result.costs
        self.converged_ = result.converged
        self.representation_ = result.representation
        if result.diverging:
            warnings.warn(
                f"gradient descent is diverging: {result.message}",
                DivergenceWarning,
                stacklevel=2,
            )
        elif not result.converged:
            warnings.warn(
                f"{self.solver} did not converge: {result.message}; the largest "
                f"gradient component is still above tol={self.tol:g}. Raise "
                f"max_iter, scale the features, or set alpha > 0.",
                ConvergenceWarning,
                stacklevel=2,
            )
        return self

    def _check_params(self) -> np.dtype:
        """Check every parameter; the computation's dtype."""
        if self.solver not in _SOLVERS:
            raise ValueError(f"solver must be one of {_SOLVERS}; got {self.solver!r}")
        if self.representation not in REPRESENTATIONS:
            raise ValueError(
                f"representation must be one of {REPRESENTATIONS}; "
                f"got {self.representation!r}"
            )
        check_class_weight(self.class_weight)
        check_real(self.alpha, "alpha", minimum=0.0, inclusive=True)
        check_learning_rate(self.learning_rate)
        check_real(self.tol, "tol", minimum=0.0, inclusive=True)
        if isinstance(self.max_iter, bool) or not isinstance(self.max_iter, Integral):
            raise ValueError(f"max_iter must be an integer; got {self.max_iter!r}")
        if self.max_iter < 0:
            raise ValueError(f"max_iter must be >= 0; got {self.max_iter}")
        if not isinstance(self.fit_intercept, bool | np.bool_):
            raise ValueError(
                f"fit_intercept must be True or False; got {self.fit_intercept!r}"
            )
        if isinstance(self.verbose, bool) or not isinstance(self.verbose, Integral):
            raise ValueError(f"verbose must be an integer; got {self.verbose!r}")
        try:
            dtype = np.dtype(self.dtype)
        except TypeError:
            dtype = None
        if dtype is None or dtype not in _DTYPES:
            raise ValueError(
                f"dtype must be numpy.float64 or numpy.float32; got {self.dtype!r}"
            )
        return dtype

    # -- using the fitted neuron ---------------------------------------------

    def decision_function(self, X: ArrayLike) -> NDArray[np.floating]:
        """z = X w + b: two classes, the log-odds of ``classes_[1]``; k >= 3,
        Z = X coef_^T + intercept_, one column per class.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            NumPy-like, a Dask array, or another array-API array.

        Returns
        -------
        z : array of shape (n_samples,) or (n_samples, k), float64
            NumPy for NumPy-like X; lazy Dask for Dask X; else X's library
            on X's device. Each row's z is that row's alone, bit for bit
            (:func:`logitnet.core.loss.row_dot`).
        """
        return self._z(X, "decision_function")

    def _z(self, X, method: str):
        """z (two classes) or Z (k classes) for ``method``, X checked."""
        X = self._check_predict_X(X, method)
        coef = self.coef_
        if not is_other_namespace(X):
            coef = to_numpy(coef)
        if coef.shape[0] == 1:
            return decision_function(coef[0, :], float(self.intercept_[0]), X)
        return decision_function(coef.T, to_numpy(self.intercept_), X)

    def _check_predict_X(self, X, method: str):
        check_is_fitted(self)
        if get_config()["array_api_dispatch"] and not is_lazy(X):
            array_api_backend.check_same_namespace(X, self.coef_, method)
        dtype = to_numpy(self.coef_).dtype
        if isinstance(X, ScaledPixels):
            X = ScaledPixels(X.pixels, dtype, X.from_file)
        elif is_dask_array(X):
            X = dask_backend.check_X(X, dtype)
        elif is_other_namespace(X):
            X = array_api_backend.check_X(X, dtype)
        else:
            return validate_data(self, X, dtype=dtype, reset=False)
        if X.shape[1] != self.n_features_in_:
            raise ValueError(
                f"X has {X.shape[1]} features, but LogisticRegression is "
                f"expecting {self.n_features_in_} features as input."
            )
        return X

    def predict_proba(self, X: ArrayLike) -> NDArray[np.floating]:
        """Probability of each class.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        proba : array of shape (n_samples, n_classes)
            Columns in the order of ``classes_``; rows sum to 1. The kind of
            array :meth:`decision_function` returns. Two classes: sigma(-z),
            sigma(z); more: the softmax of each row of Z.
        """
        return probabilities(self._z(X, "predict_proba"))

    def predict_log_proba(self, X: ArrayLike) -> NDArray[np.floating]:
        """Log of :meth:`predict_proba`, computed without rounding to log(0).

        Returns
        -------
        log_proba : array of shape (n_samples, n_classes)
            The kind of array :meth:`decision_function` returns.
        """
        z = self._z(X, "predict_log_proba")
        if z.ndim == 2:
            return log_softmax(z)
        # log sigma(z) = -softplus(-z), log(1 - sigma(z)) = -softplus(z).
        return namespace(z).stack([-softplus(z), -softplus(-z)], axis=1)

    def predict(self, X: ArrayLike) -> np.ndarray:
        """The more probable class of each example.

        Returns
        -------
        labels : array of shape (n_samples,)
            Values from ``classes_``: two classes, ``classes_[1]`` where
            sigma(z) > 0.5; more, the class of each row's largest z (the
            first of equal ones). A NumPy array for NumPy-like X; a lazy
            Dask array for a Dask X; for another library's X, an array of
            that library when the labels are numbers (NumPy when strings).
        """
        z = self._z(X, "predict")
        classes = to_numpy(self.classes_)
        index = namespace(z).argmax(z, axis=1) if z.ndim == 2 else z > 0
        if is_dask_array(z):
            take = functools.partial(np.take, classes)
            return index.astype(np.intp).map_blocks(take, dtype=classes.dtype)
        labels = classes[to_numpy(index).astype(np.intp)]
        if is_numpy_array(z) or classes.dtype.kind not in "biuf":
            return labels
        return array_api_backend.to_namespace_of(labels, z)
