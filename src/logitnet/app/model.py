"""The fitted neuron as one object: :class:`SavedModel`.

What a model file holds (:mod:`logitnet.app.modelfile` writes and reads it),
put to use: pictures in, answers out (through
:func:`logitnet.app.prediction.classify`, no estimator built), and the one
conversion to and from a fitted :class:`logitnet.LogisticRegression`
(:meth:`SavedModel.from_estimator`, :meth:`SavedModel.to_estimator`), which
``logitnet train`` uses as much as a model fitted in Python does.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from logitnet import __version__
from logitnet.app.prediction import classify, model_input
from logitnet.checks import check_class_names
from logitnet.data.images import PREPROCESSING

__all__ = ["SavedModel", "cost_every", "features_not_pictures"]


@dataclass
class SavedModel:
    """A trained neuron and what is needed to use it.

    Attributes
    ----------
    w : ndarray of shape (n_x,), or (n_x, k) for k >= 3 classes, float64
        Two classes: the sigmoid's weights (``classes[1]``'s log-odds);
        k classes: the softmax's, one column per class.
    b : float, or ndarray of shape (k,)
    classes : list of str
        Class names; label i is ``classes[i]``.
    image_shape : tuple of int, or None
        (height, width, channels) the model takes; n_x is their product.
        None: a model of n_x features, not of pictures (saved from Python
        without a picture shape); it is used through :meth:`to_estimator`.
    training : dict
        Solver settings and the recorded costs.
    metrics : dict
        Accuracy on the training and test sets, in percent, and the full
        metrics of each (:mod:`logitnet.app.evaluation`); None where a
        metric is undefined.
    preprocessing : dict
    logitnet_version : str
    labels : list of int, float or bool, or None
        The estimator's class labels when they are not the names (numbers):
        what :meth:`to_estimator`'s ``classes_`` and ``predict`` give.
    feature_names : list of str, or None
        The columns the estimator was fitted on, when it was fitted on a
        DataFrame.
    """

    w: NDArray[np.float64]
    b: float | NDArray[np.float64]
    classes: list[str]
    image_shape: tuple[int, ...] | None
    training: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    preprocessing: dict[str, str] = field(default_factory=lambda: dict(PREPROCESSING))
    logitnet_version: str = __version__
    labels: list | None = None
    feature_names: list[str] | None = None

    @property
    def n_features(self) -> int:
        """n_x, the number of inputs."""
        return int(np.shape(self.w)[0])

    # -- to and from the estimator ---------------------------------------------

    @classmethod
    def from_estimator(
        cls,
        estimator,
        *,
        image_shape: tuple[int, int, int] | None = None,
        classes: list[str] | None = None,
        training: dict[str, Any] | None = None,
    ) -> SavedModel:
        """A fitted :class:`logitnet.LogisticRegression` as a model file's
        contents: the one conversion (``logitnet train`` makes its models
        with it).

        Parameters
        ----------
        estimator : LogisticRegression
            Fitted.
        image_shape : (height, width, channels), optional
            The pictures the estimator was fitted on, when it was: each row
            of its X was a picture flattened in C order and divided by 255
            (:func:`logitnet.app.prediction.pictures_to_X`), so
            height * width * channels = ``n_features_in_``. Without it the
            model takes features, not pictures.
        classes : list of str, optional
            The names of ``classes_[0]``, ``classes_[1]``, ..., which
            :meth:`to_estimator`'s ``classes_`` will be. Default: the labels
            as text, numbers being kept as ``labels`` too.
        training : dict, optional
            More to record in ``training`` (where the data came from).

        Returns
        -------
        SavedModel
            ``training`` holds the settings (``solver``, ``learning_rate``,
            ``num_iterations`` (``max_iter``), ``alpha``, ``tol``,
            ``class_weight`` (by class name), ``fit_intercept``, ``dtype``,
            ``representation_setting``), where the solver computed
            (``representation``), ``n_iter``, ``converged``, ``final_cost``
            and the cost every :func:`cost_every` iterations (``costs``).

        Raises
        ------
        TypeError
            If ``estimator`` is not a :class:`logitnet.LogisticRegression`.
        sklearn.exceptions.NotFittedError
            If it is not fitted.
        ValueError
            If its class labels are neither strings nor numbers, or
            ``classes`` is not one different name per class.
        """
        from sklearn.exceptions import NotFittedError

        from logitnet.backends import to_numpy
        from logitnet.core.estimator import LogisticRegression

        if not isinstance(estimator, LogisticRegression):
            kind = f"{type(estimator).__module__}.{type(estimator).__qualname__}"
            raise TypeError(
                "a model to save must be a SavedModel or a fitted "
                f"logitnet.LogisticRegression; got {kind}"
            )
        if not hasattr(estimator, "coef_"):
            raise NotFittedError(
                "this LogisticRegression is not fitted: call fit(X, y) before saving it"
            )
        labels = to_numpy(estimator.classes_).tolist()
        if classes is None and not all(
            isinstance(label, str | int | float) for label in labels
        ):
            raise ValueError(
                f"class labels must be strings or numbers to be saved; got {labels!r}"
            )
        if classes is None:
            names = [str(label) for label in labels]
        else:
            names = check_class_names(classes)
        names_of = dict(zip(labels, names, strict=True))
        n_iter = int(to_numpy(estimator.n_iter_)[0])
        every = cost_every(estimator.solver)
        weights = estimator.class_weight
        if isinstance(weights, dict):
            weights = {
                names_of[k]: float(v) for k, v in weights.items() if k in names_of
            }
        feature_names = getattr(estimator, "feature_names_in_", None)
        coef = to_numpy(estimator.coef_).astype(np.float64)
        intercept = to_numpy(estimator.intercept_).astype(np.float64)
        two = coef.shape[0] == 1
        return cls(
            w=coef[0] if two else np.ascontiguousarray(coef.T),
            b=float(intercept[0]) if two else intercept,
            classes=names,
            image_shape=None if image_shape is None else tuple(image_shape),
            training={
                **(training or {}),
                "solver": estimator.solver,
                "learning_rate": float(estimator.learning_rate),
                "num_iterations": int(estimator.max_iter),
                "alpha": float(estimator.alpha),
                "tol": float(estimator.tol),
                "class_weight": weights,
                "fit_intercept": bool(estimator.fit_intercept),
                "dtype": np.dtype(estimator.dtype).name,
                "representation_setting": estimator.representation,
                "representation": estimator.representation_,
                "n_iter": n_iter,
                "converged": bool(estimator.converged_),
                "final_cost": float(estimator.loss_curve_[-1]),
                "cost_every": every,
                "costs": [float(c) for c in estimator.loss_curve_[:n_iter:every]],
            },
            preprocessing=dict(PREPROCESSING) if image_shape is not None else {},
            labels=None if classes is not None or names == labels else labels,
            feature_names=None if feature_names is None else list(feature_names),
        )

    def to_estimator(self):
        """The model as a fitted :class:`logitnet.LogisticRegression`, with
        the training settings the file records (solver, learning rate,
        ``max_iter``, ``alpha``, ``tol``, ``class_weight``,
        ``fit_intercept``, ``dtype``, ``representation``; the defaults for
        any it does not).

        Its ``classes_`` are ``labels`` when the model has them, else the
        class names in label order, so ``predict_proba``'s columns are
        ``classes``. ``coef_`` and ``intercept_`` are in the recorded dtype.
        """
        from logitnet.core.estimator import LogisticRegression

        if self.labels is not None:
            classes = np.array(self.labels)
        else:
            classes = np.array(self.classes, dtype=object)
        est = LogisticRegression(**_settings(self.training, self.classes, classes))
        dtype = np.dtype(est.dtype)
        est.classes_ = classes
        w = np.asarray(self.w, np.float64).astype(dtype)
        est.coef_ = w.reshape(1, -1) if w.ndim == 1 else np.ascontiguousarray(w.T)
        est.intercept_ = np.array(self.b, dtype).reshape(-1)
        est.n_features_in_ = est.coef_.shape[1]
        if self.feature_names is not None:
            est.feature_names_in_ = np.array(self.feature_names, dtype=object)
        est.n_iter_ = np.array([self.training.get("n_iter", 0)])
        est.converged_ = bool(self.training.get("converged", False))
        est.loss_curve_ = list(self.training.get("costs", []))
        est.representation_ = self.training.get("representation", "primal")
        return est

    # -- using the model on pictures -------------------------------------------

    def images_to_X(self, images) -> NDArray[np.float64]:
        """Pictures as the model's input matrix.

        Parameters
        ----------
        images : path-like, PIL image, ndarray, or a sequence of them
            One picture, or several (at least one); an ndarray of shape
            (k, h, w, c) is k pictures. See
            :func:`logitnet.data.images.read_image`.

        Returns
        -------
        X : ndarray of shape (k, height * width * channels), float64
            One flattened, scaled picture per row
            (:func:`logitnet.app.prediction.model_input`).

        Raises
        ------
        ValueError
            If the model has no picture shape.
        """
        return model_input(self, self._pictures(images))

    def predict_proba(self, images) -> NDArray[np.float64]:
        """Probability of each class for each picture (see ``images_to_X``).

        Returns
        -------
        proba : ndarray of shape (m, n_classes)
            Columns in the order of ``classes``.
        """
        return classify(self, self._pictures(images)).probabilities

    def predict(self, images) -> list[str]:
        """The more probable class name of each picture (see ``images_to_X``)."""
        return classify(self, self._pictures(images)).labels

    def not_pictures(self) -> str | None:
        """Why the model cannot classify pictures (it has no picture shape),
        in words; None when it can."""
        if self.image_shape is not None:
            return None
        return features_not_pictures(self.n_features)

    def _pictures(self, images) -> NDArray[np.uint8]:
        """Pictures read and brought to ``image_shape``: (k, h, w, c) uint8."""
        from logitnet.data.images import read_image

        if self.image_shape is None:
            raise ValueError(self.not_pictures())
        batch = [read_image(image, self.image_shape) for image in _as_list(images)]
        return np.stack(batch) if batch else np.empty((0, *self.image_shape), np.uint8)


def features_not_pictures(n_features: int) -> str:
    """Why a model of ``n_features`` features, without a picture shape,
    cannot classify pictures, and how to use it instead."""
    return (
        f"a model of {n_features} features, not of pictures (saved "
        "without image_shape=); use it in Python: load_model(path).to_estimator()"
    )


def cost_every(solver: str) -> int:
    """Every how many iterations a solver's cost is recorded (and printed):
    the course's 100 for gradient descent, each one for L-BFGS, whose
    iterations are few and each a full line search."""
    from logitnet.core.solvers import COST_EVERY

    return COST_EVERY if solver == "gd" else 1


#: Training entries of a model file -> the estimator's parameters.
_SETTINGS = {
    "solver": "solver",
    "learning_rate": "learning_rate",
    "num_iterations": "max_iter",
    "alpha": "alpha",
    "tol": "tol",
    "fit_intercept": "fit_intercept",
    "representation_setting": "representation",
}


def _settings(training: dict, names: list[str], classes: np.ndarray) -> dict:
    """The estimator's parameters a model's ``training`` records."""
    params = {
        param: training[key] for key, param in _SETTINGS.items() if key in training
    }
    if training.get("dtype") in ("float32", "float64"):
        params["dtype"] = np.dtype(training["dtype"]).type
    weights = training.get("class_weight")
    if isinstance(weights, dict):
        # By class name; files of earlier versions keyed them by index.
        labels = classes.tolist()
        index = {
            **{str(i): i for i in range(len(names))},
            **{n: i for i, n in enumerate(names)},
        }
        weights = {labels[index[k]]: v for k, v in weights.items() if k in index}
    if weights is not None or "class_weight" in training:
        params["class_weight"] = weights
    return params


def _as_list(images) -> list:
    """One picture or several, as a list of pictures."""
    from PIL import Image

    if isinstance(images, str | os.PathLike | Image.Image):
        return [images]
    if isinstance(images, np.ndarray):
        return list(images) if images.ndim == 4 else [images]
    return list(images)
