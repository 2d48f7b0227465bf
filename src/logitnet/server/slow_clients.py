"""A deadline for a request's headers, which uvicorn does not have; and a
connection closed after a request framed two ways.

uvicorn closes a kept-alive connection that stays idle, but a client that
sends its request line and headers a byte at a time (a "slowloris") keeps
its connection, and enough of them use up the server's sockets. The HTTP
protocol here is uvicorn's h11 protocol with one timer more: a connection
that has not sent a whole request head within :attr:`TimedH11Protocol.
header_timeout` seconds of connecting, or of its previous answer, is
closed. A body's pace is the application's to bound
(:attr:`logitnet.server.uploads.Limits.body_timeout`).

A request with both ``Content-Length`` and ``Transfer-Encoding`` is read by
its Transfer-Encoding (h11 does so), but a proxy in front may have read it
by its Content-Length: what follows on the connection is then a request the
proxy never saw ("request smuggling"). RFC 9112 section 6.1: the server
must close the connection after answering it. It is answered, then closed;
a request pipelined behind it is not read.
"""

from __future__ import annotations

import asyncio
import socket

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

__all__ = ["TimedH11Protocol"]


class TimedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol, with a deadline for each request head, and
    no keep-alive after a request with both Content-Length and
    Transfer-Encoding."""

    #: Seconds a client has to send a request line and its headers. A class
    #: attribute: uvicorn builds the protocol itself, in each worker process.
    header_timeout: float = 10.0

    _head_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        # asyncio turns Nagle's algorithm off only for sockets whose proto
        # is IPPROTO_TCP; the listening socket uvicorn hands its --workers
        # has proto 0, and an answer written in two pieces then waited
        # 40 ms for the client's delayed ACK (measured: 42 ms per request).
        sock = transport.get_extra_info("socket")
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._arm()

    def handle_events(self) -> None:
        super().handle_events()
        # uvicorn has just built the cycle of a new request, if one came:
        # its task is scheduled, not started, so its answer is still ahead.
        cycle = self.cycle
        if cycle is not None and not cycle.response_started and cycle.keep_alive:
            names = {name for name, _ in self.headers}
            if b"content-length" in names and b"transfer-encoding" in names:
                cycle.keep_alive = False  # closed once answered

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
        super().connection_lost(exc)

    def _arm(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
        self._head_timer = self.loop.call_later(self.header_timeout, self._too_slow)

    def _too_slow(self) -> None:
        self._head_timer = None
        # IDLE: h11 has not seen a whole request head since the timer was set.
        if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
            self.transport.close()
