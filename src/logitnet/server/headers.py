"""What every answer of ``logitnet serve`` carries, and ``HEAD``.

:class:`SecurityHeaders` gives each answer a Content-Security-Policy
(:func:`csp_of`: nothing from elsewhere), ``nosniff``, ``DENY`` framing and
no referrer; :class:`HeadAsGet` answers ``HEAD`` wherever ``GET`` is
answered. Both are plain ASGI middleware: a request's body passes through
untouched.
"""

from __future__ import annotations

import base64
import hashlib

from starlette.datastructures import MutableHeaders

__all__ = ["HeadAsGet", "SecurityHeaders", "csp_of"]


class SecurityHeaders:
    """ASGI middleware: every answer gets a Content-Security-Policy (``csp``
    unless the endpoint set its own), ``X-Content-Type-Options: nosniff``,
    ``X-Frame-Options: DENY``, ``Referrer-Policy: no-referrer`` and, unless
    set, ``Cache-Control: no-store``. Plain ASGI rather than Starlette's
    ``BaseHTTPMiddleware``: the request body passes through untouched."""

    def __init__(self, app, csp: str) -> None:
        self.app = app
        self.csp = csp

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers.setdefault("Content-Security-Policy", self.csp)
                headers["X-Content-Type-Options"] = "nosniff"
                headers["X-Frame-Options"] = "DENY"
                headers["Referrer-Policy"] = "no-referrer"
                headers.setdefault("Cache-Control", "no-store")
            await send(message)

        await self.app(scope, receive, send_with_headers)


class HeadAsGet:
    """ASGI middleware: ``HEAD`` is answered wherever ``GET`` is, with
    ``GET``'s status and headers (uvicorn sends no body for a ``HEAD``)."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "http" and scope["method"] == "HEAD":
            scope = {**scope, "method": "GET"}
        await self.app(scope, receive, send)


def csp_of(script: str = "", style: str = "", *, own_files: bool = False) -> str:
    """The Content-Security-Policy of an answer: nothing from elsewhere; a
    page's one inline script and style allowed by their hashes, and with
    ``own_files`` scripts and styles from this server (``/docs``'s)."""

    def digest(text: str) -> str:
        return base64.b64encode(hashlib.sha256(text.encode()).digest()).decode()

    own = "'self' " if own_files else ""
    scripts = f"{own}'sha256-{digest(script)}'" if script else "'none'"
    styles = f"{own}'sha256-{digest(style)}'" if style else "'none'"
    return (
        f"default-src 'none'; script-src {scripts}; style-src {styles}; "
        "img-src 'self' data: blob:; connect-src 'self'; base-uri 'none'; "
        "form-action 'none'; frame-ancestors 'none'"
    )
