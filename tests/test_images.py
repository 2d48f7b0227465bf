"""Photos to the model's input: formats, orientation, sizes, folders, bad files."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from logitnet.data import images as images_module
from logitnet.data.images import (
    expand_paths,
    load_image_folder,
    read_image,
    split_dataset,
)
from logitnet.exceptions import DataError


@pytest.fixture
def picture(rng) -> np.ndarray:
    return rng.integers(0, 256, size=(64, 64, 3), dtype=np.uint8)


def test_a_model_sized_png_is_used_pixel_for_pixel(tmp_path, picture):
    path = tmp_path / "x.png"
    Image.fromarray(picture).save(path)
    assert np.array_equal(read_image(path), picture)


def test_course_test_image_round_trips_through_png(tmp_path, cat_data):
    *_, test_x, _, _ = cat_data
    for i in (0, 13, 49):
        path = tmp_path / f"{i}.png"
        Image.fromarray(test_x[i]).save(path)
        assert np.array_equal(read_image(path), test_x[i])


def test_any_size_is_resized_with_lanczos(tmp_path):
    # A smooth horizontal ramp keeps its left-to-right order after resizing.
    ramp = np.tile(np.linspace(0, 255, 300).astype(np.uint8), (200, 1))
    path = tmp_path / "ramp.jpg"
    Image.fromarray(ramp).convert("RGB").save(path, quality=95)
    out = read_image(path)
    assert out.shape == (64, 64, 3) and out.dtype == np.uint8
    row = out[32, :, 0].astype(int)
    assert row[0] < 10 and row[-1] > 245
    assert (np.diff(row) >= -2).all()  # JPEG ringing aside, increasing
    expected = Image.fromarray(ramp).convert("RGB").resize((64, 64), Image.LANCZOS)
    assert np.abs(out.astype(int) - np.asarray(expected, int)).max() <= 8


def test_other_model_shapes(tmp_path, picture):
    path = tmp_path / "x.png"
    Image.fromarray(picture).save(path)
    assert read_image(path, (32, 48, 3)).shape == (32, 48, 3)


def test_grayscale_becomes_three_equal_channels(tmp_path):
    gray = np.arange(64 * 64, dtype=np.uint16).reshape(64, 64) % 256
    path = tmp_path / "g.png"
    Image.fromarray(gray.astype(np.uint8), "L").save(path)
    out = read_image(path)
    assert np.array_equal(out[..., 0], gray) and np.array_equal(out[..., 2], gray)


def test_sixteen_bit_png_is_rounded_to_eight_bits(tmp_path):
    values = np.arange(64 * 64).reshape(64, 64) % 256
    path = tmp_path / "16.png"
    Image.fromarray((values * 257).astype(np.uint16)).save(path)
    with Image.open(path) as im:
        assert im.mode.startswith("I")  # really 16-bit on disk
    out = read_image(path)
    assert np.array_equal(out[..., 1], values)


def test_alpha_is_composited_over_white(tmp_path):
    rgba = np.zeros((64, 64, 4), np.uint8)
    rgba[..., 0] = 255  # red...
    rgba[:, :32, 3] = 255  # ...opaque on the left, transparent on the right
    path = tmp_path / "a.png"
    Image.fromarray(rgba, "RGBA").save(path)
    out = read_image(path)
    assert (out[:, :32] == [255, 0, 0]).all()
    assert (out[:, 32:] == [255, 255, 255]).all()


def test_palette_with_transparency(tmp_path):
    im = Image.new("P", (64, 64), 0)
    im.putpalette([0, 0, 255] + [0, 255, 0] * 255)
    im.paste(1, (0, 0, 64, 32))
    path = tmp_path / "p.png"
    im.save(path, transparency=0)  # index 0 (blue) is transparent
    out = read_image(path)
    assert (out[:32] == [0, 255, 0]).all()
    assert (out[32:] == [255, 255, 255]).all()


def test_cmyk_jpeg(tmp_path):
    path = tmp_path / "c.jpg"
    Image.new("CMYK", (80, 80), (0, 255, 255, 0)).save(path)  # red in CMYK
    out = read_image(path)
    assert out.shape == (64, 64, 3)
    assert out[..., 0].min() > 200 and out[..., 1].max() < 60


def test_exif_orientation_is_applied(tmp_path):
    # Stored 80 wide, 40 high, left half red; orientation 6 = "rotate 90 CW
    # to display", so upright it is 40 wide and 80 high with red on top.
    stored = np.zeros((40, 80, 3), np.uint8)
    stored[:, :40] = [255, 0, 0]
    im = Image.fromarray(stored)
    exif = Image.Exif()
    exif[0x0112] = 6
    path = tmp_path / "rotated.jpg"
    im.save(path, exif=exif, quality=95)
    out = read_image(path, (80, 40, 3))  # the model's shape is upright
    assert out[:30, :, 0].min() > 200  # red on top
    assert out[-30:, :, 0].max() < 60


def test_pil_images_and_arrays(picture):
    assert np.array_equal(read_image(Image.fromarray(picture)), picture)
    assert np.array_equal(read_image(picture), picture)
    assert np.array_equal(read_image(picture / 255.0), picture)
    assert read_image(picture[..., 0]).shape == (64, 64, 3)
    assert read_image(picture[..., :1]).shape == (64, 64, 3)
    rgba = np.dstack([picture, np.full((64, 64), 255, np.uint8)])
    assert np.array_equal(read_image(rgba), picture)


@pytest.mark.parametrize(
    ("array", "message"),
    [
        (np.zeros((64, 64, 2), np.uint8), r"expected pixels of shape"),
        (np.zeros((4, 64, 64, 3), np.uint8), r"got shape \(4, 64, 64, 3\)"),
        (np.zeros((0, 64, 3), np.uint8), "the image is empty"),
        (np.full((8, 8), np.nan), "NaN or inf"),
        (np.full((8, 8), 2.0), r"float pixels must be in \[0, 1\]"),
        (np.zeros((8, 8), np.int32), "expected uint8 pixels"),
        (np.zeros((8, 8), bool), "expected uint8 pixels"),
    ],
)
def test_bad_arrays(array, message):
    with pytest.raises(DataError, match=message):
        read_image(array)


def test_bad_sources_and_shapes(tmp_path):
    with pytest.raises(DataError, match="expected an image file path"):
        read_image(42)
    with pytest.raises(ValueError, match=r"image_shape must have 3 \(RGB\) channels"):
        read_image(np.zeros((8, 8), np.uint8), (8, 8, 1))
    with pytest.raises(ValueError, match=r"image_shape must be \(height, width, ch"):
        read_image(np.zeros((8, 8), np.uint8), (8, 0, 3))


def _png_bytes(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: None, "no such file"),
        (lambda p: p.mkdir(), "is a directory, not an image file"),
        (lambda p: p.write_bytes(b""), "not an image file Pillow can read"),
        (lambda p: p.write_text("hello"), "not an image file Pillow can read"),
        (
            lambda p: p.write_bytes(_png_bytes(np.zeros((64, 64, 3), np.uint8))[:-40]),
            "damaged or truncated image",
        ),
        (
            lambda p: p.write_bytes(
                _png_bytes(
                    np.random.default_rng(0).integers(0, 256, (64, 64, 3), np.uint8)
                )[:2000]
            ),
            "damaged or truncated image",
        ),
    ],
)
def test_bad_files_are_one_line_errors_naming_the_file(tmp_path, make, message):
    path = tmp_path / "x.png"
    make(path)
    with pytest.raises(DataError, match=message) as info:
        read_image(path)
    assert str(info.value).startswith(f"{path}: ")
    assert "\n" not in str(info.value)


def test_truncated_jpeg(tmp_path, picture):
    path = tmp_path / "x.jpg"
    Image.fromarray(picture).save(path)
    path.write_bytes(path.read_bytes()[:300])
    with pytest.raises(DataError, match="damaged or truncated image"):
        read_image(path)


def test_decompression_bombs_are_refused_before_decoding(tmp_path, monkeypatch):
    path = tmp_path / "bomb.png"
    Image.new("1", (1000, 1000)).save(path)  # 1 M pixels in a few KB
    assert path.stat().st_size < 10_000
    monkeypatch.setattr(images_module, "MAX_PIXELS", 500_000)
    decoded = []
    monkeypatch.setattr(Image.Image, "load", lambda self: decoded.append(1))
    with pytest.raises(DataError, match=r"refused, 1000x1000 = 1,000,000 pixels"):
        read_image(path)
    assert not decoded


def test_pillow_s_own_bomb_limit_is_one_line(tmp_path, monkeypatch):
    path = tmp_path / "bomb.png"
    Image.new("1", (1000, 1000)).save(path)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100_000)
    with pytest.raises(DataError, match="refused, too many pixels"):
        read_image(path)


# -- folders --------------------------------------------------------------------


def _folder(root, counts, rng, size=(64, 64)):
    for name, count in counts.items():
        (root / name).mkdir(parents=True)
        for i in range(count):
            array = rng.integers(0, 256, size=(*size, 3), dtype=np.uint8)
            Image.fromarray(array).save(root / name / f"{i:02d}.png")
    return root


def test_expand_paths(tmp_path):
    (tmp_path / "d" / "sub").mkdir(parents=True)
    for name in ("b.png", "a.JPG", ".hidden.png", "notes.txt", "sub/c.png"):
        (tmp_path / "d" / name).write_bytes(b"")
    named = tmp_path / "named.txt"
    (tmp_path / "d" / ".hidden_dir").mkdir()
    (tmp_path / "d" / ".hidden_dir" / "x.png").write_bytes(b"")
    (tmp_path / "d" / "sub" / "loop").symlink_to(tmp_path / "d")  # back up the tree
    assert expand_paths([tmp_path / "d", named]) == [
        tmp_path / "d" / "a.JPG",
        tmp_path / "d" / "b.png",
        tmp_path / "d" / "sub" / "c.png",  # sub-directories too, in name order
        named,  # named directly: kept, so that its error is reported
    ]


def test_load_image_folder(tmp_path, rng):
    root = _folder(tmp_path / "data", {"dog": 3, "cat": 2}, rng, size=(30, 50))
    (root / "README.txt").write_text("ignored")
    (root / "dog" / "notes.txt").write_text("ignored")
    seen = []
    pictures, labels, classes, paths = load_image_folder(
        root, progress=lambda files: seen.extend(files) or files
    )
    assert classes == ["cat", "dog"]
    assert pictures.shape == (5, 64, 64, 3) and pictures.dtype == np.uint8
    assert labels.tolist() == [0, 0, 1, 1, 1]
    assert [p.parent.name for p in paths] == ["cat"] * 2 + ["dog"] * 3
    assert seen == paths


@pytest.mark.parametrize(
    ("counts", "message"),
    [
        ({"cat": 1}, r"expected at least 2 class folders .* found 1 \(cat\)$"),
        ({}, r"expected at least 2 class folders .* found 0 \(none\)$"),
        ({"cat": 1, "dog": 0}, "dog: class folder holds no image files"),
        ({"a": 1, "b": 1, "c": 0}, "c: class folder holds no image files"),
    ],
)
def test_bad_folders(tmp_path, rng, counts, message):
    (tmp_path / "data").mkdir()
    root = _folder(tmp_path / "data", counts, rng)
    with pytest.raises(DataError, match=message):
        load_image_folder(root)


def test_k_class_folders(tmp_path, rng):
    root = _folder(tmp_path / "data", {"rocket": 2, "cat": 1, "coffee": 3}, rng)
    pictures, labels, classes, paths = load_image_folder(root)
    assert classes == ["cat", "coffee", "rocket"]  # label i: the i-th name
    assert labels.tolist() == [0, 1, 1, 1, 2, 2]
    assert [p.parent.name for p in paths] == [classes[i] for i in labels]
    assert pictures.shape == (6, 64, 64, 3)


def test_too_many_class_folders(tmp_path, rng, monkeypatch):
    monkeypatch.setattr(images_module, "MAX_CLASSES", 3)
    root = _folder(tmp_path / "data", dict.fromkeys("abcd", 1), rng)
    with pytest.raises(DataError, match=r"expected at most 3 class folders .* found 4"):
        load_image_folder(root)


def test_class_folders_shown_alike_are_refused(tmp_path, rng):
    # "a\nb" (a backslash) and "a" newline "b" are both shown as a\nb.
    root = _folder(tmp_path / "data", {"a\\nb": 1, "a\nb": 1}, rng)
    with pytest.raises(DataError) as info:
        load_image_folder(root)
    assert str(info.value) == (
        f"{root}: class folders: 'classes' must be different names; got 'a\\\\nb' twice"
    )


def test_missing_folder_file_instead_and_bad_image(tmp_path, rng):
    with pytest.raises(DataError, match="no such directory"):
        load_image_folder(tmp_path / "nope")
    (tmp_path / "file").write_text("")
    with pytest.raises(DataError, match="not a directory"):
        load_image_folder(tmp_path / "file")
    root = _folder(tmp_path / "data", {"a": 1, "b": 1}, rng)
    (root / "b" / "broken.png").write_text("no")
    with pytest.raises(DataError, match=r"broken.png: not an image file"):
        load_image_folder(root)


def test_split_of_k_classes_is_stratified(rng):
    pictures = rng.integers(0, 256, size=(60, 4, 4, 3), dtype=np.uint8)
    labels = np.repeat([0, 1, 2], [10, 20, 30])
    _, train_y, _, test_y = split_dataset(pictures, labels, test_fraction=0.2, seed=0)
    assert np.bincount(test_y).tolist() == [2, 4, 6]
    assert np.bincount(train_y).tolist() == [8, 16, 24]
    with pytest.raises(DataError, match="of 60 images with all 3 classes on each side"):
        split_dataset(pictures, labels, test_fraction=0.02, seed=0)


def test_split_is_stratified_and_reproducible(rng):
    pictures = rng.integers(0, 256, size=(40, 4, 4, 3), dtype=np.uint8)
    labels = np.array([0] * 10 + [1] * 30)
    first = split_dataset(pictures, labels, test_fraction=0.25, seed=3)
    again = split_dataset(pictures, labels, test_fraction=0.25, seed=3)
    other = split_dataset(pictures, labels, test_fraction=0.25, seed=4)
    for a, b in zip(first, again, strict=True):
        assert np.array_equal(a, b)
    assert not np.array_equal(first[2], other[2])
    train_x, _, test_x, test_y = first
    assert test_y.size == 10 and np.bincount(test_y).tolist() in ([2, 8], [3, 7])
    assert train_x.shape == (30, 4, 4, 3)
    # Every picture lands on exactly one side.
    together = np.concatenate([train_x, test_x]).reshape(40, -1)
    assert sorted(map(bytes, together)) == sorted(map(bytes, pictures.reshape(40, -1)))
    none = split_dataset(pictures, labels, test_fraction=0, seed=0)
    assert none[0] is pictures and none[2].shape == (0, 4, 4, 3)


def test_split_refuses_what_cannot_be_split(rng):
    pictures = np.zeros((3, 2, 2, 3), np.uint8)
    with pytest.raises(DataError, match=r"cannot hold out 0\.5 of 3 images"):
        split_dataset(pictures, np.array([0, 1, 1]), test_fraction=0.5, seed=0)
    with pytest.raises(ValueError, match=r"test_fraction must be in \[0, 1\)"):
        split_dataset(pictures, np.array([0, 1, 1]), test_fraction=1.0, seed=0)


def test_large_jpeg_decoded_at_reduced_scale_matches_a_full_decode(tmp_path, rng):
    small = rng.integers(0, 256, size=(12, 16, 3), dtype=np.uint8)
    photo = Image.fromarray(small).resize((1024, 768), Image.BICUBIC)
    path = tmp_path / "photo.jpg"
    photo.save(path, quality=95)
    with Image.open(path) as im:
        full = np.asarray(im.convert("RGB").resize((64, 64), Image.LANCZOS), int)
    out = read_image(path).astype(int)
    assert np.abs(out - full).mean() < 1.5 and np.abs(out - full).max() <= 12


# -- bytes: an upload, decoded in memory ------------------------------------------


def test_bytes_give_what_the_file_gives(tmp_path, picture):
    path = tmp_path / "x.png"
    Image.fromarray(picture).resize((97, 61)).save(path)
    assert np.array_equal(read_image(path.read_bytes()), read_image(path))
    assert np.array_equal(read_image(bytearray(path.read_bytes())), read_image(path))


def test_bytes_errors_are_named_and_bombs_are_their_own_kind(tmp_path, monkeypatch):
    from logitnet.exceptions import TooManyPixelsError

    with pytest.raises(DataError, match=r"^up\.txt: not an image file") as info:
        read_image(b"hello, not a picture", name="up.txt")
    assert not isinstance(info.value, TooManyPixelsError)
    path = tmp_path / "bomb.png"
    Image.new("1", (1000, 1000)).save(path)
    monkeypatch.setattr(images_module, "MAX_PIXELS", 500_000)
    decoded = []
    monkeypatch.setattr(Image.Image, "load", lambda self: decoded.append(1))
    with pytest.raises(TooManyPixelsError, match=r"^image: refused, 1000x1000"):
        read_image(path.read_bytes())
    assert not decoded
