"""Crafted input, round two (issue 20): pictures that decode to far more
than their bytes, damaged JPEGs, zarr stores read as what they claim, and
the small edges of the command line, each through a real process.

Like tests/test_bad_input.py: a refusal is one line on stderr naming the
file and the problem, a non-zero status, no traceback, nothing written;
memory is held under an address-space cap (``prlimit --as``).
"""

from __future__ import annotations

import io
import os
import shutil
import struct
import subprocess
import sys
import time
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from conftest import FAILURE, run
from logitnet.app.modelfile import SavedModel, save_model

needs_prlimit = pytest.mark.skipif(
    shutil.which("prlimit") is None, reason="needs prlimit"
)

#: One BLAS thread: the address space a process starts with then depends
#: little on the machine's cores.
ONE_THREAD = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}


def capped(args: list[str], cap_bytes: int, timeout: float = 120):
    """``python -m logitnet ARGS`` under an address-space cap."""
    return subprocess.run(
        ["prlimit", f"--as={cap_bytes}", sys.executable, "-m", "logitnet", *args],
        capture_output=True, text=True, env={**os.environ, **ONE_THREAD},
        timeout=timeout, check=False,
    )  # fmt: skip


def one_line_error(result, message: str, status: int = FAILURE) -> str:
    assert result.returncode == status, result.stderr
    assert "Traceback" not in result.stderr and "Warning" not in result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("logitnet"), lines[0]
    assert message in lines[0], lines[0]
    return lines[0]


# -- pictures ------------------------------------------------------------------


def _png16(path: Path, width: int, height: int) -> Path:
    """A 16-bit grayscale PNG, mostly black with a few bright dots: a few
    hundred KB on disk, width x height x 2 bytes decoded."""
    row = np.zeros(width, ">u2")
    row[::5] = 40000
    compress = zlib.compressobj(9)
    chunks = [compress.compress(b"\0" + (row if y % 7 == 0 else row * 0).tobytes())
              for y in range(height)]  # fmt: skip
    data = b"".join(chunks) + compress.flush()

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body)
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", width, height, 16, 0, 0, 0, 0)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", data)
        + chunk(b"IEND", b"")
    )  # fmt: skip
    return path


def _photo(width: int, height: int, seed: int = 0) -> np.ndarray:
    """Smooth shapes and noise: compresses like a photo."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width]
    base = np.sin(xx / 23.0) * 60 + np.cos(yy / 17.0) * 60 + 128
    pixels = np.stack([base, base[::-1], base[:, ::-1]], -1)
    return (pixels + rng.normal(0, 12, pixels.shape)).clip(0, 255).astype(np.uint8)


def _last_scan(data: bytes) -> tuple[int, int]:
    """Where a JPEG's last scan's coded data starts and ends."""
    sos = data.rindex(b"\xff\xda")
    start = sos + 2 + struct.unpack(">H", data[sos + 2 : sos + 4])[0]
    return start, data.rindex(b"\xff\xd9")


@pytest.fixture(scope="module")
def pictures(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("pictures")
    rng = np.random.default_rng(2)
    model = SavedModel(
        w=rng.normal(size=64 * 64 * 3) * 1e-3, b=0.1,
        classes=["non-cat", "cat"], image_shape=(64, 64, 3),
    )  # fmt: skip
    save_model(root / "model.npz", model)
    places = {"root": root, "model": root / "model.npz"}
    places["big16"] = _png16(root / "big16.png", 8192, 8192)
    for name, progressive in (("photo", False), ("progressive", True)):
        buffer = io.BytesIO()
        Image.fromarray(_photo(640, 480)).save(
            buffer, "JPEG", quality=90, progressive=progressive
        )
        good = buffer.getvalue()
        places[name] = root / f"{name}.jpg"
        places[name].write_bytes(good)
        # Half the last scan's coded data cut, the end marker put back:
        # libjpeg decodes the rest as gray (or unrefined) without a word.
        start, end = _last_scan(good)
        places[f"{name}_half"] = root / f"{name}_half.jpg"
        places[f"{name}_half"].write_bytes(
            good[: start + (end - start) // 2] + b"\xff\xd9"
        )
    # A progressive file cut in half: its last scans are missing.
    good = places["progressive"].read_bytes()
    places["progressive_cut"] = root / "progressive_cut.jpg"
    places["progressive_cut"].write_bytes(good[: len(good) // 2] + b"\xff\xd9")
    # A frame header claiming 8000 x 8000 pixels over 30 KB of coded data.
    good = (root / "photo.jpg").read_bytes()
    sof = good.index(b"\xff\xc0")
    claim = good[: sof + 5] + struct.pack(">HH", 8000, 8000) + good[sof + 9 :]
    places["claim"] = root / "claim.jpg"
    places["claim"].write_bytes(claim)
    return places


def _arguments(pictures, *args) -> list[str]:
    return [str(a).format(**pictures) for a in args]


@needs_prlimit
def test_a_sixteen_bit_picture_decodes_within_a_small_multiple_of_its_size(pictures):
    # 8192 x 8192 at 16 bits: 128 MiB decoded, 192 MiB as 8-bit RGB. It
    # cost 1.42 GB (int64 copies); a 1 GiB address space is enough now.
    start = time.monotonic()
    result = capped(
        ["predict", "--model", str(pictures["model"]), str(pictures["big16"])],
        1024**3,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"{pictures['big16']}: ")
    assert time.monotonic() - start < 30


def test_decoding_bytes_peaks_near_the_picture_s_size(pictures):
    # What the server runs on an upload: read_image(bytes), in a process
    # of its own, its peak RSS measured.
    code = (
        "import resource, sys\n"
        "from logitnet.data.images import read_image\n"
        "data = open(sys.argv[1], 'rb').read()\n"
        "before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        "read_image(data, name='upload')\n"
        "after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        "print(before, after)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code, str(pictures["big16"])],
        capture_output=True, text=True, env={**os.environ, **ONE_THREAD},
        timeout=120, check=True,
    )  # fmt: skip
    before, after = (int(n) * 1024 for n in result.stdout.split())
    rgb_bytes = 8192 * 8192 * 3
    assert after - before < 1.5 * rgb_bytes, (before, after)


@pytest.mark.parametrize("name", ["photo_half", "progressive_half"])
def test_a_jpeg_cut_in_half_is_refused_by_predict(pictures, name):
    result = run("predict", "--model", str(pictures["model"]), str(pictures[name]))
    one_line_error(
        result,
        f"{pictures[name]}: damaged or truncated image (its coded data ends "
        "before the picture does)",
    )
    assert result.stdout == ""


def test_a_progressive_jpeg_without_its_last_scans_is_refused(pictures):
    name = pictures["progressive_cut"]
    result = run("predict", "--model", str(pictures["model"]), str(name))
    one_line_error(
        result,
        f"{name}: damaged or truncated image (its progressive scans stop "
        "before the picture is complete)",
    )


def test_a_jpeg_cut_in_half_is_refused_by_explain(pictures):
    out = pictures["root"] / "explained.png"
    result = run(
        "explain", "--model", str(pictures["model"]), str(pictures["photo_half"]),
        "--out", str(out),
    )  # fmt: skip
    one_line_error(result, f"{pictures['photo_half']}: damaged or truncated image")
    assert not out.exists()


def test_damaged_pictures_are_refused_one_line_each_among_good_ones(pictures):
    result = run(
        "predict", "--model", str(pictures["model"]), str(pictures["photo"]),
        str(pictures["photo_half"]), str(pictures["claim"]),
        str(pictures["progressive"]),
    )  # fmt: skip
    assert result.returncode == FAILURE
    assert [line.split(":")[0] for line in result.stdout.splitlines()] == [
        str(pictures["photo"]), str(pictures["progressive"])
    ]  # fmt: skip
    errors = result.stderr.splitlines()
    assert errors[0].startswith(f"logitnet: error: {pictures['photo_half']}: damaged")
    assert errors[1].startswith(f"logitnet: error: {pictures['claim']}: damaged")
    assert errors[2] == "2 of 4 files failed" and len(errors) == 3


@needs_prlimit
def test_a_jpeg_header_claiming_8000x8000_is_refused_before_decoding(pictures):
    # 256 MB of gray would be decoded from 30 KB: refused from the markers,
    # in a 512 MiB address space.
    start = time.monotonic()
    result = capped(
        ["predict", "--model", str(pictures["model"]), str(pictures["claim"])],
        512 * 1024**2,
    )
    one_line_error(
        result,
        f"{pictures['claim']}: damaged or truncated image (its header declares "
        "8000x8000 pixels, 1,500,000 blocks of at least one bit each, but",
    )
    assert time.monotonic() - start < 20


def test_the_server_s_decoder_refuses_damaged_jpegs(pictures):
    # The server hands each upload's bytes to read_image: the same checks.
    from logitnet.data.images import read_image
    from logitnet.exceptions import DataError

    for name in ("photo_half", "progressive_half", "progressive_cut", "claim"):
        with pytest.raises(DataError, match=r"^up\.jpg: damaged or truncated image"):
            read_image(pictures[name].read_bytes(), name="up.jpg")
    for name in ("photo", "progressive"):
        data = pictures[name].read_bytes()
        assert np.array_equal(read_image(data), read_image(pictures[name]))


def test_pillow_never_loads_truncated_images():
    # Pillow's switch to decode what it can of a truncated file stays off,
    # whatever logitnet imports.
    code = (
        "import logitnet.cli, logitnet.data.images, logitnet.viz.plots\n"
        "from PIL import ImageFile\n"
        "print(ImageFile.LOAD_TRUNCATED_IMAGES)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "False"
