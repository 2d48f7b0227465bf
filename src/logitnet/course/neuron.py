"""The course's logistic-regression neuron, with the course's names and layout.

Examples are columns: X has shape (n_x, m), labels Y shape (1, m), weights w
shape (n_x, 1) and the bias b is a float. For one example x (a column of X):

    z = w^T x + b,   a = sigma(z),   L(a, y) = -[y log a + (1 - y) log(1 - a)]

and the cost J is the mean of L over the m examples. The chain rule on this
computation graph gives dz = a - y, dw = x dz, db = dz per example; averaged
over examples and vectorized: dw = (1/m) X (A - Y)^T and db = (1/m) sum(A - Y).
The arithmetic lives once, in :func:`logitnet.core.loss.loss_and_grad`; this module
checks the course's shapes at the door and speaks the course's language.

Examples
--------
>>> import numpy as np
>>> from logitnet.course.neuron import propagate
>>> w, b = np.array([[1.0], [2.0]]), 1.5
>>> X = np.array([[1.0, -2.0, -1.0], [3.0, 0.5, -3.2]])
>>> Y = np.array([[1, 1, 0]])
>>> grads, cost = propagate(w, b, X, Y)
>>> round(cost, 8)
0.15900538
"""

from __future__ import annotations

import math
import sys
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from tqdm.auto import tqdm

from logitnet import checks as check
from logitnet.core.loss import decision_function, loss_and_grad, sigmoid
from logitnet.core.solvers import Problem, Step, gradient_descent

__all__ = [
    "accuracy",
    "accuracy_line",
    "cost_line",
    "initialize_with_zeros",
    "model",
    "optimize",
    "predict",
    "propagate",
]


def _problem(
    w: ArrayLike, b: object, X: ArrayLike, Y: ArrayLike | None = None
) -> tuple[np.ndarray, float, np.ndarray, np.ndarray | None]:
    """Check a (w, b, X[, Y]) problem; compute in the float dtype of X."""
    X = check.check_X(X)
    n_x, m = X.shape
    w = check.check_w(w, n_x, X.dtype)
    b = check.check_b(b, X.dtype)
    if Y is not None:
        Y = check.check_Y(Y, m, X.dtype)
    return w, b, X, Y


def initialize_with_zeros(dim: int) -> tuple[NDArray[np.float64], float]:
    """Weights and bias to start gradient descent from.

    Parameters
    ----------
    dim : int
        Number of features n_x, >= 1.

    Returns
    -------
    w : ndarray of shape (dim, 1), float64
        Zeros.
    b : float
        0.0.
    """
    dim = check.check_int(dim, "dim", minimum=1)
    return np.zeros((dim, 1)), 0.0


def propagate(
    w: ArrayLike, b: float, X: ArrayLike, Y: ArrayLike
) -> tuple[dict[str, Any], float]:
    """Forward pass (cost) and backward pass (gradient), vectorized.

    Parameters
    ----------
    w : array_like of shape (n_x, 1)
        Weights.
    b : float
        Bias.
    X : array_like of shape (n_x, m)
        Examples, one per column; computed in its float dtype.
    Y : array_like of shape (1, m)
        Labels, 0 or 1.

    Returns
    -------
    grads : dict
        ``"dw"``: ndarray of shape (n_x, 1), dJ/dw; ``"db"``: float, dJ/db.
    cost : float
        Cross-entropy cost J(w, b).

    Raises
    ------
    ValueError
        For shapes other than these (a rank-1 w or Y included), labels other
        than 0/1, or NaN or inf anywhere; also when w^T x + b overflows so
        badly that the gradient is not finite or the cost is NaN. (A cost
        beyond the float range whose gradient is finite is returned as inf.)
    """
    w, b, X, Y = _problem(w, b, X, Y)
    cost, dw, db = loss_and_grad(w.ravel(), b, X.T, Y.ravel())
    # inf is an honest cost when it exceeds the float range; NaN, or an
    # infinite gradient, is not an answer.
    if math.isnan(cost) or not (np.isfinite(dw).all() and math.isfinite(db)):
        raise _overflow()
    return {"dw": dw.reshape(-1, 1), "db": db}, cost


def cost_line(iteration: int, cost: float) -> str:
    """The course's report line of the cost at one iteration."""
    return f"Cost after iteration {iteration}: {cost:f}"


def accuracy_line(split: str, accuracy_percent: float) -> str:
    """The course's report line of a split's accuracy (``"train"``, ``"test"``)."""
    return f"{split} accuracy: {accuracy_percent} %"


def _overflow() -> ValueError:
    return ValueError(
        "w^T x + b overflows the float range for these w, b and X; "
        "scale X (e.g. pixels / 255) or start from smaller weights"
    )


def optimize(
    w: ArrayLike,
    b: float,
    X: ArrayLike,
    Y: ArrayLike,
    num_iterations: int = 100,
    learning_rate: float = 0.009,
    print_cost: bool = False,
    *,
    progress: bool = False,
) -> tuple[dict[str, Any], dict[str, Any], list[float]]:
    """Learn w and b by gradient descent: w <- w - learning_rate * dw.

    Parameters
    ----------
    w : array_like of shape (n_x, 1)
        Starting weights; the caller's array is never modified.
    b : float
        Starting bias.
    X : array_like of shape (n_x, m)
    Y : array_like of shape (1, m)
        Labels, 0 or 1.
    num_iterations : int, default=100
        Number of gradient steps, >= 0.
    learning_rate : float, default=0.009
        Step size, > 0.
    print_cost : bool, default=False
        Print ``Cost after iteration i: c`` every 100 iterations.
    progress : bool, default=False
        Show a progress bar (on stderr).

    Returns
    -------
    params : dict
        ``"w"``: ndarray of shape (n_x, 1); ``"b"``: float.
    grads : dict
        ``"dw"``, ``"db"``: the gradient of the last iteration (before its
        step), or at the start when ``num_iterations`` is 0.
    costs : list of float
        The cost at iterations 0, 100, 200, ...

    Raises
    ------
    ValueError
        For bad shapes, labels or settings, as :func:`propagate`.
    DivergenceError
        When the learning rate is so large that the weights overflow.
    """
    w, b, X, Y = _problem(w, b, X, Y)
    num_iterations = check.check_int(num_iterations, "num_iterations", minimum=0)
    learning_rate = check.check_learning_rate(learning_rate)
    return _optimize(w, b, X, Y, num_iterations, learning_rate, print_cost, progress)


def _optimize(w, b, X, Y, num_iterations, learning_rate, print_cost, progress):
    """:func:`optimize` on checked input."""
    with tqdm(
        total=num_iterations,
        desc="training",
        unit="it",
        disable=not progress,
        file=sys.stderr,
        leave=False,
    ) as bar:

        def report(step: Step) -> None:
            if print_cost and step.cost is not None:
                # Through tqdm, so the line is not torn by the bar.
                bar.write(cost_line(step.iteration, step.cost), file=sys.stdout)
            bar.update()

        result = gradient_descent(
            Problem(X.T, Y.ravel(), w.ravel(), b),
            learning_rate=learning_rate,
            num_iterations=num_iterations,
            progress=report if print_cost or progress else None,
        )
    dw, db = result.dw, result.db
    if dw is None:
        _, dw, db = loss_and_grad(w.ravel(), b, X.T, Y.ravel(), compute_loss=False)
    params = {"w": result.w.reshape(-1, 1), "b": result.b}
    grads = {"dw": dw.reshape(-1, 1), "db": db}
    return params, grads, result.costs


def predict(w: ArrayLike, b: float, X: ArrayLike) -> NDArray[np.floating]:
    """Label each example: 1.0 where sigma(w^T x + b) > 0.5, else 0.0.

    Parameters
    ----------
    w : array_like of shape (n_x, 1)
    b : float
    X : array_like of shape (n_x, m)

    Returns
    -------
    Y_prediction : ndarray of shape (1, m)
        0.0 / 1.0 in the float dtype of X.
    """
    w, b, X, _ = _problem(w, b, X)
    return _predict(w, b, X)


def _predict(w: np.ndarray, b: float, X: np.ndarray) -> np.ndarray:
    # sigma(z) > 0.5, as the course writes it, not z > 0: for 0 < z < 1e-16
    # sigma(z) rounds to 0.5 and the course's answer is 0.
    z = decision_function(w.ravel(), b, X.T)
    if np.isnan(z).any():
        raise _overflow()
    return (sigmoid(z) > 0.5).astype(X.dtype).reshape(1, -1)


def accuracy(Y_prediction: ArrayLike, Y: ArrayLike) -> float:
    """The course's accuracy in percent: 100 - mean(|Y_prediction - Y|) * 100.

    Parameters
    ----------
    Y_prediction, Y : array_like of shape (1, m)
        Predicted and true labels, 0 or 1.
    """
    Y = np.asarray(Y)
    if Y.ndim != 2 or Y.shape[0] != 1 or Y.shape[1] == 0:
        raise ValueError(f"Y must have shape (1, m) with m >= 1; got shape {Y.shape}")
    Y = check.check_Y(Y, Y.shape[1], np.float64)
    Y_prediction = check.check_Y(Y_prediction, Y.shape[1], np.float64, "Y_prediction")
    return float(100 - np.mean(np.abs(Y_prediction - Y)) * 100)


def model(
    X_train: ArrayLike,
    Y_train: ArrayLike,
    X_test: ArrayLike,
    Y_test: ArrayLike,
    num_iterations: int = 2000,
    learning_rate: float = 0.5,
    print_cost: bool = False,
    *,
    progress: bool = False,
) -> dict[str, Any]:
    """Train from zeros with :func:`optimize`, then predict train and test sets.

    Parameters
    ----------
    X_train : array_like of shape (n_x, m_train)
    Y_train : array_like of shape (1, m_train)
    X_test : array_like of shape (n_x, m_test)
    Y_test : array_like of shape (1, m_test)
    num_iterations : int, default=2000
    learning_rate : float, default=0.5
    print_cost : bool, default=False
        Print the cost every 100 iterations, then ``train accuracy: {} %``
        and ``test accuracy: {} %``.
    progress : bool, default=False
        Show a progress bar (on stderr).

    Returns
    -------
    d : dict
        ``"costs"``, ``"Y_prediction_test"`` (1, m_test),
        ``"Y_prediction_train"`` (1, m_train), ``"w"`` (n_x, 1), ``"b"``,
        ``"learning_rate"``, ``"num_iterations"`` as in the course, plus
        ``"train_accuracy"`` and ``"test_accuracy"`` in percent.
    """
    X_train = check.check_X(X_train, "X_train")
    X_test = check.check_X(X_test, "X_test")
    n_x, m_train = X_train.shape
    if X_test.shape[0] != n_x:
        raise ValueError(
            f"X_test must have {n_x} rows (features), as X_train has; "
            f"got shape {X_test.shape}"
        )
    Y_train = check.check_Y(Y_train, m_train, X_train.dtype, "Y_train")
    Y_test = check.check_Y(Y_test, X_test.shape[1], X_test.dtype, "Y_test")
    num_iterations = check.check_int(num_iterations, "num_iterations", minimum=0)
    learning_rate = check.check_learning_rate(learning_rate)

    w = np.zeros((n_x, 1), dtype=X_train.dtype)
    params, _, costs = _optimize(
        w, 0.0, X_train, Y_train, num_iterations, learning_rate, print_cost, progress
    )
    w, b = params["w"], params["b"]
    Y_prediction_train = _predict(w, b, X_train)
    Y_prediction_test = _predict(w, b, X_test)
    train_accuracy = accuracy(Y_prediction_train, Y_train)
    test_accuracy = accuracy(Y_prediction_test, Y_test)
    if print_cost:
        print(accuracy_line("train", train_accuracy))
        print(accuracy_line("test", test_accuracy))
    return {
        "costs": costs,
        "Y_prediction_test": Y_prediction_test,
        "Y_prediction_train": Y_prediction_train,
        "w": w,
        "b": b,
        "learning_rate": learning_rate,
        "num_iterations": num_iterations,
        "train_accuracy": train_accuracy,
        "test_accuracy": test_accuracy,
    }
