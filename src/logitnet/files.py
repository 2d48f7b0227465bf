"""Files: what a path is, outputs kept apart from inputs, atomic writes.

Every file logitnet writes (models, plots, reports, HDF5 data sets) goes
through :func:`atomic_path`: the content is written to a temporary file in
the target's directory, flushed to disk, and renamed over the target. A
rename within one directory is atomic, so a reader, a crash or a kill
mid-write never leaves a half-written file, and a failure leaves the old
file untouched and no temporary file behind.

Before any work, :func:`check_output_path` makes sure a file can be written
where the user asked (a probe file is created there and removed), and
:func:`check_apart` that no output is also an input or another output.
Files that are read must be regular files (:func:`file_kind`): a FIFO, a
socket or a device would block or never end. A file that is not what a
command expected is named for what it is (:func:`describe_file`, from its
first bytes), not for the parser that failed on it.
"""

from __future__ import annotations

import codecs
import contextlib
import os
import re
import stat
import tempfile
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

from logitnet.exceptions import OutputPathError, PathClashError

__all__ = [
    "HEAD_BYTES",
    "LFS_POINTER",
    "ZIP_ARCHIVE",
    "atomic_path",
    "check_apart",
    "check_input_file",
    "check_output_path",
    "describe_bytes",
    "describe_file",
    "file_kind",
    "new_path",
    "not_a_file",
    "remove_temporary_files",
    "removed_on_stop",
    "shown",
    "url_scheme",
]

#: Temporary files being written now: what :func:`remove_temporary_files`
#: removes when the process is told to stop (SIGTERM, SIGHUP).
_PENDING: set[Path] = set()

#: Outputs being written elsewhere than one temporary file (a zarr store,
#: local or on object storage): how to remove each, run by
#: :func:`remove_temporary_files` as well.
_REMOVERS: dict[int, Callable[[], object]] = {}

#: How long a process told to stop waits for those removals (a store on
#: object storage is removed by requests, each bounded but slow on a slow
#: endpoint): past it, the process exits anyway.
REMOVAL_SECONDS = 20

#: What :func:`file_kind` calls each kind of file that is not regular.
_KINDS = (
    (stat.S_ISDIR, "directory"),
    (stat.S_ISFIFO, "FIFO (named pipe)"),
    (stat.S_ISSOCK, "socket"),
    (stat.S_ISCHR, "character device"),
    (stat.S_ISBLK, "block device"),
)


def file_kind(path: str | os.PathLike[str]) -> str | None:
    """What ``path`` is: None when it does not exist, ``"file"`` for a
    regular file (after symbolic links), else ``"directory"``, ``"FIFO
    (named pipe)"``, ``"socket"``, ``"character device"`` or ``"block
    device"``. Asking never opens the file, so it never blocks."""
    try:
        mode = os.stat(path).st_mode
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError as e:  # a loop of links, a name too long, no permission
        return e.strerror or "unreadable path"
    for test, name in _KINDS:
        if test(mode):
            return name
    return "file" if stat.S_ISREG(mode) else "special file"


#: ``scheme://``, as a URL starts (RFC 3986: a letter, then letters, digits,
#: + - .).
_URL = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*)://")


def url_scheme(path: str | os.PathLike[str]) -> str | None:
    """``"https"`` for ``"https://host/cat.jpg"``: the scheme of a path that
    is a URL, None for anything else, a path on disk named like a URL
    included. pathlib would read a URL as a path and fold its ``//`` to
    ``/``, so that ``https://host/cat.jpg`` became "https:/host/cat.jpg: no
    such file"."""
    text = os.fspath(path)
    match = _URL.match(text) if isinstance(text, str) else None
    if match is None or os.path.lexists(text):
        return None
    return match.group(1).lower()


#: How a Git LFS pointer file starts: what a repository clone without LFS
#: holds in place of the real file.
LFS_POINTER = b"version https://git-lfs.github.com/spec/"

#: What :func:`describe_file` calls a zip archive (an ``.npz`` is one).
ZIP_ARCHIVE = "a zip archive"

_HDF5 = b"\x89HDF\r\n\x1a\n"

#: (offset, first bytes, what a file that has them there is), in the order
#: tried. Only signatures that text never has, or that are long enough not
#: to happen by chance; images are those Pillow reads, and a few others.
_SIGNATURES = (
    *((offset, _HDF5, "an HDF5 file (a data set?)") for offset in (0, 512, 1024, 2048)),
    (0, b"PK\x03\x04", ZIP_ARCHIVE),
    (0, b"PK\x05\x06", ZIP_ARCHIVE),  # an empty archive
    (0, b"\x93NUMPY", "a NumPy .npy array"),
    (0, b"\x89PNG\r\n\x1a\n", "a PNG image"),
    (0, b"\xff\xd8\xff", "a JPEG image"),
    (0, b"GIF87a", "a GIF image"),
    (0, b"GIF89a", "a GIF image"),
    (8, b"WEBPVP8", "a WebP image"),  # after "RIFF" and a size
    (0, b"II*\x00", "a TIFF image"),
    (0, b"MM\x00*", "a TIFF image"),
    (0, b"\x00\x00\x01\x00", "an ICO image"),
    (0, b"8BPS", "a Photoshop image"),
    (0, b"qoif", "a QOI image"),
    (0, b"\x00\x00\x00\x0cjP  \r\n\x87\n", "a JPEG 2000 image"),
    (0, b"\xffO\xffQ", "a JPEG 2000 image"),
    (4, b"ftypavif", "an AVIF image"),
    (4, b"ftypheic", "a HEIF image"),
    (4, b"ftypmif1", "a HEIF image"),
    (0, b"%PDF-", "a PDF document"),
    (0, b"\x1f\x8b", "a gzip-compressed file"),
    (0, LFS_POINTER, "a Git LFS pointer file (the real file was not fetched: "
     "git lfs pull)"),
)  # fmt: skip

#: Bytes read from the start of a file to say what it is (HDF5's signature
#: may sit at 2048, after a user block).
HEAD_BYTES = 4096

#: Files of a zarr store's top level (versions 2 and 3).
_ZARR_MARKERS = (".zgroup", ".zarray", "zarr.json")


def describe_file(path: str | os.PathLike[str]) -> str | None:
    """What ``path`` holds, in words, from its first bytes: ``"an HDF5 file
    (a data set?)"``, ``"a PNG image"``, :data:`ZIP_ARCHIVE`, ``"a text
    file"``, ``"an empty file"``, ``"a zarr store (a data set?)"``, ``"a
    directory"``, ``"a FIFO (named pipe)"``, ... ; None when it does not
    exist.

    Cheap and safe on anything: at most 4 KiB of a regular file is read,
    nothing is parsed, and a FIFO or a device is never opened. A file of no
    kind known here is ``"a file of an unknown kind"``.
    """
    kind = file_kind(path)
    if kind is None:
        return None
    if kind == "directory":
        if any(os.path.isfile(os.path.join(path, m)) for m in _ZARR_MARKERS):
            return "a zarr store (a data set?)"
        return "a directory"
    if kind != "file":
        special = kind in {name for _, name in _KINDS} or kind == "special file"
        return f"a {kind}" if special else f"unreadable ({kind})"
    try:
        with open(path, "rb") as f:
            head = f.read(HEAD_BYTES)
    except OSError as e:
        return f"unreadable ({e.strerror or e})"
    return describe_bytes(head)


def describe_bytes(head: bytes) -> str:
    """What a file that starts with ``head`` holds, in words, as
    :func:`describe_file` says it (``"a PNG image"``, ``"a text file"``,
    ``"an empty file"``, ...): for bytes that are not on disk, such as an
    upload. Only the first 4 KiB are looked at; nothing is parsed. Every
    picture format is named ``"... image"``."""
    head = head[:HEAD_BYTES]
    if not head:
        return "an empty file"
    for offset, signature, what in _SIGNATURES:
        if head[offset : offset + len(signature)] == signature:
            return what
    if head[:1] == b"\x80" and head[1:2] in (b"\x02", b"\x03", b"\x04", b"\x05"):
        return "a Python pickle"
    if head[:2] == b"BM" and head[6:10] == bytes(4):  # reserved bytes: zero
        return "a BMP image"
    if _is_text(head):
        return "a text file"
    return "a file of an unknown kind"


def _is_text(head: bytes) -> bool:
    """Whether the first bytes of a file are UTF-8 text (a character cut
    off at the end allowed), without control characters but whitespace."""
    try:
        text = codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
    except UnicodeDecodeError:
        return False
    return all(ch.isprintable() or ch in "\t\n\r\f\v" for ch in text.lstrip("\ufeff"))


#: What :func:`file_kind` answers for a path that exists.
_KIND_NAMES = {"file", "special file", *(name for _, name in _KINDS)}


def check_input_file(
    path: str | os.PathLike[str],
    what: str,
    error: type[Exception],
    *,
    missing: str = "no such file",
) -> Path:
    """``path`` as a Path when it is a regular file to read, else ``error``
    naming it: ``missing`` when it does not exist, or what it is instead
    (``"is a directory, not {what}"``; a FIFO or a device would block or
    never end, so they are named too, without being opened).
    """
    path = Path(path)
    kind = file_kind(path)
    if kind is None:
        raise error(f"{path}: {missing}")
    if kind != "file":
        raise error(f"{path}: {not_a_file(kind, what)}")
    return path


def not_a_file(kind: str, what: str) -> str:
    """Why a path of :func:`file_kind` ``kind`` (not ``"file"``) cannot be
    read as ``what``: ``"is a FIFO (named pipe), not an image file"``, or,
    where asking failed, the reason (``"cannot be read: too many levels of
    symbolic links"``)."""
    if kind in _KIND_NAMES:
        return f"is a {kind}, not {what}"
    return f"cannot be read: {_reason(kind)}"


def _reason(strerror: str) -> str:
    """An OS error's reason as part of a sentence: first letter lower."""
    return strerror[:1].lower() + strerror[1:]


def shown(text: object) -> str:
    """``text`` safe to print on a terminal: control characters (newlines,
    ANSI escapes) and bytes that are not UTF-8 (file names decoded with
    surrogate escapes) are written as backslash escapes."""
    text = str(text)
    if text.isprintable():
        return text
    out = []
    for ch in text:
        code = ord(ch)
        if 0xDC80 <= code <= 0xDCFF:  # an undecodable byte of a file name
            out.append(f"\\x{code - 0xDC00:02x}")
        elif ch.isprintable() or ch == " ":
            out.append(ch)
        else:
            out.append(ch.encode("unicode_escape").decode("ascii"))
    return "".join(out)


def _as_path(value):
    """A path as a Path; a URL of object storage (``logitnet.data.storage.
    Url``, which names its object by ``key()``) as it is."""
    return value if hasattr(value, "key") else Path(value)


def _same_file(a, b) -> bool:
    """Whether two paths name one file: the same resolved path, or the same
    device and inode (a hard link, a bind mount); two URLs, the same object
    (a URL and a local path never do)."""
    if not isinstance(a, Path) or not isinstance(b, Path):
        return a == b
    try:
        if a.resolve() == b.resolve():
            return True
        return os.path.samefile(a, b)
    except (OSError, RuntimeError):  # one does not exist yet, or is a loop
        # of symbolic links (RuntimeError before Python 3.13): not one file
        # the other names; the loop is refused when it is used.
        return False


def check_apart(
    outputs: Mapping[str, str | os.PathLike[str] | None],
    inputs: Mapping[str, str | os.PathLike[str] | None],
) -> None:
    """Refuse an output that is also an input, or another output.

    ``outputs`` and ``inputs`` map what the user calls each path (an option,
    ``--out``, or an argument name) to the path, None when not given.

    Raises
    ------
    PathClashError
        Naming both, before anything is read or written.
    """
    named_outputs = [(k, _as_path(v)) for k, v in outputs.items() if v is not None]
    named_inputs = [(k, _as_path(v)) for k, v in inputs.items() if v is not None]
    for i, (name, path) in enumerate(named_outputs):
        for other, source in named_inputs:
            if _same_file(path, source):
                raise PathClashError(
                    f"{name} {shown(path)} is the input {other} {shown(source)}: "
                    "writing it would destroy the input; give another file name"
                )
        for other, earlier in named_outputs[:i]:
            if _same_file(path, earlier):
                raise PathClashError(
                    f"{name} {shown(path)} is also {other}: one would overwrite "
                    "the other; give two file names"
                )


def check_output_path(path: str | os.PathLike[str]) -> Path:
    """Check that a file can be written at ``path``, before any work is done.

    A probe file is created in the target's directory and removed at once,
    so a directory that cannot be written, a full or read-only file system
    or a name too long for it is found now, not after the work.

    Raises
    ------
    OutputPathError
        Naming ``path`` as the user gave it, if it is a directory or another
        non-regular file (a device, a pipe: the atomic rename would replace
        it), its parent is missing or not a directory, or no file can be
        created there.
    """
    path = Path(path)
    parent = path.parent
    try:
        name_max = os.pathconf(parent, "PC_NAME_MAX")
    except (OSError, ValueError):
        name_max = 255
    if len(os.fsencode(path.name)) > name_max:
        raise OutputPathError(
            f"{shown(path)}: file name is longer than the {name_max} bytes "
            "this file system allows"
        )
    kind = file_kind(path)
    if kind == "directory":
        raise OutputPathError(f"{shown(path)}: is a directory; give a file name")
    if kind not in (None, *_KIND_NAMES):
        raise OutputPathError(f"{shown(path)}: cannot be written: {_reason(kind)}")
    if kind not in (None, "file"):
        raise OutputPathError(
            f"{shown(path)}: is not a regular file ({kind}); give a file name"
        )
    parent_kind = file_kind(parent)
    if parent_kind is None:
        raise OutputPathError(
            f"{shown(path)}: directory {shown(parent)} does not exist"
        )
    if parent_kind not in _KIND_NAMES:
        raise OutputPathError(
            f"{shown(path)}: cannot be written in {shown(parent)}: "
            f"{_reason(parent_kind)}"
        )
    if parent_kind != "directory":
        raise OutputPathError(f"{shown(path)}: {shown(parent)} is not a directory")
    try:
        _done(_temporary(path))
    except OSError as e:
        raise OutputPathError(
            f"{shown(path)}: cannot write a file in {shown(parent)} ({e.strerror or e})"
        ) from None
    return path


#: How many numbered names :func:`new_path` tries before it gives up.
NEW_PATH_TRIES = 100


def new_path(stem: str, suffix: str, directory: str | os.PathLike[str] = ".") -> Path:
    """A file name in ``directory`` that nothing has yet: ``stem + suffix``,
    else ``stem.2 + suffix``, ``stem.3 + suffix``, ... (an output chosen for
    the user never replaces a file).

    Raises
    ------
    OutputPathError
        If the first :data:`NEW_PATH_TRIES` names are all taken.
    """
    directory = Path(directory)
    for n in range(1, NEW_PATH_TRIES + 1):
        path = directory / (f"{stem}{suffix}" if n == 1 else f"{stem}.{n}{suffix}")
        if not os.path.lexists(path):
            return path
    raise OutputPathError(
        f"{shown(directory / (stem + suffix))}: it and {NEW_PATH_TRIES - 1} numbered "
        "names like it exist already; give the file to write"
    )


def _temporary(path: Path) -> Path:
    """A new empty hidden file beside ``path`` (its name kept short enough
    for the file system whatever the length of ``path``'s name), recorded
    in :data:`_PENDING` until :func:`_done` with it."""
    stem = path.name[:64]
    fd, name = tempfile.mkstemp(prefix=f".{stem}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    _PENDING.add(Path(name))
    return Path(name)


def _done(tmp: Path) -> None:
    """Remove a temporary file (if it was not renamed) and forget it."""
    tmp.unlink(missing_ok=True)
    _PENDING.discard(tmp)


def remove_temporary_files() -> None:
    """Remove every temporary file being written, and every output
    registered with :func:`removed_on_stop`: what a process told to stop
    does before it exits, so no half-written file or store is left behind.
    The removals of the latter run in threads, waited for at most
    :data:`REMOVAL_SECONDS` in all."""
    import threading
    import time

    for tmp in list(_PENDING):
        tmp.unlink(missing_ok=True)
    workers = []
    for remove in list(_REMOVERS.values()):
        worker = threading.Thread(target=_quietly, args=(remove,), daemon=True)
        worker.start()
        workers.append(worker)
    deadline = time.monotonic() + REMOVAL_SECONDS
    for worker in workers:
        worker.join(max(0.0, deadline - time.monotonic()))


def _quietly(remove: Callable[[], object]) -> None:
    with contextlib.suppress(Exception):  # exiting anyway: nothing to tell
        remove()


@contextlib.contextmanager
def removed_on_stop(remove: Callable[[], object]) -> Iterator[None]:
    """Within the block, ``remove()`` is run if the process is told to stop
    (:func:`remove_temporary_files`): an output written in place, removed
    so rather than left half-written."""
    key = id(remove)
    _REMOVERS[key] = remove
    try:
        yield
    finally:
        _REMOVERS.pop(key, None)


def _file_mode(path: Path) -> int:
    try:
        return path.stat().st_mode & 0o777
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path to write; on success it replaces ``path``.

    The caller writes the whole file to the yielded path (by name, so that
    libraries such as h5py and matplotlib can open it themselves). If the
    block raises (or the process is interrupted or terminated, see
    :mod:`logitnet.cli`), the temporary file is removed and ``path`` is
    unchanged. A failure of the disk (full, read-only) is an OSError naming
    ``path``, not the temporary file.

    Examples
    --------
    Write to the yielded path by its name; a library that adds a suffix
    of its own (``np.savez`` adds ".npz" to the temporary name) should be
    given an open file instead.

    >>> from pathlib import Path
    >>> import numpy as np
    >>> from logitnet.files import atomic_path
    >>> with atomic_path("notes.txt") as tmp:
    ...     _ = tmp.write_text("all of it, or nothing")
    >>> Path("notes.txt").read_text()
    'all of it, or nothing'
    >>> with atomic_path("weights.npz") as tmp, open(tmp, "wb") as f:
    ...     np.savez(f, w=np.zeros(3))
    >>> with np.load("weights.npz") as saved:
    ...     saved["w"].tolist()
    [0.0, 0.0, 0.0]
    """
    path = check_output_path(path)
    tmp = _temporary(path)
    try:
        # mkstemp makes the file private (0600); give it the permissions an
        # ordinary new file would have, or those of the file it replaces.
        os.chmod(tmp, _file_mode(path))
        try:
            yield tmp
            with open(tmp, "rb+") as f:
                os.fsync(f.fileno())
            os.replace(tmp, path)
        except OSError as e:
            if e.errno is None:
                raise
            raise OutputPathError(
                f"{shown(path)}: cannot write ({e.strerror or e})"
            ) from e
    finally:
        _done(tmp)
