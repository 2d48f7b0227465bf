"""One picture named on the command line, for ``explain`` and ``graph``:
IMAGE (a file), ``--data FILE --index I [--split]`` (a row of a data
file), or ``--images DIR --index I`` (a picture of a folder of class
folders, in the order training reads them); and the picture to write when
there is no ``--out``."""

from __future__ import annotations

import argparse

from logitnet.cli._common import Feedback, UsageError, add_data_file, int_at_least
from logitnet.files import shown


def add_picture(parser: argparse.ArgumentParser, *, what: str) -> None:
    """IMAGE, --data FILE with --split and --index, or --images DIR with
    --index; ``what``: "explain"."""
    parser.add_argument(
        "image", nargs="?", metavar="IMAGE", help=f"the picture to {what}"
    )
    add_data_file(parser, what=f"{what} picture --index", file_split=True)
    parser.add_argument(
        "--images",
        metavar="DIR",
        help=f"{what} picture --index of your own pictures, DIR/<class "
        "name>/<pictures>, numbered as training reads them: class folder by "
        "class folder (sorted), each in name order",
    )
    parser.add_argument(
        "--index",
        type=int_at_least(0),
        default=0,
        metavar="I",
        help="with --data: the picture's row in the file; with --images: its "
        "number in the folder (default: %(default)s)",
    )


def check_picture(args: argparse.Namespace, suffix: str) -> None:
    """One picture given, not a URL; without --out, ``<stem><suffix>`` here,
    a name nothing has yet (said on stderr by :func:`note_chosen_out`)."""
    from pathlib import Path

    from logitnet.app.prediction import NOT_ON_DISK
    from logitnet.exceptions import DataError
    from logitnet.files import new_path, url_scheme

    given = [args.image, args.data, args.images]
    if sum(source is not None for source in given) != 1:
        raise UsageError(
            f"give one picture to {args.command}: IMAGE, --data FILE or --images DIR"
        )
    if args.image is not None and url_scheme(args.image):
        raise DataError(f"{shown(args.image)}: {NOT_ON_DISK}")
    # Said once the picture is written: a bad input's error stays one line.
    args.chosen_out = args.out is None
    if args.out is None:
        if args.image is not None:
            stem = Path(args.image).stem
        elif args.data is not None:
            stem = f"{Path(str(args.data)).stem}.{args.split}-{args.index}"
        else:
            stem = f"{Path(args.images).name}-{args.index}"
        args.out = str(new_path(stem, suffix))


def check_class(option: str, name: str | None, classes: list[str]) -> None:
    """``option``'s class ``name``, if given, is one of the model's."""
    if name is not None and name not in classes:
        known = ", ".join(shown(c) for c in classes)
        raise UsageError(
            f"{option} {shown(name)} is not a class of the model ({known})"
        )


def note_chosen_out(args: argparse.Namespace, feedback: Feedback) -> None:
    """After the picture is written: its name, when no --out gave one."""
    if args.chosen_out:
        feedback.note(f"no --out given: drawing in {args.out}")


def read_picture(args: argparse.Namespace, model):
    """The picture as ``model`` takes it, uint8 of ``model.image_shape``;
    with --data, ``args.image`` becomes its name, ``FILE[split I]``, with
    --images, its file's path."""
    from logitnet.data.images import read_image

    if args.images is not None:
        from logitnet.data.images import image_folder_files
        from logitnet.exceptions import DataError

        paths, _, _ = image_folder_files(args.images)
        if args.index >= len(paths):
            raise DataError(
                f"{shown(args.images)}: its pictures are numbered 0 to "
                f"{len(paths) - 1}; got {args.index}"
            )
        args.image = str(paths[args.index])
    elif args.data is not None:
        from logitnet.data.reader import read_pictures

        image = read_pictures(args.data, args.split, [args.index])[0]
        args.image = f"{args.data}[{args.split} {args.index}]"
        return image
    return read_image(args.image, model.image_shape)
