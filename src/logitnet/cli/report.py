"""``logitnet report``: one self-contained HTML page about a model."""

from __future__ import annotations

import argparse

from logitnet.cli._common import Feedback, add_feedback, check_outputs
from logitnet.cli.evaluate import (
    add_scoring_options,
    misclassified_names,
    scored,
    wrong_probability,
)


def add_parser(commands) -> None:
    parser = commands.add_parser(
        "report",
        help="one self-contained HTML page about a model",
        description="Write one HTML page, every picture embedded: the "
        "training settings, the learning curve, the metrics and confusion "
        "matrix on the chosen pictures, the weights picture, the "
        "misclassified pictures, and the computation graph of the first picture.",
    )
    add_scoring_options(parser)
    parser.add_argument(
        "--out", required=True, metavar="HTML", help="the page to write"
    )
    add_feedback(parser, json_help=None)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from logitnet.viz.report import render_report, write_report

    check_outputs(args, {"--out": args.out})
    feedback = Feedback(args)
    model, source, result, wrong_images, first = scored(args, feedback)
    true_names, predicted_names = misclassified_names(model, result)
    html = render_report(
        model,
        metrics=result.metrics,
        confusion=result.confusion,
        misclassified_images=wrong_images,
        misclassified_true=true_names,
        misclassified_predicted=predicted_names,
        misclassified_probability=wrong_probability(result),
        first_picture=first,
        first_label=None if first is None else model.classes[result.labels[0]],
        model_path=args.model,
        split=source["split"],
        data_source=(
            f"{source['split']} pictures of {source['kind']} at {source['path']}, "
            f"{source['n_images']} pictures"
        ),
    )
    write_report(args.out, html)
    feedback.note(f"report written to {args.out}")
    return 0
