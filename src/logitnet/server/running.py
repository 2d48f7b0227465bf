"""Running ``logitnet serve``: uvicorn around the application of
:mod:`logitnet.server.api`, in one process or ``--workers N``, until a
signal; what each server process sets up first; whether the address can be
listened on.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from dataclasses import asdict, replace
from typing import TYPE_CHECKING, Any

from logitnet.server.api import create_app
from logitnet.server.budget import return_freed_memory
from logitnet.server.hosts import allowed_names
from logitnet.server.uploads import Limits

if TYPE_CHECKING:
    from logitnet.app.modelfile import SavedModel

__all__ = ["CONFIG_VARIABLE", "app_from_environment", "check_address", "serve"]

log = logging.getLogger("logitnet.server")

#: The environment variable that hands a worker process its settings.
CONFIG_VARIABLE = "LOGITNET_SERVE_CONFIG"


def check_address(host: str, port: int) -> None:
    """Raise a one-line OSError if ``host:port`` cannot be listened on (in
    use, not this machine's address, a port that needs root), so that the
    command says so itself instead of uvicorn's log."""
    import socket

    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        family, kind, proto, _, address = infos[0]
        with socket.socket(family, kind, proto) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind(address)
    except OSError as e:
        reason = e.strerror or str(e)
        raise OSError(f"cannot listen on {host}:{port}: {reason}") from None


def _one_blas_thread() -> None:
    """One BLAS thread per server process, for the rest of its life.

    A request's product is one picture's 12,288 values against w: BLAS
    threads cannot help it, and with several requests in flight (the
    threadpool) and several workers they only fight over the cores.
    Measured on 2 cores, --workers 2, 8 clients: 279 64x64 PNG predictions
    a second with OpenBLAS's default threads, 2,342 with one.
    """
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=1)


def _process_setup() -> None:
    """What each server process does first: one BLAS thread, freed
    pictures given back to the system, refusals logged to stderr."""
    _one_blas_thread()
    return_freed_memory()
    if not log.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("logitnet: %(message)s"))
        log.addHandler(handler)
        log.setLevel(logging.WARNING)
        log.propagate = False


def app_from_environment():
    """The application a uvicorn worker process builds (``--workers N``):
    the model path, limits and host names come from :data:`CONFIG_VARIABLE`."""
    from logitnet.app.modelfile import load_picture_model
    from logitnet.server.slow_clients import TimedH11Protocol

    config = json.loads(os.environ[CONFIG_VARIABLE])
    TimedH11Protocol.header_timeout = config["header_timeout"]
    _process_setup()
    from logitnet.data.storage import locate

    return create_app(
        load_picture_model(locate(config["model"], config["storage_options"])),
        model_name=config["model_name"],
        limits=Limits(**config["limits"]),
        hosts=frozenset(config["hosts"]),
    )


def _supervise(settings: dict[str, Any], workers: int) -> None:
    """uvicorn's supervisor of ``workers`` processes, as ``uvicorn.run``
    starts it, but keeping the signal that stopped it: uvicorn's supervisor
    replaces the command's handlers and swallows the signal. It is raised
    again once the previous handlers are back, as uvicorn does with one
    process, so that the command can name it."""
    import signal

    import uvicorn
    from uvicorn.supervisors.multiprocess import SIGNALS, Multiprocess

    stopped_by: list[int] = []

    class Supervisor(Multiprocess):
        def handle_int(self) -> None:
            stopped_by.append(signal.SIGINT)
            super().handle_int()

        def handle_term(self) -> None:
            stopped_by.append(signal.SIGTERM)
            super().handle_term()

    config = uvicorn.Config(
        "logitnet.server.running:app_from_environment",
        factory=True,
        workers=workers,
        **settings,
    )
    previous = {signum: signal.getsignal(signum) for signum in SIGNALS}
    sock = config.bind_socket()
    try:
        Supervisor(config, sockets=[sock]).run()
    finally:
        sock.close()
        for signum, handler in previous.items():
            if handler is not None:
                signal.signal(signum, handler)
    if stopped_by:
        signal.raise_signal(stopped_by[0])


def serve(
    model_path: str,
    model: SavedModel,
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    workers: int = 1,
    limits: Limits | None = None,
    allowed_hosts: tuple[str, ...] = (),
    header_timeout: float = 10.0,
    keep_alive_timeout: float = 5.0,
    graceful_timeout: float = 30.0,
) -> None:
    """Serve ``model`` until SIGINT or SIGTERM; in-flight requests finish
    first (up to ``graceful_timeout`` seconds).

    A connection that has not sent a whole request line and headers within
    ``header_timeout`` seconds is closed (a slowloris client holds no
    worker); a body has ``limits.body_timeout`` seconds. Requests are
    answered for the host names localhost, ``host`` and ``allowed_hosts``
    (and IP addresses). ``limits.max_decode_bytes`` is shared out equally
    among the ``workers``.
    """
    import uvicorn

    from logitnet.server.slow_clients import TimedH11Protocol

    limits = limits or Limits()
    limits = replace(
        limits, max_decode_bytes=max(1, limits.max_decode_bytes // workers)
    )
    hosts = allowed_names(host, allowed_hosts)
    TimedH11Protocol.header_timeout = header_timeout
    # A URL's options travel to the workers in their environment (only
    # this server's own processes see it); its text never has a secret.
    url, options = (
        getattr(model_path, "url", model_path),
        getattr(model_path, "options", {}),
    )
    name = os.path.basename(str(model_path))
    settings = {
        "host": host,
        "port": port,
        "http": TimedH11Protocol,
        "timeout_keep_alive": keep_alive_timeout,
        "timeout_graceful_shutdown": graceful_timeout,
        "log_level": "warning",
        "access_log": False,
        "server_header": False,
        "date_header": True,
    }
    if workers > 1:
        os.environ[CONFIG_VARIABLE] = json.dumps(
            {
                "model": os.fspath(url),
                "storage_options": options,
                "model_name": name,
                "limits": asdict(limits),
                "hosts": sorted(hosts),
                "header_timeout": header_timeout,
            }
        )
        _supervise(settings, workers)
    else:
        _process_setup()
        app = create_app(model, model_name=name, limits=limits, hosts=hosts)
        uvicorn.run(app, workers=1, **settings)
