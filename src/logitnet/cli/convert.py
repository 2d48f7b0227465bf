"""``logitnet convert``: write an image folder in the course's HDF5 layout."""

from __future__ import annotations

import argparse

from logitnet.cli._common import (
    Feedback,
    add_feedback,
    add_storage_options,
    add_test_fraction,
    check_outputs,
    labels_in_words,
    print_json,
)
from logitnet.files import shown


def add_parser(commands) -> None:
    parser = commands.add_parser(
        "convert",
        help="write a folder of pictures in the course's HDF5 layout",
        description="Read DIR/<class name>/<pictures> (two classes or more), "
        "bring every picture to 64x64 RGB, and write train_set_x, train_set_y "
        "(labels 0 .. k-1, class folders in name order) and list_classes (and "
        "test_set_x, test_set_y with --test-fraction > 0) to OUT.h5.",
    )
    parser.add_argument(
        "directory",
        metavar="DIR",
        help="the folder of pictures: DIR/<class name>/<pictures>",
    )
    parser.add_argument(
        "out",
        metavar="OUT.h5",
        help="the HDF5 file to write; a name ending in .zarr or a URL "
        "(s3://bucket/set.zarr) is written as a zarr store",
    )
    add_test_fraction(
        parser,
        default=0.0,
        help="share held out as test_set_x/test_set_y, 0 <= F < 1 "
        "(default: %(default)s)",
        seed_help="seed of that split (default: %(default)s)",
    )
    add_feedback(
        parser, json_help="print a JSON object: output, classes, picture counts"
    )
    add_storage_options(parser)
    parser.set_defaults(func=run, out_is_data=True)


def run(args: argparse.Namespace) -> int:
    from logitnet.data.images import load_image_folder, split_dataset
    from logitnet.data.layout import write_course_file

    check_outputs(args, {"OUT.h5": args.out})
    feedback = Feedback(args)
    images, labels, classes, _ = load_image_folder(
        args.directory, progress=feedback.files("reading pictures")
    )
    train_x, train_y, test_x, test_y = split_dataset(
        images, labels, test_fraction=args.test_fraction, seed=args.seed
    )
    write_course_file(args.out, train_x, train_y, classes, test_x, test_y)
    summary = {
        "out": str(args.out),
        "classes": classes,
        "n_train": int(train_y.size),
        "n_test": int(test_y.size),
        "image_shape": list(images.shape[1:]),
    }
    if args.json:
        print_json(summary)
    else:
        print(
            f"{shown(args.out)}: {summary['n_train']} training and "
            f"{summary['n_test']} test "
            f"pictures of {images.shape[1]}x{images.shape[2]}; "
            f"{labels_in_words(classes)}"
        )
    return 0
