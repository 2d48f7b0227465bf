"""How every benchmark here times things side by side.

The implementations compared run interleaved (A B A B ...), each once for
warm-up first, the median of ``repeat`` rounds kept, under two thread
settings: each library's default, and one thread for every BLAS, OpenMP and
(when it is loaded) PyTorch pool. A pause before each timed call lets the
thread pools of the call before go quiet.
"""

from __future__ import annotations

import contextlib
import statistics
import sys
import time

from threadpoolctl import threadpool_limits

__all__ = ["THREADS", "each_setting", "fewest_iterations", "interleaved", "threads"]

#: The two thread settings every comparison runs under: None leaves each
#: library's default, 1 limits every BLAS, OpenMP and PyTorch pool to one.
THREADS = {"default threads": None, "one thread": 1}


@contextlib.contextmanager
def threads(limit):
    """Every implementation's thread pools limited to ``limit`` (None: as
    they are); PyTorch's too when a benchmark has imported it."""
    if limit is None:
        yield
        return
    torch = sys.modules.get("torch")
    saved = torch.get_num_threads() if torch is not None else None
    with threadpool_limits(limits=limit):
        if torch is not None:
            torch.set_num_threads(limit)
        try:
            yield
        finally:
            if torch is not None:
                torch.set_num_threads(saved)


def interleaved(fns, repeat, pause: float = 0.0):
    """Median wall time of each of ``fns`` (name -> callable): one warm-up
    call each, then ``repeat`` rounds, each calling every one in turn,
    ``pause`` seconds of sleep before each timed call."""
    for fn in fns.values():
        fn()
    times = {name: [] for name in fns}
    for _ in range(repeat):
        for name, fn in fns.items():
            if pause:
                time.sleep(pause)
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(t) for name, t in times.items()}


def each_setting(fns, repeat, pause: float = 0.0):
    """{setting: {name: median seconds}} under both thread settings."""
    out = {}
    for setting, limit in THREADS.items():
        with threads(limit):
            out[setting] = interleaved(fns, repeat, pause)
    return out


def fewest_iterations(cost_after, target: float, limit: int) -> int:
    """The smallest k in 1..limit with cost_after(k) <= target (bisection):
    how many iterations an implementation needs to reach the target cost,
    so that each is timed doing the same work."""
    if cost_after(limit) > target:
        raise RuntimeError(f"the target was not reached in {limit} iterations")
    lo, hi = 1, limit
    while lo < hi:
        mid = (lo + hi) // 2
        if cost_after(mid) <= target:
            hi = mid
        else:
            lo = mid + 1
    return lo
