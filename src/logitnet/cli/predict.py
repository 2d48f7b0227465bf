"""``logitnet predict``: classify your own pictures."""

from __future__ import annotations

import argparse
import itertools
import sys
import textwrap

from logitnet.cli._common import (
    Feedback,
    UsageError,
    add_data_file,
    add_feedback,
    add_model,
    int_at_least,
    json_text,
    model_path,
    one_line,
)
from logitnet.files import shown


def add_parser(commands) -> None:
    parser = commands.add_parser(
        "predict",
        help="classify your own pictures",
        description="Classify pictures (JPEG, PNG, ... of any size; "
        "directories are expanded to the image files in them and in their "
        "sub-directories) with a saved model, or the pictures of a data file "
        "(--data). One bad file does not stop the others; the exit status is "
        "1 if any failed. With the answers, stderr says how good the model "
        "was on its test pictures when it was trained.",
    )
    add_model(parser, default_here=True)
    parser.add_argument(
        "images",
        nargs="*",
        metavar="IMAGE_OR_DIR",
        help="picture files, or directories whose image files (sub-directories "
        "included, in name order) are all classified",
    )
    add_data_file(parser, what="classify the pictures")
    parser.add_argument(
        "--split",
        choices=("test", "train"),
        default="test",
        help="with --data: which of the file's sets to classify (default: %(default)s)",
    )
    parser.add_argument(
        "--top",
        type=int_at_least(1),
        default=None,
        metavar="K",
        help="show the K most probable classes of each picture, the most "
        "probable first (default: 3, or all of them when there are fewer; "
        "two classes in the model's order); --json gives every class",
    )
    add_feedback(
        parser,
        json_help='print one JSON array of {"path", "label", "probabilities": '
        '{class: p}}, or {"path", "error"} for a file that failed',
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from logitnet.app.evaluation import recorded_accuracy_in_words
    from logitnet.app.modelfile import load_picture_model
    from logitnet.app.prediction import (
        format_probabilities,
        iter_predictions,
        predict_file,
        top_classes,
    )

    feedback = Feedback(args)
    path = model_path(args, feedback)
    if not args.images and args.data is None:
        raise UsageError("give pictures to classify, or --data FILE")
    model = load_picture_model(path)
    entries = itertools.chain(
        iter_predictions(
            model, args.images, progress=feedback.files("reading pictures")
        )
        if args.images
        else (),
        predict_file(model, args.data, args.split) if args.data is not None else (),
    )
    total = failed = 0
    # Each answer is printed as soon as its batch is classified, so memory
    # stays flat however many files there are; --json streams one array.
    for entry in entries:
        if args.json:
            text = textwrap.indent(json_text(entry), "  ")
            print(("[\n" if total == 0 else ",\n") + text, end="")
        elif "error" in entry:
            message = one_line(f"{entry['path']}: {entry['error']}")
            print(f"logitnet: error: {message}", file=sys.stderr)
        else:
            if total == failed:  # the first answer: how far to trust them, once
                feedback.note(f"{path}: {recorded_accuracy_in_words(model)}")
            shares = format_probabilities(top_classes(entry["probabilities"], args.top))
            print(f"{shown(entry['path'])}: {shown(entry['label'])} ({shares})")
        total += 1
        failed += "error" in entry
    if args.json:
        print("\n]" if total else "[]")
    if failed and total > 1:
        feedback.note(f"{failed} of {total} files failed")
    return 1 if failed else 0
