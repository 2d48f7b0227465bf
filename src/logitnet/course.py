"""The course's main job: train the cat classifier and keep what it learned.

``logitnet train`` is this function plus printing and saving; Python users
get the same result from it.
"""

from __future__ import annotations

import os

from logitnet.datasets import flatten, load_dataset, scale
from logitnet.modelfile import SavedModel
from logitnet.neuron import model
from logitnet.solvers import RECORD_EVERY

__all__ = ["train_cat_classifier"]


def train_cat_classifier(
    data_dir: str | os.PathLike[str] | None = None,
    *,
    num_iterations: int = 2000,
    learning_rate: float = 0.005,
    print_cost: bool = False,
    progress: bool = False,
    verify: bool = True,
) -> SavedModel:
    """Train one neuron on the cat data as the course does, from zeros.

    The images are flattened and scaled to [0, 1] (:func:`flatten`,
    :func:`scale`), then :func:`logitnet.neuron.model` runs gradient descent.

    Parameters
    ----------
    data_dir : path-like, optional
        Where the course's files are; see :func:`load_dataset`.
    num_iterations : int, default=2000
    learning_rate : float, default=0.005
        The course's settings for its published report.
    print_cost : bool, default=False
        Print the course's report: the cost every 100 iterations, then the
        train and test accuracy.
    progress : bool, default=False
        Show a progress bar on stderr.
    verify : bool, default=True
        Refuse files that are not the course's (see :func:`load_dataset`).

    Returns
    -------
    SavedModel
        Weights of shape (12288,), bias, class names, image shape, training
        settings with the cost curve, and train/test accuracy; ready for
        :func:`logitnet.modelfile.save_model`.

    Raises
    ------
    DataError
        When the data cannot be found or is not valid.
    ValueError
        For settings out of range.
    DivergenceError
        When the learning rate is so large that the weights overflow.
    """
    train_x, train_y, test_x, test_y, classes = load_dataset(data_dir, verify=verify)
    d = model(
        scale(flatten(train_x)),
        train_y,
        scale(flatten(test_x)),
        test_y,
        num_iterations=num_iterations,
        learning_rate=learning_rate,
        print_cost=print_cost,
        progress=progress,
    )
    return SavedModel(
        w=d["w"].ravel(),
        b=d["b"],
        classes=[c.decode() if isinstance(c, bytes) else str(c) for c in classes],
        image_shape=tuple(int(n) for n in train_x.shape[1:]),
        training={
            "solver": "gd",
            "num_iterations": d["num_iterations"],
            "learning_rate": d["learning_rate"],
            "cost_every": RECORD_EVERY,
            "costs": d["costs"],
        },
        metrics={
            "train_accuracy": d["train_accuracy"],
            "test_accuracy": d["test_accuracy"],
        },
    )
