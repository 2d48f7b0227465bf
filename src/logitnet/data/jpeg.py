"""JPEG files whose coded data ends before their picture does.

libjpeg, under Pillow, decodes a JPEG whose coded data stops early (a file
cut short and given back its end marker, or a header that claims more
pixels than the data holds) without a word: the blocks it has no data for
come out flat gray, and the damaged picture would be classified as if it
were whole. Pillow does not pass libjpeg's warnings on, so the file itself
is looked at, in two steps:

1. :func:`check_coded_data`, before any pixel is decoded, from the markers
   alone: a scan for every component (for a progressive file, every
   coefficient brought to its last bit), and at least one bit of coded
   data per 8x8 block the header declares (what the shortest Huffman code
   takes), so that a header of 8000x8000 pixels over a few KB is refused
   without decoding 256 MB of gray;
2. :func:`check_decoded`, after the decode: the file is decoded again
   with extra coded bytes after its last scan. A scan that holds all its
   blocks never reads past its end, so the pixels agree; a scan cut short
   reads the extra bytes as the blocks it lacks, and they differ. A
   sequential file of more than :data:`_AGAIN_IN_FULL` pixels is
   compared at 1/8 scale (as it is, and with the extra bytes), and only
   where its last block came out as "no data" (mid gray) or where libjpeg
   could end it otherwise (several scans, arithmetic coding, CMYK): such
   a photo pays nothing. A progressive file, whose last scans refine
   coefficients that leave no such mark, and a small picture are decoded
   again in full: their decode costs twice the time.

What is not seen: a large sequential file cut inside its last 16x16
pixels, and lossless JPEG (rare; libjpeg's own checks only).
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import math
import mmap
import os
import re
from dataclasses import dataclass

from logitnet.exceptions import DataError

__all__ = ["Layout", "check", "check_coded_data", "check_decoded", "read_layout"]

#: Start-of-frame markers, and which of them are progressive, lossless, or
#: arithmetic-coded (whose data can take less than a bit per block).
_FRAMES = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7}
_FRAMES |= {code + 8 for code in _FRAMES}
_PROGRESSIVE = {0xC2, 0xC6, 0xCA, 0xCE}
_LOSSLESS = {0xC3, 0xC7, 0xCB, 0xCF}
_SOS, _EOI = 0xDA, 0xD9
#: Markers without a length: TEM, RST0-7, SOI.
_STANDALONE = {0x01, *range(0xD0, 0xD9)}

#: Where a scan's coded data ends: a 0xFF that is not a stuffed data byte
#: (0xFF 0x00), a restart marker inside the scan, or a fill byte.
_END_OF_SCAN = re.compile(rb"\xff[^\x00\xd0-\xd7\xff]")

#: Coded bytes put after the last scan to see whether the decoder reads
#: them: pseudo-random, fixed, without 0xFF (which would start a marker).
_FILLER = hashlib.shake_128(b"logitnet: does the scan end early?").digest(4096)
_FILLER = _FILLER.replace(b"\xff", b"\x7f")

#: Pictures of up to this many pixels (a few ms to decode) are decoded
#: again in full whatever their kind: a cut inside the last block counts.
_AGAIN_IN_FULL = 512 * 512

#: What a block without data decodes to: zero coefficients, mid gray.
_NO_DATA = {"L": 128, "RGB": (128, 128, 128)}


def check(im, source, name: str) -> None:
    """Refuse a JPEG whose coded data ends before its picture does:
    :func:`check_coded_data` before decoding, :func:`check_decoded` after.

    Parameters
    ----------
    im : PIL.Image.Image
        The file opened with Pillow, not yet decoded; decoded here.
    source : path-like or bytes-like
        The file: its path (read through a memory map) or its bytes.
    name : str
        What error messages call it.
    """
    with contextlib.ExitStack() as stack:
        data = source
        if isinstance(source, str | os.PathLike):
            f = stack.enter_context(open(source, "rb"))
            data = stack.enter_context(
                mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
            )
        layout = read_layout(data)
        if layout is None:
            return  # not a JPEG by its markers: Pillow's decoder says why
        check_coded_data(layout, name)
        im.load()
        check_decoded(data, layout, im, name)


@dataclass(frozen=True)
class Layout:
    """A JPEG's frame and scans, read from its markers.

    Attributes
    ----------
    width, height : int
        From the frame header (height 0: given later, by a DNL marker).
    sampling : dict of int to (int, int)
        Each component's horizontal and vertical sampling factors.
    frame : int
        The start-of-frame marker's code (0xC0 baseline, 0xC2 progressive...).
    scans : list of (tuple of int, int, int, int)
        Each scan's component ids, first and last coefficient (Ss, Se) and
        the bit position it brings them to (Al).
    coded_bytes : int
        Bytes of coded data in all scans.
    end_of_data : int
        Offset in the file where the last scan's coded data ends.
    """

    width: int
    height: int
    sampling: dict[int, tuple[int, int]]
    frame: int
    scans: list[tuple[tuple[int, ...], int, int, int]]
    coded_bytes: int
    end_of_data: int


def read_layout(data) -> Layout | None:
    """The frame and scans of a JPEG file's first picture, from its markers.

    Parameters
    ----------
    data : bytes-like (bytes, memoryview, mmap)
        The whole file.

    Returns
    -------
    Layout or None
        None where the markers do not read as a JPEG file (no frame, no
        scan, a segment that runs past the end): Pillow's decoder then
        says what is wrong.
    """
    if bytes(data[:2]) != b"\xff\xd8":
        return None
    position, end = 2, len(data)
    frame = sampling = size = None
    scans, coded, end_of_data = [], 0, 0
    while position + 2 <= end:
        if data[position] != 0xFF:
            return None
        code = data[position + 1]
        position += 1 if code == 0xFF else 2  # fill bytes before a marker
        if code == 0xFF or code in _STANDALONE:
            continue
        if code == _EOI:
            break
        length = int.from_bytes(data[position : position + 2], "big")
        segment = bytes(data[position + 2 : position + length])
        if length < 2 or len(segment) != length - 2:
            return None
        position += length
        if code in _FRAMES:
            if frame is not None or len(segment) < 6 + 3 * segment[5]:
                return None
            frame, size = (
                code,
                (segment[3] << 8 | segment[4], segment[1] << 8 | segment[2]),
            )
            sampling = {
                segment[i]: (segment[i + 1] >> 4, segment[i + 1] & 15)
                for i in range(6, 6 + 3 * segment[5], 3)
            }
        elif code == _SOS:
            if frame is None or not segment or len(segment) < 4 + 2 * segment[0]:
                return None
            n = segment[0]
            components = tuple(segment[1 : 1 + 2 * n : 2])
            first, last, bits = segment[1 + 2 * n : 4 + 2 * n]
            scans.append((components, first, last, bits & 15))
            found = _END_OF_SCAN.search(data, position)
            stop = found.start() if found else end
            while stop > position and data[stop - 1] == 0xFF:
                stop -= 1  # fill bytes belong to the marker
            coded += stop - position
            end_of_data, position = stop, stop
    if frame is None or not scans:
        return None
    return Layout(*size, sampling, frame, scans, coded, end_of_data)


def check_coded_data(layout: Layout, name: str) -> None:
    """Refuse a JPEG whose markers show that its data cannot fill its
    picture: a component without a scan, a progressive file whose scans
    stop before every coefficient is complete, or fewer bits of
    Huffman-coded data than the blocks the header declares.

    Raises
    ------
    DataError
        ``"{name}: damaged or truncated image (...)"``.
    """
    if layout.height == 0 or not layout.sampling:
        return  # the height comes after the first scan: libjpeg checks it
    missing = _incomplete(layout)
    if missing:
        raise DataError(f"{name}: damaged or truncated image ({missing})")
    h_max = max(h for h, _ in layout.sampling.values())
    v_max = max(v for _, v in layout.sampling.values())
    per = 1 if layout.frame in _LOSSLESS else 8  # a sample, or an 8x8 block
    units = sum(
        math.ceil(math.ceil(layout.width * h / h_max) / per)
        * math.ceil(math.ceil(layout.height * v / v_max) / per)
        for h, v in layout.sampling.values()
    )
    if layout.frame < 0xC8 and layout.coded_bytes * 8 < units:
        raise DataError(
            f"{name}: damaged or truncated image (its header declares "
            f"{layout.width}x{layout.height} pixels, {units:,} "
            f"{'samples' if per == 1 else 'blocks'} of at least one bit each, "
            f"but {layout.coded_bytes:,} bytes of coded data follow)"
        )


def _incomplete(layout: Layout) -> str | None:
    """What the scans leave out of the picture, if anything."""
    if layout.frame not in _PROGRESSIVE:
        scanned = {c for components, *_ in layout.scans for c in components}
        if set(layout.sampling) <= scanned:
            return None
        return "a color component has no scan: the file ends early"
    finest = {c: [99] * 64 for c in layout.sampling}
    for components, first, last, bits in layout.scans:
        for c in components:
            for k in range(first, min(last, 63) + 1):
                if c in finest:
                    finest[c][k] = min(finest[c][k], bits)
    if any(max(bits) for bits in finest.values()):
        return "its progressive scans stop before the picture is complete"
    return None


def check_decoded(data, layout: Layout, im, name: str) -> None:
    """Refuse a JPEG whose last scan ends before its picture does; ``im``
    is the Pillow image decoded from ``data``.

    Raises
    ------
    DataError
        ``"{name}: damaged or truncated image (...)"``.
    """
    if layout.frame in _LOSSLESS:
        return
    at = layout.end_of_data
    padded = bytes(data[:at]) + _FILLER + bytes(data[at:])
    if layout.frame in _PROGRESSIVE or im.width * im.height <= _AGAIN_IN_FULL:
        # A refinement scan, or a last block, cut short leaves no mark on
        # the pixels, nor at a reduced scale: decoded again in full.
        differs = _differs(im, padded)
    elif (
        layout.frame < 0xC8
        and len(layout.scans) == 1
        and im.mode in _NO_DATA
        and im.getpixel((im.width - 1, im.height - 1)) != _NO_DATA[im.mode]
    ):
        return  # the last block had coded data: the scan reached it
    else:
        differs = _small(data) != _small(padded)
    if differs:
        raise DataError(
            f"{name}: damaged or truncated image (its coded data ends "
            "before the picture does)"
        )


def _small(data) -> bytes:
    """The picture decoded at 1/8 scale (libjpeg's cheapest decode), as
    bytes."""
    from PIL import Image

    with Image.open(io.BytesIO(data)) as im:
        im.draft(im.mode, (1, 1))
        return im.tobytes()


def _differs(im, data) -> bool:
    """Whether ``data`` decodes to other pixels than ``im``'s, compared a
    strip of rows at a time (two whole copies would double the memory)."""
    from PIL import Image

    with Image.open(io.BytesIO(data)) as other:
        other.load()
        if (other.mode, other.size) != (im.mode, im.size):
            return True
        for top in range(0, im.height, 256):
            box = (0, top, im.width, min(top + 256, im.height))
            if other.crop(box).tobytes() != im.crop(box).tobytes():
                return True
    return False
