"""Data and model files on object storage: the one place a URL is opened.

Every ``--data``, ``--out`` and ``--model`` (and the Python functions
behind them) takes an fsspec URL as well as a path: ``s3://``, ``gs://``,
``az://`` / ``abfs://``, ``http(s)://`` (read only), ``memory://``;
``file://`` is a local path. :func:`locate` tells the two apart and wraps a
URL, with its storage options, in a :class:`Url`, which every reader and
writer of the data and app layers takes where it takes a path.

What this module promises for a URL:

- credentials and endpoints come from the provider's own environment and
  configuration (``AWS_ACCESS_KEY_ID``, ``AWS_PROFILE``,
  ``AWS_ENDPOINT_URL``, instance roles, ...) and from the storage options
  (``--storage-option KEY=VALUE``, parsed by :func:`parse_option`); no
  secret is ever printed: ``str(url)`` and every message are redacted
  (:func:`redact`);
- a filesystem that is not installed is one line naming the extra that
  brings it (``pip install logitnet[gcs]``);
- every request is bounded: a connect and a read timeout, a few retries
  with backoff (:data:`S3_DEFAULTS`), so an endpoint that is down or stops
  answering ends the command in bounded time;
- an error of the filesystem (a missing bucket or key, refused
  credentials, an endpoint that cannot be reached) becomes one
  :class:`StorageError` line naming the URL (:func:`failure`).
"""

from __future__ import annotations

import io
import json
import os
import uuid
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from logitnet.data.redaction import option_secrets, redact, remember, userinfo
from logitnet.exceptions import DataError
from logitnet.files import url_scheme

__all__ = [
    "DEADLINE",
    "DICT_OPTIONS",
    "EXTRAS",
    "READ_ONLY",
    "S3_DEFAULTS",
    "StorageError",
    "Url",
    "failure",
    "is_url",
    "locate",
    "parse_option",
    "recorded",
    "redact",
    "said_by_storage",
]


class StorageError(DataError):
    """Object storage refused or failed a request: a missing bucket or
    object, refused credentials, an endpoint that cannot be reached."""


#: Filesystems that come through an extra of logitnet: scheme -> (the
#: package, the extra).
EXTRAS = {
    "gs": ("gcsfs", "gcs"),
    "gcs": ("gcsfs", "gcs"),
    "az": ("adlfs", "azure"),
    "abfs": ("adlfs", "azure"),
    "abfss": ("adlfs", "azure"),
}

#: Storage options whose values are objects (dicts), not values.
DICT_OPTIONS = frozenset(
    {"config_kwargs", "client_kwargs", "s3_additional_kwargs", "headers"}
)

#: Schemes that are read, never written.
READ_ONLY = frozenset({"http", "https"})

#: How every S3 request is bounded (botocore's settings, under the user's
#: own ``config_kwargs``): a connection within 5 s, each answer within 30 s,
#: three attempts with botocore's backoff. s3fs retries some errors again
#: on its own (:data:`S3_RETRIES` times), so one request ends within about
#: 3 x 2 x 30 s even when the endpoint stops answering mid-read, and at
#: once (after the backoff) when it refuses connections; and whatever the
#: filesystem, a read of a store ends within :data:`DEADLINE` seconds.
S3_DEFAULTS = {
    "connect_timeout": 5,
    "read_timeout": 30,
    "retries": {"max_attempts": 3, "mode": "standard"},
}
S3_RETRIES = 2

#: The total deadline of one read of a store on object storage (a block of
#: chunks, or its metadata), retries included: zarr's ``async.timeout``,
#: set in each process that opens such a store.
DEADLINE = 240

#: An object up to this size is read in one request (:meth:`Url.open_to_read`).
WHOLE_READ_BYTES = 64 * 2**20


def is_url(path: object) -> bool:
    """Whether ``path`` is a URL logitnet opens with fsspec: ``scheme://``
    of two letters or more (``C://`` stays a Windows drive), not
    ``file://``, and not a local path that happens to be named so."""
    if isinstance(path, Url):
        return True
    if not isinstance(path, str | os.PathLike):
        return False
    scheme = url_scheme(path)
    return scheme is not None and len(scheme) > 1 and scheme != "file"


def locate(path, options: Mapping[str, Any] | None = None) -> Path | Url:
    """A path as logitnet reads and writes it: a :class:`Url` for a URL
    (with ``options``, unless it is one already), else a local Path
    (``file://`` URLs included)."""
    if isinstance(path, Url):
        return path
    if is_url(path):
        return Url(os.fspath(path), options)
    text = os.fspath(path)
    if isinstance(text, str) and text.startswith("file://"):
        text = text.removeprefix("file://")
    return Path(text)


def recorded(path) -> str:
    """Where data came from, as a model file or a report records it: a
    local path resolved, a URL without its secrets."""
    path = locate(path)
    return str(path) if isinstance(path, Url) else str(path.resolve())


def parse_option(text: str) -> tuple[str, Any]:
    """``KEY=VALUE`` as a storage option, as pandas' ``storage_options``
    would hold it: the value as JSON where it is JSON (``true``, ``3``,
    ``{"a": 1}``), else as text. A dotted key (``client_kwargs.region_name``)
    is a nested option: see :meth:`Url.__init__`; an option of
    :data:`DICT_OPTIONS` must be an object.

    Raises
    ------
    ValueError
        For text without ``=`` or with an empty key.
    """
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        # Never echoed: the text may well be a secret given without its key.
        raise ValueError("expected KEY=VALUE, with a key before the '='")
    try:
        parsed = json.loads(value)
    except ValueError:
        parsed = value
    return key.strip(), parsed


def _nested(options: Mapping[str, Any]) -> dict[str, Any]:
    """Dotted keys as nested dicts: ``client_kwargs.region_name=x`` ->
    ``{"client_kwargs": {"region_name": "x"}}``."""
    out: dict[str, Any] = {}
    for key, value in options.items():
        *parents, last = key.split(".")
        place = out
        for name in parents:
            place = place.setdefault(name, {})
            if not isinstance(place, dict):
                raise ValueError(f"storage option {key!r} sets inside a value")
        place[last] = value
    for key in DICT_OPTIONS & out.keys():
        if not isinstance(out[key], dict):
            raise ValueError(
                f"storage option {key!r} takes an object (a JSON object, or "
                f"dotted keys as {key}.NAME=VALUE); got {redact(out[key])!r}"
            )
    return out


class Url:
    """A file or zarr store on object storage: its URL and the options of
    its filesystem (fsspec's ``storage_options``).

    It holds text only (never an open filesystem), so it can be sent to
    the worker processes of a cluster, where each opens the store itself.
    ``str()`` is the URL without secrets.

    Parameters
    ----------
    url : str
        ``scheme://...``.
    options : mapping, optional
        Storage options; dotted keys are nested
        (``client_kwargs.region_name``).
    """

    def __init__(self, url: str, options: Mapping[str, Any] | None = None):
        self.url = url.rstrip("/") if url.count("/") > 2 else url
        self.options = _nested(options or {})
        self.scheme = url_scheme(url) or ""
        # A library may echo them in its own words, without the URL.
        remember(*userinfo(url), *option_secrets(self.options))

    def __str__(self) -> str:
        return redact(self.url, self.options)

    def __repr__(self) -> str:
        return f"Url({str(self)!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Url) and self.key() == other.key()

    def __hash__(self) -> int:
        return hash(self.key())

    def __reduce__(self):
        return (Url, (self.url, self.options))

    def key(self) -> tuple[str, str]:
        """What names the object: scheme and path, options aside (two
        spellings of one bucket and key are one object)."""
        scheme = {"s3a": "s3", "gcs": "gs", "abfs": "az", "abfss": "az"}.get(
            self.scheme, self.scheme
        )
        return scheme, self.url.split("://", 1)[1].strip("/")

    def filesystem(self, *, asynchronous: bool = False):
        """(fsspec filesystem, the URL's path on it), the filesystem bounded
        in time (:data:`S3_DEFAULTS`).

        Raises
        ------
        StorageError
            When the filesystem is not installed (naming the extra that
            brings it) or is not one fsspec knows.
        """
        import fsspec

        try:
            fsspec.get_filesystem_class(self.scheme)
        except (ImportError, ValueError) as e:
            if self.scheme in EXTRAS:
                package, extra = EXTRAS[self.scheme]
                raise StorageError(
                    f"{self}: {self.scheme}:// URLs need the {package} package: "
                    f"pip install logitnet[{extra}]"
                ) from None
            raise StorageError(
                f"{self}: logitnet cannot open {self.scheme}:// URLs ({e})"
            ) from None
        options = dict(self.options)
        if self.scheme in ("s3", "s3a"):
            config = {**S3_DEFAULTS, **options.get("config_kwargs", {})}
            options["config_kwargs"] = config
        if asynchronous:
            options["asynchronous"] = True
        try:
            fs, path = fsspec.core.url_to_fs(self.url, **options)
        except Exception as e:
            raise failure(self, e) from None
        if self.scheme in ("s3", "s3a"):
            fs.retries = S3_RETRIES
        return fs, path

    def zarr_store(self, *, read_only: bool = True):
        """This URL as a zarr store (zarr's ``FsspecStore``)."""
        import zarr
        from zarr.storage import FsspecStore

        if zarr.config.get("async.timeout") is None:
            zarr.config.set({"async.timeout": DEADLINE})
        fs, path = self.filesystem(asynchronous=True)
        if not fs.async_impl:
            from fsspec.implementations.asyn_wrapper import AsyncFileSystemWrapper

            fs = AsyncFileSystemWrapper(fs, asynchronous=True)
        return FsspecStore(fs, path=path, read_only=read_only)

    def head(self, n_bytes: int) -> bytes | None:
        """The object's first ``n_bytes``; None when there is no object at
        the URL (a folder of objects, a zarr store, or nothing)."""
        fs, path = self.filesystem()
        try:
            # info, not isfile: isfile says False when the endpoint is down.
            if fs.info(path).get("type") != "file":
                return None
            return fs.cat_file(path, start=0, end=n_bytes)
        except FileNotFoundError as e:
            if _connection_cause(e) is not None:
                raise failure(self, e) from None
            return None
        except Exception as e:
            raise failure(self, e) from None

    def holds_store(self) -> bool:
        """Whether a zarr store is at the URL: its top-level metadata
        (``zarr.json``, or version 2's ``.zgroup``) is there."""
        fs, path = self.filesystem()
        return any(
            self._there(fs, f"{path}/{name}") for name in ("zarr.json", ".zgroup")
        )

    def missing(self, nothing: str = "no such object or zarr store") -> str:
        """Why nothing is at the URL, in words: its bucket (or container)
        does not exist, or, in ``nothing``'s words, the bucket holds nothing
        of that name."""
        fs, path = self.filesystem()
        bucket = path.split("/", 1)[0]
        remote = self.scheme not in READ_ONLY | {"memory"} and bucket != path
        if remote and not self._there(fs, bucket):
            return f"bucket {bucket!r} does not exist"
        return nothing

    def _there(self, fs, path: str) -> bool:
        """Whether ``path`` exists; an error of the endpoint is raised (as a
        StorageError), never taken for absence as ``fs.exists`` takes it."""
        try:
            fs.info(path)
        except FileNotFoundError as e:
            if _connection_cause(e) is not None:
                raise failure(self, e) from None
            return False
        except Exception as e:
            raise failure(self, e) from None
        return True

    def open_to_read(self):
        """The object as a binary file to read: fetched in one request
        when at most :data:`WHOLE_READ_BYTES` (any HTTP server serves it),
        else read by ranges, only the bytes asked for."""
        fs, path = self.filesystem()
        try:
            if (fs.size(path) or 2**62) <= WHOLE_READ_BYTES:
                return io.BytesIO(fs.cat_file(path))
            return fs.open(path, "rb")
        except Exception as e:
            raise failure(self, e) from None

    def write_bytes(self, data: bytes) -> None:
        """Write the object in one request (one PUT): a reader finds the old
        object or the new one, never a part of it."""
        fs, path = self.filesystem()
        try:
            fs.pipe_file(path, data)
        except Exception as e:
            raise failure(self, e) from None

    def check_writable(self) -> None:
        """Find a missing bucket, refused credentials or a prefix that
        cannot be written before any work: a small probe object is
        written beside the URL and removed. The probe comes first, as
        credentials may well allow writing under a prefix and nothing at
        the bucket's level; only when it fails is the bucket looked at, to
        say why. A probe written but not removable is one warning naming it.

        Raises
        ------
        StorageError
            Naming the URL and the reason.
        """
        if self.scheme in READ_ONLY:
            raise StorageError(
                f"{self}: {self.scheme}:// URLs are read only; write to "
                "object storage (s3://, gs://, az://) or a local path"
            )
        if self.key() in _WRITABLE:
            return  # checked once already (the command, then save_model)
        fs, path = self.filesystem()
        probe = f"{path}.logitnet-probe-{uuid.uuid4().hex[:12]}"
        try:
            fs.pipe_file(probe, b"")
        except Exception as e:
            bucket = path.split("/", 1)[0]
            if self.scheme != "memory" and bucket != path:
                try:
                    there = self._there(fs, bucket)
                except StorageError:  # not allowed to look: the PUT's error says
                    there = True
                if not there:
                    raise StorageError(
                        f"{self}: bucket {bucket!r} does not exist"
                    ) from None
            raise failure(self, e, "cannot be written") from None
        _WRITABLE.add(self.key())
        try:
            fs.rm_file(probe)
        except Exception as e:
            warnings.warn(
                redact(
                    f"{self}: the probe object {self.scheme}://{probe} was written "
                    f"but cannot be removed ({type(e).__name__}: {e}); remove it "
                    "by hand",
                    self.options,
                ),
                stacklevel=2,
            )

    def exists(self) -> bool:
        """Whether anything (an object, or objects under it) is at the URL."""
        fs, path = self.filesystem()
        fs.invalidate_cache()
        if self._there(fs, path):
            return True
        try:  # a prefix with objects under it, on a store without folders
            return bool(fs.ls(path, detail=False))
        except FileNotFoundError:
            return False
        except Exception as e:
            raise failure(self, e) from None

    def remove(self) -> None:
        """Remove whatever is at the URL, objects under it included; quietly
        when nothing is (what a failed write leaves is removed so)."""
        fs, path = self.filesystem()
        fs.invalidate_cache()  # a listing cached before the write holds nothing
        try:
            fs.rm(path, recursive=True)
        except FileNotFoundError:
            pass
        except Exception as e:
            raise failure(self, e, "cannot be removed") from None


#: The URLs this process found writable: one probe each, not one for the
#: command's check and another for the library function it calls.
_WRITABLE: set[tuple[str, str]] = set()


def failure(url: Url, error: BaseException, doing: str = "cannot be read") -> Exception:
    """An error of a filesystem as one line naming the URL: a StorageError
    for what storage says (missing, refused, unreachable), else ``error``
    itself (a bug, or an error logitnet already worded)."""
    if isinstance(error, DataError):
        return error
    error = _behind(error)
    text = f"{type(error).__name__}: {error}"
    words = _in_words(error, text)
    if words is None:
        words = f"{doing} ({text})"
    return StorageError(redact(f"{url}: {words}", url.options))


def said_by_storage(error: BaseException) -> bool:
    """Whether ``error`` is storage's own (a missing bucket or object,
    refused credentials, an endpoint that cannot be reached), as
    :func:`failure` words it; else it is of the bytes read (metadata that
    is not zarr's), or a bug."""
    error = _behind(error)
    return _in_words(error, f"{type(error).__name__}: {error}") is not None


def _behind(error: BaseException) -> BaseException:
    """The error that says what happened: fsspec's HTTP filesystem says
    "not found" for a server that is down, the connection error as its
    cause."""
    if isinstance(error, FileNotFoundError):
        return _connection_cause(error) or error
    return error


def _in_words(error: BaseException, text: str) -> str | None:
    if "bucket does not exist" in text or "NoSuchBucket" in text:
        return "its bucket does not exist"
    if any(
        code in text
        for code in (
            "InvalidAccessKeyId",
            "SignatureDoesNotMatch",
            "AccessDenied",
            "Forbidden",
            "NoCredentials",
            "PartialCredentials",
            "Unable to locate credentials",
            "InvalidToken",
            "ExpiredToken",
        )
    ) or isinstance(error, PermissionError):
        return (
            "access refused: check the credentials (AWS_ACCESS_KEY_ID and "
            "AWS_SECRET_ACCESS_KEY, AWS_PROFILE, or --storage-option) and "
            f"their rights ({_code(text)})"
        )
    if isinstance(error, FileNotFoundError) or "NoSuchKey" in text:
        return "no such object or zarr store"
    if _connection(error, text):
        return (
            "the storage endpoint cannot be reached or stopped answering, "
            f"after retries ({_code(text)})"
        )
    return None


#: What the filesystems' errors say of an endpoint that cannot be reached.
_UNREACHABLE = (
    "Could not connect",
    "Connect timeout",
    "Cannot connect",
    "Connection refused",
    "Read timeout",
    "ConnectionClosed",
    "Connection was closed",
    "Server disconnected",
    "timed out",
    "TimeoutError",
)


def _connection(error: BaseException, text: str) -> bool:
    """Whether ``error`` (``text`` its words) is a connection that failed."""
    return isinstance(error, ConnectionError | TimeoutError) or any(
        word in text for word in _UNREACHABLE
    )


def _connection_cause(error: BaseException) -> BaseException | None:
    """The connection error behind ``error`` (its cause, or its cause's),
    if there is one."""
    seen: set[int] = set()
    cause = error.__cause__ or error.__context__
    while cause is not None and id(cause) not in seen:
        seen.add(id(cause))
        if _connection(cause, f"{type(cause).__name__}: {cause}"):
            return cause
        cause = cause.__cause__ or cause.__context__
    return None


def _code(text: str) -> str:
    """The first line of an error's text, short: what the provider said."""
    first = text.splitlines()[0] if text else ""
    return first[:200]
