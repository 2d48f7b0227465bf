"""The neuron as a scikit-learn estimator: :class:`LogisticRegression`.

Same model and math as :mod:`logitnet.neuron` in scikit-learn's conventions:
X has one example per *row*, shape (n_samples, n_features); y holds any two
labels; fitting returns the estimator; learned attributes end in ``_``. It
works wherever scikit-learn expects a classifier (pipelines, grid search,
cross-validation, ``clone``).

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

import warnings
from collections.abc import Callable
from numbers import Integral

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.special import expit
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_array
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from logitnet._validation import check_learning_rate, check_real
from logitnet.loss import decision_function, loss_and_grad
from logitnet.solvers import gradient_descent, lbfgs

__all__ = ["LogisticRegression"]

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
        data it reproduces :func:`logitnet.neuron.model`.
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
        fit and at predict (no copy when it already has it); float32 halves
        memory traffic and time, and nothing is upcast to float64 on the way.
    verbose : int, default=0
        > 0 prints the cost as the solver goes (every iteration for lbfgs,
        every 100 for gd).

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
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Column names, when X was a DataFrame with string column names.
    loss_curve_ : list of float
        The training cost J at every iteration, the start included.
    converged_ : bool
        Whether the gradient fell below ``tol``.
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
    ) -> None:
        self.solver = solver
        self.alpha = alpha
        self.learning_rate = learning_rate
        self.max_iter = max_iter
        self.tol = tol
        self.fit_intercept = fit_intercept
        self.dtype = dtype
        self.verbose = verbose

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_class = False
        return tags

    # -- fitting ---------------------------------------------------------------

    def fit(
        self,
        X: ArrayLike,
        y: ArrayLike,
        sample_weight: ArrayLike | None = None,
        *,
        callback: Callable[[int, float], object] | None = None,
    ) -> LogisticRegression:
        """Fit the neuron to labelled examples.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training examples, finite; converted to ``dtype``.
        y : array-like of shape (n_samples,)
            Two distinct labels (numbers, strings, ...).
        sample_weight : array-like of shape (n_samples,), optional
            Non-negative weights with a positive sum; a weight of 2 counts
            an example twice.
        callback : callable, optional
            Called as ``callback(iteration, cost)`` once per iteration, with
            the cost before that iteration's step: a progress bar, a log.

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
            ``solver="gd"`` with a learning rate so large the weights overflow.
        """
        dtype = self._check_params()
        X, y = validate_data(self, X, y, dtype=dtype, y_numeric=False)
        check_classification_targets(y)
        self.classes_, y01 = np.unique(y, return_inverse=True)
        if self.classes_.size > 2:
            raise ValueError(
                f"Only binary classification is supported: LogisticRegression "
                f"needs exactly 2 classes in y; got {self.classes_.size} classes"
            )
        if self.classes_.size != 2:
            found = ", ".join(repr(c) for c in self.classes_[:5].tolist())
            more = ", ..." if self.classes_.size > 5 else ""
            raise ValueError(
                f"LogisticRegression needs exactly 2 classes in y; got "
                f"{self.classes_.size} class{'es' if self.classes_.size > 1 else ''}"
                f" ({found}{more})"
            )
        y01 = y01.astype(dtype)
        weights = _check_sample_weight(sample_weight, X.shape[0], dtype)
        if weights is not None and np.unique(y01[weights > 0]).size < 2:
            raise ValueError(
                "LogisticRegression needs examples of both classes with a "
                "positive sample_weight; only one class has any"
            )
        w0 = np.zeros(X.shape[1], dtype)

        def report(iteration: int, cost: float) -> None:
            if self.verbose and (self.solver == "lbfgs" or iteration % 100 == 0):
                _print_cost(iteration, cost)
            if callback is not None:
                callback(iteration, cost)

        # The cost's terms, as loss_and_grad takes them.
        problem = {"sample_weight": weights, "alpha": float(self.alpha)}
        if self.solver == "gd":
            result = gradient_descent(
                w0,
                0.0,
                X,
                y01,
                learning_rate=float(self.learning_rate),
                num_iterations=self.max_iter,
                tol=float(self.tol),
                record_every=1,
                on_record=report,
                fit_intercept=self.fit_intercept,
                **problem,
            )
            if not result.converged:
                # The curve ends where the weights do, after the last step.
                final, _, _ = loss_and_grad(result.w, result.b, X, y01, **problem)
                result.costs.append(final)
        else:
            result = lbfgs(
                w0,
                0.0,
                X,
                y01,
                max_iter=self.max_iter,
                tol=float(self.tol),
                on_record=report,
                fit_intercept=self.fit_intercept,
                **problem,
            )
        self.coef_ = result.w.astype(dtype, copy=False).reshape(1, -1)
        self.intercept_ = np.array([result.b], dtype=dtype)
        self.n_iter_ = np.array([result.n_iter])
        self.loss_curve_ = result.costs
        self.converged_ = result.converged
        if not result.converged:
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
        """z = X w + b, the log-odds of the positive class ``classes_[1]``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        z : ndarray of shape (n_samples,)
        """
        check_is_fitted(self)
        X = validate_data(self, X, dtype=self.coef_.dtype, reset=False)
        return decision_function(self.coef_[0], float(self.intercept_[0]), X)

    def predict_proba(self, X: ArrayLike) -> NDArray[np.floating]:
        """Probability of each class.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        proba : ndarray of shape (n_samples, 2)
            Columns in the order of ``classes_``; rows sum to 1.
        """
        z = self.decision_function(X)
        # sigma(-z), not 1 - sigma(z): no rounding to 0 for large z.
        return np.column_stack([expit(-z), expit(z)])

    def predict_log_proba(self, X: ArrayLike) -> NDArray[np.floating]:
        """Log of :meth:`predict_proba`, computed without rounding to log(0).

        Returns
        -------
        log_proba : ndarray of shape (n_samples, 2)
        """
        z = self.decision_function(X)
        # log sigma(z) = -softplus(-z), log(1 - sigma(z)) = -softplus(z).
        return np.column_stack([-np.logaddexp(0, z), -np.logaddexp(0, -z)])

    def predict(self, X: ArrayLike) -> np.ndarray:
        """The more probable class of each example.

        Returns
        -------
        labels : ndarray of shape (n_samples,)
            Values from ``classes_``; ``classes_[1]`` where sigma(z) > 0.5.
        """
        z = self.decision_function(X)
        return self.classes_[(z > 0).astype(np.intp)]


def _check_sample_weight(
    sample_weight: ArrayLike | None, n_samples: int, dtype: np.dtype
) -> NDArray[np.floating] | None:
    """Sample weights as a finite, non-negative array with a positive sum."""
    if sample_weight is None:
        return None
    weights = check_array(
        sample_weight, ensure_2d=False, dtype=dtype, input_name="sample_weight"
    )
    if weights.shape != (n_samples,):
        raise ValueError(
            f"sample_weight must have shape ({n_samples},), one weight per "
            f"example; got shape {weights.shape}"
        )
    if (weights < 0).any():
        raise ValueError("sample_weight must be non-negative; it has negative values")
    if not weights.sum() > 0:
        raise ValueError("sample_weight must have a positive sum; all weights are zero")
    return weights


def _print_cost(iteration: int, cost: float) -> None:
    print(f"iteration {iteration}: cost {cost:.6f}", flush=True)
