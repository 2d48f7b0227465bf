"""Output files that are either the old file or the complete new one.

Every file logitnet writes (models, plots, reports, HDF5 data sets) goes
through :func:`atomic_path`: the content is written to a temporary file in
the target's directory, flushed to disk, and renamed over the target. A
rename within one directory is atomic, so a reader, a crash or a kill
mid-write never leaves a half-written file, and a failure leaves the old
file untouched and no temporary file behind.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from logitnet.exceptions import OutputPathError

__all__ = ["atomic_path", "check_output_path"]


def check_output_path(path: str | os.PathLike[str]) -> Path:
    """Check that a file can be written at ``path``, before any work is done.

    Raises
    ------
    OutputPathError
        If ``path`` is a directory or another non-regular file (a device, a
        pipe: the atomic rename would replace it), or its parent is missing
        or not a directory.
    """
    path = Path(path)
    if path.is_dir():
        raise OutputPathError(f"{path}: is a directory; give a file name")
    if path.exists() and not path.is_file():
        raise OutputPathError(f"{path}: is not a regular file; give a file name")
    parent = path.parent
    if not parent.exists():
        raise OutputPathError(f"{path}: directory {parent} does not exist")
    if not parent.is_dir():
        raise OutputPathError(f"{path}: {parent} is not a directory")
    return path


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
    block raises, the temporary file is removed and ``path`` is unchanged.

    Examples
    --------
    >>> with atomic_path("model.npz") as tmp:  # doctest: +SKIP
    ...     np.savez(tmp, w=w)
    """
    path = check_output_path(path)
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        # mkstemp makes the file private (0600); give it the permissions an
        # ordinary new file would have, or those of the file it replaces.
        os.chmod(tmp, _file_mode(path))
        yield tmp
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
