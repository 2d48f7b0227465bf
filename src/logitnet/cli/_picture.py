"""One picture named on the command line, for ``explain`` and ``graph``:
IMAGE (a file), or ``--data FILE --index I [--split]`` (a row of a data
file); and the picture to write when there is no ``--out``."""

from __future__ import annotations

import argparse

from logitnet.cli._common import Feedback, UsageError, add_data_file, int_at_least
from logitnet.files import shown


def add_picture(parser: argparse.ArgumentParser, *, what: str) -> None:
    """IMAGE, or --data FILE with --split and --index; ``what``: "explain"."""
    parser.add_argument(
        "image", nargs="?", metavar="IMAGE", help=f"the picture to {what}"
    )
    add_data_file(parser, what=f"{what} picture --index", file_split=True)
    parser.add_argument(
        "--index",
        type=int_at_least(0),
        default=0,
        metavar="I",
        help="with --data: the picture's row in the file (default: %(default)s)",
    )


def check_picture(args: argparse.Namespace, feedback: Feedback, suffix: str) -> None:
    """One picture given, not a URL; without --out, ``<stem><suffix>`` here,
    a name nothing has yet (said on stderr)."""
    from pathlib import Path

    from logitnet.app.prediction import NOT_ON_DISK
    from logitnet.exceptions import DataError
    from logitnet.files import new_path, url_scheme

    if (args.image is None) == (args.data is None):
        raise UsageError(f"give one picture to {args.command}: IMAGE or --data FILE")
    if args.image is not None and url_scheme(args.image):
        raise DataError(f"{shown(args.image)}: {NOT_ON_DISK}")
    if args.out is None:
        if args.image is not None:
            stem = Path(args.image).stem
        else:
            stem = f"{Path(args.data).stem}.{args.split}-{args.index}"
        args.out = str(new_path(stem, suffix))
        feedback.note(f"no --out given: drawing in {args.out}")


def read_picture(args: argparse.Namespace, model):
    """The picture as ``model`` takes it, uint8 of ``model.image_shape``;
    with --data, ``args.image`` becomes its name, ``FILE[split I]``."""
    from logitnet.data.images import read_image

    if args.data is not None:
        from logitnet.data.reader import read_pictures

        image = read_pictures(args.data, args.split, [args.index])[0]
        args.image = f"{args.data}[{args.split} {args.index}]"
        return image
    return read_image(args.image, model.image_shape)
