"""Your own photos in, the model's input out.

A photo of any common kind (JPEG, PNG with a palette, alpha or 16 bits per
channel, grayscale, CMYK, any size, rotated by its EXIF orientation) becomes
what the neuron was trained on: an (height, width, 3) uint8 array, 64x64 for
the course's model, in the same pixel order as the course's HDF5 files. A
picture that already has the model's size is used pixel for pixel, so a
64x64 PNG saved from the test set gets exactly the prediction that the HDF5
pipeline gives it.

How a photo is brought to the model's input (recorded in each model file as
:data:`PREPROCESSING`):

1. EXIF orientation applied, so the picture is upright as a viewer shows it;
2. transparency composited over white; palette, grayscale and CMYK
   converted to RGB; 16-bit channels rounded to 8 bits (v / 257);
3. the whole picture resized to the model's width x height with Lanczos
   filtering (its aspect ratio is not kept, as in the course's own
   "try your own image"), from the fully decoded picture: a file, the same
   file opened with Pillow, or its pixels as an array give the same input;
4. flattened in C order (height, width, channel) and divided by 255.

An image folder, ``DIR/<class name>/<image files>`` with k >= 2 class
folders, is a data set like the course's (:func:`load_image_folder`); label
i is the i-th class name in sorted order. :func:`write_course_file` writes
it in the course's HDF5 layout.
"""

from __future__ import annotations

import io
import os
import warnings
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from logitnet.checks import MAX_CLASSES, check_class_names, check_image_shape
from logitnet.exceptions import DataError, PictureWarning, TooManyPixelsError
from logitnet.files import check_input_file, shown

__all__ = [
    "DEFAULT_IMAGE_SHAPE",
    "MAX_PIXELS",
    "PREPROCESSING",
    "ImageSource",
    "expand_paths",
    "image_folder_files",
    "is_image_file",
    "load_image_folder",
    "read_image",
    "split_dataset",
]

#: (height, width, channels) of the course's images.
DEFAULT_IMAGE_SHAPE = (64, 64, 3)

#: Pictures with more pixels than this are refused before they are decoded:
#: a small file can unpack to gigabytes (a "decompression bomb"). 8K x 8K.
MAX_PIXELS = 8192 * 8192

#: How a picture becomes the model's input; saved in every model file.
PREPROCESSING = {
    "decode": "in full (no reduced-scale JPEG decoding): a path, a Pillow image "
    "or an array of the same picture give the same input",
    "orientation": "EXIF orientation applied",
    "color": "RGB; alpha composited over white; 16-bit channels rounded to 8 (v / 257)",
    "resize": "whole image to the model's width x height, Lanczos; aspect not kept",
    "flatten": "C order: (height, width, channels) -> height*width*channels",
    "scale": "pixel / 255",
}

#: What :func:`read_image` accepts: a file path, the bytes of an image file,
#: a Pillow image, or an array.
ImageSource = str | os.PathLike[str] | bytes | Any

_WHITE = (255, 255, 255)


def _image_module():
    # Pillow is imported on first use: the command line starts faster.
    from PIL import Image, ImageOps

    return Image, ImageOps


def is_image_file(path: Path) -> bool:
    """Whether ``path`` has the suffix of an image format Pillow reads."""
    Image, _ = _image_module()
    suffix = path.suffix.lower()
    return suffix in Image.registered_extensions() and not path.name.startswith(".")


def expand_paths(sources: Iterable[str | os.PathLike[str]]) -> list[Path]:
    """Files named, with each directory replaced by the images under it.

    A directory contributes the image files (by suffix, see
    :func:`is_image_file`) in it and in its sub-directories, at any depth
    (walked with a stack of its own, not by recursion: a tree thousands of
    levels deep is walked like any other), so that a folder of class
    folders (what ``--images`` trains on) is classified whole. Each
    directory's entries are taken in sorted name order (a sub-directory's
    pictures where its name falls), hidden files and directories are
    skipped, and a directory reached a second time (a symbolic link back up
    the tree, or two links to one place) is not walked again: the list is
    the same on every run and always finite. A file named directly is
    always kept, whatever its suffix, so that an error can be reported for
    it. The order of ``sources`` is kept.
    """
    paths: list[Path] = []
    for source in sources:
        path = Path(source)
        if path.is_dir():
            paths.extend(_images_under(path))
        else:
            paths.append(path)
    return paths


def _images_under(directory: Path) -> Iterator[Path]:
    """The image files under ``directory``, depth first in name order, each
    directory (device, inode) walked once."""
    seen: set[tuple[int, int]] = set()
    stack = [iter(_entries(directory, seen))]
    while stack:
        entry = next(stack[-1], None)
        if entry is None:
            stack.pop()
        elif entry.is_dir():
            stack.append(iter(_entries(entry, seen)))
        elif entry.is_file() and is_image_file(entry):
            yield entry


def _entries(directory: Path, seen: set[tuple[int, int]]) -> list[Path]:
    """A directory's entries in name order, hidden ones left out; none for
    a directory in ``seen`` (then added to it) or one that cannot be read
    (a file named directly still errors)."""
    try:
        info = directory.stat()
        entries = sorted(directory.iterdir())
    except OSError:
        return []
    if (info.st_dev, info.st_ino) in seen:
        return []
    seen.add((info.st_dev, info.st_ino))
    return [entry for entry in entries if not entry.name.startswith(".")]


def read_image(
    source: ImageSource,
    image_shape: Sequence[int] = DEFAULT_IMAGE_SHAPE,
    *,
    name: str = "image",
) -> NDArray[np.uint8]:
    """One picture as the model's input image.

    Parameters
    ----------
    source : path-like, bytes, PIL.Image.Image or ndarray
        An image file; the bytes of an image file (an upload: decoded in
        memory, with the same checks as a file, nothing written to disk);
        an image opened with Pillow; or pixels as an ndarray of shape
        (h, w), (h, w, 1), (h, w, 3) or (h, w, 4), either uint8 (0..255) or
        float (0..1), of any size.
    image_shape : (height, width, 3), default=(64, 64, 3)
        The model's input shape (``SavedModel.image_shape``).
    name : str, default="image"
        What error messages call a picture given as bytes.

    Returns
    -------
    image : ndarray of shape (height, width, 3), uint8

    Raises
    ------
    DataError
        Naming the file and the problem: missing, a directory, not an image,
        truncated or damaged, or an array of the wrong shape, dtype or
        range.
    TooManyPixelsError
        A :class:`DataError` for a picture of more than :data:`MAX_PIXELS`
        pixels, raised from its header, before it is decoded.
    """
    height, width, _ = check_image_shape(image_shape, channels=(3,))
    Image, _ = _image_module()
    if isinstance(source, Image.Image):
        return _to_input(source, (width, height), "image", owned=False)
    if isinstance(source, np.ndarray):
        return _to_input(_array_to_image(source), (width, height), "array", owned=True)
    if isinstance(source, bytes | bytearray | memoryview):
        return _decode(io.BytesIO(source), (width, height), name, data=source)
    if not isinstance(source, str | os.PathLike):
        raise DataError(
            "expected an image file path, a PIL image or an ndarray; "
            f"got {type(source).__name__}"
        )
    path = check_input_file(source, "an image file", DataError)
    return _decode(path, (width, height), str(path))


def _decode(file, size: tuple[int, int], name: str, data=None) -> NDArray[np.uint8]:
    """An image file (a path, or a binary file object over the bytes
    ``data``) opened, its size checked from the header, then decoded in
    full and brought to ``size``. What Pillow warns of on the way is told
    again as a :class:`PictureWarning` naming the picture."""
    Image, _ = _image_module()
    try:
        with warnings.catch_warnings(record=True) as said:
            warnings.simplefilter("always")
            with Image.open(file) as im:
                _check_pixels(im, name)
                if im.format in ("JPEG", "MPO"):
                    from logitnet.data import jpeg

                    jpeg.check(im, file if data is None else data, name)
                # Decoded in full, never at a reduced JPEG scale (draft): that
                # is faster on large photos, but a Pillow image or an array
                # of the same photo would then get another probability.
                image = _to_input(im, size, name, owned=True)
    except DataError:
        raise
    except Image.DecompressionBombError as e:
        raise TooManyPixelsError(f"{name}: refused, too many pixels ({e})") from e
    except Image.UnidentifiedImageError:
        raise DataError(f"{name}: not an image file Pillow can read") from None
    except (OSError, SyntaxError, ValueError, EOFError) as e:
        # Pillow reports truncated or damaged data as any of these.
        raise DataError(f"{name}: damaged or truncated image ({e})") from e
    _retell(said, name)
    return image


def _retell(said: list[warnings.WarningMessage], name: str) -> None:
    """Warnings caught while decoding ``name``, told again: Pillow's
    (damaged EXIF data, a malformed MPO index) once each as a
    :class:`PictureWarning` naming the picture, not Pillow's source line;
    its bomb warning never (:data:`MAX_PIXELS` is firmer); others as they
    were."""
    Image, _ = _image_module()
    told = set()
    for w in said:
        if issubclass(w.category, Image.DecompressionBombWarning):
            continue
        if not issubclass(w.category, UserWarning):
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
            continue
        text = " ".join(str(w.message).split())
        if text not in told:
            told.add(text)
            warnings.warn(f"{name}: {text} (Pillow)", PictureWarning, stacklevel=4)


def _check_pixels(im, name: str) -> None:
    width, height = im.size
    if width * height > MAX_PIXELS:
        raise TooManyPixelsError(
            f"{name}: refused, {width}x{height} = {width * height:,} pixels is "
            f"more than the limit of {MAX_PIXELS:,} (a decompression bomb?)"
        )
    if width == 0 or height == 0:
        raise DataError(f"{name}: the image is empty ({width}x{height} pixels)")


def _array_to_image(array: np.ndarray):
    Image, _ = _image_module()
    a = array
    if a.ndim == 3 and a.shape[2] == 1:
        a = a[:, :, 0]
    if not (a.ndim == 2 or (a.ndim == 3 and a.shape[2] in (3, 4))):
        raise DataError(
            "array: expected pixels of shape (h, w), (h, w, 1), (h, w, 3) or "
            f"(h, w, 4); got shape {array.shape}"
        )
    if a.size == 0:
        raise DataError(f"array: the image is empty (shape {array.shape})")
    if a.dtype == np.uint8:
        pixels = a
    elif np.issubdtype(a.dtype, np.floating):
        if not np.isfinite(a).all():
            raise DataError("array: pixels contain NaN or inf")
        if a.min() < 0 or a.max() > 1:
            raise DataError(
                f"array: float pixels must be in [0, 1]; got values from "
                f"{a.min():g} to {a.max():g}"
            )
        pixels = np.rint(a * 255).astype(np.uint8)
    else:
        raise DataError(
            f"array: expected uint8 pixels (0..255) or floats in [0, 1]; got {a.dtype}"
        )
    return Image.fromarray(np.ascontiguousarray(pixels))


def _to_input(
    im, size: tuple[int, int], name: str, *, owned: bool
) -> NDArray[np.uint8]:
    """Upright, RGB, 8-bit, resized: the steps of :data:`PREPROCESSING`.

    Memory stays near the decoded picture's own: no step holds a copy of
    the full-size picture in a wider type, the conversions that need one
    (16 bits to 8, alpha over white) run :data:`_STRIP_ROWS` rows at a
    time, and a grayscale picture is resized before it becomes RGB (the
    same pixels: Lanczos works on each channel alone). ``owned``: the
    image is ours to transpose in place (not a caller's Pillow image).
    """
    Image, _ = _image_module()
    _check_pixels(im, name)
    im = _upright(im, owned)
    im = _gray_or_rgb(im, name)
    if im.size != size:
        im = im.resize(size, Image.Resampling.LANCZOS, reducing_gap=3.0)
    if im.mode == "L":
        im = im.convert("RGB")
    return np.asarray(im, dtype=np.uint8).copy()


#: Rows converted at a time where a picture changes mode (16 bits to 8,
#: alpha over white): a few MiB of temporary pixels whatever its size.
_STRIP_ROWS = 256

_SIXTEEN_BIT = ("I", "I;16", "I;16B", "I;16L", "I;16N")
_ALPHA = ("RGBA", "RGBa", "LA", "La", "PA")


def _upright(im, owned: bool):
    """The EXIF orientation applied (decoding the picture)."""
    _, ImageOps = _image_module()
    if owned:
        ImageOps.exif_transpose(im, in_place=True)
        return im
    # Pillow's exif_transpose copies even an upright picture: ask first.
    if im.getexif().get(_ORIENTATION, 1) in range(2, 9):
        return ImageOps.exif_transpose(im)
    return im


#: The EXIF tag of a picture's orientation.
_ORIENTATION = 0x0112


def _gray_or_rgb(im, name: str):
    """The picture as 8-bit grayscale ("L") or "RGB"."""
    mode = im.mode
    if mode == "F":
        raise DataError(f"{name}: 32-bit float images are not supported")
    if mode in _SIXTEEN_BIT:
        return _sixteen_to_eight_bits(im)
    if mode in ("1", "L"):
        return im.convert("L") if mode == "1" else im
    if mode in _ALPHA or (mode == "P" and "transparency" in im.info):
        return _over_white(im)
    return im if mode == "RGB" else im.convert("RGB")


def _sixteen_to_eight_bits(im):
    """A 16-bit (or 32-bit integer) grayscale picture as "L": v / 257,
    rounded (Pillow's own conversion clips at 255), a strip of rows at a
    time."""
    Image, _ = _image_module()
    width, height = im.size
    gray = np.empty((height, width), np.uint8)
    for top in range(0, height, _STRIP_ROWS):
        bottom = min(top + _STRIP_ROWS, height)
        # int32 holds both uint16 and "I" pixels, and v + 128.
        strip = np.asarray(im.crop((0, top, width, bottom))).astype(np.int32)
        gray[top:bottom] = (np.clip(strip, 0, 65535) + 128) // 257
    return Image.fromarray(gray)


def _over_white(im):
    """A picture with transparency composited over white, as "RGB", a strip
    of rows at a time (Pillow's alpha_composite works pixel by pixel)."""
    Image, _ = _image_module()
    width, height = im.size
    out = Image.new("RGB", im.size)
    white = Image.new("RGBA", (width, min(_STRIP_ROWS, height)), (*_WHITE, 255))
    for top in range(0, height, _STRIP_ROWS):
        strip = im.crop((0, top, width, min(top + _STRIP_ROWS, height)))
        strip = strip.convert("RGBA")
        background = white.crop((0, 0, width, strip.height))
        out.paste(Image.alpha_composite(background, strip).convert("RGB"), (0, top))
    return out


def load_image_folder(
    directory: str | os.PathLike[str],
    image_shape: Sequence[int] = DEFAULT_IMAGE_SHAPE,
    *,
    progress: Callable[[Iterable[Path]], Iterable[Path]] | None = None,
) -> tuple[NDArray[np.uint8], NDArray[np.int64], list[str], list[Path]]:
    """A data set from ``directory/<class name>/<images>``, k >= 2 classes.

    Parameters
    ----------
    directory : path-like
        Holding k >= 2 sub-directories (at most
        :data:`~logitnet.checks.MAX_CLASSES`), one per class, each with at
        least one image file. Other files beside them are ignored, and so
        are files without an image suffix inside them.
    image_shape : (height, width, 3), default=(64, 64, 3)
        Every image is brought to this shape (:func:`read_image`).
    progress : callable, optional
        Wraps the list of files, e.g. a tqdm progress bar.

    Returns
    -------
    images : ndarray of shape (m, height, width, 3), uint8
    labels : ndarray of shape (m,), int64
        0 .. k-1: the index of the image's class in ``classes``.
    classes : list of str
        The k class folder names, sorted.
    paths : list of Path
        The file of each image, in the order of ``images``.

    Raises
    ------
    DataError
        Naming the directory or file: missing, not a directory, fewer than
        two class folders (or more than ``MAX_CLASSES``), a class without
        images, or an unreadable image.
    """
    paths, labels, classes = image_folder_files(directory)
    height, width, channels = check_image_shape(image_shape, channels=(3,))
    images = np.empty((len(paths), height, width, channels), np.uint8)
    for i, path in enumerate(progress(paths) if progress else paths):
        images[i] = read_image(path, image_shape)
    return images, labels, classes, paths


def image_folder_files(
    directory: str | os.PathLike[str],
) -> tuple[list[Path], NDArray[np.int64], list[str]]:
    """The image files of ``directory/<class name>/<images>``, in the order
    :func:`load_image_folder` reads them (class by class, sorted), with
    their labels and the class names; nothing is decoded.

    Raises
    ------
    DataError
        As :func:`load_image_folder`'s, an unreadable image aside (none is
        read).
    """
    root = Path(directory)
    if not root.exists():
        raise DataError(f"{root}: no such directory")
    if not root.is_dir():
        raise DataError(f"{root}: not a directory (expected DIR/<class name>/<images>)")
    class_dirs = sorted(
        p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")
    )
    if not 2 <= len(class_dirs) <= MAX_CLASSES:
        found = ", ".join(shown(p.name) for p in class_dirs[:10]) or "none"
        found += ", ..." if len(class_dirs) > 10 else ""
        bound = "at least 2" if len(class_dirs) < 2 else f"at most {MAX_CLASSES}"
        raise DataError(
            f"{root}: expected {bound} class folders (DIR/<class name>/<images>); "
            f"found {len(class_dirs)} ({found})"
        )
    # A folder name is a class name as it is shown: bytes that are not UTF-8
    # and control characters become backslash escapes, so the name can be
    # printed, written to JSON, HDF5 and HTML, and drawn.
    try:  # two names could be shown alike: "a\\n" and "a" + newline
        classes = check_class_names([shown(p.name) for p in class_dirs])
    except ValueError as e:
        raise DataError(f"{root}: class folders: {e}") from None
    paths: list[Path] = []
    labels: list[int] = []
    for label, class_dir in enumerate(class_dirs):
        files = expand_paths([class_dir])
        if not files:
            raise DataError(f"{class_dir}: class folder holds no image files")
        paths.extend(files)
        labels.extend([label] * len(files))
    return paths, np.array(labels, np.int64), classes


def split_dataset(
    images: NDArray[np.uint8],
    labels: NDArray[np.int64],
    *,
    test_fraction: float,
    seed: int,
) -> tuple[NDArray[np.uint8], NDArray[np.int64], NDArray[np.uint8], NDArray[np.int64]]:
    """A reproducible, stratified split into training and test images.

    Parameters
    ----------
    images : ndarray of shape (m, height, width, 3), uint8
    labels : ndarray of shape (m,), int64
    test_fraction : float in [0, 1)
        Share of the images held out for testing; 0 holds out none.
    seed : int
        The same seed gives the same split.

    Returns
    -------
    train_images, train_labels, test_images, test_labels
        The test arrays are empty (0 images) when ``test_fraction`` is 0.

    Raises
    ------
    DataError
        When a split would leave the training or test set without images of
        each class (k classes: at least k test images, two of each class).
    """
    if not 0 <= test_fraction < 1:
        raise ValueError(f"test_fraction must be in [0, 1); got {test_fraction}")
    if test_fraction == 0:
        empty = np.arange(0)
        return images, labels, images[empty], labels[empty]
    from sklearn.model_selection import train_test_split

    try:
        train_x, test_x, train_y, test_y = train_test_split(
            images, labels, test_size=test_fraction, random_state=seed, stratify=labels
        )
    except ValueError as e:
        k = np.unique(labels).size
        raise DataError(
            f"cannot hold out {test_fraction:g} of {labels.size} images with "
            f"{'both classes' if k == 2 else f'all {k} classes'} on each side ({e})"
        ) from e
    return train_x, train_y, test_x, test_y
