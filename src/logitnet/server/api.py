"""``logitnet serve``: a page to try your own photos, and an HTTP API.

An ASGI application (FastAPI on Starlette, served by uvicorn) around one
model, loaded and checked once by the caller. Nothing here re-derives a
prediction: an upload's bytes go to :func:`logitnet.data.images.read_image`
(decoded in memory, the same checks as a file, a bomb refused from its
header), the pictures to :func:`logitnet.app.prediction.classify`, the
explanation to :func:`logitnet.viz.plots.explanation` (what ``explain``
draws) and the model card to :func:`logitnet.viz.report.model_card`.

The API:

- ``POST /api/predict``: ``multipart/form-data`` with one or more files, or
  one raw image body. Answers a JSON array of what ``predict --json``
  prints, one object per file: ``{"path", "label", "probabilities"}``, or
  ``{"path", "error"}`` for a file that is not a picture. ``path`` is the
  name the client gave (``upload`` for a raw body); it is only echoed,
  never used to open anything.
- ``POST /api/explain``: one picture (raw body, or a multipart with one
  file): predict's object for it with z (``decision_value``) and the
  explanation as a base64 PNG (``png``); ``{"path", "error"}`` for a file
  that is not a picture.
- ``GET /api/model``: the model file's metadata, without the weights.
- ``GET /healthz``, ``GET /openapi.json``, ``GET /docs`` (a page of this
  server's own, no CDN), ``GET /`` (the page).

Limits (:class:`Limits`): a body larger than the per-request limit by its
Content-Length, or a file that grows past the per-file limit while it is
read, is answered 413 at once, without reading the rest; more files than
``max_files`` is 413 too. A decompression bomb is 422 with the message the
command line prints. Bodies are read into memory, never written to disk.
Every answer carries a Content-Security-Policy (``frame-ancestors 'none'``)
and ``X-Content-Type-Options: nosniff``.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import os
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

import numpy as np
from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import MutableHeaders

from logitnet.app.prediction import without_name
from logitnet.exceptions import DataError, TooManyPixelsError
from logitnet.server.uploads import Limits, RequestError, parse_body

if TYPE_CHECKING:
    from logitnet.app.modelfile import SavedModel

__all__ = [
    "check_address",
    "create_app",
    "explain_upload",
    "predict_uploads",
    "serve",
]

# --- answers -------------------------------------------------------------------


def predict_uploads(
    model: SavedModel, files: list[tuple[str, bytes]]
) -> list[dict[str, Any]]:
    """``predict --json``'s objects for uploaded files, in their order
    (:func:`logitnet.app.prediction.predict_pictures` on their bytes).

    Raises
    ------
    TooManyPixelsError
        If any file is a decompression bomb: the request is refused (422).
    """
    from logitnet.app.prediction import predict_pictures

    return predict_pictures(model, files, fatal=(TooManyPixelsError,))


def explain_upload(model: SavedModel, name: str, data: bytes) -> dict[str, Any]:
    """One picture explained as ``explain`` explains it, the picture as PNG.

    Raises
    ------
    DataError
        If the bytes are not a picture (a :class:`TooManyPixelsError` for a
        bomb).
    """
    from logitnet.app.prediction import classify
    from logitnet.data.images import read_image
    from logitnet.viz import plots

    image = read_image(data, model.image_shape, name=name)
    answer = classify(model, image[None])
    figure = plots.explanation(
        image, model.w, model.b, classes=model.classes, image_shape=model.image_shape
    )
    return {
        "path": name,
        **answer.answer(0),
        "decision_value": float(answer.decision_values[0]),
        "png": base64.b64encode(plots.png_bytes(figure)).decode("ascii"),
    }


def model_metadata(model: SavedModel) -> dict[str, Any]:
    """What a model file records, without the weights: JSON-ready."""
    return {
        "classes": list(model.classes),
        "image_shape": list(model.image_shape),
        "n_weights": int(model.w.size),
        "bias": float(model.b),
        "training": _jsonable(model.training),
        "metrics": _jsonable(model.metrics),
        "preprocessing": dict(model.preprocessing),
        "logitnet_version": model.logitnet_version,
    }


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | np.ndarray):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value


# --- the application -------------------------------------------------------------


#: Uploads of at most this many bytes are classified on the event loop: a
#: 64x64 PNG takes 0.1 ms to decode and classify, less than the hop to a
#: worker thread and back (measured, 2 cores, --workers 2, A/B twice: the
#: share of the trivial endpoint's throughput rose from 26-41 % to 39-61 %
#: at 32 clients, p99 fell). Larger ones (a photo: 5 ms and more) go to the
#: thread pool, so that they do not hold up the other connections.
INLINE_BYTES = 64 * 1024

#: The OpenAPI description of an upload: multipart files or one raw picture.
UPLOAD_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {
                        "file": {
                            "type": "array",
                            "items": {"type": "string", "format": "binary"},
                        }
                    },
                }
            },
            "image/*": {"schema": {"type": "string", "format": "binary"}},
        },
    }
}


#: What ``POST /api/predict`` answers.
PREDICT_RESPONSES = {
    200: {"description": "one object per file, in order"},
    400: {"description": "a malformed request"},
    408: {"description": "the body came too slowly"},
    413: {"description": "a file or the request over its limit"},
    415: {"description": "neither multipart nor a raw picture"},
    422: {"description": "a decompression bomb"},
}


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


def _refused(status: int, message: str) -> JSONResponse:
    """A request refused as a whole. It may leave the rest of its body
    unread: the connection is closed, so that the next request starts clean."""
    return JSONResponse(
        {"error": message}, status_code=status, headers={"Connection": "close"}
    )


def _csp(script: str = "", style: str = "") -> str:
    """The Content-Security-Policy of an answer: nothing from elsewhere; a
    page's one inline script and style allowed by their hashes."""

    def digest(text: str) -> str:
        return base64.b64encode(hashlib.sha256(text.encode()).digest()).decode()

    scripts = f"'sha256-{digest(script)}'" if script else "'none'"
    styles = f"'sha256-{digest(style)}'" if style else "'none'"
    return (
        f"default-src 'none'; script-src {scripts}; style-src {styles}; "
        "img-src 'self' data: blob:; connect-src 'self'; base-uri 'none'; "
        "form-action 'none'; frame-ancestors 'none'"
    )


def create_app(
    model: SavedModel,
    *,
    model_name: str = "model",
    limits: Limits | None = None,
) -> FastAPI:
    """The ASGI application serving ``model``.

    Parameters
    ----------
    model : SavedModel
        Loaded and checked by the caller
        (:func:`logitnet.app.modelfile.load_picture_model`).
    model_name : str
        The model file's name, shown on the page.
    limits : Limits, optional

    Returns
    -------
    FastAPI
    """
    from logitnet import __version__
    from logitnet.server import page as server_page

    limits = limits or Limits()
    app = FastAPI(
        title="logitnet",
        version=__version__,
        description="A logistic-regression neuron that tells "
        f"{model.classes[1]} from {model.classes[0]} pictures.",
        docs_url=None,
        redoc_url=None,
    )
    page = server_page.render_page(model, model_name=model_name, limits=limits)
    page_csp = _csp(script=server_page.SCRIPT, style=server_page.STYLE)
    docs_page = server_page.DOCS_PAGE
    docs_csp = _csp(script=server_page.DOCS_SCRIPT, style=server_page.STYLE)
    api_csp = _csp()
    metadata = model_metadata(model)

    app.add_middleware(SecurityHeaders, csp=api_csp)

    async def files_of(request: Request) -> list[tuple[str, bytes]]:
        headers = {k.lower(): v for k, v in request.headers.items()}
        try:
            async with asyncio.timeout(limits.body_timeout):
                return await parse_body(headers, request.stream(), limits)
        except TimeoutError:
            raise RequestError(
                408, f"the body took longer than {limits.body_timeout:g} s"
            ) from None

    @app.post(
        "/api/predict",
        summary="Classify pictures: what `logitnet predict --json` prints",
        openapi_extra=UPLOAD_BODY,
        responses=PREDICT_RESPONSES,
    )
    async def predict(request: Request) -> Response:
        try:
            files = await files_of(request)
            if sum(len(data) for _, data in files) <= INLINE_BYTES:
                entries = predict_uploads(model, files)
            else:
                entries = await run_in_threadpool(predict_uploads, model, files)
        except RequestError as e:
            return _refused(e.status, str(e))
        except TooManyPixelsError as e:
            return _refused(422, str(e))
        return JSONResponse(entries)

    @app.post(
        "/api/explain",
        summary="Explain one picture: z, the probabilities, the picture as PNG",
        openapi_extra=UPLOAD_BODY,
    )
    async def explain(request: Request) -> Response:
        try:
            files = await files_of(request)
            if len(files) != 1:
                raise RequestError(400, f"explain takes one file; got {len(files)}")
            answer = await run_in_threadpool(explain_upload, model, *files[0])
        except RequestError as e:
            return _refused(e.status, str(e))
        except TooManyPixelsError as e:
            return _refused(422, str(e))
        except DataError as e:
            # A file that is not a picture: its own error object, as in
            # predict's answer (a bomb, above, refuses the request).
            name = files[0][0]
            return JSONResponse({"path": name, "error": without_name(str(e), name)})
        return JSONResponse(answer)

    @app.get("/api/model", summary="The model's metadata, without the weights")
    async def model_info() -> Response:
        return JSONResponse(metadata)

    @app.get("/healthz", summary="Whether the server answers")
    async def healthz() -> Response:
        return JSONResponse({"status": "ok"})

    @app.get("/", include_in_schema=False)
    async def index() -> Response:
        return HTMLResponse(page, headers={"Content-Security-Policy": page_csp})

    @app.get("/docs", include_in_schema=False)
    async def docs() -> Response:
        return HTMLResponse(docs_page, headers={"Content-Security-Policy": docs_csp})

    return app


# --- running it -------------------------------------------------------------------

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


def app_from_environment():
    """The application a uvicorn worker process builds (``--workers N``):
    the model path and limits come from :data:`CONFIG_VARIABLE`."""
    from logitnet.app.modelfile import load_picture_model
    from logitnet.server.slow_clients import TimedH11Protocol

    config = json.loads(os.environ[CONFIG_VARIABLE])
    TimedH11Protocol.header_timeout = config["header_timeout"]
    _one_blas_thread()
    return create_app(
        load_picture_model(config["model"]),
        model_name=config["model_name"],
        limits=Limits(**config["limits"]),
    )


def serve(
    model_path: str,
    model: SavedModel,
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    workers: int = 1,
    limits: Limits | None = None,
    header_timeout: float = 10.0,
    keep_alive_timeout: float = 5.0,
    graceful_timeout: float = 30.0,
) -> None:
    """Serve ``model`` until SIGINT or SIGTERM; in-flight requests finish
    first (up to ``graceful_timeout`` seconds).

    A connection that has not sent a whole request line and headers within
    ``header_timeout`` seconds is closed (a slowloris client holds no
    worker); a body has ``limits.body_timeout`` seconds.
    """
    import uvicorn

    from logitnet.server.slow_clients import TimedH11Protocol

    limits = limits or Limits()
    TimedH11Protocol.header_timeout = header_timeout
    _one_blas_thread()
    name = os.path.basename(model_path)
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
                "model": model_path,
                "model_name": name,
                "limits": asdict(limits),
                "header_timeout": header_timeout,
            }
        )
        uvicorn.run(
            "logitnet.server.api:app_from_environment",
            factory=True,
            workers=workers,
            **settings,
        )
    else:
        uvicorn.run(
            create_app(model, model_name=name, limits=limits), workers=1, **settings
        )
