"""A memory budget for decoding uploads: what a picture will cost is known
from its header, and pictures are decoded only while the total fits.

A 35-byte GIF can declare 8192 x 8192 pixels, and decoding it takes
hundreds of megabytes; forty requests at once would take the server's
memory. So the server reads each upload's header first (in a worker
thread: nothing that depends on an upload's content runs on the event
loop), estimates the decode's peak from the declared size and kind
(:func:`declared_cost`), and a request decodes only after it has taken its
largest picture's cost from a :class:`DecodeBudget` (its pictures are
decoded one after another, so the largest one is its peak). A request that
finds no room waits, without holding a thread, up to
``Limits.decode_wait`` seconds, then is answered 503 with ``Retry-After``;
a picture that could never fit is refused (422), like a decompression bomb.

:func:`return_freed_memory` makes the process give freed pictures back to
the system, so that its memory comes back down after a burst.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import threading
import warnings
from collections import deque
from collections.abc import Callable, Sequence
from typing import TypeVar

from starlette.concurrency import run_in_threadpool

from logitnet.data.images import MAX_PIXELS
from logitnet.exceptions import TooManyPixelsError

__all__ = [
    "BYTES_PER_PIXEL",
    "DecodeBudget",
    "ServerBusy",
    "declared_cost",
    "decode_within",
    "return_freed_memory",
]

MB = 1024 * 1024

T = TypeVar("T")

#: The most memory :func:`logitnet.data.images.read_image` takes while it
#: decodes one picture, in bytes per declared pixel, by what the header
#: says the picture is. Measured peaks (VmHWM, a fresh process, 8192 x 8192
#: pictures): gray or palette 6 B/px (decoded at 1 byte a pixel, copied,
#: then RGB at 4: Pillow keeps RGB in 4 bytes); color (RGB, CMYK, YCbCr)
#: 12; with transparency 18 (PNG palette) to 27.75 (WebP RGBA: composited
#: over white through full-size RGBA copies); 16- and 32-bit channels 21
#: (16-bit PNG) to 24.4 (32-bit TIFF, mode "I"). Rounded up by about a tenth,
#: so that the estimate stays above the peak: tests/test_serve_crafted.py checks
#: each kind against the real decode.
BYTES_PER_PIXEL = {"gray": 7, "color": 14, "transparent": 30, "wide": 28}

_WIDE_MODES = frozenset({"I", "I;16", "I;16B", "I;16L", "I;16N", "F"})
_GRAY_MODES = frozenset({"1", "L", "P"})
_COLOR_MODES = frozenset({"RGB", "CMYK", "YCbCr", "LAB", "HSV"})


def declared_cost(data: bytes) -> tuple[int, int, int]:
    """What decoding ``data`` may cost at its peak, from its header alone.

    Parameters
    ----------
    data : bytes
        An uploaded file.

    Returns
    -------
    (width, height, cost) : tuple of int
        The declared size, and the bytes its decode may take at its peak
        (:data:`BYTES_PER_PIXEL`). The cost is 0 when ``read_image`` refuses
        the file before decoding it: not a picture Pillow reads, an empty
        one, or more than ``MAX_PIXELS`` pixels (a bomb).
    """
    from PIL import Image

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as im:
                (width, height), mode = im.size, im.mode
                see_through = "transparency" in im.info
    except Exception:  # read_image says what is wrong, before any decoding
        return 0, 0, 0
    pixels = width * height
    if pixels > MAX_PIXELS:
        return width, height, 0
    if see_through:
        kind = "transparent"
    elif mode in _WIDE_MODES:
        kind = "wide"
    elif mode in _GRAY_MODES:
        kind = "gray"
    elif mode in _COLOR_MODES:
        kind = "color"
    else:
        kind = "transparent"  # RGBA, LA, PA, and any mode not listed: the most
    return width, height, pixels * BYTES_PER_PIXEL[kind]


class ServerBusy(Exception):
    """No room in the decode budget within the wait: answered 503."""


class DecodeBudget:
    """Bytes of decoding in flight in this process, at most ``total``.

    Taken and given back from any thread; :meth:`take` waits on the event
    loop. Whoever fits is admitted, in the order of asking: a small picture
    is not held up behind a large one that does not fit yet.

    Parameters
    ----------
    total : int
        Bytes; at least 1.
    """

    def __init__(self, total: int) -> None:
        self.total = total
        self._used = 0
        self._lock = threading.Lock()
        self._waiting: deque[tuple[int, asyncio.Future[None]]] = deque()
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def used(self) -> int:
        return self._used

    def try_take(self, n: int) -> bool:
        """Take ``n`` bytes if they fit now (any thread)."""
        with self._lock:
            if self._used + n > self.total:
                return False
            self._used += n
            return True

    def give_back(self, n: int) -> None:
        """Return ``n`` bytes (any thread); waiters that now fit go on."""
        with self._lock:
            self._used -= n
            loop = self._loop if self._waiting else None
        if loop is not None:
            with contextlib.suppress(RuntimeError):  # the loop has closed
                loop.call_soon_threadsafe(self._admit)

    def _admit(self) -> None:
        with self._lock:
            still: deque[tuple[int, asyncio.Future[None]]] = deque()
            for n, future in self._waiting:
                if future.done():  # gave up
                    continue
                if self._used + n <= self.total:
                    self._used += n
                    future.set_result(None)
                else:
                    still.append((n, future))
            self._waiting = still

    async def take(self, n: int, timeout: float) -> None:
        """Take ``n`` bytes, waiting up to ``timeout`` seconds for room.

        Raises
        ------
        ServerBusy
            If they did not fit in time.
        """
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()
        with self._lock:
            self._loop = loop
            if self._used + n <= self.total:
                self._used += n
                return
            self._waiting.append((n, future))
        try:
            async with asyncio.timeout(timeout):
                await future
        except BaseException as e:
            # Admitted in the same turn as the timeout or a cancellation:
            # the bytes were taken for us, and must be given back.
            if future.done() and not future.cancelled():
                self.give_back(n)
            else:
                future.cancel()
            if isinstance(e, TimeoutError):
                raise ServerBusy(f"no room to decode within {timeout:g} s") from None
            raise


def _refuse_if_never_fits(
    budget: DecodeBudget, files: Sequence[tuple[str, bytes]]
) -> int:
    """The request's peak: its largest picture's cost. A picture that could
    never fit in the whole budget is refused as a bomb is."""
    peak = 0
    for name, data in files:
        width, height, cost = declared_cost(data)
        if cost > budget.total:
            raise TooManyPixelsError(
                f"{name}: refused, {width}x{height} pixels would take about "
                f"{-(-cost // MB):,} MiB to decode; this server process decodes at "
                f"most {budget.total // MB:,} MiB at once (--max-decode-mb)"
            )
        peak = max(peak, cost)
    return peak


def _now_or_cost(
    budget: DecodeBudget, files: Sequence[tuple[str, bytes]], work: Callable[[], T]
) -> tuple[bool, T | int]:
    """In a worker thread: ``(True, work())`` if the request's peak fits in
    the budget now; else ``(False, peak)``, nothing decoded."""
    peak = _refuse_if_never_fits(budget, files)
    if not budget.try_take(peak):
        return False, peak
    try:
        return True, work()
    finally:
        budget.give_back(peak)


async def decode_within(
    budget: DecodeBudget,
    files: Sequence[tuple[str, bytes]],
    work: Callable[[], T],
    *,
    wait: float,
) -> T:
    """Run ``work`` (which decodes ``files`` one at a time) in a worker
    thread once the largest file's cost fits in ``budget``.

    The headers are read in the same thread, and when there is room at once
    (the usual case) the work follows there: one hop off the event loop.
    Otherwise the request waits on the loop, holding no thread.

    Raises
    ------
    TooManyPixelsError
        A picture that would need more than the whole budget.
    ServerBusy
        No room within ``wait`` seconds.
    """
    done, value = await run_in_threadpool(_now_or_cost, budget, files, work)
    if done:
        return value  # type: ignore[return-value]
    peak = int(value)  # type: ignore[arg-type]
    await budget.take(peak, wait)
    try:
        return await run_in_threadpool(work)
    finally:
        budget.give_back(peak)


#: glibc's mallopt parameter, from malloc.h.
_M_MMAP_THRESHOLD = -3


def return_freed_memory() -> None:
    """Make this process give a freed picture's memory back to the system.

    glibc raises its mmap threshold each time a large block is freed (up to
    32 MiB), after which pictures are allocated in per-thread heaps that are
    seldom trimmed: after six large uploads in six threads the server held
    2.68 GB. A fixed threshold of 1 MiB keeps every picture-sized block
    mapped on its own and unmapped when freed (measured: 685-908 MB held
    after eight 4096 x 4096 decodes in six threads, 41 MB with it). Other C
    libraries are left alone.
    """
    import ctypes
    import ctypes.util

    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return
    mallopt(_M_MMAP_THRESHOLD, MB)
