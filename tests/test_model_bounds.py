"""Model files are checked completely, once, before any work (issue 20,
items 5, 11 and 12): crafted members, mistyped metadata and picture shapes
out of bounds end in one line naming the file and the member or field, for
``predict`` and every other command that takes a model, and ``serve``
refuses before it binds. Older files still load.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import shutil
import stat
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from conftest import FAILURE, run, write_h5
from logitnet.app.modelfile import (
    SavedModel,
    load_model,
    load_picture_model,
    save_model,
)
from logitnet.app.modelschema import MAX_IMAGE_SIDE
from logitnet.exceptions import ModelFileError

OLDER = Path(__file__).parent / "data" / "older_model_metadata.json"

SHAPE = (8, 8, 3)
N_X = math.prod(SHAPE)


def npy(array) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    return buffer.getvalue()


def signed(w, b, meta: dict) -> dict:
    """``meta`` with the checksum the format defines: SHA-256 of w and b as
    little-endian float64, then the metadata but the checksum as sorted JSON."""
    rest = {k: v for k, v in meta.items() if k != "sha256"}
    digest = hashlib.sha256(np.asarray(w, "<f8").tobytes())
    digest.update(np.asarray(b, "<f8").tobytes())
    digest.update(json.dumps(rest, sort_keys=True).encode("utf-8"))
    return {**rest, "sha256": digest.hexdigest()}


def write_model(path, w, b, meta, *, compress=False) -> Path:
    """A model file as logitnet lays it out, with any metadata, signed."""
    w, b = np.asarray(w, np.float64), np.asarray(b, np.float64)
    if meta.get("format_version", 1) >= 2:
        meta = signed(w, b, meta)
    save = np.savez_compressed if compress else np.savez
    with open(path, "wb") as f:
        save(f, w=w, b=b, metadata=np.array(json.dumps(meta)))
    return Path(path)


def write_members(path, members: list[tuple[str | zipfile.ZipInfo, bytes]]) -> Path:
    """A zip archive of exactly these members, in this order."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zipfile warns of a duplicate name
        with zipfile.ZipFile(path, "w") as z:
            for name, data in members:
                z.writestr(name, data)
    return Path(path)


@pytest.fixture(scope="module")
def good(tmp_path_factory):
    """A model as ``logitnet train`` writes it, its parts, and a photo."""
    root = tmp_path_factory.mktemp("bounds")
    rng = np.random.default_rng(0)
    model = SavedModel(
        w=rng.normal(size=N_X) * 1e-2,
        b=0.1,
        classes=["non-cat", "cat"],
        image_shape=SHAPE,
        training={
            "solver": "gd",
            "learning_rate": 0.005,
            "num_iterations": 200,
            "n_iter": 200,
            "converged": False,
            "final_cost": 0.5,
            "cost_every": 100,
            "costs": [0.69, 0.6],
            "tol": 0.0,
            "alpha": 0.0,
        },
        metrics={"train_accuracy": 90.0, "test": {"accuracy": 0.8, "roc_auc": None}},
    )
    path = save_model(root / "good.npz", model)
    with np.load(path) as npz:
        meta = json.loads(str(npz["metadata"]))
    Image.fromarray(rng.integers(0, 256, (48, 64, 3), dtype=np.uint8)).save(
        root / "photo.png"
    )
    return {"root": root, "model": model, "meta": meta, "path": path}


def _parts(good) -> dict[str, bytes]:
    model = good["model"]
    return {
        "w.npy": npy(model.w),
        "b.npy": npy(np.float64(model.b)),
        "metadata.npy": npy(np.array(json.dumps(good["meta"]))),
    }


def _with(good, name: str, data: bytes | zipfile.ZipInfo) -> list:
    return [(n, data if n == name else d) for n, d in _parts(good).items()]


def _link(name: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name)
    info.create_system = 3  # Unix: the mode is in the high bits
    info.external_attr = (stat.S_IFLNK | 0o777) << 16
    return info


def _meta(good, **change) -> dict:
    meta = {k: v for k, v in good["meta"].items() if k != "sha256"}
    training = {**meta["training"], **change.pop("training", {})}
    return {**meta, "training": training, **change}


# -- each crafted file: (make it, the line's text after "FILE: ") -------------


def _crafted(good) -> dict:
    w, b = good["model"].w, good["model"].b
    meta = lambda **change: _meta(good, **change)  # noqa: E731
    cases = {}

    def case(name, make, message):
        cases[name] = (make, message)

    # Item 5: a shape predict cannot feed, refused before any work.
    case(
        "grey",
        lambda p: write_model(p, np.zeros(64 * 64), b, meta(image_shape=[64, 64, 1])),
        "'image_shape' must have 3 channels (logitnet reads every picture as "
        "RGB); got [64, 64, 1]",
    )
    # Item 11: 393 KB of deflated zeros declaring 4096 x 4096 x 3.
    case(
        "bomb",
        lambda p: write_model(
            p,
            np.zeros(4096 * 4096 * 3),
            b,
            meta(image_shape=[4096, 4096, 3]),
            compress=True,
        ),
        "'image_shape' must have a height and width from 1 to 1024 pixels; "
        "got [4096, 4096, 3]",
    )
    case(
        "wide",
        lambda p: write_model(p, np.zeros(3 * 1025), b, meta(image_shape=[1, 1025, 3])),
        "'image_shape' must have a height and width from 1 to 1024",
    )
    # Item 12: shapes blamed on the field, not on w's size.
    for tag, shape in (("negative", [-8, -8, 3]), ("zero", [0, 8, 3])):
        case(
            f"shape_{tag}",
            lambda p, s=shape: write_model(p, w, b, meta(image_shape=s)),
            f"'image_shape' must have a height and width from 1 to 1024 "
            f"pixels; got {shape}",
        )
    for tag, shape in (
        ("float", [8.0, 8, 3]),
        ("string", ["8", 8, 3]),
        ("bool", [True, 8, 3]),
        ("short", [64, 64]),
    ):
        case(
            f"shape_{tag}",
            lambda p, s=shape: write_model(p, w, b, meta(image_shape=s)),
            f"'image_shape' must be [height, width, 3], three whole numbers; "
            f"got {shape!r}",
        )
    # Members that are not .npy data, or are there twice.
    for member in ("w.npy", "b.npy", "metadata.npy"):
        stem = member[:-4]
        case(
            f"text_{stem}",
            lambda p, m=member: write_members(p, _with(good, m, b"just some text\n")),
            f"member '{member}' is not NumPy .npy data",
        )
        case(
            f"link_{stem}",
            lambda p, m=member: write_members(
                p,
                [
                    (_link(n) if n == m else n, b"/etc/passwd" if n == m else d)
                    for n, d in _parts(good).items()
                ],
            ),
            f"member '{member}' is a symbolic link, not NumPy .npy data",
        )
    case(
        "twice_w",
        lambda p: write_members(p, [*_parts(good).items(), ("w.npy", npy(-w))]),
        "member 'w.npy' is in the archive 2 times (a model file holds each "
        "member once)",
    )
    case(
        "twice_same",
        lambda p: write_members(
            p, [*_parts(good).items(), ("metadata.npy", _parts(good)["metadata.npy"])]
        ),
        "member 'metadata.npy' is in the archive 2 times",
    )
    case(
        "header_lies",
        lambda p: write_members(
            p, _with(good, "w.npy", npy(w)[:128] + npy(w)[128:136])
        ),
        "member 'w.npy' declares 1536 bytes of float64 values in 136",
    )
    case(
        "huge_header",
        lambda p: write_members(
            p, _with(good, "w.npy", _npy_header((2**40,)) + bytes(64))
        ),
        "member 'w.npy' declares 8796093022208 bytes of float64 values",
    )
    case(
        "trailing",
        lambda p: write_members(
            p, _with(good, "b.npy", npy(np.float64(0.1)) + b"more")
        ),
        "member 'b.npy' holds more bytes than its array",
    )
    case(
        "encrypted",
        lambda p: _mark_encrypted(
            write_members(p, list(_parts(good).items())), "w.npy"
        ),
        "member 'w.npy' is encrypted",
    )
    case(
        "damaged_deflate",
        lambda p: _damage_member(
            write_model(p, w, b, _meta(good), compress=True), "w.npy"
        ),
        "not a readable model file (",  # zlib's error, or the CRC's
    )
    # Mistyped metadata: named by the field, the file and what it holds.
    for field, value, expected in (
        ("final_cost", "boom", "a number"),
        ("n_iter", 1e30, "a whole number from 0 to 2**63 - 1"),
        ("n_iter", 2**64, "a whole number from 0 to 2**63 - 1"),
        ("learning_rate", "fast", "a number"),
        ("learning_rate", 0, "a number > 0"),
        ("costs", [0.6, "x"], None),
        ("converged", "yes", "true or false"),
        ("solver", "sgd", "one of 'lbfgs', 'gd'"),
        ("class_weight", {"cat": -1}, None),
        ("data", {"kind": "image folder", "path": "/x", "seed": 0}, None),
        ("scheduler", 5, "a string"),
        ("final_cost", float("inf"), "a finite number"),  # JSON's Infinity
    ):
        label = f"{field}_{type(value).__name__}"
        case(
            label,
            lambda p, f=field, v=value: write_model(p, w, b, meta(training={f: v})),
            f"'training.{field}' must be {expected}; got {value!r}"
            if expected
            else f"'training.{field}",
        )
    case(
        "metrics_text",
        lambda p: write_model(p, w, b, meta(metrics={"test": {"accuracy": "high"}})),
        "'metrics.test.accuracy' must be a number; got 'high'",
    )
    case(
        "preprocessing",
        lambda p: write_model(
            p,
            w,
            b,
            meta(
                preprocessing={
                    **good["meta"]["preprocessing"],
                    "scale": "pixel / 127.5 - 1",
                }
            ),
        ),
        "'preprocessing.scale' is 'pixel / 127.5 - 1', but logitnet computes "
        "'pixel / 255'",
    )
    case(
        "version",
        lambda p: write_model(p, w, b, meta(logitnet_version=1)),
        "'logitnet_version' must be a string; got 1",
    )
    case(
        "classes",
        lambda p: write_model(p, w, b, meta(classes=["cat", 2])),
        "'classes' must be 2 to 10000 names; got ['cat', 2]",
    )
    case(
        "n_features",
        lambda p: write_model(p, w, b, meta(n_features=7)),
        "'n_features' is 7, but 'image_shape' [8, 8, 3] calls for 192 weights",
    )
    return cases


def _damage_member(path: Path, name: str) -> None:
    """Flip 200 bytes in the middle of member ``name``'s compressed data."""
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as z:
        info = z.getinfo(name)
    middle = info.header_offset + 30 + len(name) + info.compress_size // 2
    for i in range(middle - 100, middle + 100):
        data[i] ^= 0x5A
    path.write_bytes(bytes(data))


def _mark_encrypted(path: Path, name: str) -> None:
    """Set the "encrypted" flag of member ``name`` in its local header and
    its central-directory entry (zipfile writes no encrypted members)."""
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as z:
        local = z.getinfo(name).header_offset
    data[local + 6] |= 0x1  # general-purpose flags, after signature and version
    central = data.index(b"PK\x01\x02")
    while central >= 0:
        name_length = int.from_bytes(data[central + 28 : central + 30], "little")
        if data[central + 46 : central + 46 + name_length] == name.encode():
            data[central + 8] |= 0x1
        central = data.find(b"PK\x01\x02", central + 4)
    path.write_bytes(bytes(data))


def _npy_header(shape) -> bytes:
    buffer = io.BytesIO()
    header = {"descr": "<f8", "fortran_order": False, "shape": shape}
    np.lib.format.write_array_header_1_0(buffer, header)
    return buffer.getvalue()


CASE_NAMES = [
    "grey", "bomb", "wide", "shape_negative", "shape_zero", "shape_float",
    "shape_string", "shape_bool", "shape_short", "text_w", "link_w",
    "text_b", "link_b", "text_metadata", "link_metadata", "twice_w",
    "twice_same", "header_lies", "huge_header", "trailing", "encrypted",
    "damaged_deflate",
    "final_cost_str", "n_iter_float", "n_iter_int", "learning_rate_str",
    "learning_rate_int", "costs_list", "converged_str", "solver_str",
    "class_weight_dict", "data_dict", "scheduler_int", "final_cost_float",
    "metrics_text", "preprocessing", "version", "classes", "n_features",
]  # fmt: skip


@pytest.fixture(scope="module")
def crafted(good) -> dict[str, tuple[Path, str]]:
    """name -> (crafted model file, what its one line says after the path)."""
    made = {}
    for name, (make, message) in _crafted(good).items():
        path = good["root"] / f"{name}.npz"
        make(path)
        made[name] = (path, message)
    assert sorted(made) == sorted(CASE_NAMES)
    return made


def _one_line(result, path: Path, message: str) -> None:
    assert result.returncode == FAILURE, result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    assert lines[0].startswith(f"logitnet: error: {path}: "), lines[0]
    assert message in lines[0], lines[0]
    assert "internal error" not in lines[0]


@pytest.mark.parametrize("name", CASE_NAMES)
def test_predict_names_the_file_and_the_field(good, crafted, name):
    path, message = crafted[name]
    result = run("predict", "--model", str(path), str(good["root"] / "photo.png"))
    _one_line(result, path, message)
    assert result.stdout == ""


@pytest.mark.parametrize("name", CASE_NAMES)
def test_load_model_names_the_file_and_the_field(crafted, name):
    path, message = crafted[name]
    with pytest.raises(ModelFileError) as info:
        load_model(path)
    assert str(info.value).startswith(f"{path}: ")
    assert message in str(info.value)


@pytest.mark.parametrize(
    "name", ["grey", "bomb", "final_cost_str", "learning_rate_str", "text_w", "twice_w"]
)
def test_serve_refuses_before_it_binds(good, crafted, name):
    path, message = crafted[name]
    port = _free_port()
    result = subprocess.run(
        [sys.executable, "-m", "logitnet", "serve", "--model", str(path),
         "--port", str(port)],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    _one_line(result, path, message)
    assert "serving" not in result.stderr


@pytest.mark.parametrize(
    "command",
    [
        ["explain", "{photo}", "--out", "{root}/new.png"],
        ["evaluate", "--data", "{root}/data.h5"],
        ["report", "--data", "{root}/data.h5", "--out", "{root}/new.html"],
    ],
    ids=["explain", "evaluate", "report"],
)
@pytest.mark.parametrize("name", ["grey", "final_cost_str", "n_iter_float", "bomb"])
def test_every_command_runs_the_same_check_first(good, crafted, command, name):
    root = good["root"]
    rng = np.random.default_rng(5)
    if not (root / "data.h5").exists():
        write_h5(
            root / "data.h5",
            "test",
            rng.integers(0, 256, (4, *SHAPE), dtype=np.uint8),
            np.array([0, 1, 0, 1]),
        )
    path, message = crafted[name]
    args = [a.format(root=root, photo=root / "photo.png") for a in command]
    result = run(*args[:1], "--model", str(path), *args[1:])
    _one_line(result, path, message)
    assert not (root / "new.png").exists() and not (root / "new.html").exists()


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# -- memory: a bomb is refused from the metadata, under an address-space cap ----

#: Enough for predict with the largest model the bound allows (measured at
#: 139 MB resident), not for the 1.3 GB the 4096 x 4096 x 3 bomb cost.
ADDRESS_SPACE = 1024**3


@pytest.mark.skipif(
    shutil.which("prlimit") is None,
    reason="prlimit not found on PATH (util-linux; `make test` installs it)",
)
@pytest.mark.parametrize("name", ["bomb", "huge_header"])
def test_a_bomb_costs_little(good, crafted, name):
    path, message = crafted[name]
    assert path.stat().st_size < 400_000
    start = time.monotonic()
    result = subprocess.run(
        ["prlimit", f"--as={ADDRESS_SPACE}", sys.executable, "-m", "logitnet",
         "predict", "--model", str(path), str(good["root"] / "photo.png")],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert time.monotonic() - start < 10
    _one_line(result, path, message)


@pytest.mark.skipif(shutil.which("prlimit") is None, reason="prlimit not found")
def test_the_largest_model_fits_the_same_cap(good):
    side = MAX_IMAGE_SIDE
    path = write_model(
        good["root"] / "largest.npz",
        np.zeros(side * side * 3),
        0.0,
        _meta(good, image_shape=[side, side, 3]),
        compress=True,
    )
    result = subprocess.run(
        ["prlimit", f"--as={ADDRESS_SPACE}", sys.executable, "-m", "logitnet",
         "predict", "--model", str(path), str(good["root"] / "photo.png")],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout.endswith("photo.png: non-cat (non-cat 50.0 %, cat 50.0 %)\n")


# -- what is still read, and what save refuses ------------------------------------


def _older() -> list[dict]:
    return json.loads(OLDER.read_text())


@pytest.mark.parametrize(
    "entry", _older(), ids=[e["written_by"][:30] for e in _older()]
)
def test_files_of_earlier_logitnets_still_load(tmp_path, entry):
    meta = entry["metadata"]
    n_x = (
        meta["n_features"]
        if meta["image_shape"] is None
        else math.prod(meta["image_shape"])
    )
    w = np.random.default_rng(0).normal(size=n_x) * 1e-3
    path = write_model(tmp_path / "m.npz", w, 0.5, meta)
    model = load_model(path)
    np.testing.assert_array_equal(model.w, w)
    assert model.to_estimator().get_params()["solver"] == meta["training"]["solver"]
    if meta["image_shape"] is not None:
        from logitnet.viz.report import model_card

        assert load_picture_model(path).image_shape == tuple(meta["image_shape"])
        assert "<section" in model_card(model)
    else:
        with pytest.raises(ModelFileError, match="not of pictures"):
            load_picture_model(path)


def test_a_version_1_file_is_still_predicted_with(good, tmp_path):
    (entry,) = [e for e in _older() if e["metadata"]["format_version"] == 1]
    meta = {**entry["metadata"], "image_shape": list(SHAPE)}
    path = write_model(tmp_path / "v1.npz", good["model"].w, 0.1, meta)
    result = run("predict", "--model", str(path), str(good["root"] / "photo.png"))
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"{good['root'] / 'photo.png'}: ")


def test_absent_optional_fields_and_unknown_ones_are_fine(good, tmp_path):
    meta = _meta(good, training={"note": ["anything", {"x": None}]}, extra=1)
    for key in ("metrics", "preprocessing", "logitnet_version"):
        meta.pop(key)
    path = write_model(tmp_path / "m.npz", good["model"].w, 0.1, meta)
    model = load_model(path)
    assert model.training["note"] == ["anything", {"x": None}]
    assert model.logitnet_version == "unknown" and model.metrics == {}


@pytest.mark.parametrize(
    "missing",
    ["learning_rate", "n_iter", "costs", "final_cost", "num_iterations", "tol"],
)
def test_what_reads_the_training_record_copes_with_any_field_missing(
    good, tmp_path, missing
):
    from logitnet.viz.report import model_card

    meta = _meta(good)
    meta["training"].pop(missing)
    path = write_model(tmp_path / "m.npz", good["model"].w, 0.1, meta)
    model = load_picture_model(path)
    assert "gradient descent" in model_card(model)
    model.to_estimator()._check_params()


def test_a_nan_metric_of_an_older_file_is_undefined(good, tmp_path):
    meta = _meta(good, metrics={"test": {"roc_auc": float("nan")}})
    path = write_model(tmp_path / "m.npz", good["model"].w, 0.1, meta)
    assert load_model(path).metrics == {"test": {"roc_auc": None}}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"image_shape": (64, 64, 1)}, "'image_shape' must have 3 channels"),
        ({"image_shape": (2048, 2, 3)}, "height and width from 1 to 1024"),
        ({"training": {"learning_rate": "fast"}}, "'training.learning_rate'"),
        ({"training": {"n_iter": 1e30}}, "'training.n_iter' must be a whole number"),
        ({"metrics": {"f1": "x"}}, "'metrics.f1' must be a number"),
    ],
)
def test_save_refuses_what_load_refuses(good, tmp_path, change, message):
    model = SavedModel(**{**good["model"].__dict__, **change})
    with pytest.raises(ModelFileError, match=message):
        save_model(tmp_path / "m.npz", model)
    assert not (tmp_path / "m.npz").exists()


def test_training_refuses_pictures_larger_than_a_model_takes(tmp_path):
    rng = np.random.default_rng(0)
    path = tmp_path / "big.h5"
    x = rng.integers(0, 256, (4, MAX_IMAGE_SIDE + 1, 2, 3), dtype=np.uint8)
    write_h5(path, "train", x, np.array([0, 1, 0, 1]))
    result = run("train", "--data", str(path), "--out", str(tmp_path / "m.npz"))
    assert result.returncode == FAILURE, result.stderr
    assert result.stderr == (
        f"logitnet: error: {path}: the pictures' shape must have a height and "
        f"width from 1 to 1024 pixels; got (1025, 2, 3)\n"
    )
    assert not (tmp_path / "m.npz").exists()


def test_the_schema_knows_the_estimators_names():
    from logitnet.app import modelschema
    from logitnet.core import estimator, solvers

    training = modelschema._TRAINING
    for solver in estimator._SOLVERS:
        training["solver"](solver, "solver")
    for representation in solvers.REPRESENTATIONS:
        training["representation_setting"](representation, "r")
    with pytest.raises(ValueError, match="'x' must be one of"):
        training["solver"]("newton", "x")
