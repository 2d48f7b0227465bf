"""The ``logitnet`` command: parse options, call the library, print.

One module per command (``train``, ``predict``, ``evaluate``, ...), each with
``add_parser(commands)``, which builds its sub-command, beside ``run(args)``,
which runs it; :mod:`logitnet.cli._common` holds what they share.

Every failure the user can cause ends in one line on stderr, ``logitnet:
error: ...``, and a non-zero exit status: 2 for a usage error (a bad or
missing option), 1 for bad data or files. No traceback, and no output file
is left behind. SIGTERM and SIGHUP are handled as Ctrl-C is: the temporary
files and the stores being written are removed, one line says so, and the
status is 128 plus the signal's number (143, 129). A warning, logitnet's or
a library's, is one line too, ``logitnet: warning: ...``, without a source
path or a secret.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import warnings
from collections.abc import Sequence

from logitnet import __version__
from logitnet.cli import (
    convert,
    evaluate,
    explain,
    graph,
    predict,
    report,
    serve,
    sweep,
    synth,
    train,
    vectorization,
)
from logitnet.cli._common import Parser, UsageError, one_line
from logitnet.exceptions import LogitnetError, PathClashError

__all__ = ["build_parser", "main"]

#: The sub-commands, in the order ``logitnet --help`` lists them.
COMMANDS = (
    train,
    predict,
    evaluate,
    convert,
    sweep,
    explain,
    graph,
    report,
    serve,
    synth,
    vectorization,
)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``logitnet`` command and its subcommands."""
    parser = Parser(
        prog="logitnet",
        description="Logistic regression as a neural network: one sigmoid "
        "neuron that tells cat photos from non-cat photos.",
    )
    parser.add_argument(
        "--version", action="version", version=f"logitnet {__version__}"
    )
    commands = parser.add_subparsers(
        dest="command", metavar="COMMAND", required=True, parser_class=Parser
    )
    for command in COMMANDS:
        command.add_parser(commands)
    return parser


def _terminate(signum: int, frame: object) -> None:
    """Stop at once: remove the temporary files and the stores being
    written (a store on object storage within a bounded time), say so in
    one line, exit with 128 + the signal's number. Done here rather than by
    raising an exception, which Python would swallow if the signal landed
    in a finalizer or a weakref callback."""
    from logitnet.files import remove_temporary_files

    remove_temporary_files()
    name = signal.Signals(signum).name
    os.write(sys.stderr.fileno(), f"logitnet: terminated ({name})\n".encode())
    os._exit(128 + signum)


#: The signals that end a command as Ctrl-C does (SIGINT: KeyboardInterrupt).
STOP_SIGNALS = tuple(
    getattr(signal, name) for name in ("SIGTERM", "SIGHUP") if hasattr(signal, name)
)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``logitnet`` command; return its exit status.

    Set ``LOGITNET_DEBUG=1`` to see the traceback of an unexpected error.
    """
    parser = build_parser()
    args, unknown = parser.parse_known_args(argv)
    if unknown:
        # argparse leaves these to the top-level parser, whose message would
        # point to 'logitnet --help': the command's own parser says it.
        commands = parser._subparsers._group_actions[0].choices
        commands[args.command].error(f"unrecognized arguments: {' '.join(unknown)}")
    previous = {}
    try:
        for signum in STOP_SIGNALS:
            previous[signum] = signal.signal(signum, _terminate)
    except ValueError:  # not the main thread (main() called from a thread)
        pass
    shown_before, warnings.showwarning = warnings.showwarning, _show_warning
    try:
        return _run(parser, args)
    finally:
        warnings.showwarning = shown_before
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """Any library's warning (Pillow's about a picture, Matplotlib's about a
    glyph) as one line of logitnet's, ``logitnet: warning: ...``: never a
    source path in site-packages and a line of its code, and never a
    secret (zarr's names its store by the URL, user information and all)."""
    from logitnet.data.redaction import redact  # light: re and os only

    text = redact(one_line(message))
    print(f"logitnet: warning: {text}", file=file or sys.stderr)


def _run(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    from logitnet.cli._urls import locate_urls

    try:
        locate_urls(args)
        status = args.func(args)
        sys.stdout.flush()  # a closed pipe shows here, not at interpreter exit
        return status
    except BrokenPipeError:
        # The reader went away (`logitnet train | head`): stop quietly, as
        # other command-line tools do, and keep Python from complaining
        # about the unflushable stdout at exit.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141  # 128 + SIGPIPE
    except (UsageError, PathClashError) as e:
        subparser = f"{parser.prog} {args.command}"
        print(f"{subparser}: error: {e} (see '{subparser} --help')", file=sys.stderr)
        return 2
    except (LogitnetError, ValueError, OSError) as e:
        print(f"logitnet: error: {one_line(e)}", file=sys.stderr)
    except MemoryError:
        print("logitnet: error: out of memory", file=sys.stderr)
    except KeyboardInterrupt:
        print("logitnet: interrupted", file=sys.stderr)
        return 130
    except Exception as e:
        if os.environ.get("LOGITNET_DEBUG"):
            raise
        print(
            f"logitnet: internal error: {type(e).__name__}: {one_line(e)} "
            "(this is a bug in logitnet; LOGITNET_DEBUG=1 shows the traceback)",
            file=sys.stderr,
        )
    return 1
