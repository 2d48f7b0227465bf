"""What a model file's metadata may hold: every field logitnet reads from it,
its type and its range, checked once, when a file is loaded or saved
(:mod:`logitnet.app.modelfile`), so that nothing that uses a loaded model
(``predict``, ``explain``, ``evaluate``, ``report``, ``serve``,
:meth:`~logitnet.app.model.SavedModel.to_estimator`) meets a value it cannot
use.

Strict about types, lenient about absence. A field the earliest logitnets
did not write (format version 1, or version 2 from before ``alpha``,
``tol``, ``class_weight``, ``dtype``, ... were recorded) may be missing;
fields logitnet does not know are kept, unread. But a field that is there
must be what logitnet writes: a number is a JSON number (``"fast"`` is not a
learning rate), a count a whole number that fits in 64 bits (``1e30`` is
not an iteration count), and no number is NaN or infinite, except a metric,
where NaN is how older files said "undefined".

A model of pictures takes (height, width, 3) with height and width from 1
to :data:`MAX_IMAGE_SIDE`: the picture shape is checked first, from the
metadata, before the weights are read, so a file cannot make logitnet
allocate more than a model of that size needs.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from numbers import Integral
from typing import Any

from logitnet.checks import MAX_SEED, check_class_names
from logitnet.data.images import PREPROCESSING

__all__ = [
    "IMAGE_CHANNELS",
    "MAX_IMAGE_SIDE",
    "check_fields",
    "check_picture_shape",
    "model_inputs",
]

#: Largest height and width of a model's pictures, in pixels. One neuron has
#: one weight per pixel value and sees no translation: the course's 64 x 64
#: (12,288 weights, fitted on 209 pictures) is already more weights than
#: examples. 1024 x 1024 x 3 is 3,145,728 weights (24 MiB), 256 times the
#: course's. Predicting one photo with it, the most a model file can make
#: ``predict`` spend, peaks at 139 MB and takes 0.4 s (measured).
MAX_IMAGE_SIDE = 1024

#: Channels of a model's pictures: every picture logitnet reads becomes RGB
#: (``data/images.read_image``, ``data/layout``'s (m, height, width, 3)).
IMAGE_CHANNELS = 3

#: Whole numbers are kept in 64 bits (``n_iter_`` is a NumPy array).
MAX_WHOLE = 2**63 - 1

#: What logitnet does to a photo's pixels, word for word as every version
#: has written it: a file that says otherwise was made for other inputs.
_PIXEL_STEPS = {step: PREPROCESSING[step] for step in ("flatten", "scale")}

Check = Callable[[Any, str], None]


def check_picture_shape(shape: object, what: str = "'image_shape'") -> tuple[int, ...]:
    """``shape`` as the (height, width, channels) of a model of pictures.

    Three whole numbers (not floats, not strings, not booleans), height and
    width from 1 to :data:`MAX_IMAGE_SIDE`, channels :data:`IMAGE_CHANNELS`.

    Raises
    ------
    ValueError
        Naming ``what`` (the field, or the pictures of a data file).
    """
    if not (
        isinstance(shape, list | tuple)
        and len(shape) == 3
        and all(isinstance(n, Integral) and not isinstance(n, bool) for n in shape)
    ):
        raise ValueError(
            f"{what} must be [height, width, {IMAGE_CHANNELS}], three whole "
            f"numbers; got {_shown(shape)}"
        )
    height, width, channels = (int(n) for n in shape)
    if channels != IMAGE_CHANNELS:
        raise ValueError(
            f"{what} must have {IMAGE_CHANNELS} channels (logitnet reads every "
            f"picture as RGB); got {_shown(shape)}"
        )
    if not (0 < height <= MAX_IMAGE_SIDE and 0 < width <= MAX_IMAGE_SIDE):
        raise ValueError(
            f"{what} must have a height and width from 1 to {MAX_IMAGE_SIDE} "
            f"pixels; got {_shown(shape)}"
        )
    return height, width, channels


def model_inputs(meta: dict, version: int) -> tuple[tuple[int, ...] | None, int]:
    """The picture shape (None for a model of features) and n_x, the number
    of weights, that ``meta`` declares; ValueError naming the field."""
    shape, n_features = meta.get("image_shape"), meta.get("n_features")
    if shape is None and version >= 3:  # only version 3 has models of features
        if type(n_features) is not int or not 0 < n_features <= MAX_WHOLE:
            raise ValueError(
                "without an image shape, n_features must be a positive "
                f"integer; got {_shown(n_features)}"
            )
        return None, n_features
    shape = check_picture_shape(shape)
    n_x = math.prod(shape)
    if n_features is not None and n_features != n_x:
        raise ValueError(
            f"'n_features' is {_shown(n_features)}, but 'image_shape' "
            f"{list(shape)} calls for {n_x} weights"
        )
    return shape, n_x


def check_fields(meta: dict, n_x: int) -> None:
    """Every field of ``meta`` that logitnet reads, but the format, version,
    picture shape and checksum (see :mod:`logitnet.app.modelfile`).

    Raises
    ------
    ValueError
        Naming the first bad field (``'training.learning_rate'``) and what
        it holds.
    """
    check_class_names(meta.get("classes"))
    for key, check in _TOP.items():
        if key in meta:
            check(meta[key], key)
    _labels(meta.get("labels"), "labels")
    names = meta.get("feature_names")
    if names is not None and not (
        isinstance(names, list)
        and len(names) == n_x
        and all(isinstance(name, str) for name in names)
    ):
        raise ValueError(f"'feature_names' must be {n_x} strings")


# -- the checks of one value ----------------------------------------------------


def _fail(field: str, expected: str, value: object) -> None:
    raise ValueError(f"'{field}' must be {expected}; got {_shown(value)}")


def _shown(value: object) -> str:
    """``repr(value)``, cut short: a field may hold megabytes."""
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _number(minimum: float | None = None, *, above: bool = False, nan: bool = False):
    """A finite JSON number (``nan``: or NaN), >= ``minimum`` (> with
    ``above``)."""

    def check(value: Any, field: str) -> None:
        if isinstance(value, bool) or not isinstance(value, int | float):
            _fail(field, "a number", value)
        if nan and value != value:
            return
        try:
            finite = math.isfinite(value)
        except OverflowError:  # a JSON integer beyond any float
            finite = False
        if not finite:
            _fail(field, "a finite number", value)
        if minimum is not None and (value <= minimum if above else value < minimum):
            _fail(field, f"a number {'>' if above else '>='} {minimum:g}", value)

    return check


def _whole(minimum: int = 0) -> Check:
    def check(value: Any, field: str) -> None:
        if type(value) is not int or not minimum <= value <= MAX_WHOLE:
            _fail(field, f"a whole number from {minimum} to 2**63 - 1", value)

    return check


def _flag(value: Any, field: str) -> None:
    if type(value) is not bool:
        _fail(field, "true or false", value)


def _text(value: Any, field: str) -> None:
    if not isinstance(value, str):
        _fail(field, "a string", value)


def _choice(*options: str) -> Check:
    def check(value: Any, field: str) -> None:
        if not (isinstance(value, str) and value in options):
            _fail(field, "one of " + ", ".join(map(repr, options)), value)

    return check


def _list_of(item: Check) -> Check:
    def check(value: Any, field: str) -> None:
        if not isinstance(value, list):
            _fail(field, "a list", value)
        for i, each in enumerate(value):
            item(each, f"{field}[{i}]")

    return check


def _record(fields: dict[str, Check], other: Check | None = None) -> Check:
    """A JSON object whose known keys hold what ``fields`` says (others:
    what ``other`` says, or anything)."""

    def check(value: Any, field: str) -> None:
        if not isinstance(value, dict):
            _fail(field, "a JSON object", value)
        for key, each in value.items():
            inner = fields.get(key, other)
            if inner is not None:
                inner(each, f"{field}.{key}")

    return check


def _class_weight(value: Any, field: str) -> None:
    """None, "balanced", or weights by class name (older files: by index)."""
    if value is None or value == "balanced":
        return
    if not isinstance(value, dict):
        _fail(field, "null, 'balanced' or an object of class weights", value)
    for name, weight in value.items():
        _number(0.0)(weight, f"{field}.{name}")


def _data(value: Any, field: str) -> None:
    """Where the pictures came from; an image folder's split is required,
    as ``evaluate`` and ``report`` repeat it."""
    _record(
        {
            "kind": _text,
            "path": _text,
            "verified": _flag,
            "test_fraction": _fraction,
            "seed": _seed,
        }
    )(value, field)
    if value.get("kind") == "image folder":
        for key in ("test_fraction", "seed"):
            if key not in value:
                raise ValueError(f"'{field}' of an image folder must have {key!r}")


def _fraction(value: Any, field: str) -> None:
    _number(0.0)(value, field)
    if value >= 1:
        _fail(field, "a number from 0 up to (not including) 1", value)


def _seed(value: Any, field: str) -> None:
    if type(value) is not int or not 0 <= value <= MAX_SEED:
        _fail(field, f"a whole number from 0 to {MAX_SEED}", value)


def _nullable(check: Check) -> Check:
    def nullable(value: Any, field: str) -> None:
        if value is not None:
            check(value, field)

    return nullable


def _preprocessing(value: Any, field: str) -> None:
    _record({}, other=_text)(value, field)
    for step, words in _PIXEL_STEPS.items():
        if step in value and value[step] != words:
            raise ValueError(
                f"'{field}.{step}' is {_shown(value[step])}, but logitnet "
                f"computes {words!r}: the model was made for other inputs"
            )


def _labels(value: Any, field: str) -> None:
    """The estimator's labels when they are not the names: two different
    strings, numbers or booleans."""
    if value is None:
        return
    if not (isinstance(value, list) and len(value) == 2):
        _fail(field, "two different numbers or strings", value)
    for i, label in enumerate(value):
        if not isinstance(label, str | bool):
            _number()(label, f"{field}[{i}]")
    if value[0] == value[1]:
        _fail(field, "two different numbers or strings", value)


# Metrics: numbers (NaN: undefined, read as None), or null, by name, and the
# full metrics of each split one level down.
_METRIC = _nullable(_number(nan=True))


def _metric_or_split(value: Any, field: str) -> None:
    if isinstance(value, dict):
        _record({}, other=_METRIC)(value, field)
    else:
        _METRIC(value, field)


#: The training record: the estimator's settings (the names that
#: ``core/estimator.py`` and ``core/solvers.py`` give them), the run, the data.
_TRAINING = {
    "solver": _choice("lbfgs", "gd"),
    "learning_rate": _number(0.0, above=True),
    "num_iterations": _whole(),
    "alpha": _number(0.0),
    "tol": _number(0.0),
    "class_weight": _class_weight,
    "fit_intercept": _flag,
    "dtype": _choice("float64", "float32"),
    "representation_setting": _choice("auto", "primal", "span"),
    "representation": _choice("primal", "span"),
    "n_iter": _whole(),
    "converged": _flag,
    "final_cost": _number(),
    "cost_every": _whole(1),
    "costs": _list_of(_number()),
    "data": _data,
    "n_train": _whole(),
    "n_test": _whole(),
    "scheduler": _nullable(_text),
}

_TOP: dict[str, Check] = {
    "logitnet_version": _text,
    "training": _record(_TRAINING),
    "metrics": _record({}, other=_metric_or_split),
    "preprocessing": _preprocessing,
}
