"""Which host names the server answers for, and what its address means.

A page on any web site can make a browser send requests to
``http://evil.example:8000/`` after pointing ``evil.example`` at
127.0.0.1 ("DNS rebinding"): the browser then treats this server's answers
as the other site's. The server answers only requests whose ``Host`` header
names it as it was started: ``localhost``, the ``--host`` address, each
``--allowed-host NAME``, or an IP address literal (no DNS is involved in
reaching an address, so it cannot be rebound). Any other name gets 421.

Also here: whether an address is loopback (a server on any other one is
open to the network, and the command says so) and the URL to print for it
(an IPv6 address in brackets).
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Iterable

from starlette.responses import JSONResponse

from logitnet.files import shown

__all__ = ["HostCheck", "allowed_names", "is_loopback", "open_warning", "url_of"]

log = logging.getLogger("logitnet.server")


def _bare(host: str) -> str:
    """A host as compared: lower case, without brackets or a final dot."""
    return host.strip().lower().removeprefix("[").removesuffix("]").rstrip(".")


def _is_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host.split("%", 1)[0])  # fe80::1%eth0
    except ValueError:
        return False
    return True


def allowed_names(host: str, extra: Iterable[str] = ()) -> frozenset[str]:
    """The names a ``Host`` header may give: localhost, ``host``, ``extra``
    (IP address literals are always accepted, see :class:`HostCheck`)."""
    return frozenset(_bare(name) for name in ("localhost", host, *extra))


def _host_of(header: str) -> str:
    """The host part of a ``Host`` header: ``name``, ``name:port``,
    ``[v6]`` or ``[v6]:port``."""
    header = header.strip()
    if header.startswith("["):
        return _bare(header.partition("]")[0])
    return _bare(header.rpartition(":")[0] if ":" in header else header)


class HostCheck:
    """ASGI middleware: 421 for a request whose ``Host`` is not one of
    ``names`` nor an IP address. A request without a ``Host`` (HTTP/1.0)
    passes: browsers always send one."""

    def __init__(self, app, names: frozenset[str]) -> None:
        self.app = app
        self.names = names

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "http":
            raw = dict(scope["headers"]).get(b"host")
            host = None if raw is None else _host_of(raw.decode("latin-1"))
            if host is not None and host not in self.names and not _is_address(host):
                message = (
                    f"this server does not answer for the host {shown(host)!r} "
                    f"(start it with --allowed-host {shown(host)} to allow it)"
                )
                client = (scope.get("client") or ("?", 0))[0]
                log.warning(
                    "421 %s %s from %s: %s",
                    scope["method"],
                    shown(scope["path"]),
                    client,
                    message,
                )
                response = JSONResponse(
                    {"error": message},
                    status_code=421,
                    headers={"Connection": "close"},
                )
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


def is_loopback(host: str) -> bool:
    """Whether ``host`` (an address or a name) is only this computer: an
    address in 127.0.0.0/8 or ::1, or a name all of whose addresses are."""
    import socket

    bare = _bare(host)
    if _is_address(bare):
        return ipaddress.ip_address(bare.split("%", 1)[0]).is_loopback
    if bare == "localhost":
        return True
    try:
        infos = socket.getaddrinfo(bare, None, type=socket.SOCK_STREAM)
    except OSError:
        return False
    addresses = {info[4][0] for info in infos}
    return bool(addresses) and all(
        ipaddress.ip_address(a.split("%", 1)[0]).is_loopback for a in addresses
    )


def open_warning(host: str) -> str:
    """The one line ``serve`` prints when it listens beyond this computer."""
    return (
        f"logitnet: warning: listening on {host}, not only this computer: the "
        "page and the API are open to the network, to anyone who can reach it"
    )


def url_of(host: str, port: int) -> str:
    """``http://host:port/``, an IPv6 address in brackets."""
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return f"http://{host}:{port}/"
