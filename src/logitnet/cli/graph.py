"""``logitnet graph``: the neuron's computation graph for one picture."""

from __future__ import annotations

import argparse

from logitnet.cli._common import (
    Feedback,
    UsageError,
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
        "graph",
        help="draw the neuron's computation graph for one picture",
        description="Draw the course's computation graph of the neuron for one "
        "picture: the picture, its flattened x, the weights w and b, then "
        "z = w.x + b and a = sigma(z) (the softmax for k >= 3 classes) with "
        "their values; with the picture's true class (--label), y, the loss "
        "L(a, y) and the derivatives flowing back by the chain rule (dL/da, "
        "dL/dz = a - y, dL/db, and dL/dw = x dz as a picture), checked by "
        "finite differences.",
    )
    add_model(parser, default_here=True)
    add_picture(parser, what="draw the graph of")
    parser.add_argument(
        "--label",
        metavar="NAME",
        help="the picture's true class (one of the model's class names): "
        "adds y, the loss and the backward pass",
    )
    parser.add_argument(
        "--out",
        metavar="FILE",
        help="the picture to write, .png or .svg (default: <picture's "
        "name>.graph.png in the current directory, numbered rather than "
        "replacing a file)",
    )
    add_feedback(
        parser,
        json_help="print a JSON object of every value on the graph: z, a, y, "
        "loss, dL_da, dL_dz, dL_db, the finite-difference checks, ...",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from logitnet.app.graph import neuron_graph
    from logitnet.app.modelfile import load_picture_model
    from logitnet.viz.graph import FORMATS, check_line, graph_figure, save_graph

    feedback = Feedback(args)
    model_path(args, feedback)
    check_picture(args, ".graph.png")
    if Path(args.out).suffix.lower() not in FORMATS:
        raise UsageError(f"--out {shown(args.out)} must end in .png or .svg")
    check_outputs(args, {"--out": args.out})
    model = load_picture_model(args.model)
    check_class("--label", args.label, model.classes)
    image = read_picture(args, model)
    graph = neuron_graph(model, image, args.label)
    save_graph(graph_figure(graph), args.out)
    note_chosen_out(args, feedback)
    if args.json:
        print_json({"path": args.image, **graph.as_json(), "out": args.out})
        return 0
    if graph.multiclass:
        chosen = model.classes.index(graph.predicted)
        said = (
            f"z = {graph.z[chosen]:.4f}, a = {graph.a[chosen]:.4f} "
            f"({shown(graph.predicted)})"
        )
    else:
        said = f"z = {graph.z:.4f}, a = sigma(z) = {graph.a:.4f}"
    if graph.label is not None:
        said += f"; y = {graph.y} ({shown(graph.label)}), L = {graph.loss:.4f}"
    print(f"{shown(args.image)}: {said}; drawn in {shown(args.out)}")
    if graph.checks:
        print(check_line(graph))
    return 0
