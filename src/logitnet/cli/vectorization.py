"""``logitnet vectorization``: time explicit loops against vectorized NumPy."""

from __future__ import annotations

import argparse
import json

from logitnet.cli._common import add_data_dir, add_seed, int_at_least


def add_parser(commands) -> None:
    parser = commands.add_parser(
        "vectorization",
        help="time explicit loops against vectorized NumPy",
        description="The lesson's demo, measured: a dot product, an "
        "elementwise exp and one gradient step on the cat data, each with "
        "explicit Python loops and vectorized, on the same input.",
    )
    add_data_dir(parser)
    parser.add_argument(
        "--size",
        type=int_at_least(1),
        default=1_000_000,
        metavar="N",
        help="length of the vectors for the dot product and exp (default: %(default)s)",
    )
    parser.add_argument(
        "--repeat",
        type=int_at_least(1),
        default=3,
        metavar="R",
        help="timing rounds; the median is reported (default: %(default)s)",
    )
    add_seed(
        parser, help="seed of the random vectors (default: %(default)s)", metavar=None
    )
    parser.add_argument(
        "--json",
        action="store_true",
        help="print a JSON list of objects with keys operation, loop_seconds, "
        "vectorized_seconds, speedup, max_abs_difference",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from logitnet.core.pixels import flatten, scale
    from logitnet.course.vectorization import compare
    from logitnet.data.cats import load_dataset

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


def _format_seconds(seconds: float) -> str:
    for unit, factor in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6)):
        if seconds >= factor:
            return f"{seconds / factor:.3g} {unit}"
    return f"{seconds / 1e-9:.3g} ns"
