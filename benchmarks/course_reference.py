"""The course's algorithm as the notebook writes it: the speed baseline.

Plain NumPy and float64, examples as columns, the cost computed at every
iteration, as in the notebook's ``propagate`` / ``optimize``. Kept apart from
logitnet (which must not depend on it) so the comparison is with the code a
learner would have written, not with logitnet's own course API.
"""

from __future__ import annotations

import copy

import numpy as np


def sigmoid(z):
    return 1 / (1 + np.exp(-z))


def initialize_with_zeros(dim):
    return np.zeros((dim, 1)), 0.0


def propagate(w, b, X, Y):
    m = X.shape[1]
    A = sigmoid(np.dot(w.T, X) + b)
    cost = -1 / m * np.sum(Y * np.log(A) + (1 - Y) * np.log(1 - A))
    dw = 1 / m * np.dot(X, (A - Y).T)
    db = 1 / m * np.sum(A - Y)
    return {"dw": dw, "db": db}, float(np.squeeze(cost))


def optimize(w, b, X, Y, num_iterations=100, learning_rate=0.009):
    w = copy.deepcopy(w)
    b = copy.deepcopy(b)
    costs = []
    for i in range(num_iterations):
        grads, cost = propagate(w, b, X, Y)
        w = w - learning_rate * grads["dw"]
        b = b - learning_rate * grads["db"]
        if i % 100 == 0:
            costs.append(cost)
    return {"w": w, "b": b}, costs


def course_inputs(train_set_x_orig, train_set_y):
    """X (n_x, m) and Y (1, m) exactly as the notebook builds them."""
    flatten = train_set_x_orig.reshape(train_set_x_orig.shape[0], -1).T
    return flatten / 255.0, train_set_y
