"""Every bad input the command line can receive, through a real process.

Each case must end in exactly one line on stderr that names the file or
option and the problem, a non-zero exit status (2 for usage, 1 for the
rest), no traceback, no file left behind, and no existing file changed.
"""

from __future__ import annotations

import hashlib
import json
import os
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
    places["three"] = str(_folder(root, "three", {"a": 1, "b": 1, "c": 1}))
    places["no_images"] = str(_folder(root, "no_images", {"a": 2, "b": 0}))
    places["bad_image"] = str(_folder(root, "bad_image", {"a": 2, "b": 2}, "b/x.png"))
    places["tiny"] = str(_folder(root, "tiny", {"a": 1, "b": 1}))
    return places


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
     "--seed: expected a whole number >= 0"),
    (["sweep", "--learning-rates", "0.1", "0"], USAGE,
     "--learning-rates: expected a finite number > 0; got '0'"),
    (["sweep", "--iterations", "x"], USAGE, "--iterations: expected a whole number"),
    (["predict", IMG], USAGE, "the following arguments are required: --model"),
    (["predict", "--model", M], USAGE, "give pictures to classify, or --data FILE (see 'logitnet predict --help')"),
    (["train", "--bogus"], USAGE, "logitnet train: error: unrecognized arguments: --bogus (see 'logitnet train --help')"),
    (["evaluate", "--model", M, "--dat", "x.h5"], USAGE, "unrecognized arguments: --dat x.h5 (see 'logitnet evaluate --help')"),
    (["explain", "--model", M, "--out", "x.png"], USAGE, "give one picture to explain: IMAGE or --data FILE"),
    (["evaluate", "--model", M, "--data", "x.h5", "--images", "d"], USAGE, "give one of --data, --data-dir and --images"),
    (["evaluate", "--model", M, "--split", "both"], USAGE, "--split: invalid choice"),
    (["explain", "--model", M, IMG], USAGE, "the following arguments are required: --out"),
    (["report", "--model", M], USAGE, "the following arguments are required: --out"),
    (["convert", "{tiny}"], USAGE, "the following arguments are required: OUT.h5"),
    # -- model files ---------------------------------------------------------------
    (["predict", "--model", "{root}/missing.npz", IMG], FAILURE,
     "{root}/missing.npz: no such model file"),
    (["predict", "--model", "{root}/adir", IMG], FAILURE,
     "{root}/adir: is a directory, not a model file"),
    (["predict", "--model", "{root}/empty.npz", IMG], FAILURE,
     "{root}/empty.npz: not a readable model file"),
    (["predict", "--model", "{root}/truncated.npz", IMG], FAILURE,
     "{root}/truncated.npz: not a readable model file"),
    (["predict", "--model", "{root}/text.npz", IMG], FAILURE,
     "{root}/text.npz: not a readable model file"),
    (["predict", "--model", "{root}/image.png", IMG], FAILURE,
     "{root}/image.png: not a readable model file"),
    (["predict", "--model", "{root}/foreign.npz", IMG], FAILURE,
     "{root}/foreign.npz: not a logitnet model"),
    (["evaluate", "--model", "{root}/wrong_size.npz", "--images", "{tiny}"], FAILURE,
     "{root}/wrong_size.npz: weights must be float64 of shape (12288,)"),
    (["explain", "--model", "{root}/future.npz", IMG, "--out", "{root}/new.png"], FAILURE,
     "{root}/future.npz: model format version 99 is not supported"),
    (["report", "--model", "{root}/nan.npz", "--out", "{root}/new.html"], FAILURE,
     "{root}/nan.npz: weights or bias contain NaN or inf"),
    (["predict", "--model", "{root}/tampered.npz", IMG], FAILURE,
     "{root}/tampered.npz: weights or metadata do not match the file's checksum"),
    # -- pictures --------------------------------------------------------------------
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
     "{h5_classes}/train_catvnoncat.h5: list_classes must be 2 class names"),
    (["train", "--data-dir", "{root}/afile"], FAILURE, "{root}/afile"),
    (["evaluate", "--model", M, "--data-dir", "{root}/nowhere"], FAILURE,
     "{root}/nowhere: data directory does not exist"),
    # -- image folders ---------------------------------------------------------------
    (["train", "--images", "{root}/nowhere"], FAILURE, "{root}/nowhere: no such directory"),
    (["train", "--images", "{root}/image.png"], FAILURE,
     "{root}/image.png: not a directory (expected DIR/<class name>/<images>)"),
    (["train", "--images", "{one_class}"], FAILURE,
     "{one_class}: expected exactly 2 class folders"),
    (["convert", "{three}", "{root}/new.h5"], FAILURE,
     "{three}: expected exactly 2 class folders (DIR/<class name>/<images>); found 3"),
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
]  # fmt: skip


@pytest.mark.parametrize(("args", "status", "message"), CASES)
def test_bad_input(world, args, status, message):
    root = Path(world["root"])
    args = [a.format(**world) for a in args]
    before = _snapshot(root)
    # Never fall back on a download: an unset data directory points nowhere.
    env = {"LOGITNET_DATA_DIR": str(root / "nowhere"), "LOGITNET_CACHE_DIR": str(root)}
    result = run(*args, env=env)
    assert result.returncode == status, result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("logitnet"), lines[0]
    assert message.format(**world) in lines[0]
    assert result.stdout == ""
    assert _snapshot(root) == before  # nothing written, nothing changed
