"""Atomic writes: the old file or the complete new one, never anything else."""

from __future__ import annotations

import os
import stat

import pytest

from logitnet.exceptions import OutputPathError
from logitnet.files import (
    LFS_POINTER,
    ZIP_ARCHIVE,
    atomic_path,
    check_output_path,
    describe_bytes,
    describe_file,
)


def test_a_completed_write_replaces_the_file(tmp_path):
    target = tmp_path / "out.bin"
    target.write_bytes(b"old")
    with atomic_path(target) as tmp:
        assert tmp.parent == tmp_path and tmp != target
        tmp.write_bytes(b"new")
        assert target.read_bytes() == b"old"  # not yet
    assert target.read_bytes() == b"new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.bin"]


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    target = tmp_path / "out.bin"
    target.write_bytes(b"old")

    def write_half_then_fail():
        with atomic_path(target) as tmp:
            tmp.write_bytes(b"half")
            raise RuntimeError("disk on fire")

    with pytest.raises(RuntimeError, match="disk on fire"):
        write_half_then_fail()
    assert target.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.bin"]


def test_permissions_are_those_of_the_replaced_file_or_a_new_one(tmp_path):
    target = tmp_path / "shared.bin"
    target.write_bytes(b"old")
    os.chmod(target, 0o640)
    with atomic_path(target) as tmp:
        tmp.write_bytes(b"new")
    assert stat.S_IMODE(target.stat().st_mode) == 0o640
    umask = os.umask(0o022)
    try:
        with atomic_path(tmp_path / "fresh.bin") as tmp:
            tmp.write_bytes(b"x")
    finally:
        os.umask(umask)
    assert stat.S_IMODE((tmp_path / "fresh.bin").stat().st_mode) == 0o644


@pytest.mark.parametrize(
    ("make", "message"),
    [(lambda p: p.mkdir(), "is a directory; give a file name"),
     (lambda p: os.mkfifo(p), "is not a regular file"),
     (lambda p: None, None)],
)  # fmt: skip
def test_unusable_paths_are_refused_before_any_work(tmp_path, make, message):
    path = tmp_path / "target"
    make(path)
    if message is None:
        assert check_output_path(path) == path
        with pytest.raises(OutputPathError, match=r"directory .* does not exist"):
            check_output_path(tmp_path / "missing" / "x")
        (tmp_path / "plain").write_text("")
        with pytest.raises(OutputPathError, match="is not a directory"):
            check_output_path(tmp_path / "plain" / "x")
        return
    with pytest.raises(OutputPathError, match=message):
        check_output_path(path)
    with pytest.raises(OutputPathError, match=message):
        atomic_path(path).__enter__()


# -- what a file holds, from its first bytes ------------------------------------


def _image(kind: str):
    def make(path):
        import numpy as np
        from PIL import Image

        Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(path, format=kind)

    return make


def _h5(path):
    import h5py

    with h5py.File(path, "w") as f:
        f.create_dataset("x", data=[1, 2, 3])


def _h5_user_block(path):
    import h5py

    with h5py.File(path, "w", userblock_size=1024) as f:
        f.create_dataset("x", data=[1, 2, 3])


def _npz(path):
    import numpy as np

    with open(path, "wb") as f:
        np.savez(f, x=np.zeros(3))


def _npy(path):
    import numpy as np

    with open(path, "wb") as f:
        np.save(f, np.zeros(3))


def _pickle(path):
    import pickle

    path.write_bytes(pickle.dumps({"w": [1.0]}))


def _zarr(path):
    path.mkdir()
    (path / ".zgroup").write_text('{"zarr_format": 2}')


@pytest.mark.parametrize(
    ("make", "what"),
    [
        (_h5, "an HDF5 file (a data set?)"),
        (_h5_user_block, "an HDF5 file (a data set?)"),
        (_image("PNG"), "a PNG image"),
        (_image("JPEG"), "a JPEG image"),
        (_image("GIF"), "a GIF image"),
        (_image("WEBP"), "a WebP image"),
        (_image("BMP"), "a BMP image"),
        (_image("TIFF"), "a TIFF image"),
        (_image("ICO"), "an ICO image"),
        (_npz, ZIP_ARCHIVE),
        (_npy, "a NumPy .npy array"),
        (_pickle, "a Python pickle"),
        (lambda p: p.write_text("w,b\n1,2\n"), "a text file"),
        (lambda p: p.write_text("BM is text too\n"), "a text file"),
        (lambda p: p.write_bytes("naïve\n".encode()[:3]), "a text file"),  # cut in "ï"
        (lambda p: p.write_bytes(b"\x00\x01\x02\xfe"), "a file of an unknown kind"),
        (lambda p: p.write_bytes(b""), "an empty file"),
        (lambda p: p.write_bytes(LFS_POINTER + b"v1\n"), "a Git LFS pointer file"),
        (lambda p: p.mkdir(), "a directory"),
        (_zarr, "a zarr store (a data set?)"),
        (lambda p: os.mkfifo(p), "a FIFO (named pipe)"),
    ],
)
def test_describe_file_names_what_a_file_holds(tmp_path, make, what):
    path = tmp_path / "file.npz"  # the name says nothing
    make(path)
    assert describe_file(path).startswith(what)


def test_describe_bytes_says_what_describe_file_says(tmp_path):
    from PIL import Image

    for name in ("a.png", "a.jpg", "a.gif", "a.webp", "a.bmp", "a.tiff"):
        Image.new("RGB", (4, 4)).save(tmp_path / name)
        data = (tmp_path / name).read_bytes()
        assert describe_bytes(data) == describe_file(tmp_path / name)
        assert describe_bytes(data).endswith(" image"), name
    assert describe_bytes(b"a=1&b=2") == "a text file"
    assert describe_bytes(b"") == "an empty file"


def test_describe_file_never_opens_a_device_and_knows_a_missing_file(tmp_path):
    assert describe_file("/dev/zero") == "a character device"
    assert describe_file(tmp_path / "missing") is None
