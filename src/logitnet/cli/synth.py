"""``logitnet synth``: write a synthetic data set of any size."""

from __future__ import annotations

import argparse

from logitnet.checks import MAX_CLASSES
from logitnet.cli._common import (
    Feedback,
    add_feedback,
    add_seed,
    add_storage_options,
    check_outputs,
    int_at_least,
    print_json,
)


def add_parser(commands) -> None:
    parser = commands.add_parser(
        "synth",
        help="write a synthetic data set of any size, for tests and benchmarks",
        description="Write random 64x64 RGB pictures labelled by a planted "
        "logistic model (softmax for more than two classes; saved in the file "
        "as true_w, true_b) in the course's HDF5 layout, block by block in "
        "bounded memory.",
    )
    parser.add_argument(
        "--n-samples",
        type=int_at_least(1),
        required=True,
        metavar="N",
        help="training pictures (train_set_x)",
    )
    parser.add_argument(
        "--test-samples",
        type=int_at_least(0),
        default=0,
        metavar="K",
        help="test pictures (test_set_x), from the same model (default: %(default)s)",
    )
    parser.add_argument(
        "--n-classes",
        type=int_at_least(2, MAX_CLASSES),
        default=2,
        metavar="K",
        help="classes, labels 0 .. K-1 drawn from a planted softmax model for "
        "K >= 3 (default: %(default)s)",
    )
    parser.add_argument(
        "--out",
        required=True,
        metavar="FILE.h5",
        help="the HDF5 file to write; a name ending in .zarr or a URL "
        "(s3://bucket/set.zarr) is written as a zarr store",
    )
    add_seed(parser, help="the same seed, the same file (default: %(default)s)")
    add_storage_options(parser)
    add_feedback(parser, json_help="print a JSON object: output, sizes, seed")
    parser.set_defaults(func=run, out_is_data=True)


def run(args: argparse.Namespace) -> int:
    from logitnet.data.synth import make_images

    check_outputs(args, {"--out": args.out})
    feedback = Feedback(args)
    total = args.n_samples + args.test_samples
    with feedback.bar(total=total, desc="writing pictures") as bar:
        make_images(
            args.out,
            args.n_samples,
            seed=args.seed,
            test_samples=args.test_samples,
            n_classes=args.n_classes,
            progress=lambda written: bar.update(written - bar.n),
        )
    summary = {
        "out": str(args.out),
        "n_train": args.n_samples,
        "n_test": args.test_samples,
        "image_shape": [64, 64, 3],
        "n_classes": args.n_classes,
        "seed": args.seed,
    }
    if args.json:
        print_json(summary)
    else:
        classes = f", {args.n_classes} classes" if args.n_classes > 2 else ""
        print(
            f"{args.out}: {args.n_samples} training and {args.test_samples} test "
            f"pictures of 64x64x3, seed {args.seed}{classes}"
        )
    return 0
