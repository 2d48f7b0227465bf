"""The ``logitnet`` command: parse options, call the library, print.

Every failure the user can cause ends in one line on stderr, ``logitnet:
error: ...``, and a non-zero exit status: 2 for a usage error (a bad or
missing option), 1 for bad data or files. No traceback, and no output file
is left behind.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from functools import partial
from pathlib import Path
from typing import NoReturn

import numpy as np

from logitnet import __version__
from logitnet.checks import check_int, check_learning_rate, check_real
from logitnet.exceptions import LogitnetError

__all__ = ["build_parser", "main"]


class _Parser(argparse.ArgumentParser):
    """argparse, with usage errors on one line."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


# Option values are checked by the same functions that guard the Python API,
# so the command and the library cannot disagree on what is valid.


def _learning_rate(text: str) -> float:
    try:
        return check_learning_rate(float(text))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a finite number > 0; got {text!r}"
        ) from None


def _non_negative(text: str) -> float:
    try:
        return check_real(float(text), "value", minimum=0.0, inclusive=True)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a finite number >= 0; got {text!r}"
        ) from None


def _int_at_least(minimum: int):
    def parse(text: str) -> int:
        try:
            return check_int(int(text), "value", minimum=minimum)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"expected a whole number >= {minimum}; got {text!r}"
            ) from None

    return parse


def _fraction(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not 0 <= value < 1:
        raise argparse.ArgumentTypeError(
            f"expected a number from 0 up to (not including) 1; got {text!r}"
        )
    return value


def _show_progress() -> bool:
    """A progress bar only when a person is watching both streams."""
    return sys.stderr.isatty() and sys.stdout.isatty()


class _Feedback:
    """Progress bars and notes on stderr: on a terminal, and not ``--quiet``."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.quiet = getattr(args, "quiet", False)
        self.bars = not self.quiet and _show_progress()

    def bar(self, iterable=None, *, total: int | None = None, desc: str = ""):
        from tqdm import tqdm

        return tqdm(
            iterable,
            total=total,
            desc=desc,
            disable=not self.bars,
            file=sys.stderr,
            leave=False,
            dynamic_ncols=True,
        )

    def files(self, desc: str):
        """A wrapper that shows a bar over a list of files being read."""
        return lambda paths: self.bar(paths, total=len(paths), desc=desc)

    def note(self, message: str) -> None:
        if not self.quiet:
            print(message, file=sys.stderr)


def _add_feedback(parser: argparse.ArgumentParser, *, json_help: str | None) -> None:
    parser.add_argument(
        "--quiet",
        action="store_true",
        help="no progress bars and no notes on stderr (errors are still shown)",
    )
    if json_help is not None:
        parser.add_argument("--json", action="store_true", help=json_help)


def _add_data_dir(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--data-dir",
        metavar="DIR",
        help="directory holding train_catvnoncat.h5 and test_catvnoncat.h5 "
        "(default: $LOGITNET_DATA_DIR, else download to the user cache, "
        "verified by SHA-256)",
    )
    parser.add_argument(
        "--no-verify",
        dest="verify",
        action="store_false",
        help="accept files whose SHA-256 is not the course's: data of your "
        "own in the course's HDF5 layout (still checked for that layout)",
    )


def _add_image_folder(parser: argparse.ArgumentParser, *, test_fraction: float) -> None:
    parser.add_argument(
        "--images",
        metavar="DIR",
        help="your own pictures instead of the course's: DIR/<class name>/<images>, "
        "exactly two class folders (label i = i-th name in sorted order)",
    )
    parser.add_argument(
        "--test-fraction",
        type=_fraction,
        default=test_fraction,
        metavar="F",
        help="share of the --images pictures held out as the test set, "
        "stratified, 0 <= F < 1 (default: %(default)s)",
    )
    parser.add_argument(
        "--seed",
        type=_int_at_least(0),
        default=0,
        metavar="S",
        help="seed of the train/test split: the same seed, the same split "
        "(default: %(default)s)",
    )


def _add_data(parser: argparse.ArgumentParser) -> None:
    _add_data_dir(parser)
    _add_image_folder(parser, test_fraction=0.2)


def _add_model(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--model", required=True, metavar="PATH", help="a model file from 'train --out'"
    )


def _add_split(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--split",
        choices=("test", "train", "all"),
        default="test",
        help="which pictures to score: the test set, the training set or both "
        "(default: %(default)s)",
    )


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``logitnet`` command and its subcommands."""
    parser = _Parser(
        prog="logitnet",
        description="Logistic regression as a neural network: one sigmoid "
        "neuron that tells cat photos from non-cat photos.",
    )
    parser.add_argument(
        "--version", action="version", version=f"logitnet {__version__}"
    )
    commands = parser.add_subparsers(
        dest="command", metavar="COMMAND", required=True, parser_class=_Parser
    )

    train = commands.add_parser(
        "train",
        help="train the classifier; save the model, plot the learning curve",
        description="Train one sigmoid neuron on the course's cat data (or "
        "your own pictures, --images) from zeros. With the default gradient "
        "descent it prints the cost every 100 iterations and the train and "
        "test accuracy, as the course does.",
    )
    _add_data(train)
    train.add_argument(
        "--data",
        metavar="FILE",
        help="train out of core on a large HDF5 file (or zarr store) in the "
        "course's layout, read chunk by chunk with Dask in bounded memory; "
        "test metrics when it holds test_set_x/test_set_y",
    )
    train.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="with --data: run on this Dask cluster (e.g. tcp://host:8786) "
        "instead of this machine's threads",
    )
    train.add_argument(
        "--solver",
        choices=("gd", "lbfgs"),
        help="gd: the course's fixed-step gradient descent; lbfgs: a "
        "quasi-Newton method, far fewer iterations (default: gd; lbfgs with --data)",
    )
    train.add_argument(
        "--iterations",
        type=_int_at_least(0),
        default=2000,
        metavar="N",
        help="gradient-descent steps, or most lbfgs iterations (default: %(default)s)",
    )
    train.add_argument(
        "--learning-rate",
        type=_learning_rate,
        default=0.005,
        metavar="RATE",
        help="step size of gd, > 0 (default: %(default)s)",
    )
    train.add_argument(
        "--alpha",
        type=_non_negative,
        default=0.0,
        metavar="A",
        help="L2 penalty strength, >= 0; the bias is never penalized "
        "(default: %(default)s)",
    )
    train.add_argument(
        "--out",
        metavar="PATH",
        help="save the trained model to this file (.npz; written atomically, "
        "only if training succeeds)",
    )
    train.add_argument(
        "--plot", metavar="PNG", help="draw the learning curve (cost vs iterations)"
    )
    _add_feedback(
        train,
        json_help="print a JSON object (model path, classes, solver, iterations, "
        "final cost, metrics) instead of the course's report",
    )
    train.set_defaults(func=_train)

    predict = commands.add_parser(
        "predict",
        help="classify your own pictures",
        description="Classify pictures (JPEG, PNG, ... of any size; "
        "directories are expanded to the image files in them) with a saved "
        "model. One bad file does not stop the others; the exit status is 1 "
        "if any failed.",
    )
    _add_model(predict)
    predict.add_argument(
        "images",
        nargs="+",
        metavar="IMAGE_OR_DIR",
        help="picture files, or directories whose image files are all classified",
    )
    _add_feedback(
        predict,
        json_help='print one JSON array of {"path", "label", "probabilities": '
        '{class: p}}, or {"path", "error"} for a file that failed',
    )
    predict.set_defaults(func=_predict)

    evaluate = commands.add_parser(
        "evaluate",
        help="score a model: accuracy, precision, recall, F1, ROC AUC, log loss",
        description="Score a saved model on labelled pictures: the course's "
        "test set, or the test split of your own --images folder (the same "
        "--test-fraction and --seed as in training give the same split).",
    )
    _add_model(evaluate)
    _add_data(evaluate)
    _add_split(evaluate)
    evaluate.add_argument(
        "--gallery",
        metavar="PNG",
        help="draw the misclassified pictures with true and predicted labels",
    )
    _add_feedback(
        evaluate,
        json_help="print a JSON object with the metrics, the confusion matrix "
        "and the misclassified pictures",
    )
    evaluate.set_defaults(func=_evaluate)

    convert = commands.add_parser(
        "convert",
        help="write an image folder in the course's HDF5 layout",
        description="Read DIR/<class name>/<images> (two classes), bring every "
        "picture to 64x64 RGB, and write train_set_x, train_set_y and "
        "list_classes (and test_set_x, test_set_y with --test-fraction > 0) "
        "to OUT.h5.",
    )
    convert.add_argument(
        "directory", metavar="DIR", help="the image folder: DIR/<class name>/<images>"
    )
    convert.add_argument("out", metavar="OUT.h5", help="the HDF5 file to write")
    convert.add_argument(
        "--test-fraction",
        type=_fraction,
        default=0.0,
        metavar="F",
        help="share held out as test_set_x/test_set_y, 0 <= F < 1 "
        "(default: %(default)s)",
    )
    convert.add_argument(
        "--seed",
        type=_int_at_least(0),
        default=0,
        metavar="S",
        help="seed of that split (default: %(default)s)",
    )
    _add_feedback(
        convert, json_help="print a JSON object: output, classes, image counts"
    )
    convert.set_defaults(func=_convert)

    sweep = commands.add_parser(
        "sweep",
        help="compare learning rates, as the course does",
        description="Train from zeros with gradient descent at each learning "
        "rate; print the train and test accuracy of each and plot the cost "
        "curves together.",
    )
    _add_data(sweep)
    sweep.add_argument(
        "--learning-rates",
        type=_learning_rate,
        nargs="+",
        default=[0.01, 0.001, 0.0001],
        metavar="RATE",
        help="learning rates to compare, each > 0 (default: 0.01 0.001 0.0001)",
    )
    sweep.add_argument(
        "--iterations",
        type=_int_at_least(0),
        default=1500,
        metavar="N",
        help="gradient-descent steps for each (default: %(default)s)",
    )
    sweep.add_argument("--plot", metavar="PNG", help="draw the cost curves")
    _add_feedback(
        sweep,
        json_help="print a JSON array: learning rate, costs, final cost and "
        "metrics of each",
    )
    sweep.set_defaults(func=_sweep)

    explain = commands.add_parser(
        "explain",
        help="show what in a picture drove the decision",
        description="Draw the picture as the model sees it beside a heat map "
        "of each pixel's contribution w*x to the decision z = w.x + b, and "
        "the learned weights as a picture.",
    )
    _add_model(explain)
    explain.add_argument("image", metavar="IMAGE", help="the picture to explain")
    explain.add_argument(
        "--out", required=True, metavar="PNG", help="the picture to write"
    )
    _add_feedback(
        explain,
        json_help="print a JSON object: path, label, probabilities, decision value",
    )
    explain.set_defaults(func=_explain)

    report = commands.add_parser(
        "report",
        help="one self-contained HTML page about a model",
        description="Write one HTML page, every picture embedded: the "
        "training settings, the learning curve, the metrics and confusion "
        "matrix on the chosen pictures, the weights picture and the "
        "misclassified pictures.",
    )
    _add_model(report)
    _add_data(report)
    _add_split(report)
    report.add_argument(
        "--out", required=True, metavar="HTML", help="the page to write"
    )
    _add_feedback(report, json_help=None)
    report.set_defaults(func=_report)

    synth = commands.add_parser(
        "synth",
        help="write a synthetic data set of any size, for tests and benchmarks",
        description="Write random 64x64 RGB pictures labelled by a planted "
        "logistic model (saved in the file as true_w, true_b) in the course's "
        "HDF5 layout, block by block in bounded memory.",
    )
    synth.add_argument(
        "--n-samples",
        type=_int_at_least(1),
        required=True,
        metavar="N",
        help="training pictures (train_set_x)",
    )
    synth.add_argument(
        "--test-samples",
        type=_int_at_least(0),
        default=0,
        metavar="K",
        help="test pictures (test_set_x), from the same model (default: %(default)s)",
    )
    synth.add_argument(
        "--out", required=True, metavar="FILE.h5", help="the file to write"
    )
    synth.add_argument(
        "--seed",
        type=_int_at_least(0),
        default=0,
        metavar="S",
        help="the same seed, the same file (default: %(default)s)",
    )
    _add_feedback(synth, json_help="print a JSON object: output, sizes, seed")
    synth.set_defaults(func=_synth)

    vec = commands.add_parser(
        "vectorization",
        help="time explicit loops against vectorized NumPy",
        description="The lesson's demo, measured: a dot product, an "
        "elementwise exp and one gradient step on the cat data, each with "
        "explicit Python loops and vectorized, on the same input.",
    )
    _add_data_dir(vec)
    vec.add_argument(
        "--size",
        type=_int_at_least(1),
        default=1_000_000,
        metavar="N",
        help="length of the vectors for the dot product and exp (default: %(default)s)",
    )
    vec.add_argument(
        "--repeat",
        type=_int_at_least(1),
        default=3,
        metavar="R",
        help="timing rounds; the median is reported (default: %(default)s)",
    )
    vec.add_argument(
        "--seed",
        type=_int_at_least(0),
        default=0,
        help="seed of the random vectors (default: %(default)s)",
    )
    vec.add_argument(
        "--json",
        action="store_true",
        help="print a JSON list of objects with keys operation, loop_seconds, "
        "vectorized_seconds, speedup, max_abs_difference",
    )
    vec.set_defaults(func=_vectorization)
    return parser


# -- the commands ---------------------------------------------------------------


def _check_outputs(*paths: str | None) -> None:
    """Refuse unusable output paths before any work is done."""
    from logitnet.files import check_output_path

    for path in paths:
        if path is not None:
            check_output_path(path)


def _load_data(args: argparse.Namespace, feedback: _Feedback, image_shape=(64, 64, 3)):
    from logitnet.app.training import load_data

    if args.images is not None and args.data_dir is not None:
        raise _UsageError("give either --data-dir or --images, not both")
    if args.images is None and args.test_fraction != 0.2:
        raise _UsageError("--test-fraction applies to --images only")
    return load_data(
        data_dir=args.data_dir,
        verify=args.verify,
        images=args.images,
        test_fraction=args.test_fraction,
        seed=args.seed,
        image_shape=image_shape,
        progress=feedback.files("reading images"),
    )


class _UsageError(Exception):
    """Options that parse but do not go together: exit status 2."""


def _print_json(value: object) -> None:
    print(json.dumps(value, indent=2, allow_nan=False))


def _fit(
    args: argparse.Namespace,
    feedback: _Feedback,
    trainer,
    *,
    print_costs: bool = False,
    **settings,
):
    """Run ``trainer`` (``training.train`` or ``train_on_file``) with a
    progress bar; with ``print_costs``, the course's cost lines."""
    from tqdm import tqdm

    from logitnet.app.training import GD_COST_EVERY

    solver = getattr(args, "solver", "gd")
    every = GD_COST_EVERY if solver == "gd" else 1
    with feedback.bar(total=args.iterations, desc="training") as bar:

        def progress(iteration: int, cost: float) -> None:
            bar.update(1)
            if print_costs and iteration % every == 0:
                # Through tqdm, so that the line does not tear the bar.
                tqdm.write(f"Cost after iteration {iteration}: {cost:f}", sys.stdout)

        model, warning = trainer(
            solver=solver,
            max_iter=args.iterations,
            alpha=getattr(args, "alpha", 0.0),
            callback=progress,
            **settings,
        )
    if warning:
        print(f"logitnet: warning: {_one_line(warning)}", file=sys.stderr)
    return model


def _train(args: argparse.Namespace) -> int:
    from logitnet.app.modelfile import save_model
    from logitnet.app.training import train, train_on_file

    _check_outputs(args.out, args.plot)
    feedback = _Feedback(args)
    if args.data is None:
        if args.scheduler is not None:
            raise _UsageError("--scheduler applies to --data only")
        args.solver = args.solver or "gd"
        data = _load_data(args, feedback)
        model = _fit(
            args,
            feedback,
            partial(train, data),
            print_costs=not args.json,
            learning_rate=args.learning_rate,
        )
    else:
        if args.images is not None or args.data_dir is not None:
            raise _UsageError("give one of --data, --data-dir or --images")
        args.solver = args.solver or "lbfgs"
        model = _fit(
            args,
            feedback,
            partial(train_on_file, args.data),
            print_costs=not args.json,
            learning_rate=args.learning_rate,
            scheduler=args.scheduler,
        )
    training = model.training
    figure = None
    if args.plot is not None:
        from logitnet.viz import plots

        figure = plots.learning_curve(
            training["costs"],
            cost_every=training["cost_every"],
            learning_rate=args.learning_rate if args.solver == "gd" else None,
        )
    if args.out is not None:
        save_model(args.out, model)
        feedback.note(f"model saved to {args.out}")
    if figure is not None:
        from logitnet.viz import plots

        plots.save_png(figure, args.plot)
        feedback.note(f"learning curve saved to {args.plot}")
    if args.json:
        _print_json(
            {
                "model": args.out,
                "classes": model.classes,
                "solver": training["solver"],
                "n_iter": training["n_iter"],
                "converged": training["converged"],
                "final_cost": training["final_cost"],
                "metrics": model.metrics,
            }
        )
        return 0
    for split in ("train", "test"):
        if f"{split}_accuracy" in model.metrics:
            print(f"{split} accuracy: {model.metrics[f'{split}_accuracy']} %")
    return 0


def _synth(args: argparse.Namespace) -> int:
    from logitnet.data.synth import make_images

    _check_outputs(args.out)
    feedback = _Feedback(args)
    total = args.n_samples + args.test_samples
    with feedback.bar(total=total, desc="writing images") as bar:
        make_images(
            args.out,
            args.n_samples,
            seed=args.seed,
            test_samples=args.test_samples,
            progress=lambda written: bar.update(written - bar.n),
        )
    summary = {
        "out": args.out,
        "n_train": args.n_samples,
        "n_test": args.test_samples,
        "image_shape": [64, 64, 3],
        "seed": args.seed,
    }
    if args.json:
        _print_json(summary)
    else:
        print(
            f"{args.out}: {args.n_samples} training and {args.test_samples} test "
            f"pictures of 64x64x3, seed {args.seed}"
        )
    return 0


def _predict(args: argparse.Namespace) -> int:
    from logitnet.data.cats import flatten, scale
    from logitnet.data.images import expand_paths, read_image
    from logitnet.app.modelfile import load_model

    feedback = _Feedback(args)
    model = load_model(args.model)
    results: list[dict] = []
    read: list[tuple[dict, np.ndarray]] = []
    paths: list[Path] = []
    for source in args.images:
        found = expand_paths([source])
        if not found and Path(source).is_dir():
            results.append({"path": source, "error": "directory holds no image files"})
        paths.extend(found)
    for path in feedback.bar(paths, total=len(paths), desc="reading images"):
        entry: dict = {"path": str(path)}
        results.append(entry)
        try:
            read.append((entry, read_image(path, model.image_shape)))
        except LogitnetError as e:
            entry["error"] = _without_prefix(str(e), str(path))
    if read:
        estimator = model.to_estimator()
        X = scale(flatten(np.stack([pixels for _, pixels in read]))).T
        proba = estimator.predict_proba(X)
        labels = estimator.predict(X)
        for (entry, _), label, p in zip(read, labels, proba, strict=True):
            entry["label"] = str(label)
            entry["probabilities"] = dict(
                zip(model.classes, map(float, p), strict=True)
            )
    if args.json:
        _print_json(results)
    for entry in results:
        if "error" in entry:
            if not args.json:
                print(
                    f"logitnet: error: {entry['path']}: {entry['error']}",
                    file=sys.stderr,
                )
        elif not args.json:
            shares = ", ".join(
                f"{c} {p:.4g}" for c, p in entry["probabilities"].items()
            )
            print(f"{entry['path']}: {entry['label']} ({shares})")
    failed = sum("error" in entry for entry in results)
    if failed and len(results) > 1:
        feedback.note(f"{failed} of {len(results)} files failed")
    return 1 if failed else 0


def _without_prefix(message: str, path: str) -> str:
    prefix = f"{path}: "
    return message[len(prefix) :] if message.startswith(prefix) else message


def _labelled_pictures(args: argparse.Namespace, model, feedback: _Feedback):
    """The pictures chosen by --split, checked against the model."""
    data = _load_data(args, feedback, image_shape=tuple(model.image_shape))
    where = args.images or args.data_dir or "the course's data"
    if data.classes != model.classes:
        raise _DataMismatch(
            f"{where}: classes {data.classes} are not the model's {model.classes}"
        )
    if data.image_shape != tuple(model.image_shape):
        raise _DataMismatch(
            f"{where}: pictures of shape {data.image_shape} do not fit the model's "
            f"{tuple(model.image_shape)}"
        )
    parts = {
        "train": [(data.train_images, data.train_labels)],
        "test": [(data.test_images, data.test_labels)],
    }
    parts["all"] = parts["train"] + parts["test"]
    images = np.concatenate([x for x, _ in parts[args.split]])
    labels = np.concatenate([y for _, y in parts[args.split]])
    if labels.size == 0:
        raise _DataMismatch(
            f"{where}: no {args.split} pictures (--test-fraction is 0?); "
            "use --split train or all"
        )
    return (
        images,
        labels,
        {**data.source, "split": args.split, "n_images": int(labels.size)},
    )


class _DataMismatch(LogitnetError, ValueError):
    """The data does not go with the model."""


def _evaluate(args: argparse.Namespace) -> int:
    from logitnet.app.evaluation import evaluate
    from logitnet.app.modelfile import load_model

    _check_outputs(args.gallery)
    feedback = _Feedback(args)
    model = load_model(args.model)
    images, labels, source = _labelled_pictures(args, model, feedback)
    result = evaluate(model, images, labels)
    wrong = result.misclassified
    if args.gallery is not None:
        from logitnet.viz import plots

        figure = plots.gallery(
            images[wrong],
            [model.classes[i] for i in result.labels[wrong]],
            [model.classes[i] for i in result.predicted[wrong]],
        )
        plots.save_png(figure, args.gallery)
        feedback.note(f"{wrong.size} misclassified pictures drawn in {args.gallery}")
    if args.json:
        _print_json(
            {
                "model": args.model,
                "data": source,
                "classes": model.classes,
                "metrics": result.metrics,
                "confusion_matrix": result.confusion.tolist(),
                "misclassified": [
                    {
                        "index": int(i),
                        "true": model.classes[result.labels[i]],
                        "predicted": model.classes[result.predicted[i]],
                        "probability": float(result.probability[i]),
                    }
                    for i in wrong
                ],
            }
        )
        return 0
    print(f"{source['split']} pictures: {source['n_images']} ({source['kind']})")
    for name, value in result.metrics.items():
        shown = "undefined (one class only)" if value is None else f"{value:.4f}"
        print(f"{name:<10} {shown}")
    width = max(len(c) for c in model.classes)
    print("confusion matrix (rows: true, columns: predicted)")
    print(" " * width + "".join(f"  {c:>{width}}" for c in model.classes))
    for name, row in zip(model.classes, result.confusion, strict=True):
        print(f"{name:>{width}}" + "".join(f"  {n:>{width}}" for n in row))
    return 0


def _convert(args: argparse.Namespace) -> int:
    from logitnet.data.images import load_image_folder, split_dataset, write_course_file

    _check_outputs(args.out)
    feedback = _Feedback(args)
    images, labels, classes, _ = load_image_folder(
        args.directory, progress=feedback.files("reading images")
    )
    train_x, train_y, test_x, test_y = split_dataset(
        images, labels, test_fraction=args.test_fraction, seed=args.seed
    )
    write_course_file(args.out, train_x, train_y, classes, test_x, test_y)
    summary = {
        "out": args.out,
        "classes": classes,
        "n_train": int(train_y.size),
        "n_test": int(test_y.size),
        "image_shape": list(images.shape[1:]),
    }
    if args.json:
        _print_json(summary)
    else:
        print(
            f"{args.out}: {summary['n_train']} training and {summary['n_test']} test "
            f"pictures of {images.shape[1]}x{images.shape[2]}; "
            f"label 0 = {classes[0]}, 1 = {classes[1]}"
        )
    return 0


def _sweep(args: argparse.Namespace) -> int:
    from logitnet.app.training import train

    _check_outputs(args.plot)
    feedback = _Feedback(args)
    data = _load_data(args, feedback)
    runs = []
    for rate in args.learning_rates:
        model = _fit(args, feedback, partial(train, data), learning_rate=rate)
        runs.append((rate, model))
        if not args.json:
            print(f"learning rate is: {rate}")
            for split in ("train", "test"):
                if f"{split}_accuracy" in model.metrics:
                    print(f"{split} accuracy: {model.metrics[f'{split}_accuracy']} %")
            print("-" * 55)
    if args.plot is not None:
        from logitnet.viz import plots

        figure = plots.learning_rate_comparison(
            {rate: model.training["costs"] for rate, model in runs},
            cost_every=runs[0][1].training["cost_every"],
        )
        plots.save_png(figure, args.plot)
        feedback.note(f"cost curves saved to {args.plot}")
    if args.json:
        _print_json(
            [
                {
                    "learning_rate": rate,
                    "final_cost": model.training["final_cost"],
                    "cost_every": model.training["cost_every"],
                    "costs": model.training["costs"],
                    "metrics": model.metrics,
                }
                for rate, model in runs
            ]
        )
    return 0


def _explain(args: argparse.Namespace) -> int:
    from logitnet.viz import plots
    from logitnet.data.images import read_image
    from logitnet.app.modelfile import load_model

    _check_outputs(args.out)
    model = load_model(args.model)
    image = read_image(args.image, model.image_shape)
    estimator, X = model.to_estimator(), model.images_to_X(image)
    z = float(estimator.decision_function(X)[0])
    proba = estimator.predict_proba(X)[0]
    label = str(estimator.predict(X)[0])
    figure = plots.explanation(
        image, model.w, model.b, classes=model.classes, image_shape=model.image_shape
    )
    plots.save_png(figure, args.out)
    probabilities = dict(zip(model.classes, map(float, proba), strict=True))
    if args.json:
        _print_json(
            {
                "path": args.image,
                "label": label,
                "probabilities": probabilities,
                "decision_value": z,
                "out": args.out,
            }
        )
    else:
        shares = ", ".join(f"{c} {p:.4g}" for c, p in probabilities.items())
        print(f"{args.image}: {label} ({shares}); z = {z:.4f}; drawn in {args.out}")
    return 0


def _report(args: argparse.Namespace) -> int:
    from logitnet.app.evaluation import evaluate
    from logitnet.app.modelfile import load_model
    from logitnet.viz.report import render_report, write_report

    _check_outputs(args.out)
    feedback = _Feedback(args)
    model = load_model(args.model)
    images, labels, source = _labelled_pictures(args, model, feedback)
    result = evaluate(model, images, labels)
    wrong = result.misclassified
    html = render_report(
        model,
        metrics=result.metrics,
        confusion=result.confusion,
        misclassified_images=images[wrong],
        misclassified_true=[model.classes[i] for i in result.labels[wrong]],
        misclassified_predicted=[model.classes[i] for i in result.predicted[wrong]],
        data_source=(
            f"{source['split']} pictures of {source['kind']} at {source['path']}, "
            f"{source['n_images']} pictures"
        ),
    )
    write_report(args.out, html)
    feedback.note(f"report written to {args.out}")
    return 0


def _format_seconds(seconds: float) -> str:
    for unit, factor in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6)):
        if seconds >= factor:
            return f"{seconds / factor:.3g} {unit}"
    return f"{seconds / 1e-9:.3g} ns"


def _vectorization(args: argparse.Namespace) -> int:
    from logitnet.data.cats import flatten, load_dataset, scale
    from logitnet.course.vectorization import compare

    train_x, train_y, *_ = load_dataset(args.data_dir, verify=args.verify)
    rows = compare(
        scale(flatten(train_x)),
        train_y,
        size=args.size,
        repeat=args.repeat,
        seed=args.seed,
    )
    if args.json:
        print(json.dumps(rows, indent=2, sort_keys=True))
        return 0
    header = ("operation", "loop", "vectorized", "speed-up", "max |difference|")
    table = [header] + [
        (
            r["operation"],
            _format_seconds(r["loop_seconds"]),
            _format_seconds(r["vectorized_seconds"]),
            f"{r['speedup']:,.0f}x",
            f"{r['max_abs_difference']:.1e}",
        )
        for r in rows
    ]
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    for row in table:
        cells = [row[0].ljust(widths[0])]
        cells += [
            cell.rjust(width) for cell, width in zip(row[1:], widths[1:], strict=True)
        ]
        print("  ".join(cells))
    return 0


def _one_line(error: BaseException) -> str:
    return " ".join(str(error).split()) or type(error).__name__


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``logitnet`` command; return its exit status.

    Set ``LOGITNET_DEBUG=1`` to see the traceback of an unexpected error.
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        status = args.func(args)
        sys.stdout.flush()  # a closed pipe shows here, not at interpreter exit
        return status
    except BrokenPipeError:
        # The reader went away (`logitnet train | head`): stop quietly, as
        # other command-line tools do, and keep Python from complaining
        # about the unflushable stdout at exit.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141  # 128 + SIGPIPE
    except _UsageError as e:
        subparser = f"{parser.prog} {args.command}"
        print(f"{subparser}: error: {e} (see '{subparser} --help')", file=sys.stderr)
        return 2
    except (LogitnetError, ValueError, OSError) as e:
        print(f"logitnet: error: {_one_line(e)}", file=sys.stderr)
    except MemoryError:
        print("logitnet: error: out of memory", file=sys.stderr)
    except KeyboardInterrupt:
        print("logitnet: interrupted", file=sys.stderr)
        return 130
    except Exception as e:
        if os.environ.get("LOGITNET_DEBUG"):
            raise
        print(
            f"logitnet: internal error: {type(e).__name__}: {_one_line(e)} "
            "(this is a bug in logitnet; LOGITNET_DEBUG=1 shows the traceback)",
            file=sys.stderr,
        )
    return 1
