"""``POST /api/graph``: one uploaded picture's computation graph, what
``logitnet graph`` draws (:func:`logitnet.app.graph.neuron_graph`, then
:func:`logitnet.viz.graph.graph_figure`), as PNG or SVG bytes. The
endpoint itself, its limits and decode budget, are
:mod:`logitnet.server.api`'s, as for ``/api/explain``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from fastapi.responses import JSONResponse, Response

from logitnet.app.prediction import without_name
from logitnet.exceptions import DataError, TooManyPixelsError
from logitnet.files import shown

if TYPE_CHECKING:
    from logitnet.app.modelfile import SavedModel

__all__ = ["graph_one", "graph_upload"]


def graph_upload(
    model: SavedModel,
    name: str,
    data: bytes,
    label: str | None = None,
    layout: str = "wide",
    kind: str = "png",
) -> bytes:
    """One picture's computation graph, as ``logitnet graph`` draws it
    (:func:`logitnet.app.graph.neuron_graph`,
    :func:`logitnet.viz.graph.graph_figure`), the bytes of a PNG or SVG.

    Raises
    ------
    DataError
        If the bytes are not a picture (a :class:`TooManyPixelsError` for a
        bomb).
    """
    from logitnet.app.graph import neuron_graph
    from logitnet.data.images import read_image
    from logitnet.viz.graph import graph_bytes, graph_figure

    image = read_image(data, model.image_shape, name=name)
    figure = graph_figure(neuron_graph(model, image, label), layout=layout)
    return graph_bytes(figure, kind)


def graph_one(
    model: SavedModel,
    files: list[tuple[str, bytes]],
    label: str | None,
    layout: str,
    kind: str,
) -> Response:
    """``/api/graph``'s answer for its one file: the picture, or 422."""
    from logitnet.viz.graph import FORMATS

    ((name, data),) = files
    try:
        drawn = graph_upload(model, name, data, label, layout, kind)
    except TooManyPixelsError:
        raise
    except DataError as e:
        message = f"{shown(name)}: {without_name(str(e), name)}"
        return JSONResponse({"error": message}, status_code=422)
    return Response(drawn, media_type=FORMATS[f".{kind}"])
