"""``logitnet predict``: classify your own pictures."""

from __future__ import annotations

import argparse
import sys

from logitnet.cli._common import (
    Feedback,
    add_feedback,
    add_model,
    one_line,
    print_json,
    probabilities_text,
)
from logitnet.files import shown


def add_parser(commands) -> None:
    parser = commands.add_parser(
        "predict",
        help="classify your own pictures",
        description="Classify pictures (JPEG, PNG, ... of any size; "
        "directories are expanded to the image files in them) with a saved "
        "model. One bad file does not stop the others; the exit status is 1 "
        "if any failed.",
    )
    add_model(parser)
    parser.add_argument(
        "images",
        nargs="+",
        metavar="IMAGE_OR_DIR",
        help="picture files, or directories whose image files are all classified",
    )
    add_feedback(
        parser,
        json_help='print one JSON array of {"path", "label", "probabilities": '
        '{class: p}}, or {"path", "error"} for a file that failed',
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from logitnet.app.modelfile import load_model
    from logitnet.app.prediction import predict_files

    feedback = Feedback(args)
    model = load_model(args.model)
    results = predict_files(
        model, args.images, progress=feedback.files("reading images")
    )
    if args.json:
        print_json(results)
    else:
        for entry in results:
            if "error" in entry:
                message = one_line(f"{entry['path']}: {entry['error']}")
                print(f"logitnet: error: {message}", file=sys.stderr)
            else:
                shares = probabilities_text(entry["probabilities"])
                print(f"{shown(entry['path'])}: {shown(entry['label'])} ({shares})")
    failed = sum("error" in entry for entry in results)
    if failed and len(results) > 1:
        feedback.note(f"{failed} of {len(results)} files failed")
    return 1 if failed else 0
