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
  one picture as the body (its bytes say it is one, whatever its
  Content-Type). Answers a JSON array of what ``predict --json``
  prints, one object per file: ``{"path", "label", "probabilities"}``, or
  ``{"path", "error"}`` for a file that is not a picture. ``path`` is the
  name the client gave (``upload`` for a raw body); it is only echoed,
  never used to open anything. ``?top=K`` (1 to the number of classes):
  each picture's K most probable classes only, the most probable first,
  as ``predict --top K`` shows them.
- ``POST /api/explain``: one picture (raw body, or a multipart with one
  file): predict's object for it with z (``decision_value``) and the
  explanation as a base64 PNG (``png``; ``?layout=tall`` for a phone);
  ``{"path", "error"}`` for a file that is not a picture.
- ``POST /api/graph``: one picture (as for explain): the neuron's
  computation graph for it, what ``logitnet graph`` draws, as a PNG (or
  ``?format=svg``; ``?layout=tall`` for a phone); with ``?label=NAME``,
  the picture's true class, the loss and the backward pass too. A file
  that is not a picture, or a label that is no class of the model, is 422.
- ``GET /api/model``: the model file's metadata, without the weights, and
  its recorded test accuracy in words.
- ``GET /healthz``, ``GET /openapi.json`` (each answer described by the
  models of :mod:`logitnet.server.schemas`), ``GET /docs`` (Swagger UI,
  served from this server: :mod:`logitnet.server.docs`), ``GET /`` (the
  page). ``HEAD`` wherever ``GET`` works. Every error, a 404 or a 405
  too, is ``{"error": "..."}``.

Limits (:class:`Limits`): a body larger than the per-request limit by its
Content-Length, or a file that grows past the per-file limit while it is
read, is answered 413 at once, without reading the rest; more files than
``max_files`` is 413 too. A decompression bomb is 422 with the message the
command line prints. Bodies are read into memory, never written to disk.
Pictures are decoded in worker threads, never on the event loop, each
request once its largest picture's declared cost fits in the decode budget
(:mod:`logitnet.server.budget`): 503 with ``Retry-After`` when there is no
room within ``Limits.decode_wait``. Each refused request is one line on
stderr. Only the host names the server was started for are answered
(:mod:`logitnet.server.hosts`), and no local path is shown: the model's
recorded data path is cut to its file name. Every answer carries a
Content-Security-Policy (``frame-ancestors 'none'``) and
``X-Content-Type-Options: nosniff``.
"""

from __future__ import annotations

import asyncio
import base64
import logging
from dataclasses import replace
from pathlib import PurePosixPath, PureWindowsPath
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from fastapi import FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from starlette.exceptions import HTTPException

from logitnet.app.prediction import without_name
from logitnet.exceptions import DataError, TooManyPixelsError
from logitnet.files import shown
from logitnet.server import schemas
from logitnet.server.budget import DecodeBudget, ServerBusy, decode_within
from logitnet.server.graph import graph_one
from logitnet.server.headers import HeadAsGet, SecurityHeaders, csp_of
from logitnet.server.hosts import HostCheck, allowed_names
from logitnet.server.uploads import Limits, RequestError, parse_body

if TYPE_CHECKING:
    from logitnet.app.modelfile import SavedModel

__all__ = [
    "create_app",
    "explain_upload",
    "model_metadata",
    "predict_uploads",
    "without_local_paths",
]

# --- answers -------------------------------------------------------------------


def predict_uploads(
    model: SavedModel, files: list[tuple[str, bytes]], top: int | None = None
) -> list[dict[str, Any]]:
    """``predict --json``'s objects for uploaded files, in their order
    (:func:`logitnet.app.prediction.predict_pictures` on their bytes);
    with ``top`` (checked by the endpoint: 1 to the number of classes),
    each one's ``top`` most probable classes only
    (:func:`logitnet.app.prediction.top_classes`, as ``predict --top``).

    Raises
    ------
    TooManyPixelsError
        If any file is a decompression bomb: the request is refused (422).
    """
    from logitnet.app.prediction import predict_pictures, top_classes

    entries = predict_pictures(model, files, fatal=(TooManyPixelsError,))
    if top is not None:
        for entry in entries:
            if "probabilities" in entry:
                entry["probabilities"] = top_classes(entry["probabilities"], top)
    return entries


def explain_upload(
    model: SavedModel, name: str, data: bytes, layout: str = "wide"
) -> dict[str, Any]:
    """One picture explained as ``explain`` explains it, the picture as PNG
    (``layout``: :func:`logitnet.viz.plots.explanation`'s).

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
        image,
        model.w,
        model.b,
        classes=model.classes,
        image_shape=model.image_shape,
        layout=layout,
    )
    return {
        "path": name,
        **answer.answer(0),
        "decision_value": answer.decision_value(0),
        "png": base64.b64encode(plots.png_bytes(figure)).decode("ascii"),
    }


def model_metadata(model: SavedModel) -> dict[str, Any]:
    """What a model file records, without the weights, and without local
    paths (:func:`without_local_paths`): JSON-ready
    (:class:`logitnet.server.schemas.ModelInfo`)."""
    from logitnet.server.page import accuracy_in_words

    return {
        "classes": list(model.classes),
        "image_shape": list(model.image_shape),
        "n_weights": int(model.w.size),
        "bias": float(model.b) if np.ndim(model.b) == 0 else _jsonable(model.b),
        "accuracy_in_words": accuracy_in_words(model),
        "training": without_local_paths(_jsonable(model.training)),
        "metrics": without_local_paths(_jsonable(model.metrics)),
        "preprocessing": dict(model.preprocessing),
        "logitnet_version": model.logitnet_version,
    }


def _which(model: SavedModel) -> str:
    """ "cat from non-cat"; "cat, coffee or rocket" for k classes."""
    classes = model.classes
    if len(classes) == 2:
        return f"{classes[1]} from {classes[0]}"
    return f"{', '.join(classes[:-1])} or {classes[-1]}"


def without_local_paths(value: Any, key: str = "") -> Any:
    """``value`` (JSON-like) with each absolute path, and each ``"path"``
    entry, cut to its last part: ``/home/ana/cats/train.h5`` is shown as
    ``train.h5``. What the server shows must not tell where its files are."""
    if isinstance(value, dict):
        return {k: without_local_paths(v, str(k)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [without_local_paths(v) for v in value]
    if isinstance(value, str):
        for flavour in (PureWindowsPath, PurePosixPath):
            path = flavour(value)
            if path.is_absolute() or (key == "path" and path.name):
                return path.name
    return value


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | np.ndarray):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value


# --- the application -------------------------------------------------------------


log = logging.getLogger("logitnet.server")

#: Seconds a client told 503 is asked to wait before it tries again.
RETRY_AFTER = 2


def _refused(
    request: Request, status: int, message: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    """A request refused as a whole, and one line on stderr saying so. It
    may leave the rest of its body unread: the connection is closed, so
    that the next request starts clean."""
    client = request.client.host if request.client else "?"
    log.warning(
        "%d %s %s from %s: %s",
        status,
        request.method,
        shown(request.url.path),
        client,
        shown(message),
    )
    return JSONResponse(
        {"error": message},
        status_code=status,
        headers={"Connection": "close", **(headers or {})},
    )


def explain_one(
    model: SavedModel, files: list[tuple[str, bytes]], layout: str = "wide"
) -> dict[str, Any]:
    """``/api/explain``'s answer for its one file."""
    ((name, data),) = files
    try:
        return explain_upload(model, name, data, layout)
    except TooManyPixelsError:
        raise
    except DataError as e:
        # A file that is not a picture: its own error object, as in
        # predict's answer (a bomb refuses the request).
        return {"path": name, "error": without_name(str(e), name)}


async def _http_error(request: Request, error: HTTPException) -> JSONResponse:
    """Starlette's own refusals (404, 405) in the API's one shape,
    ``{"error": ...}``, rather than FastAPI's ``{"detail": ...}``."""
    path = shown(request.url.path)
    if error.status_code == 404:
        message = f"nothing here: {path} (the API is listed at /docs)"
    elif error.status_code == 405:
        allowed = (error.headers or {}).get("Allow", "")
        message = f"{request.method} is not answered at {path}; it takes {allowed}"
    else:
        message = str(error.detail)
    return JSONResponse(
        {"error": message}, status_code=error.status_code, headers=error.headers
    )


async def _invalid(request: Request, error: RequestValidationError) -> JSONResponse:
    """A query parameter out of its range: 422, ``{"error": ...}``."""
    message = "; ".join(
        f"{e['loc'][0]} parameter {'.'.join(map(str, e['loc'][1:]))}: {e['msg']}"
        for e in error.errors()
    )
    return _refused(request, 422, message)


def create_app(
    model: SavedModel,
    *,
    model_name: str = "model",
    limits: Limits | None = None,
    hosts: frozenset[str] | None = None,
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
        ``max_decode_bytes`` is this process's own decode budget.
    hosts : frozenset of str, optional
        The names a ``Host`` header may give (default: localhost and
        127.0.0.1; :func:`logitnet.server.hosts.allowed_names`).

    Returns
    -------
    FastAPI
    """
    from logitnet import __version__

    limits = limits or Limits()
    app = FastAPI(
        title="logitnet",
        version=__version__,
        description="A logistic-regression neuron that tells "
        f"{_which(model)} pictures.",
        docs_url=None,
        redoc_url=None,
    )
    # The last added runs first: HEAD becomes GET after the Host check, and
    # every answer, a refusal too, gets the security headers.
    app.add_middleware(HeadAsGet)
    app.add_middleware(HostCheck, names=hosts or allowed_names("127.0.0.1"))
    app.add_middleware(SecurityHeaders, csp=csp_of())
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _invalid)
    _add_api(app, model, limits)
    _add_pages(app, model, model_name, limits)
    return app


def _top_query(k: int) -> Any:
    """``/api/predict``'s ``?top=K``: 1 to the model's k classes (else 422)."""
    return Query(
        None,
        ge=1,
        le=k,
        description="Each picture's K most probable classes only, the most "
        f"probable first (1 to {k}, the model's classes), as logitnet predict "
        "--top K shows them; without it, every class in the model's order.",
    )


def _add_api(app: FastAPI, model: SavedModel, limits: Limits) -> None:
    """The endpoints under ``/api/``, and ``/healthz``."""
    budget = DecodeBudget(limits.max_decode_bytes)
    metadata = model_metadata(model)

    async def files_of(request: Request, one: bool) -> list[tuple[str, bytes]]:
        headers = {k.lower(): v for k, v in request.headers.items()}
        try:
            async with asyncio.timeout(limits.body_timeout):
                files = await parse_body(headers, request.stream(), limits)
        except TimeoutError:
            raise RequestError(
                408, f"the body took longer than {limits.body_timeout:g} s"
            ) from None
        if one and len(files) != 1:
            raise RequestError(
                400, f"{request.url.path} takes one file; got {len(files)}"
            )
        return files

    async def answer(request: Request, work, *, one: bool = False) -> Response:
        """The files of ``request`` given to ``work(files)`` in a worker
        thread, within the decode budget; a refusal as its status."""
        try:
            files = await files_of(request, one)
            result = await decode_within(
                budget, files, lambda: work(files), wait=limits.decode_wait
            )
            return result if isinstance(result, Response) else JSONResponse(result)
        except RequestError as e:
            return _refused(request, e.status, str(e))
        except TooManyPixelsError as e:
            return _refused(request, 422, str(e))
        except ServerBusy:
            return _refused(
                request,
                503,
                "the server is busy decoding other pictures; try again shortly",
                {"Retry-After": str(RETRY_AFTER)},
            )

    @app.post(
        "/api/predict",
        summary="Classify pictures: what logitnet predict --json prints",
        description="One entry per file, in the order sent; a file that is "
        "not a picture is an entry with its error, the others are answered.",
        tags=["pictures"],
        openapi_extra=schemas.UPLOAD_BODY,
        response_model=list[schemas.Prediction | schemas.FileError],
        responses={200: {"description": "one entry per file"}, **schemas.ERRORS},
    )
    async def predict(
        request: Request, top: int | None = _top_query(len(model.classes))
    ) -> Response:
        return await answer(request, lambda files: predict_uploads(model, files, top))

    @app.post(
        "/api/explain",
        summary="Explain one picture: z, the probabilities, the picture as PNG",
        tags=["pictures"],
        openapi_extra=schemas.UPLOAD_BODY,
        response_model=schemas.Explanation | schemas.FileError,
        responses={
            200: {"description": "the explanation, or why the file is not a picture"},
            **schemas.ERRORS,
        },
    )
    async def explain(
        request: Request,
        layout: Literal["wide", "tall"] = Query(
            "wide",
            description="The picture's panels side by side (wide), or one "
            "above the other, for a phone (tall).",
        ),
    ) -> Response:
        return await answer(
            request, lambda files: explain_one(model, files, layout), one=True
        )

    _add_graph(app, model, answer)

    @app.get(
        "/api/model",
        summary="The model's metadata, without the weights, and how good it is",
        tags=["the model"],
        response_model=schemas.ModelInfo,
        responses={200: {"description": "what the model file records"}},
    )
    async def model_info() -> Response:
        return JSONResponse(metadata)

    @app.get(
        "/healthz",
        summary="Whether the server answers",
        tags=["the model"],
        response_model=schemas.Health,
        responses={200: {"description": "it does"}},
    )
    async def healthz() -> Response:
        return JSONResponse({"status": "ok"})


def _add_graph(app: FastAPI, model: SavedModel, answer) -> None:
    """``POST /api/graph``, answered as ``/api/explain`` is (``answer``:
    its limits and decode budget)."""

    @app.post(
        "/api/graph",
        summary="One picture's computation graph, as logitnet graph draws it",
        description="The neuron for this picture: x, w and b, z = w·x + b, "
        "a = sigmoid(z) (the softmax for k >= 3 classes); with `label`, the "
        "picture's true class: y, the loss L(a, y) and the derivatives "
        "flowing back, dL/dz = a - y and dL/dw = x·dz as a picture, checked "
        "by finite differences.",
        tags=["pictures"],
        openapi_extra=schemas.UPLOAD_BODY,
        response_class=Response,
        responses={
            200: {
                "description": "the graph, a PNG or an SVG",
                "content": {
                    "image/png": {"schema": {"type": "string", "format": "binary"}},
                    "image/svg+xml": {"schema": {"type": "string"}},
                },
            },
            **schemas.ERRORS,
        },
    )
    async def graph(
        request: Request,
        label: str | None = Query(
            None,
            description="The picture's true class, one of the model's: adds "
            "y, the loss and the backward pass.",
        ),
        layout: Literal["wide", "tall"] = Query(
            "wide",
            description="Left to right (wide), or top to bottom, for a phone (tall).",
        ),
        format: Literal["png", "svg"] = Query("png", description="PNG or SVG."),
    ) -> Response:
        if label is not None and label not in model.classes:
            known = ", ".join(model.classes)
            return _refused(
                request,
                422,
                f"label {shown(label)} is not a class of the model ({known})",
            )
        return await answer(
            request,
            lambda files: graph_one(model, files, label, layout, format),
            one=True,
        )


def _add_pages(
    app: FastAPI, model: SavedModel, model_name: str, limits: Limits
) -> None:
    """``/`` (the page to try photos) and ``/docs`` (the API page), with
    Swagger UI's files at ``/docs/<name>``."""
    from logitnet.server import docs as server_docs
    from logitnet.server import page as server_page

    shown_model = replace(model, training=without_local_paths(model.training))
    page = server_page.render_page(shown_model, model_name=model_name, limits=limits)
    page_csp = csp_of(script=server_page.SCRIPT, style=server_page.STYLE)
    docs_csp = csp_of(
        script=server_docs.DOCS_SCRIPT, style=server_docs.DOCS_STYLE, own_files=True
    )

    @app.get("/", include_in_schema=False)
    async def index() -> Response:
        return HTMLResponse(page, headers={"Content-Security-Policy": page_csp})

    @app.get("/docs", include_in_schema=False)
    async def docs(request: Request) -> Response:
        text = server_docs.render_docs(
            str(request.base_url),
            title=app.title,
            version=app.version,
            description=app.description,
        )
        return HTMLResponse(text, headers={"Content-Security-Policy": docs_csp})

    @app.get("/docs/{name}", include_in_schema=False)
    async def docs_file(name: str) -> Response:
        if name not in server_docs.ASSETS:
            raise HTTPException(404)
        return Response(
            server_docs.asset(name),
            media_type=server_docs.ASSETS[name],
            headers={"Cache-Control": "max-age=3600"},
        )
