"""``logitnet train``: train the classifier, save the model, plot the curve."""

from __future__ import annotations

import argparse
from functools import partial

from logitnet.cli._common import (
    Feedback,
    UsageError,
    add_data,
    add_feedback,
    add_storage_options,
    check_outputs,
    fit,
    int_at_least,
    json_text,
    labels_in_words,
    learning_rate,
    load_data,
    non_negative,
    print_accuracies,
)


def add_parser(commands) -> None:
    parser = commands.add_parser(
        "train",
        help="train the classifier; save the model, plot the learning curve",
        description="Train one sigmoid neuron on the course's cat data (or "
        "your own pictures, --images) from zeros; with more than two classes, "
        "one softmax neuron (an output per class). With the default gradient "
        "descent it prints the cost every 100 iterations and the train and "
        "test accuracy, as the course does.",
    )
    add_data(parser)
    add_storage_options(parser)
    parser.add_argument(
        "--data",
        metavar="FILE",
        help="train out of core on a large HDF5 file (or zarr store) in the "
        "course's layout (labels 0 .. k-1, one per name in list_classes), read "
        "chunk by chunk with Dask in bounded memory; test metrics when it "
        "holds test_set_x/test_set_y",
    )
    parser.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="with --data: run on this Dask cluster (e.g. tcp://host:8786) "
        "instead of this machine's threads",
    )
    parser.add_argument(
        "--solver",
        choices=("gd", "lbfgs"),
        help="gd: the course's fixed-step gradient descent; lbfgs: a "
        "quasi-Newton method, far fewer iterations (default: gd; lbfgs with --data)",
    )
    parser.add_argument(
        "--iterations",
        type=int_at_least(0),
        default=2000,
        metavar="N",
        help="gradient-descent steps, or most lbfgs iterations (default: %(default)s)",
    )
    parser.add_argument(
        "--learning-rate",
        type=learning_rate,
        default=0.005,
        metavar="RATE",
        help="step size of gd, > 0 (default: %(default)s)",
    )
    parser.add_argument(
        "--alpha",
        type=non_negative,
        default=0.0,
        metavar="A",
        help="L2 penalty strength, >= 0; the bias is never penalized "
        "(default: %(default)s)",
    )
    parser.add_argument(
        "--class-weight",
        choices=("balanced",),
        help="weigh each class by n / (k x its count), k classes, so that a "
        "rare class counts as much as a common one (default: every picture "
        "weighs 1)",
    )
    parser.add_argument(
        "--out",
        metavar="PATH",
        help="save the trained model to this file (.npz; written atomically, "
        "only if training succeeds)",
    )
    parser.add_argument(
        "--plot", metavar="PNG", help="draw the learning curve (cost vs iterations)"
    )
    add_feedback(
        parser,
        json_help="print a JSON object (model path, classes, solver, iterations, "
        "final cost, metrics) instead of the course's report",
    )
    parser.set_defaults(func=run, out_is_data=True)


def run(args: argparse.Namespace) -> int:
    check_outputs(args, {"--out": args.out, "--plot": args.plot})
    feedback = Feedback(args)
    model = _trained(args, feedback)
    if args.images is not None:
        _say_labels(args.images, model, feedback)
    training = model.training
    figure = None
    if args.plot is not None:
        from logitnet.viz import curves

        figure = curves.training_curve(training)
    report = None
    if args.json:  # built before anything is saved, so it cannot fail after
        report = json_text(
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
    if args.out is not None:
        from logitnet.app.modelfile import save_model

        save_model(args.out, model)
        feedback.note(f"model saved to {args.out}")
    else:
        feedback.note("model not saved: give --out PATH")
    if figure is not None:
        from logitnet.viz import plots

        plots.save_png(figure, args.plot)
        feedback.note(f"learning curve saved to {args.plot}")
    if report is not None:
        print(report)
        return 0
    print_accuracies(model.metrics)
    return 0


def _trained(args: argparse.Namespace, feedback: Feedback):
    """The model trained on the pictures the options name; sets
    ``args.solver`` to the solver used."""
    from logitnet.app.training import train, train_on_file

    if args.data is None:
        if args.scheduler is not None:
            raise UsageError("--scheduler applies to --data only")
        args.solver = args.solver or "gd"
        trainer = partial(train, load_data(args, feedback))
        settings = {}
    else:
        if args.images is not None or args.data_dir is not None:
            raise UsageError("give one of --data, --data-dir or --images")
        args.solver = args.solver or "lbfgs"
        trainer = partial(train_on_file, args.data)
        settings = {"scheduler": args.scheduler}
    return fit(
        args,
        feedback,
        trainer,
        print_costs=not args.json,
        learning_rate=args.learning_rate,
        class_weight=args.class_weight,
        **settings,
    )


def _say_labels(folder: str, model, feedback: Feedback) -> None:
    """Which class folder is which label, and how many pictures each set
    holds, as ``convert`` says it (on stderr: stdout is the report)."""
    from logitnet.files import shown

    feedback.note(
        f"{shown(folder)}: {model.training['n_train']} training and "
        f"{model.training['n_test']} test pictures; {labels_in_words(model.classes)}"
    )
