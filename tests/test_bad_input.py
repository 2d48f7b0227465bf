"""Every bad input the command line can receive, through a real process.

Each case must end in exactly one line on stderr that names the file or
option and the problem, a non-zero exit status (2 for usage, 1 for the
rest), no traceback, no file left behind, and no existing file changed.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from conftest import FAILURE, USAGE, run, write_h5
from logitnet.app.modelfile import SavedModel, save_model


def _course_dir(root: Path, name: str, **train) -> Path:
    """A data directory whose training file is broken as asked."""
    d = root / name
    d.mkdir()
    rng = np.random.default_rng(0)
    good_x = rng.integers(0, 256, (4, 64, 64, 3), dtype=np.uint8)
    spec = {"x": good_x, "y": np.array([0, 1, 0, 1]), **train}
    write_h5(d / "train_catvnoncat.h5", "train", **spec)
    write_h5(d / "test_catvnoncat.h5", "test", good_x, np.array([0, 1, 0, 1]))
    return d


def _folder(root: Path, name: str, classes: dict[str, int], bad: str | None = None):
    d = root / name
    d.mkdir()
    rng = np.random.default_rng(1)
    for cls, count in classes.items():
        (d / cls).mkdir()
        for i in range(count):
            pixels = rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(d / cls / f"{i}.png")
    if bad:
        (d / bad).write_text("not a picture")
    return d


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> dict[str, str]:
    """Good and bad inputs of every kind, made once."""
    root = tmp_path_factory.mktemp("world")
    rng = np.random.default_rng(2)
    model = SavedModel(
        w=rng.normal(size=64 * 64 * 3) * 1e-3,
        b=0.1,
        classes=["non-cat", "cat"],
        image_shape=(64, 64, 3),
    )
    save_model(root / "model.npz", model)
    pixels = rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(root / "image.png")
    good = (root / "image.png").read_bytes()
    (root / "truncated.png").write_bytes(good[: len(good) // 2])
    (root / "empty.png").write_bytes(b"")
    (root / "text.png").write_text("hello")
    (root / "text.npz").write_text("w,b\n1,2\n")
    (root / "empty.npz").write_bytes(b"")
    data = (root / "model.npz").read_bytes()
    (root / "truncated.npz").write_bytes(data[: len(data) // 2])
    np.savez(root / "foreign.npz", weights=np.zeros(3))
    meta = {
        "format": "logitnet-model",
        "format_version": 1,
        "classes": ["non-cat", "cat"],
        "image_shape": [64, 64, 3],
    }
    for name, w, version in (
        ("wrong_size.npz", np.zeros(100), 1),
        ("future.npz", np.zeros(64 * 64 * 3), 99),
        ("nan.npz", np.full(64 * 64 * 3, np.nan), 1),
    ):
        with open(root / name, "wb") as f:
            text = json.dumps({**meta, "format_version": version})
            np.savez(f, w=w, b=np.float64(0), metadata=np.array(text))
    with np.load(root / "model.npz") as npz:
        w, b, text = npz["w"].copy(), npz["b"], str(npz["metadata"])
    w[0] += 1
    with open(root / "tampered.npz", "wb") as f:
        np.savez(f, w=w, b=b, metadata=np.array(text))
    (root / "adir").mkdir()
    (root / "afile").write_text("")
    (root / "existing.npz").write_bytes(data)
    (root / "existing.png").write_bytes(good)
    os.mkfifo(root / "fifo")
    places = {"root": str(root)}
    for name, train in {
        "keys": {"x": None},
        "shape": {"x": np.zeros((4, 64, 64), np.uint8)},
        "dtype": {"x": np.zeros((4, 64, 64, 3), np.float32)},
        "labels": {"y": np.array([0, 1, 2, 1])},
        "nlabels": {"y": np.array([0, 1, 0])},
        "classes": {"classes": (b"a", b"b", b"c")},
    }.items():
        places[f"h5_{name}"] = str(_course_dir(root, f"h5_{name}", **train))
    places["one_class"] = str(_folder(root, "one_class", {"cat": 2}))
    places["three"] = str(_folder(root, "three", {"a": 1, "b": 1, "c": 0}))
    places["no_images"] = str(_folder(root, "no_images", {"a": 2, "b": 0}))
    places["bad_image"] = str(_folder(root, "bad_image", {"a": 2, "b": 2}, "b/x.png"))
    places["tiny"] = str(_folder(root, "tiny", {"a": 1, "b": 1}))
    # The same picture in both classes: no weights fit it, and steps of 1e308
    # end with finite weights but an infinite cost.
    clash = _folder(root, "clash", {"a": 3, "b": 2})
    (clash / "b" / "0.png").write_bytes((clash / "a" / "0.png").read_bytes())
    places["clash"] = str(clash)
    places.update(_edges(root, model, text))
    return places


def _edges(root: Path, model: SavedModel, text: str) -> dict[str, str]:
    """Inputs at the edges (issue 12): data read from elsewhere, files that
    would make a reader explode or block, outputs that are inputs."""
    import zipfile

    import h5py

    rng = np.random.default_rng(3)
    x = rng.integers(0, 256, (4, 64, 64, 3), dtype=np.uint8)
    y = np.array([0, 1, 0, 1])
    places = {}
    # The same pixels stored plainly, through an external link, as external
    # storage (raw bytes of any file), and as a virtual dataset whose source
    # file is missing.
    write_h5(root / "plain.h5", "train", x, y)
    write_h5(root / "linked.h5", "train", None, y)
    with h5py.File(root / "linked.h5", "a") as f:
        f["train_set_x"] = h5py.ExternalLink(str(root / "plain.h5"), "train_set_x")
    (root / "secret.txt").write_bytes(b"password" * (x.size // 8))
    write_h5(root / "external.h5", "train", None, y)
    with h5py.File(root / "external.h5", "a") as f:
        f.create_dataset(
            "train_set_x", x.shape, np.uint8,
            external=[(str(root / "secret.txt"), 0, x.size)],
        )  # fmt: skip
    write_h5(root / "virtual.h5", "train", None, y)
    layout = h5py.VirtualLayout(shape=x.shape, dtype=np.uint8)
    layout[:] = h5py.VirtualSource(str(root / "gone.h5"), "train_set_x", x.shape)
    with h5py.File(root / "virtual.h5", "a") as f:
        f.create_virtual_dataset("train_set_x", layout)
    # Chunks of one byte: millions of them for the course's 209 pictures.
    write_h5(root / "tiny_chunks.h5", "train", None, y)
    with h5py.File(root / "tiny_chunks.h5", "a") as f:
        f.create_dataset("train_set_x", data=x, chunks=(1, 1, 1, 1))
    d = _course_dir(root, "tiny_chunks_dir")
    with h5py.File(d / "train_catvnoncat.h5", "a") as f:
        del f["train_set_x"]
        f.create_dataset("train_set_x", data=x, chunks=(1, 1, 1, 1))
    places["tiny_chunks_dir"] = str(d)
    # A shape of 2.4 GB declared, nothing stored: read as zeros, or not at all.
    d = _course_dir(root, "declared_huge")
    with h5py.File(d / "train_catvnoncat.h5", "a") as f:
        del f["train_set_x"], f["train_set_y"]
        f.create_dataset("train_set_x", (200_000, 64, 64, 3), np.uint8)
        f.create_dataset("train_set_y", data=np.arange(200_000) % 2)
    places["declared_huge"] = str(d)
    write_h5(root / "test32.h5", "train", x, y, test_set_x=x[:, :32, :32],
             test_set_y=y)  # fmt: skip
    places["one_label"] = str(_course_dir(root, "one_label", y=np.zeros(4, int)))
    places["same_names"] = str(_course_dir(root, "same_names",
                                            classes=(b"cat", b"cat")))  # fmt: skip
    places["good"] = str(_course_dir(root, "good"))
    # Model files that are bombs: members declaring far more bytes than a
    # model holds, compressed to almost nothing.
    with zipfile.ZipFile(root / "zip_bomb.npz", "w", zipfile.ZIP_DEFLATED) as z:
        with z.open("w.npy", "w", force_zip64=True) as member:
            header = {"descr": "<f8", "fortran_order": False, "shape": (2**25,)}
            np.lib.format.write_array_header_1_0(member, header)
            zeros = bytes(2**20)
            for _ in range(2**8):
                member.write(zeros)
        z.writestr("b.npy", _npy(np.float64(0)))
        z.writestr("metadata.npy", _npy(np.array(text)))
    with zipfile.ZipFile(root / "meta_bomb.npz", "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("w.npy", _npy(model.w))
        z.writestr("b.npy", _npy(np.float64(model.b)))
        z.writestr("metadata.npy", _npy(np.array(" " * 5_000_000 + text)))
    deep = "[" * 990 + "]" * 990
    with open(root / "deep.npz", "wb") as f:
        np.savez(f, w=model.w, b=np.float64(model.b), metadata=np.array(deep))
    meta = json.loads(text)
    meta["classes"] = ["cat", "cat"]
    with open(root / "same_classes.npz", "wb") as f:
        np.savez(
            f, w=model.w, b=np.float64(model.b), metadata=np.array(json.dumps(meta))
        )
    os.link(root / "model.npz", root / "model_link.npz")
    return places


def _npy(array: np.ndarray) -> bytes:
    import io

    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    return buffer.getvalue()


def _snapshot(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): (
            hashlib.sha256(p.read_bytes()).hexdigest()
            if p.is_file()
            else p.stat().st_mode
        )
        for p in sorted(root.rglob("*"))
        if not p.is_fifo()
    }


M = "{root}/model.npz"
IMG = "{root}/image.png"

CASES = [
    # -- options out of range or missing: usage errors ---------------------------
    (["train", "--iterations", "-1"], USAGE, "--iterations: expected a whole number >= 0"),
    (["train", "--learning-rate", "0"], USAGE, "--learning-rate: expected a finite number > 0"),
    (["train", "--learning-rate", "nan"], USAGE, "expected a finite number > 0; got 'nan'"),
    (["train", "--alpha", "-1"], USAGE, "--alpha: expected a finite number >= 0; got '-1'"),
    (["train", "--alpha", "inf"], USAGE, "--alpha: expected a finite number >= 0"),
    (["train", "--solver", "sgd"], USAGE, "--solver: invalid choice: 'sgd'"),
    (["train", "--images", "{tiny}", "--test-fraction", "1"], USAGE,
     "--test-fraction: expected a number from 0 up to (not including) 1; got '1'"),
    (["train", "--images", "{tiny}", "--test-fraction", "-0.1"], USAGE,
     "--test-fraction: expected a number from 0"),
    (["train", "--images", "{tiny}", "--seed", "-1"], USAGE,
     "--seed: expected a whole number from 0 to 4294967295; got '-1'"),
    (["sweep", "--learning-rates", "0.1", "0"], USAGE,
     "--learning-rates: expected a finite number > 0; got '0'"),
    (["sweep", "--iterations", "x"], USAGE, "--iterations: expected a whole number"),
    (["predict", IMG], USAGE, "the following arguments are required: --model"),
    (["predict", "--model", M], USAGE, "give pictures to classify, or --data FILE (see 'logitnet predict --help')"),
    (["train", "--bogus"], USAGE, "logitnet train: error: unrecognized arguments: --bogus (see 'logitnet train --help')"),
    (["evaluate", "--model", M, "--dat", "x.h5"], USAGE, "unrecognized arguments: --dat x.h5 (see 'logitnet evaluate --help')"),
    (["explain", "--model", M, "--out", "x.png"], USAGE, "give one picture to explain: IMAGE, --data FILE or --images DIR"),
    (["evaluate", "--model", M, "--data", "x.h5", "--images", "d"], USAGE, "give one of --data, --data-dir and --images"),
    (["evaluate", "--model", M, "--split", "both"], USAGE, "--split: invalid choice"),
    (["explain", IMG, "--out", "{root}/new.png"], USAGE,
     "the following arguments are required: --model (and there is no model.npz in "
     "this directory)"),
    (["report", "--model", M], USAGE, "the following arguments are required: --out"),
    (["convert", "{tiny}"], USAGE, "the following arguments are required: OUT.h5"),
    # -- model files ---------------------------------------------------------------
    (["predict", "--model", "{root}/missing.npz", IMG], FAILURE,
     "{root}/missing.npz: no such model file"),
    (["predict", "--model", "{root}/adir", IMG], FAILURE,
     "{root}/adir: is a directory, not a model file from 'logitnet train --out'"),
    (["predict", "--model", "{root}/empty.npz", IMG], FAILURE,
     "{root}/empty.npz: is an empty file, not a model file from 'logitnet train --out'"),
    (["predict", "--model", "{root}/truncated.npz", IMG], FAILURE,
     "{root}/truncated.npz: not a readable model file"),
    (["predict", "--model", "{root}/text.npz", IMG], FAILURE,
     "{root}/text.npz: is a text file, not a model file from 'logitnet train --out'"),
    (["predict", "--model", "{root}/image.png", IMG], FAILURE,
     "{root}/image.png: is a PNG image, not a model file from 'logitnet train --out'"),
    (["predict", "--model", "{root}/foreign.npz", IMG], FAILURE,
     "{root}/foreign.npz: is a NumPy .npz archive of ['weights'], not a model file"),
    (["evaluate", "--model", "{root}/wrong_size.npz", "--images", "{tiny}"], FAILURE,
     "{root}/wrong_size.npz: weights must be float64 of shape (12288,)"),
    (["explain", "--model", "{root}/future.npz", IMG, "--out", "{root}/new.png"], FAILURE,
     "{root}/future.npz: model format version 99 is not supported"),
    (["report", "--model", "{root}/nan.npz", "--out", "{root}/new.html"], FAILURE,
     "{root}/nan.npz: weights or bias contain NaN or inf"),
    (["predict", "--model", "{root}/tampered.npz", IMG], FAILURE,
     "{root}/tampered.npz: weights or metadata do not match the file's checksum"),
    # -- pictures --------------------------------------------------------------------
    (["predict", "--model", M, "https://example.com/cat.jpg"], FAILURE,
     "logitnet: error: https://example.com/cat.jpg: is a URL, not a picture on "
     "disk; download it first"),
    (["explain", "--model", M, "s3://bucket/cat.jpg", "--out", "{root}/new.png"], FAILURE,
     "logitnet: error: s3://bucket/cat.jpg: is a URL, not a picture on disk"),
    (["predict", "--model", M, "{root}/missing.png"], FAILURE,
     "{root}/missing.png: no such file"),
    (["predict", "--model", M, "{root}/empty.png"], FAILURE,
     "{root}/empty.png: not an image file Pillow can read"),
    (["predict", "--model", M, "{root}/truncated.png"], FAILURE,
     "{root}/truncated.png: damaged or truncated image"),
    (["predict", "--model", M, "{root}/text.png"], FAILURE,
     "{root}/text.png: not an image file Pillow can read"),
    (["predict", "--model", M, "{root}/adir"], FAILURE,
     "{root}/adir: directory holds no image files"),
    (["explain", "--model", M, "{root}/adir", "--out", "{root}/new.png"], FAILURE,
     "{root}/adir: is a directory, not an image file"),
    (["explain", "--model", M, "{root}/truncated.png", "--out", "{root}/existing.png"],
     FAILURE, "{root}/truncated.png: damaged or truncated image"),
    # -- HDF5 data -------------------------------------------------------------------
    (["train", "--no-verify", "--data-dir", "{h5_keys}"], FAILURE,
     "{h5_keys}/train_catvnoncat.h5: missing dataset 'train_set_x'"),
    (["train", "--no-verify", "--data-dir", "{h5_shape}"], FAILURE,
     "{h5_shape}/train_catvnoncat.h5: train_set_x must have shape (m, height, width, 3)"),
    (["train", "--no-verify", "--data-dir", "{h5_dtype}"], FAILURE,
     "{h5_dtype}/train_catvnoncat.h5: train_set_x must be uint8 pixels; got float32"),
    (["train", "--no-verify", "--data-dir", "{h5_labels}"], FAILURE,
     "{h5_labels}/train_catvnoncat.h5: train_set_y must hold labels 0 and 1 only"),
    (["train", "--no-verify", "--data-dir", "{h5_nlabels}"], FAILURE,
     "{h5_nlabels}/train_catvnoncat.h5: train_set_y must have shape (4,)"),
    (["train", "--no-verify", "--data-dir", "{h5_classes}"], FAILURE,
     "{h5_classes}/train_catvnoncat.h5: train_set_y has no picture of class 2 (c); "
     "training needs pictures of every class in list_classes (3 names)"),
    (["train", "--data-dir", "{root}/afile"], FAILURE, "{root}/afile"),
    (["evaluate", "--model", M, "--data-dir", "{root}/nowhere"], FAILURE,
     "{root}/nowhere: data directory does not exist"),
    # -- image folders ---------------------------------------------------------------
    (["train", "--images", "{root}/nowhere"], FAILURE, "{root}/nowhere: no such directory"),
    (["train", "--images", "{root}/image.png"], FAILURE,
     "{root}/image.png: not a directory (expected DIR/<class name>/<images>)"),
    (["train", "--images", "{one_class}"], FAILURE,
     "{one_class}: expected at least 2 class folders (DIR/<class name>/<images>); "
     "found 1 (cat)"),
    (["convert", "{three}", "{root}/new.h5"], FAILURE,
     "{three}/c: class folder holds no image files"),
    (["evaluate", "--model", M, "--images", "{no_images}"], FAILURE,
     "{no_images}/b: class folder holds no image files"),
    (["train", "--images", "{bad_image}", "--out", "{root}/existing.npz"], FAILURE,
     "{bad_image}/b/x.png: not an image file Pillow can read"),
    (["train", "--images", "{tiny}", "--test-fraction", "0.5"], FAILURE,
     "cannot hold out 0.5 of 2 images"),
    (["convert", "{tiny}", "{root}/new.h5", "--test-fraction", "0.5"], FAILURE,
     "cannot hold out 0.5 of 2 images"),
    # -- output paths ----------------------------------------------------------------
    (["train", "--images", "{tiny}", "--test-fraction", "0", "--out",
      "{root}/nowhere/m.npz"], FAILURE, "{root}/nowhere/m.npz: directory {root}/nowhere"),
    (["train", "--images", "{tiny}", "--out", "{root}/afile/m.npz"], FAILURE,
     "{root}/afile/m.npz: {root}/afile is not a directory"),
    (["train", "--images", "{tiny}", "--plot", "{root}/adir"], FAILURE,
     "{root}/adir: is a directory; give a file name"),
    (["train", "--images", "{tiny}", "--out", "{root}/fifo"], FAILURE,
     "{root}/fifo: is not a regular file"),
    (["sweep", "--images", "{tiny}", "--plot", "{root}/nowhere/p.png"], FAILURE,
     "directory {root}/nowhere does not exist"),
    (["evaluate", "--model", M, "--images", "{tiny}", "--gallery", "{root}/afile/g.png"],
     FAILURE, "{root}/afile is not a directory"),
    (["explain", "--model", M, IMG, "--out", "{root}/adir"], FAILURE,
     "{root}/adir: is a directory"),
    (["report", "--model", M, "--out", "{root}/nowhere/r.html"], FAILURE,
     "directory {root}/nowhere does not exist"),
    (["convert", "{tiny}", "{root}/adir"], FAILURE, "{root}/adir: is a directory"),
    (["convert", "{root}/afile", "{root}/new.h5"], FAILURE,
     "{root}/afile: not a directory"),
    # -- issue 12: inputs are read as what they claim to be ---------------------
    (["train", "--data", "{root}/linked.h5"], FAILURE,
     "{root}/linked.h5: train_set_x is an external link to"),
    (["train", "--data", "{root}/external.h5"], FAILURE,
     "{root}/external.h5: train_set_x uses external storage"),
    (["train", "--data", "{root}/virtual.h5"], FAILURE,
     "{root}/virtual.h5: train_set_x is a virtual dataset"),
    (["train", "--data", "{root}/test32.h5"], FAILURE,
     "{root}/test32.h5: test_set_x holds pictures of shape (32, 32, 3)"),
    (["train", "--no-verify", "--data-dir", "{one_label}"], FAILURE,
     "{one_label}/train_catvnoncat.h5: train_set_y holds only label 0"),
    (["train", "--no-verify", "--data-dir", "{same_names}"], FAILURE,
     "{same_names}/train_catvnoncat.h5: list_classes: 'classes' must be "
     "different names; got 'cat' twice"),
    (["train", "--data", "{root}/plain.h5", "--scheduler", "foo://x"], FAILURE,
     "foo://x: not a Dask scheduler address"),
    (["train", "--images", "{tiny}", "--seed", "4294967296"], USAGE,
     "--seed: expected a whole number from 0 to 4294967295; got '4294967296'"),
    # -- no output ever replaces an input (usage errors, nothing run) -----------
    (["train", "--data", "{root}/plain.h5", "--out", "{root}/plain.h5"], USAGE,
     "--out {root}/plain.h5 is the input --data {root}/plain.h5"),
    (["train", "--data-dir", "{good}", "--out", "{good}/train_catvnoncat.h5"], USAGE,
     "--out {good}/train_catvnoncat.h5 is the input --data-dir's train_catvnoncat.h5"),
    (["explain", "--model", M, IMG, "--out", M], USAGE,
     "--out {root}/model.npz is the input --model {root}/model.npz"),
    (["explain", "--model", M, IMG, "--out", "{root}/model_link.npz"], USAGE,
     "--out {root}/model_link.npz is the input --model"),  # a hard link
    (["explain", "--model", M, IMG, "--out", "{root}/../{root_name}/image.png"], USAGE,
     "is the input IMAGE {root}/image.png"),
    (["evaluate", "--model", M, "--images", "{tiny}", "--gallery", M], USAGE,
     "--gallery {root}/model.npz is the input --model"),
    (["report", "--model", M, "--images", "{tiny}", "--out", M], USAGE,
     "--out {root}/model.npz is the input --model"),
    (["train", "--images", "{tiny}", "--out", "{root}/x.npz", "--plot", "{root}/x.npz"],
     USAGE, "--plot {root}/x.npz is also --out"),
    # -- outputs that cannot be written: found before any work ------------------
    (["train", "--images", "{tiny}", "--out", "{root}/" + "m" * 300 + ".npz"], FAILURE,
     "file name is longer than the 255 bytes this file system allows"),
    (["train", "--images", "{tiny}", "--out", "/proc/m.npz"], FAILURE,
     "/proc/m.npz: cannot write a file in /proc"),
    # -- model files: bombs cost nothing, no hangs, no unpickling ----------------
    (["predict", "--model", "{root}/zip_bomb.npz", IMG], FAILURE,
     "{root}/zip_bomb.npz: not a logitnet model ('w' declares 268435584 bytes"),
    (["predict", "--model", "{root}/meta_bomb.npz", IMG], FAILURE,
     "{root}/meta_bomb.npz: not a logitnet model ('metadata' declares"),
    (["predict", "--model", "{root}/deep.npz", IMG], FAILURE,
     "{root}/deep.npz: metadata is nested too deep"),
    (["predict", "--model", "{root}/same_classes.npz", IMG], FAILURE,
     "{root}/same_classes.npz: 'classes' must be different names"),
    (["predict", "--model", "{root}/fifo", IMG], FAILURE,
     "{root}/fifo: is a FIFO (named pipe), not a model file"),
    (["predict", "--model", "/dev/zero", IMG], FAILURE,
     "/dev/zero: is a character device, not a model file"),
    (["predict", "--model", M, "{root}/fifo"], FAILURE,
     "{root}/fifo: is a FIFO (named pipe), not an image file"),
    (["explain", "--model", M, "{root}/fifo", "--out", "{root}/new.png"], FAILURE,
     "{root}/fifo: is a FIFO (named pipe), not an image file"),
    (["predict", "--model", M, "/dev/zero"], FAILURE,
     "/dev/zero: is a character device, not an image file"),
    # -- non-finite training is an error; nothing saved, --json included ----------
    (["train", "--images", "{clash}", "--test-fraction", "0", "--learning-rate", "1e308",
      "--iterations", "3", "--out", "{root}/new.npz", "--json"], FAILURE,
     # In the span of the examples K c overflows at the first step; in the
     # primal the cost ends at inf: either is the same one-line refusal.
     "use a smaller learning rate"),
]  # fmt: skip

#: Files crafted to make a reader explode, run under a 2 GiB address-space
#: limit: each must be refused from its metadata, in seconds.
MEMORY_CASES = [
    (["train", "--data", "{root}/tiny_chunks.h5"],
     "{root}/tiny_chunks.h5: train_set_x is stored in chunks of shape (1, 1, 1, 1)"),
    (["train", "--no-verify", "--data-dir", "{tiny_chunks_dir}"],
     "{tiny_chunks_dir}/train_catvnoncat.h5: train_set_x is stored in chunks of "
     "shape (1, 1, 1, 1)"),
    (["train", "--no-verify", "--data-dir", "{declared_huge}"],
     "{declared_huge}/train_catvnoncat.h5: train_set_x declares shape "
     "(200000, 64, 64, 3) (2457600000 bytes) but stores 0 bytes"),
    (["train", "--data", "{declared_huge}/train_catvnoncat.h5"],
     "train_set_x declares shape (200000, 64, 64, 3)"),
    (["predict", "--model", "{root}/zip_bomb.npz", IMG],
     "{root}/zip_bomb.npz: not a logitnet model ('w' declares"),
    (["predict", "--model", "{root}/meta_bomb.npz", IMG],
     "{root}/meta_bomb.npz: not a logitnet model ('metadata' declares"),
]  # fmt: skip

ADDRESS_SPACE = 2 * 1024**3


@pytest.mark.skipif(
    shutil.which("prlimit") is None,
    reason="prlimit not found on PATH (util-linux; `make test` installs it)",
)
@pytest.mark.parametrize(("args", "message"), MEMORY_CASES)
def test_crafted_files_cost_little(world, args, message):
    root = Path(world["root"])
    args = [a.format(**_names(world)) for a in args]
    before = _snapshot(root)
    env = {"LOGITNET_DATA_DIR": str(root / "nowhere"), "LOGITNET_CACHE_DIR": str(root)}
    start = time.monotonic()
    result = subprocess.run(
        ["prlimit", f"--as={ADDRESS_SPACE}", sys.executable, "-m", "logitnet", *args],
        capture_output=True, text=True, env={**os.environ, **env}, timeout=60,
    )  # fmt: skip
    assert time.monotonic() - start < 20
    assert result.returncode == FAILURE, result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    assert message.format(**_names(world)) in lines[0]
    assert _snapshot(root) == before


def _names(world: dict[str, str]) -> dict[str, str]:
    return {**world, "root_name": Path(world["root"]).name}


@pytest.mark.parametrize(("args", "status", "message"), CASES)
def test_bad_input(world, args, status, message, tmp_path):
    root = Path(world["root"])
    args = [a.format(**_names(world)) for a in args]
    before = _snapshot(root)
    # Never fall back on a download: an unset data directory points nowhere.
    env = {"LOGITNET_DATA_DIR": str(root / "nowhere"), "LOGITNET_CACHE_DIR": str(root)}
    # Run where there is no model.npz: predict and explain would take it.
    result = run(*args, env=env, cwd=tmp_path)
    assert result.returncode == status, result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("logitnet"), lines[0]
    assert message.format(**_names(world)) in lines[0]
    assert result.stdout == ""
    assert _snapshot(root) == before  # nothing written, nothing changed


@pytest.mark.parametrize(("signum", "status"), [("SIGTERM", 143), ("SIGHUP", 129)])
def test_termination_cleans_up_like_ctrl_c(tmp_path, signum, status):
    # synth writes a large file through a hidden temporary one; a signal
    # mid-write removes it, says so in one line and exits 128 + signal.
    import signal

    env = {**os.environ}
    process = subprocess.Popen(
        [sys.executable, "-m", "logitnet", "synth", "--n-samples", "1000000",
         "--out", str(tmp_path / "big.h5"), "--quiet"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while not list(tmp_path.glob(".big.h5.*.tmp")) or not any(
        p.stat().st_size for p in tmp_path.glob(".big.h5.*.tmp")
    ):
        assert process.poll() is None and time.monotonic() < deadline
        time.sleep(0.05)
    process.send_signal(getattr(signal, signum))
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == status, stderr
    assert stderr.splitlines() == [f"logitnet: terminated ({signum})"]
    assert list(tmp_path.iterdir()) == []


def test_names_are_shown_safely(tmp_path):
    # Class and file names with bytes that are not UTF-8 and with terminal
    # escapes: every command works, and what it prints is escaped.
    rng = np.random.default_rng(4)
    root = os.fsencode(tmp_path / "pictures")
    for cls in (b"caf\xe9", b"dog\x1b[31m\nfake line"):
        os.makedirs(os.path.join(root, cls))
        for i in range(3):
            pixels = rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(os.path.join(root, cls, b"im\xff%d.png" % i))
    pictures, model = os.fsdecode(root), str(tmp_path / "m.npz")
    for args in (
        ["train", "--images", pictures, "--test-fraction", "0", "--iterations", "5",
         "--out", model],
        ["predict", "--model", model, pictures + "/caf\udce9"],
        # All pictures trained (no test split): scored on the training split.
        ["evaluate", "--model", model, "--images", pictures, "--split", "train",
         "--gallery", str(tmp_path / "g.png")],
        ["report", "--model", model, "--images", pictures, "--split", "train",
         "--out", str(tmp_path / "r.html")],
        ["convert", pictures, str(tmp_path / "c.h5")],
    ):  # fmt: skip
        result = subprocess.run(
            [sys.executable, "-m", "logitnet", *args],
            capture_output=True, env={**os.environ}, timeout=120,
        )  # fmt: skip
        assert result.returncode == 0, result.stderr
        out = result.stdout + result.stderr
        assert b"\x1b" not in out and b"\xff" not in out and b"\nfake line" not in out
    assert b"caf\\xe9/im\\xff0.png: caf\\xe9 (caf\\xe9" in subprocess.run(
        [sys.executable, "-m", "logitnet", "predict", "--model", model,
         pictures + "/caf\udce9"], capture_output=True, check=True,
    ).stdout  # fmt: skip
