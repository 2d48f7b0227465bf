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

from conftest import FAILURE, USAGE, run
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
    # First the line on how good the model was (predict's, for people).
    trust, *errors = result.stderr.splitlines()
    assert trust.startswith(f"{pictures['model']}: ")
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


# -- zarr stores on --data: read as what they claim, in bounded memory -----------


def _rle_zstd(n: int) -> bytes:
    """A zstd frame of ``n`` zero bytes in run-length blocks: 4 bytes per
    128 KiB, so a 1.2 GB chunk takes 37 KB."""
    frame = [struct.pack("<IB", 0xFD2FB528, 0xE0), struct.pack("<Q", n)]
    while n:
        size = min(128 * 1024, n)
        n -= size
        frame.append(struct.pack("<I", (n == 0) | 1 << 1 | size << 3)[:3] + b"\0")
    return b"".join(frame)


def _store(path: Path, zarr_format: int, **options) -> Path:
    """A store in the course's layout: 40 training and 20 test pictures in
    chunks of 10, every chunk written."""
    import zarr

    rng = np.random.default_rng(4)
    group = zarr.open_group(str(path), mode="w", zarr_format=zarr_format)
    options = {"config": {"write_empty_chunks": True}, **options}
    for split, m in (("train", 40), ("test", 20)):
        x = rng.integers(0, 256, (m, 64, 64, 3), dtype=np.uint8)
        group.create_array(f"{split}_set_x", data=x, chunks=(10, 64, 64, 3), **options)
        group.create_array(f"{split}_set_y", data=np.arange(m) % 2, **options)
    return path


def _chunk(store: Path, key: str, zarr_format: int, index: int = 0) -> Path:
    """The file of chunk ``index`` (along the rows) of an array."""
    coords = [str(index)] + ["0"] * (3 if key.endswith("_x") else 0)
    name = ".".join(coords) if zarr_format == 2 else "c/" + "/".join(coords)
    return store / key / name


@pytest.fixture(scope="module", params=[2, 3], ids=["zarr-v2", "zarr-v3"])
def stores(request, tmp_path_factory) -> dict[str, Path]:
    import zarr

    fmt = request.param
    root = tmp_path_factory.mktemp(f"stores{fmt}")
    places = {"root": root, "format": fmt}
    places["good"] = _store(root / "good.zarr", fmt)
    places["missing"] = _store(root / "missing.zarr", fmt)
    _chunk(places["missing"], "test_set_x", fmt, 1).unlink()
    # zarr's own default leaves out a chunk of fill values: here the first
    # four labels, all 0. Nothing tells it from a lost one.
    places["omitted"] = root / "omitted.zarr"
    group = zarr.open_group(str(places["omitted"]), mode="w", zarr_format=fmt)
    x = np.zeros((8, 64, 64, 3), np.uint8) + 7
    group.create_array("train_set_x", data=x, chunks=(4, 64, 64, 3))
    group.create_array(
        "train_set_y", data=np.array([0, 0, 0, 0, 1, 0, 1, 1]), chunks=(4,)
    )
    places["garbage"] = _store(root / "garbage.zarr", fmt)
    _chunk(places["garbage"], "train_set_x", fmt, 2).write_bytes(os.urandom(5000))
    places["truncated"] = _store(root / "truncated.zarr", fmt, compressors=None)
    chunk = _chunk(places["truncated"], "train_set_x", fmt, 2)
    chunk.write_bytes(chunk.read_bytes()[: 10 * 64 * 64 * 3 // 2])
    # The test set: 100,000 pictures in one zstd chunk of 1.2 GB, 37 KB on disk.
    places["bomb"] = _store(root / "bomb.zarr", fmt)
    group = zarr.open_group(str(places["bomb"]), mode="a", zarr_format=fmt)
    del group["test_set_x"], group["test_set_y"]
    n = 100_000
    codec = {"compressors": zarr.codecs.ZstdCodec() if fmt == 3 else None}
    if fmt == 2:
        import numcodecs

        codec = {"compressors": numcodecs.Zstd()}
    group.create_array("test_set_x", shape=(n, 64, 64, 3), chunks=(n, 64, 64, 3),
                       dtype="uint8", **codec)  # fmt: skip
    group.create_array("test_set_y", data=np.arange(n) % 2, chunks=(n,),
                       config={"write_empty_chunks": True}, **codec)  # fmt: skip
    bomb = _chunk(places["bomb"], "test_set_x", fmt)
    bomb.parent.mkdir(parents=True, exist_ok=True)
    bomb.write_bytes(_rle_zstd(n * 64 * 64 * 3))
    places["tiny_chunks"] = _store(root / "tiny.zarr", fmt)
    group = zarr.open_group(str(places["tiny_chunks"]), mode="a", zarr_format=fmt)
    del group["train_set_x"]
    group.create_array("train_set_x", data=np.ones((40, 64, 64, 3), np.uint8),
                       chunks=(1, 8, 8, 3))  # fmt: skip
    places["linked"] = _store(root / "linked.zarr", fmt)
    chunk = _chunk(places["linked"], "train_set_x", fmt, 1)
    chunk.unlink()
    chunk.symlink_to(_chunk(places["good"], "train_set_x", fmt, 1))
    if fmt == 3:
        places["sharded"] = _store(root / "sharded.zarr", fmt)
        group = zarr.open_group(str(places["sharded"]), mode="a")
        del group["train_set_x"]
        group.create_array("train_set_x", data=np.ones((40, 64, 64, 3), np.uint8),
                           chunks=(10, 64, 64, 3), shards=(20, 64, 64, 3))  # fmt: skip
    return places


def _train_on(stores, name: str, cap: int | None = None):
    """``train --data STORE --out MODEL``: the result and whether a model
    file was left behind."""
    out = stores["root"] / f"{name}.npz"
    args = ["train", "--data", str(stores[name]), "--iterations", "5", "--out",
            str(out), "--quiet"]  # fmt: skip
    result = capped(args, cap) if cap else run(*args)
    return result, out.exists()


def test_a_good_store_trains(stores):
    result, saved = _train_on(stores, "good")
    assert result.returncode == 0, result.stderr
    assert saved


def test_a_missing_chunk_is_refused_not_read_as_zeros(stores):
    result, saved = _train_on(stores, "missing")
    key = "1.0.0.0" if stores["format"] == 2 else "c/1/0/0/0"
    one_line_error(
        result,
        f"{stores['missing']}: test_set_x is missing 1 of its 2 chunks (first: "
        f"{key}), which zarr would read as 0;",
    )
    assert not saved


def test_chunks_zarr_left_out_are_refused_with_the_way_to_keep_them(stores):
    result, saved = _train_on(stores, "omitted")
    line = one_line_error(result, f"{stores['omitted']}: train_set_y is missing 1")
    assert "write_empty_chunks=True" in line
    assert not saved


def test_a_garbage_chunk_is_one_line_and_leaves_no_model(stores):
    result, saved = _train_on(stores, "garbage")
    one_line_error(
        result,
        f"{stores['garbage']}: train_set_x has a chunk that cannot be read, the "
        "store is damaged",
    )
    assert not saved


def test_a_truncated_chunk_is_refused_before_any_pass(stores):
    result, saved = _train_on(stores, "truncated")
    one_line_error(
        result,
        f"{stores['truncated']}: train_set_x's chunk "
        f"{'2.0.0.0' if stores['format'] == 2 else 'c/2/0/0/0'} holds 61440 bytes, "
        "not the 122880 its shape declares",
    )
    assert "Cost" not in result.stdout and not saved


@needs_prlimit
def test_a_chunk_bomb_is_refused_from_the_metadata(stores):
    # 1.2 GB of zeros in 37 KB: it took 53 s and 2.7 GB, and trained.
    start = time.monotonic()
    result, saved = _train_on(stores, "bomb", cap=2 * 1024**3)
    one_line_error(
        result,
        f"{stores['bomb']}: test_set_x is stored in chunks of shape "
        "(100000, 64, 64, 3) (1 chunks of 1228800000 bytes); logitnet reads chunks",
    )
    assert not saved and time.monotonic() - start < 20


def test_many_tiny_chunks_are_refused(stores):
    result, _ = _train_on(stores, "tiny_chunks")
    one_line_error(
        result,
        f"{stores['tiny_chunks']}: train_set_x is stored in chunks of shape "
        "(1, 8, 8, 3) (2560 chunks of 192 bytes)",
    )


def test_a_chunk_that_links_elsewhere_is_refused(stores):
    result, _ = _train_on(stores, "linked")
    one_line_error(
        result,
        f"{stores['linked']}: train_set_x holds a symbolic link, "
        f"{_chunk(stores['linked'], 'train_set_x', stores['format'], 1).relative_to(stores['linked'])}",
    )


@pytest.mark.parametrize("stores", [3], ids=["zarr-v3"], indirect=True)
def test_a_sharded_array_is_refused(stores):
    # Sharding is zarr v3's: only the v3 stores are made for it.
    result, _ = _train_on(stores, "sharded")
    one_line_error(result, f"{stores['sharded']}: train_set_x uses sharding_indexed")


def test_the_other_commands_check_stores_too(stores, pictures):
    model = str(pictures["model"])
    for args in (
        ["predict", "--model", model, "--data", str(stores["missing"])],
        ["evaluate", "--model", model, "--data", str(stores["missing"])],
        ["explain", "--model", model, "--data", str(stores["missing"]), "--out",
         str(stores["root"] / "x.png")],
    ):  # fmt: skip
        one_line_error(run(*args), f"{stores['missing']}: test_set_x is missing")
    assert not (stores["root"] / "x.png").exists()


# -- the small edges of the command line ----------------------------------------


def test_an_index_beyond_any_integer_is_a_usage_error(pictures, tmp_path):
    result = run(
        "explain", "--model", str(pictures["model"]), "--data", str(tmp_path / "s.zarr"),
        "--index", "99999999999999999999", "--out", str(tmp_path / "x.png"),
    )  # fmt: skip
    one_line_error(
        result,
        "argument --index: expected a whole number >= 0 and at most 2**63 - 1; "
        "got '99999999999999999999'",
        status=USAGE,
    )


def test_a_tree_1500_levels_deep_is_walked(pictures, tmp_path):
    # Walked with a stack, not by recursion (RecursionError before).
    folder = tmp_path / "deep"
    os.mkdir(folder)
    level = os.open(folder, os.O_RDONLY)
    try:
        for _ in range(1500):  # relative to the last level: paths stay short
            os.mkdir("d", dir_fd=level)
            below = os.open("d", os.O_RDONLY, dir_fd=level)
            os.close(level)
            level = below
        with open(os.open("x.jpg", os.O_WRONLY | os.O_CREAT, dir_fd=level), "wb") as f:
            f.write(pictures["photo"].read_bytes())
    finally:
        os.close(level)
    try:
        result = run("predict", "--model", str(pictures["model"]), str(folder))
    finally:
        _remove_deep(folder, 1500)
    assert result.returncode == 0, result.stderr[-500:]
    assert result.stdout.startswith(f"{folder}/d/d/d/") and "/x.jpg: " in result.stdout


def _remove_deep(folder: Path, depth: int) -> None:
    """Remove the tree of ``depth`` nested "d" folders (and the picture at
    the bottom) from the bottom up: shutil.rmtree, and so pytest's own clean-
    up of old temporary folders, would recurse past Python's limit on it."""
    levels = [os.open(folder, os.O_RDONLY)]
    try:
        for _ in range(depth):
            levels.append(os.open("d", os.O_RDONLY, dir_fd=levels[-1]))
        os.unlink("x.jpg", dir_fd=levels[-1])
        for parent in reversed(levels[:-1]):
            os.rmdir("d", dir_fd=parent)
    finally:
        for fd in levels:
            os.close(fd)


@pytest.mark.parametrize(
    ("make", "what"),
    [
        (lambda root: os.mkfifo(root / "fifo") or root / "fifo", "a FIFO (named pipe)"),
        (lambda root: Path("/dev/zero"), "a character device"),
    ],
    ids=["fifo", "dev-zero"],
)
def test_data_that_is_not_a_file_is_named_for_what_it_is(
    pictures, tmp_path, make, what
):
    data = make(tmp_path)
    result = run("predict", "--model", str(pictures["model"]), "--data", str(data),
                 timeout=30)  # fmt: skip
    one_line_error(result, f"{data}: is {what}, not an HDF5 file or zarr store")


def test_a_loop_of_links_given_as_a_photo(pictures, tmp_path):
    (tmp_path / "a.jpg").symlink_to(tmp_path / "b.jpg")
    (tmp_path / "b.jpg").symlink_to(tmp_path / "a.jpg")
    for args in (
        ["predict", "--model", str(pictures["model"]), str(tmp_path / "a.jpg")],
        ["explain", "--model", str(pictures["model"]), str(tmp_path / "a.jpg"),
         "--out", str(tmp_path / "x.png")],
    ):  # fmt: skip
        one_line_error(
            run(*args),
            f"{tmp_path / 'a.jpg'}: cannot be read: too many levels of symbolic links",
        )
    one_line_error(
        run("explain", "--model", str(pictures["model"]), str(pictures["photo"]),
            "--out", str(tmp_path / "a.jpg")),
        f"{tmp_path / 'a.jpg'}: cannot be written: too many levels of symbolic links",
    )  # fmt: skip


def test_a_sweep_keeps_the_rates_that_finished(tmp_path):
    # The same picture in both classes: steps of 1e308 leave the float range.
    rng = np.random.default_rng(5)
    for name, count in (("a", 3), ("b", 2)):
        (tmp_path / "clash" / name).mkdir(parents=True)
        for i in range(count):
            pixels = rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(tmp_path / "clash" / name / f"{i}.png")
    same = (tmp_path / "clash" / "a" / "0.png").read_bytes()
    (tmp_path / "clash" / "b" / "0.png").write_bytes(same)
    plot = tmp_path / "rates.png"
    result = run(
        "sweep", "--images", str(tmp_path / "clash"), "--test-fraction", "0",
        "--learning-rates", "0.005", "1e308", "--iterations", "300",
        "--plot", str(plot), "--quiet",
    )  # fmt: skip
    assert result.returncode == FAILURE, result.stderr
    assert "learning rate is: 0.005\ntrain accuracy: " in result.stdout
    assert "learning rate is: 1e+308\ndiverged:" in result.stdout
    one_line_error(result, "learning rate 1e+308: ")
    assert result.stderr.rstrip().endswith("(the other rates are reported and plotted)")
    assert plot.stat().st_size > 1000


def test_library_warnings_are_one_line_without_paths(pictures, tmp_path):
    # Pillow on damaged EXIF data, Matplotlib on a glyph its font lacks:
    # each one line of logitnet's, no site-packages path, no code line.
    buffer = io.BytesIO()
    exif = Image.Exif()
    exif[0x0112] = 1
    Image.fromarray(_photo(64, 64)).save(buffer, "JPEG", exif=exif)
    good = buffer.getvalue()
    at = good.index(b"Exif\0\0") + 6 + 8
    damaged = tmp_path / "exif.jpg"
    damaged.write_bytes(good[:at] + b"\xff\xff" + good[at + 2 :])
    result = run("predict", "--model", str(pictures["model"]), str(damaged))
    assert result.returncode == 0 and result.stdout.startswith(f"{damaged}: ")
    # Beside the line on how good the model was (before or after it: the
    # warning comes while the picture is decoded).
    lines = result.stderr.splitlines()
    assert sorted(lines) == [
        f"{pictures['model']}: no test accuracy recorded (logitnet evaluate measures one)",
        f"logitnet: warning: {damaged}: Corrupt EXIF data. Expecting to read 12 "
        "bytes but only got 4. (Pillow)",
    ]
    model = SavedModel(
        w=np.zeros(64 * 64 * 3), b=0.0, classes=["猫", "狗"], image_shape=(64, 64, 3)
    )
    save_model(tmp_path / "cjk.npz", model)
    result = run("explain", "--model", str(tmp_path / "cjk.npz"),
                 str(pictures["photo"]), "--out", str(tmp_path / "x.png"))  # fmt: skip
    assert result.returncode == 0, result.stderr
    # (Where a font with these glyphs is installed, there is nothing to say.)
    assert all(
        line.startswith("logitnet: warning: Glyph ")
        for line in result.stderr.splitlines()
    ), result.stderr
    assert "site-packages" not in result.stderr and "savefig" not in result.stderr


def test_an_hdf5_file_with_chunks_never_written_is_refused(tmp_path):
    # The rule zarr stores now follow holds for HDF5 chunks too: h5py reads
    # a chunk that was never written as zeros.
    import h5py

    path = tmp_path / "partial.h5"
    with h5py.File(path, "w") as f:
        x = f.create_dataset("train_set_x", (40, 64, 64, 3), np.uint8,
                             chunks=(10, 64, 64, 3))  # fmt: skip
        x[:20] = np.random.default_rng(6).integers(0, 256, (20, 64, 64, 3))
        f["train_set_y"] = np.arange(40) % 2
    out = tmp_path / "m.npz"
    result = run("train", "--data", str(path), "--iterations", "3", "--out", str(out))
    one_line_error(
        result,
        f"{path}: train_set_x stores 2 of its 4 chunks; h5py would read the "
        "others as zeros",
    )
    assert not out.exists()
