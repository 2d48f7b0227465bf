"""``logitnet sweep``: compare learning rates, as the course does."""

from __future__ import annotations

import argparse
from functools import partial

from logitnet.cli._common import (
    Feedback,
    add_data,
    add_data_file,
    add_feedback,
    check_outputs,
    data_options,
    fit,
    int_at_least,
    learning_rate,
    load_data,
    print_accuracies,
    print_json,
)


def add_parser(commands) -> None:
    parser = commands.add_parser(
        "sweep",
        help="compare learning rates, as the course does",
        description="Train from zeros with gradient descent at each learning "
        "rate; print the train and test accuracy of each and plot the cost "
        "curves together.",
    )
    add_data(parser)
    add_data_file(
        parser, what="train on the training pictures (and score on the test pictures)"
    )
    parser.add_argument(
        "--learning-rates",
        type=learning_rate,
        nargs="+",
        default=[0.01, 0.001, 0.0001],
        metavar="RATE",
        help="learning rates to compare, each > 0 (default: 0.01 0.001 0.0001)",
    )
    parser.add_argument(
        "--iterations",
        type=int_at_least(0),
        default=1500,
        metavar="N",
        help="gradient-descent steps for each (default: %(default)s)",
    )
    parser.add_argument("--plot", metavar="PNG", help="draw the cost curves")
    add_feedback(
        parser,
        json_help="print a JSON array: learning rate, costs, final cost and "
        "metrics of each",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from logitnet.app.training import train, train_on_file

    check_outputs(args, {"--plot": args.plot})
    feedback = Feedback(args)
    if args.data is not None:
        data_options(args)
        trainer = partial(train_on_file, args.data)  # out of core, with Dask
    else:
        trainer = partial(train, load_data(args, feedback))
    runs = []
    for rate in args.learning_rates:
        model = fit(args, feedback, trainer, learning_rate=rate)
        runs.append((rate, model))
        if not args.json:
            print(f"learning rate is: {rate}")
            print_accuracies(model.metrics)
            print("-" * 55)
    if args.plot is not None:
        from logitnet.viz import curves, plots

        figure = curves.learning_rate_comparison(
            {rate: model.training["costs"] for rate, model in runs},
            cost_every=runs[0][1].training["cost_every"],
        )
        plots.save_png(figure, args.plot)
        feedback.note(f"cost curves saved to {args.plot}")
    if args.json:
        print_json(
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
