"""What the commands share: the parser, option types and groups, feedback on
stderr, output checks, loading the pictures, training with its progress shown.

Nothing heavy (NumPy, scikit-learn, Matplotlib) is imported here at module
level, so that ``logitnet --help`` answers at once.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from typing import NoReturn

from logitnet.checks import MAX_SEED, check_int, check_learning_rate, check_real
from logitnet.cli._urls import add_storage_options


class Parser(argparse.ArgumentParser):
    """argparse, with usage errors on one line, and no abbreviated options:
    ``--data`` is never taken for ``--data-dir``."""

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


class UsageError(Exception):
    """Options that parse but do not go together: exit status 2."""


def one_line(error: BaseException | str) -> str:
    """An error or warning message on one line (never empty), safe for a
    terminal (control characters and undecodable bytes escaped)."""
    from logitnet.files import shown

    return shown(" ".join(str(error).split()) or type(error).__name__)


# Option values are checked by the same functions that guard the Python API,
# so the command and the library cannot disagree on what is valid.


def learning_rate(text: str) -> float:
    try:
        return check_learning_rate(float(text))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a finite number > 0; got {text!r}"
        ) from None


def non_negative(text: str) -> float:
    try:
        return check_real(float(text), "value", minimum=0.0, inclusive=True)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a finite number >= 0; got {text!r}"
        ) from None


#: The largest whole number an option takes when it names no maximum: what
#: NumPy's int64 holds (a larger one would overflow deep inside, as an
#: index, a count or a shape).
MAX_WHOLE_NUMBER = 2**63 - 1


def int_at_least(minimum: int, maximum: int | None = None) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            return check_int(
                int(text),
                "value",
                minimum=minimum,
                maximum=MAX_WHOLE_NUMBER if maximum is None else maximum,
            )
        except ValueError:
            pass
        allowed = f">= {minimum}" if maximum is None else f"from {minimum} to {maximum}"
        if maximum is None and text.strip().lstrip("+").isdigit():
            allowed += " and at most 2**63 - 1"  # digits: too large
        raise argparse.ArgumentTypeError(
            f"expected a whole number {allowed}; got {text!r}"
        )

    return parse


def fraction(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not 0 <= value < 1:
        raise argparse.ArgumentTypeError(
            f"expected a number from 0 up to (not including) 1; got {text!r}"
        )
    return value


# Feedback: progress bars and notes on stderr -----------------------------------


def _show_progress() -> bool:
    """A progress bar only when a person is watching both streams."""
    return sys.stderr.isatty() and sys.stdout.isatty()


class Feedback:
    """Progress bars and notes on stderr: on a terminal, and not ``--quiet``."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.quiet = getattr(args, "quiet", False)
        self.bars = not self.quiet and _show_progress()

    def bar(self, iterable=None, *, total: int | None = None, desc: str = ""):
        from tqdm import tqdm

        return tqdm(
            iterable,
            total=total,
            desc=desc,
            disable=not self.bars,
            file=sys.stderr,
            leave=False,
            dynamic_ncols=True,
        )

    def files(self, desc: str):
        """A wrapper that shows a bar over a list of files being read (None
        where no bar is shown: tqdm's import is then not paid)."""
        if not self.bars:
            return None
        return lambda paths: self.bar(paths, total=len(paths), desc=desc)

    def note(self, message: str) -> None:
        if not self.quiet:
            print(one_line(message), file=sys.stderr)


# Option groups that several commands take ---------------------------------------


def add_feedback(parser: argparse.ArgumentParser, *, json_help: str | None) -> None:
    parser.add_argument(
        "--quiet",
        action="store_true",
        help="no progress bars and no notes on stderr (errors are still shown)",
    )
    if json_help is not None:
        parser.add_argument("--json", action="store_true", help=json_help)


def add_data_dir(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--data-dir",
        metavar="DIR",
        help="directory holding train_catvnoncat.h5 and test_catvnoncat.h5 "
        "(default: $LOGITNET_DATA_DIR, else download to the user cache, "
        "verified by SHA-256)",
    )
    parser.add_argument(
        "--no-verify",
        dest="verify",
        action="store_false",
        help="accept files whose SHA-256 is not the course's: data of your "
        "own in the course's HDF5 layout (still checked for that layout)",
    )


def add_test_fraction(
    parser: argparse.ArgumentParser,
    *,
    default: float | None,
    help: str,
    seed_help: str,
) -> None:
    """--test-fraction F and --seed S: a held-out split and its seed (both
    None by default when ``default`` is None: the model's)."""
    parser.add_argument(
        "--test-fraction", type=fraction, default=default, metavar="F", help=help
    )
    add_seed(parser, help=seed_help, default=None if default is None else 0)


def add_seed(
    parser: argparse.ArgumentParser,
    *,
    help: str,
    metavar: str | None = "S",
    default: int | None = 0,
) -> None:
    parser.add_argument(
        "--seed",
        type=int_at_least(0, MAX_SEED),
        default=default,
        metavar=metavar,
        help=help,
    )


def add_data(
    parser: argparse.ArgumentParser, *, split_from_model: bool = False
) -> None:
    """The course's data (--data-dir) or your own pictures (--images); with
    ``split_from_model``, the --images split defaults to the model's."""
    add_data_dir(parser)
    parser.add_argument(
        "--images",
        metavar="DIR",
        help="your own pictures instead of the course's: DIR/<class name>/<pictures>, "
        "two class folders or more (label i = i-th name in sorted order)",
    )
    if split_from_model:
        add_test_fraction(
            parser,
            default=None,
            help="share of the --images pictures held out as the test set "
            "(default: the model's, when it was trained on this folder, else "
            "0.2); a split other than the model's is refused, since its test "
            "set would hold training pictures",
            seed_help="seed of the --images split (default: the model's, else 0)",
        )
        return
    add_test_fraction(
        parser,
        default=0.2,
        help="share of the --images pictures held out as the test set, "
        "stratified, 0 <= F < 1 (default: %(default)s)",
        seed_help="seed of the train/test split: the same seed, the same split "
        "(default: %(default)s)",
    )


def add_data_file(
    parser: argparse.ArgumentParser, *, what: str, file_split: bool = False
) -> None:
    """--data FILE: pictures in the course's layout, read lazily; with
    ``file_split``, --split test|train chooses the file's set."""
    parser.add_argument(
        "--data",
        metavar="FILE",
        help=f"{what} of an HDF5 file or zarr store in the course's layout "
        "(convert's or synth's output, or the course's own files), read chunk "
        "by chunk: it may be larger than memory; or a zarr store's URL "
        "(s3://, gs://, az://, https://)",
    )
    add_storage_options(parser)
    if file_split:
        parser.add_argument(
            "--split",
            choices=("test", "train"),
            default="test",
            help="with --data: which of the file's sets (default: %(default)s)",
        )


#: The model ``predict`` and ``explain`` use without --model, where it
#: exists: what ``make run`` (``train --out model.npz``) writes.
DEFAULT_MODEL = "model.npz"


def add_model(parser: argparse.ArgumentParser, *, default_here: bool = False) -> None:
    """--model PATH; with ``default_here``, optional: see :func:`model_path`."""
    add_storage_options(parser)
    if not default_here:
        parser.add_argument(
            "--model",
            required=True,
            metavar="PATH",
            help="a model file from 'train --out'",
        )
        return
    parser.add_argument(
        "--model",
        metavar="PATH",
        help=f"a model file from 'train --out' (default: ./{DEFAULT_MODEL}, "
        "what 'make run' writes, when there is one)",
    )


def model_path(args: argparse.Namespace, feedback: Feedback) -> str:
    """--model, else ./model.npz where it exists (said on stderr), else the
    usage error of a missing --model. Sets ``args.model``."""
    import os

    if args.model is None:
        if not os.path.lexists(DEFAULT_MODEL):
            raise UsageError(
                "the following arguments are required: --model (and there is "
                f"no {DEFAULT_MODEL} in this directory)"
            )
        args.model = DEFAULT_MODEL
        feedback.note(f"using ./{DEFAULT_MODEL} (no --model given)")
    return args.model


def add_split(parser: argparse.ArgumentParser) -> None:
    from logitnet.app.evaluation import SPLITS

    parser.add_argument(
        "--split",
        choices=SPLITS,
        default="test",
        help="which pictures to score: the test set, the training set or both "
        "(default: %(default)s)",
    )


# Shared steps of the commands ----------------------------------------------------


def json_text(value: object) -> str:
    """``value`` as the JSON the commands print (no NaN or inf: a value that
    cannot be written is found before anything is saved)."""
    return json.dumps(value, indent=2, allow_nan=False)


def print_json(value: object) -> None:
    print(json_text(value))


def inputs_of(args: argparse.Namespace) -> dict[str, str | None]:
    """Every file a command reads, by the option or argument that names it:
    ``--model``, ``--data``, the picture(s), the image folder, and the two
    course files of ``--data-dir`` (or ``$LOGITNET_DATA_DIR``)."""
    import os

    found: dict[str, str | None] = {}
    for attr, name in (
        ("model", "--model"),
        ("data", "--data"),
        ("image", "IMAGE"),
        ("directory", "DIR"),
    ):
        found[name] = getattr(args, attr, None)
    images = getattr(args, "images", None)
    if isinstance(images, str):  # --images DIR (predict's pictures write nothing)
        found["--images"] = images
    if hasattr(args, "data_dir"):
        from logitnet.data.cats import ENV_DATA_DIR, FILES

        data_dir = args.data_dir or os.environ.get(ENV_DATA_DIR)
        if data_dir:
            for name in FILES.values():
                found[f"--data-dir's {name}"] = os.path.join(data_dir, name)
    return found


def check_outputs(args: argparse.Namespace, outputs: dict[str, str | None]) -> None:
    """Refuse unusable output paths before any work is done: none may be an
    input of the command (:func:`inputs_of`) or another output
    (:func:`logitnet.files.check_apart`, a usage error), and each must be
    writable (:func:`logitnet.files.check_output_path`). Keys name the
    option or argument (``"--out"``)."""
    import os

    from logitnet.data.storage import is_url
    from logitnet.exceptions import OutputPathError
    from logitnet.files import check_apart, check_output_path, shown

    check_apart(outputs, inputs_of(args))
    for name, path in outputs.items():
        if path is None:
            continue
        if hasattr(path, "check_writable"):  # a URL: data or a model
            path.check_writable()
        elif is_url(path):
            raise UsageError(
                f"{name} {path}: writes a local file; give a path (data and "
                "models go to URLs, pictures and pages stay local)"
            )
        elif str(path).rstrip("/").endswith(".zarr") and os.path.lexists(path):
            raise OutputPathError(
                f"{shown(path)}: already exists; remove it or give another name"
            )
        else:
            check_output_path(path)


def load_data(
    args: argparse.Namespace,
    feedback: Feedback,
    image_shape=(64, 64, 3),
    *,
    model=None,
    splits: tuple[str, ...] = ("train", "test"),
):
    """The pictures --data-dir or --images name (see :func:`add_data`); for
    ``model``, an --images folder split as the model recorded it. Of the
    course's files, only those of ``splits`` are read (or downloaded)."""
    from logitnet.app.training import load_data

    test_fraction, seed = data_options(args, model)
    return load_data(
        data_dir=args.data_dir,
        verify=args.verify,
        images=args.images,
        test_fraction=test_fraction,
        seed=seed,
        image_shape=image_shape,
        progress=feedback.files("reading pictures"),
        splits=splits,
    )


def data_options(args: argparse.Namespace, model=None) -> tuple[float, int]:
    """Check that the data options go together; the --images split
    (``model``'s own when it was trained on that folder)."""
    if args.images is not None and args.data_dir is not None:
        raise UsageError("give either --data-dir or --images, not both")
    if getattr(args, "data", None) is not None and (
        args.images is not None or args.data_dir is not None
    ):
        raise UsageError("give one of --data, --data-dir and --images")
    if args.images is None:
        if model is None and args.test_fraction != 0.2:
            raise UsageError("--test-fraction applies to --images only")
        if model is not None and (args.test_fraction, args.seed) != (None, None):
            raise UsageError("--test-fraction and --seed apply to --images only")
    test_fraction, seed = args.test_fraction, args.seed
    if model is not None and args.images is not None:
        from logitnet.app.evaluation import recorded_split

        return recorded_split(model, args.images, test_fraction, seed)
    return test_fraction, seed


def fit(
    args: argparse.Namespace,
    feedback: Feedback,
    trainer,
    *,
    print_costs: bool = False,
    **settings,
):
    """Run ``trainer`` (``training.train`` or ``train_on_file``) showing its
    progress (:class:`~logitnet.cli._progress.TrainingProgress`); with
    ``print_costs``, the course's cost lines."""
    from logitnet.app.training import cost_printer
    from logitnet.cli._progress import TrainingProgress

    solver = getattr(args, "solver", "gd")
    with TrainingProgress(
        solver,
        args.iterations,
        enabled=feedback.bars,
        out_of_core=getattr(args, "data", None) is not None,
    ) as progress:
        print_cost = cost_printer(solver, progress.write)

        def report(step) -> None:
            progress.update(step)
            if print_costs:
                print_cost(step)

        model, warning = trainer(
            solver=solver,
            max_iter=args.iterations,
            alpha=getattr(args, "alpha", 0.0),
            callback=report,
            **settings,
        )
        progress.finish(model.training)
    if warning:
        print(f"logitnet: warning: {one_line(warning)}", file=sys.stderr)
    return model


def print_accuracies(metrics: dict) -> None:
    """The course's ``train accuracy: ... %`` and ``test accuracy: ... %``."""
    from logitnet.app.training import accuracy_lines

    for line in accuracy_lines(metrics):
        print(line)


#: Class names a line shows at most; the JSON summary has them all.
_SHOWN_CLASSES = 10


def labels_in_words(classes: list[str]) -> str:
    """ "label 0 = a, 1 = b", the first :data:`_SHOWN_CLASSES` of k > 2
    classes as "labels 0 = a, 1 = b, 2 = c"."""
    from logitnet.files import shown

    pairs = ", ".join(
        f"{i} = {shown(name)}" for i, name in enumerate(classes[:_SHOWN_CLASSES])
    )
    if len(classes) == 2:
        return f"label {pairs}"
    more = f", ... ({len(classes)} classes)" if len(classes) > _SHOWN_CLASSES else ""
    return f"labels {pairs}{more}"
