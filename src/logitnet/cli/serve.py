"""``logitnet serve``: a page to try your own photos, and an HTTP API."""

from __future__ import annotations

import argparse
import signal
import sys

from logitnet.cli._common import add_model, int_at_least, learning_rate


def add_parser(commands) -> None:
    parser = commands.add_parser(
        "serve",
        help="serve a page to try your own photos, and an HTTP API",
        description="Serve a model: a page at / where a person picks, drops or "
        "pastes photos and sees each one's label, probability and explanation; "
        "and a JSON API (POST /api/predict, POST /api/explain, GET /api/model, "
        "GET /healthz; the schema at /openapi.json, described at /docs). The "
        "model is loaded and checked before anything binds. Ctrl-C or SIGTERM "
        "lets the requests in flight finish, then stops.",
    )
    add_model(parser)
    parser.add_argument(
        "--host",
        default="127.0.0.1",
        help="the address to listen on (default: %(default)s, this computer "
        "only; 0.0.0.0 opens it to the network)",
    )
    parser.add_argument(
        "--port",
        type=int_at_least(1, 65535),
        default=8000,
        help="the TCP port (default: %(default)s)",
    )
    parser.add_argument(
        "--workers",
        type=int_at_least(1, 64),
        default=1,
        help="server processes, each with the model (default: %(default)s)",
    )
    parser.add_argument(
        "--max-file-mb",
        type=learning_rate,  # a finite number > 0
        default=20.0,
        metavar="MB",
        help="the largest picture accepted, in MiB (default: %(default)g)",
    )
    parser.add_argument(
        "--max-request-mb",
        type=learning_rate,
        default=64.0,
        metavar="MB",
        help="the largest request body accepted, in MiB (default: %(default)g)",
    )
    parser.add_argument(
        "--max-files",
        type=int_at_least(1),
        default=32,
        metavar="N",
        help="the most pictures in one request (default: %(default)s)",
    )
    parser.add_argument(
        "--header-timeout",
        type=learning_rate,
        default=10.0,
        metavar="S",
        help="seconds a client has to send a request's headers (default: %(default)g)",
    )
    parser.add_argument(
        "--body-timeout",
        type=learning_rate,
        default=30.0,
        metavar="S",
        help="seconds a client has to send a request's body (default: %(default)g)",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from logitnet.app.modelfile import load_picture_model
    from logitnet.server.api import check_address, serve
    from logitnet.server.uploads import MB, Limits

    model = load_picture_model(args.model)  # a bad model stops here, before binding
    limits = Limits(
        max_file_bytes=int(args.max_file_mb * MB),
        max_request_bytes=int(args.max_request_mb * MB),
        max_files=args.max_files,
        body_timeout=args.body_timeout,
    )
    check_address(args.host, args.port)
    print(
        f"logitnet: serving {args.model} on http://{args.host}:{args.port}/ "
        "(Ctrl-C stops)",
        file=sys.stderr,
        flush=True,
    )
    # uvicorn drains the requests in flight on SIGINT and SIGTERM, then
    # raises the signal again: it is recorded here, and the command ends
    # with status 0, instead of as an interrupted one.
    stopped: list[int] = []
    previous = {
        signum: signal.signal(signum, lambda signum, frame: stopped.append(signum))
        for signum in (signal.SIGINT, signal.SIGTERM)
    }
    try:
        serve(
            args.model,
            model,
            host=args.host,
            port=args.port,
            workers=args.workers,
            limits=limits,
            header_timeout=args.header_timeout,
        )
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    how = f" ({signal.Signals(stopped[0]).name})" if stopped else ""
    print(f"logitnet: stopped{how}", file=sys.stderr)
    return 0
