"""The ``logitnet`` command: parse options, call the library, print.

Every failure the user can cause ends in one line on stderr, ``logitnet:
error: ...``, and a non-zero exit status: 2 for a usage error (a bad or
missing option), 1 for bad data or files. No traceback, and no output file
is left behind.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from typing import NoReturn

from logitnet import __version__
from logitnet._validation import check_int, check_learning_rate
from logitnet.exceptions import LogitnetError

__all__ = ["build_parser", "main"]


class _Parser(argparse.ArgumentParser):
    """argparse, with usage errors on one line."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


# Option values are checked by the same functions that guard the Python API,
# so the command and the library cannot disagree on what is valid.


def _learning_rate(text: str) -> float:
    try:
        return check_learning_rate(float(text))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a finite number > 0; got {text!r}"
        ) from None


def _int_at_least(minimum: int):
    def parse(text: str) -> int:
        try:
            return check_int(int(text), "value", minimum=minimum)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"expected a whole number >= {minimum}; got {text!r}"
            ) from None

    return parse


def _show_progress() -> bool:
    """A progress bar only when a person is watching both streams."""
    return sys.stderr.isatty() and sys.stdout.isatty()


def _add_data_dir(parser: argparse.ArgumentParser) -> None:
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


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``logitnet`` command and its subcommands."""
    parser = _Parser(
        prog="logitnet",
        description="Logistic regression as a neural network: one sigmoid "
        "neuron that tells cat photos from non-cat photos.",
    )
    parser.add_argument(
        "--version", action="version", version=f"logitnet {__version__}"
    )
    commands = parser.add_subparsers(
        dest="command", metavar="COMMAND", required=True, parser_class=_Parser
    )

    train = commands.add_parser(
        "train",
        help="train the cat classifier with the course's gradient descent",
        description="Train one sigmoid neuron on the course's cat data with "
        "fixed-step gradient descent from zeros; print the cost every 100 "
        "iterations and the train and test accuracy, as the course does.",
    )
    _add_data_dir(train)
    train.add_argument(
        "--iterations",
        type=_int_at_least(0),
        default=2000,
        metavar="N",
        help="number of gradient-descent steps (default: %(default)s)",
    )
    train.add_argument(
        "--learning-rate",
        type=_learning_rate,
        default=0.005,
        metavar="RATE",
        help="step size, > 0 (default: %(default)s)",
    )
    train.add_argument(
        "--out",
        metavar="PATH",
        help="save the trained model to this file (.npz; written atomically, "
        "only if training succeeds)",
    )
    train.set_defaults(func=_train)

    vec = commands.add_parser(
        "vectorization",
        help="time explicit loops against vectorized NumPy",
        description="The lesson's demo, measured: a dot product, an "
        "elementwise exp and one gradient step on the cat data, each with "
        "explicit Python loops and vectorized, on the same input.",
    )
    _add_data_dir(vec)
    vec.add_argument(
        "--size",
        type=_int_at_least(1),
        default=1_000_000,
        metavar="N",
        help="length of the vectors for the dot product and exp (default: %(default)s)",
    )
    vec.add_argument(
        "--repeat",
        type=_int_at_least(1),
        default=3,
        metavar="R",
        help="timing rounds; the median is reported (default: %(default)s)",
    )
    vec.add_argument(
        "--seed",
        type=_int_at_least(0),
        default=0,
        help="seed of the random vectors (default: %(default)s)",
    )
    vec.add_argument(
        "--json",
        action="store_true",
        help="print a JSON list of objects with keys operation, loop_seconds, "
        "vectorized_seconds, speedup, max_abs_difference",
    )
    vec.set_defaults(func=_vectorization)
    return parser


def _train(args: argparse.Namespace) -> int:
    from logitnet.course import train_cat_classifier
    from logitnet.modelfile import check_output_path, save_model

    if args.out is not None:
        check_output_path(args.out)  # fail before training, not after
    saved = train_cat_classifier(
        args.data_dir,
        num_iterations=args.iterations,
        learning_rate=args.learning_rate,
        print_cost=True,
        progress=_show_progress(),
        verify=args.verify,
    )
    if args.out is not None:
        save_model(args.out, saved)
        print(f"model saved to {args.out}", file=sys.stderr)
    return 0


def _format_seconds(seconds: float) -> str:
    for unit, factor in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6)):
        if seconds >= factor:
            return f"{seconds / factor:.3g} {unit}"
    return f"{seconds / 1e-9:.3g} ns"


def _vectorization(args: argparse.Namespace) -> int:
    from logitnet.datasets import flatten, load_dataset, scale
    from logitnet.vectorization import compare

    train_x, train_y, *_ = load_dataset(args.data_dir, verify=args.verify)
    rows = compare(
        scale(flatten(train_x)),
        train_y,
        size=args.size,
        repeat=args.repeat,
        seed=args.seed,
    )
    if args.json:
        print(json.dumps(rows, indent=2, sort_keys=True))
        return 0
    header = ("operation", "loop", "vectorized", "speed-up", "max |difference|")
    table = [header] + [
        (
            r["operation"],
            _format_seconds(r["loop_seconds"]),
            _format_seconds(r["vectorized_seconds"]),
            f"{r['speedup']:,.0f}x",
            f"{r['max_abs_difference']:.1e}",
        )
        for r in rows
    ]
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    for row in table:
        cells = [row[0].ljust(widths[0])]
        cells += [
            cell.rjust(width) for cell, width in zip(row[1:], widths[1:], strict=True)
        ]
        print("  ".join(cells))
    return 0


def _one_line(error: BaseException) -> str:
    return " ".join(str(error).split()) or type(error).__name__


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``logitnet`` command; return its exit status.

    Set ``LOGITNET_DEBUG=1`` to see the traceback of an unexpected error.
    """
    args = build_parser().parse_args(argv)
    try:
        status = args.func(args)
        sys.stdout.flush()  # a closed pipe shows here, not at interpreter exit
        return status
    except BrokenPipeError:
        # The reader went away (`logitnet train | head`): stop quietly, as
        # other command-line tools do, and keep Python from complaining
        # about the unflushable stdout at exit.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141  # 128 + SIGPIPE
    except (LogitnetError, ValueError, OSError) as e:
        print(f"logitnet: error: {_one_line(e)}", file=sys.stderr)
    except MemoryError:
        print("logitnet: error: out of memory", file=sys.stderr)
    except KeyboardInterrupt:
        print("logitnet: interrupted", file=sys.stderr)
        return 130
    except Exception as e:
        if os.environ.get("LOGITNET_DEBUG"):
            raise
        print(
            f"logitnet: internal error: {type(e).__name__}: {_one_line(e)} "
            "(this is a bug in logitnet; LOGITNET_DEBUG=1 shows the traceback)",
            file=sys.stderr,
        )
    return 1
