"""``logitnet explain``: show what in a picture drove the decision."""

from __future__ import annotations

import argparse

from logitnet.cli._common import (
    Feedback,
    add_feedback,
    add_model,
    check_outputs,
    model_path,
    print_json,
)
from logitnet.cli._picture import (
    add_picture,
    check_class,
    check_picture,
    note_chosen_out,
    read_picture,
)
from logitnet.files import shown


def add_parser(commands) -> None:
    parser = commands.add_parser(
        "explain",
        help="show what in a picture drove the decision",
        description="Draw the picture as the model sees it, a map of each "
        "pixel's contribution w*x to the decision z = w.x + b laid over it "
        "(with its colour bar), and the learned weights as a picture; or one "
        "picture of a data file (--data FILE --index I).",
    )
    add_model(parser, default_here=True)
    add_picture(parser, what="explain")
    parser.add_argument(
        "--out",
        metavar="PNG",
        help="the picture to write (default: <picture's name>.why.png in the "
        "current directory, numbered rather than replacing a file)",
    )
    parser.add_argument(
        "--class",
        dest="target",
        metavar="NAME",
        help="the class whose map is drawn, for a model of k >= 3 classes "
        "(default: the predicted one); with two, the map shows both",
    )
    add_feedback(
        parser,
        json_help="print a JSON object: path, label, probabilities, decision value",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from logitnet.app.modelfile import load_picture_model
    from logitnet.app.prediction import classify, format_probabilities
    from logitnet.viz import plots

    feedback = Feedback(args)
    model_path(args, feedback)
    check_picture(args, ".why.png")
    check_outputs(args, {"--out": args.out})
    model = load_picture_model(args.model)
    image = read_picture(args, model)
    answer = classify(model, image[None])
    first = answer.answer(0)
    label, probabilities = first["label"], first["probabilities"]
    check_class("--class", args.target, model.classes)
    target = label if args.target is None else args.target
    z = answer.decision_value(0, target)
    figure = plots.explanation(
        image,
        model.w,
        model.b,
        classes=model.classes,
        image_shape=model.image_shape,
        target=target,
    )
    plots.save_png(figure, args.out)
    note_chosen_out(args, feedback)
    if args.json:
        print_json(
            {
                "path": args.image,
                "label": label,
                "probabilities": probabilities,
                "decision_value": z,
                "class": target,
                "out": args.out,
            }
        )
    else:
        shares = format_probabilities(probabilities)
        print(
            f"{shown(args.image)}: {shown(label)} ({shares}); z = {z:.4f}; "
            f"drawn in {shown(args.out)}"
        )
    return 0
