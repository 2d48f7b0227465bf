"""Atomic writes: the old file or the complete new one, never anything else."""

from __future__ import annotations

import os
import stat

import pytest

from logitnet.exceptions import OutputPathError
from logitnet.files import atomic_path, check_output_path


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
