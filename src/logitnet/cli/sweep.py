"""``logitnet sweep``: compare learning rates, as the course does."""

from __future__ import annotations

import argparse
import sys
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
    one_line,
    print_accuracies,
    print_json,
)


def add_parser(commands) -> None:
    parser = commands.add_parser(
        "sweep",
        help="compare learning rates, as the course does",
        description="Train from zeros with gradient descent at each learning "
        "rate; print the train and test accuracy of each and plot the cost "
        "curves together. A rate whose training diverges is reported as such "
        "and left out of the plot, the others kept; the exit status is then 1.",
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
        "metrics of each (or the error of a rate that diverged)",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Train at each rate; a rate that diverges is reported and the others
    kept (their lines, JSON and plot): exit status 1 then, 0 otherwise."""
    from logitnet.app.training import train, train_on_file
    from logitnet.exceptions import DivergenceError

    check_outputs(args, {"--plot": args.plot})
    feedback = Feedback(args)
    if args.data is not None:
        data_options(args)
        trainer = partial(train_on_file, args.data)  # out of core, with Dask
    else:
        trainer = partial(train, load_data(args, feedback))
    results = []  # (rate, model, None) or (rate, None, why it diverged)
    for rate in args.learning_rates:
        try:
            results.append(
                (rate, fit(args, feedback, trainer, learning_rate=rate), None)
            )
        except DivergenceError as e:
            results.append((rate, None, one_line(e)))
        if not args.json:
            rate, model, _ = results[-1]
            print(f"learning rate is: {rate}")
            if model is None:
                print("diverged: no accuracy, and no curve in the plot")
            else:
                print_accuracies(model.metrics)
            print("-" * 55)
    runs = [(rate, model) for rate, model, _ in results if model is not None]
    if args.plot is not None and runs:
        from logitnet.viz import curves, plots

        figure = curves.learning_rate_comparison(
            {rate: model.training["costs"] for rate, model in runs},
            cost_every=runs[0][1].training["cost_every"],
        )
        plots.save_png(figure, args.plot)
        feedback.note(f"cost curves saved to {args.plot}")
    if args.json:
        print_json([_entry(*result) for result in results])
    diverged = [(rate, why) for rate, _, why in results if why is not None]
    kept = "the other rates are reported" if runs else "no rate finished"
    if args.plot is not None:
        kept += " and plotted" if runs else "; no plot drawn"
    for rate, why in diverged:
        print(
            f"logitnet: error: learning rate {rate:g}: {why} ({kept})", file=sys.stderr
        )
    return 1 if diverged else 0


def _entry(rate: float, model, diverged: str | None) -> dict:
    """One rate's object in --json: its curve and metrics, or its error."""
    if model is None:
        return {"learning_rate": rate, "error": diverged}
    return {
        "learning_rate": rate,
        "final_cost": model.training["final_cost"],
        "cost_every": model.training["cost_every"],
        "costs": model.training["costs"],
        "metrics": model.metrics,
    }
