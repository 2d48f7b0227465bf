"""Request bodies read in memory, within limits: the files of an upload.

:func:`parse_body` takes a body as it arrives, either ``multipart/form-data``
(python-multipart's streaming parser, fed chunk by chunk) or one raw
picture, and refuses it as soon as a limit is passed: from the
Content-Length before anything is read, or while reading, without reading
the rest. Nothing is written to disk, and the client's file names are only
kept as text to echo back.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from logitnet.files import describe_bytes, shown

__all__ = ["MB", "Limits", "RequestError", "parse_body"]

MB = 1024 * 1024


@dataclass(frozen=True)
class Limits:
    """What a request may send, and what decoding may take.

    Attributes
    ----------
    max_file_bytes : int
        One picture's size (default 20 MiB).
    max_request_bytes : int
        The whole body's size (default 64 MiB).
    max_files : int
        Pictures in one request (default 32).
    body_timeout : float
        Seconds a client may take to send a body (default 30): a slow
        client is answered 408 and dropped.
    max_decode_bytes : int
        The memory all pictures being decoded at once may take, by what
        their headers declare (default 1 GiB; shared out among the
        ``--workers``): see :mod:`logitnet.server.budget`.
    decode_wait : float
        Seconds a request waits for room to decode (default 5) before it is
        answered 503 with ``Retry-After``.
    """

    max_file_bytes: int = 20 * MB
    max_request_bytes: int = 64 * MB
    max_files: int = 32
    body_timeout: float = 30.0
    max_decode_bytes: int = 1024 * MB
    decode_wait: float = 5.0


class RequestError(Exception):
    """A request refused as a whole: its HTTP status and the reason."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


# --- reading a body, in memory, within the limits ------------------------------


async def parse_body(
    headers: dict[str, str], chunks, limits: Limits
) -> list[tuple[str, bytes]]:
    """The files of a request body, read as they arrive.

    Parameters
    ----------
    headers : dict of str to str
        The request's headers, names in lower case.
    chunks : async iterable of bytes
        The body as it arrives.
    limits : Limits

    Returns
    -------
    list of (name, bytes)
        The client's name of each file (made safe to show), and its bytes.
        A raw body is one file named ``upload``.

    Raises
    ------
    RequestError
        413 for a body or a file over its limit or too many files, decided
        as soon as it is known (from Content-Length, or while reading); 400
        for a malformed or empty multipart body, or none at all; 415 for a
        body that is neither multipart nor a picture: a raw body is one when
        its Content-Type says so (``image/*``, ``application/octet-stream``
        or none) or when its first bytes are a picture's, whatever the
        header says (:func:`logitnet.files.describe_bytes`).
    """
    length = headers.get("content-length")
    if length is not None:
        if not length.isdigit():
            raise RequestError(400, "Content-Length is not a number")
        if int(length) > limits.max_request_bytes:
            raise RequestError(
                413,
                f"the request has {int(length):,} bytes; the limit is "
                f"{limits.max_request_bytes:,}",
            )
    content_type = headers.get("content-type", "application/octet-stream")
    kind = content_type.split(";", 1)[0].strip().lower()
    if kind == "multipart/form-data":
        return await _multipart(content_type, chunks, limits)
    body = await _raw(chunks, limits)
    # A body whose type says nothing of it is taken as it is: `curl
    # --data-binary @photo.jpg` calls its photo a form
    # (application/x-www-form-urlencoded), and a picture's first bytes say
    # what it is whatever the header claims.
    said = kind in ("application/octet-stream", "") or kind.startswith("image/")
    if said or describe_bytes(body).endswith(" image"):
        return [("upload", body)]
    raise RequestError(
        415,
        f"expected multipart/form-data or a picture as the body; got {shown(kind)}",
    )


def _too_large(limits: Limits) -> RequestError:
    return RequestError(
        413,
        f"a file has more than {limits.max_file_bytes:,} bytes (the per-file limit)",
    )


async def _raw(chunks, limits: Limits) -> bytes:
    body = bytearray()
    async for chunk in chunks:
        body += chunk
        if len(body) > limits.max_file_bytes:
            raise _too_large(limits)
    if not body:
        raise RequestError(400, "the request has no body: send a picture")
    return bytes(body)


async def _multipart(content_type: str, chunks, limits: Limits):
    from python_multipart.multipart import MultipartParser, parse_options_header

    _, options = parse_options_header(content_type)
    boundary = options.get(b"boundary")
    if not boundary:
        raise RequestError(400, "multipart/form-data without a boundary")
    files: list[tuple[str, bytes]] = []
    part: dict[str, Any] = {}
    header: dict[str, bytes] = {}
    failure: list[RequestError] = []
    total = 0

    def on_part_begin() -> None:
        part.clear()
        part.update(name=None, data=bytearray(), headers={})

    # A part's header lines are bounded by python-multipart itself (400,
    # "Maximum header size exceeded"): tests/test_serve.py checks it.
    def on_header_field(data: bytes, start: int, end: int) -> None:
        header["field"] = header.get("field", b"") + data[start:end]

    def on_header_value(data: bytes, start: int, end: int) -> None:
        header["value"] = header.get("value", b"") + data[start:end]

    def on_header_end() -> None:
        field = header.pop("field", b"").lower()
        part["headers"][field] = header.pop("value", b"")

    def on_headers_finished() -> None:
        raw = part["headers"].get(b"content-disposition", b"")
        _, disposition = parse_options_header(raw)
        # RFC 6266: filename* (a name in UTF-8, say) is preferred to filename.
        filename = _extended_filename(raw)
        if filename is None:
            filename = disposition.get(b"filename")
        part["name"] = filename
        if filename is not None and len(files) >= limits.max_files:
            failure.append(
                RequestError(
                    413,
                    f"more than {limits.max_files} files in one request",
                )
            )

    def on_part_data(data: bytes, start: int, end: int) -> None:
        if part["name"] is None:  # a form field: ignored, but bounded
            if len(part["data"]) + end - start > 64 * 1024:
                failure.append(RequestError(413, "a form field is too long"))
            return
        part["data"] += data[start:end]
        if len(part["data"]) > limits.max_file_bytes:
            failure.append(_too_large(limits))

    def on_part_end() -> None:
        if part.get("name") is not None:
            name = shown(part["name"].decode("utf-8", "replace")) or "upload"
            files.append((name, bytes(part["data"])))

    callbacks = {
        "on_part_begin": on_part_begin,
        "on_header_field": on_header_field,
        "on_header_value": on_header_value,
        "on_header_end": on_header_end,
        "on_headers_finished": on_headers_finished,
        "on_part_data": on_part_data,
        "on_part_end": on_part_end,
    }
    try:
        # In the try: the parser refuses some boundaries (over 256 bytes)
        # as it is built, and that is the client's fault too.
        parser = MultipartParser(boundary, callbacks)
        async for chunk in chunks:
            total += len(chunk)
            if total > limits.max_request_bytes:
                raise RequestError(
                    413, f"the request has more than {limits.max_request_bytes:,} bytes"
                )
            parser.write(chunk)
            if failure:
                raise failure[0]
        parser.finalize()
    except RequestError:
        raise
    except Exception as e:  # python-multipart's MultipartParseError and kin
        if failure:  # a limit passed first, then the parser gave up
            raise failure[0] from None
        raise RequestError(400, f"malformed multipart body ({e})") from None
    if failure:
        raise failure[0]
    if not files:
        raise RequestError(400, "the multipart body holds no file")
    return files


#: A part's ``filename*`` parameter: RFC 6266 (RFC 8187's ext-value,
#: ``charset'language'percent-encoded``), quoted or not.
_FILENAME_STAR = re.compile(rb'(?:^|;)\s*filename\*\s*=\s*"?([^;"]*)"?', re.IGNORECASE)


def _extended_filename(disposition: bytes) -> bytes | None:
    """A part's ``filename*`` as UTF-8 bytes, or None when it has none.

    UTF-8 and ISO-8859-1 are decoded as such; a value in another charset, or
    not in the ``charset'language'value`` form, is still the part's name
    (its bytes, as UTF-8 where they can be): the client meant a file.
    """
    from urllib.parse import unquote_to_bytes

    match = _FILENAME_STAR.search(disposition)
    if match is None:
        return None
    charset, _, rest = match.group(1).partition(b"'")
    _, quoted, encoded = rest.partition(b"'")
    if not quoted:
        return unquote_to_bytes(match.group(1).strip())
    name = unquote_to_bytes(encoded.strip())
    if charset.strip().lower() in (b"iso-8859-1", b"latin1", b"latin-1"):
        return name.decode("latin-1").encode("utf-8")
    return name
