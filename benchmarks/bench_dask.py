"""logitnet on data larger than memory: ``make bench`` (after bench.py).

Writes ``benchmarks/RESULTS_DASK.md``. One run, side by side:

1. a synthetic uint8 training set (:func:`logitnet.data.synth.make_images`):
   write speed;
2. reading the file once, two ways: chunk by chunk with plain h5py, and
   with the pass's own reader on Dask's threads but no arithmetic; the
   faster is the floor a pass is compared with;
3. loss + gradient passes over ``open_images``' Dask array on the local
   threaded scheduler: seconds per pass, ratio to the read, peak RSS
   (reads and passes interleaved, median of ``--repeats``);
4. time to the same training loss: logitnet's L-BFGS on the Dask array,
   scikit-learn's ``SGDClassifier(loss="log_loss").partial_fit`` fed the
   same chunks, dask-ml's ``LogisticRegression`` on the same Dask array;
5. a pass on a ``LocalCluster`` of 1 and of 2 single-threaded workers.

Every measurement that reads the file runs in a fresh subprocess (so that
its peak RSS, ``ru_maxrss``, is its own), and before each one the file's
pages are dropped from the page cache with ``posix_fadvise(DONTNEED)``, so
that the read and the passes start equally cold (see the notes written
with the results).

Run: ``python benchmarks/bench_dask.py [--n-samples N] [--workdir DIR]
[--keep]``. The default, 2,500,000 images of 64 x 64 x 3, is a 30.7 GB
file: larger than a 24 GB machine's memory.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
import textwrap
import time
from pathlib import Path

HERE = Path(__file__).parent


def drop_cache(path: Path) -> str:
    """Evict the file from the page cache; says how."""
    try:
        Path("/proc/sys/vm/drop_caches").write_text("1\n")
        return "drop_caches"
    except OSError:
        pass
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)
    return "posix_fadvise(DONTNEED)"


def child(code: str, path: Path, memory_limit_gb: float | None = None, **args) -> dict:
    """Run ``code`` in a fresh interpreter after dropping the cache; its
    last stdout line is JSON; its peak RSS is added as ``rss_mb``.

    ``memory_limit_gb`` caps the child's address space (``RLIMIT_AS``), so
    that a method that holds the data in memory fails with a MemoryError
    instead of exhausting the machine's memory.
    """
    how = drop_cache(path)
    limit = (
        ""
        if memory_limit_gb is None
        else f"resource.setrlimit(resource.RLIMIT_AS, "
        f"({int(memory_limit_gb * 2**30)}, resource.RLIM_INFINITY))"
    )
    prelude = textwrap.dedent(
        f"""
        import json, resource, sys, time, warnings
        {limit}
        warnings.simplefilter("ignore")
        import numpy as np
        ARGS = json.loads({json.dumps(json.dumps({"path": str(path), **args}))})
        """
    )
    epilogue = textwrap.dedent(
        """
        RESULT["rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(json.dumps(RESULT))
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", prelude + textwrap.dedent(code) + epilogue],
        capture_output=True,
        text=True,
        check=False,
    )
    if out.returncode != 0:
        raise RuntimeError(f"benchmark child failed:\n{out.stderr[-3000:]}")
    result = json.loads(out.stdout.strip().splitlines()[-1])
    result["cache"] = how
    return result


READ_H5PY = """
import h5py
from logitnet.data.reader import open_images
X, _ = open_images(ARGS["path"], chunk_rows=ARGS["chunk_rows"])
rows = X.chunks[0][0]
start = time.perf_counter()
with h5py.File(ARGS["path"], "r") as f:
    d = f["train_set_x"]
    for s in range(0, d.shape[0], rows):
        d[s : s + rows]
RESULT = {"seconds": time.perf_counter() - start}
"""

# The pass's own reader and scheduler, with no arithmetic: each chunk is read
# whole and reduced to a copy of one pixel (a view would keep the chunk).
READ_DASK = """
import dask
from logitnet.data.reader import open_images
X, _ = open_images(ARGS["path"], chunk_rows=ARGS["chunk_rows"])
pixels = X.pixels
start = time.perf_counter()
with dask.config.set(scheduler="threads"):
    pixels.map_blocks(lambda b: b[:1, :1].copy(), chunks=(1, 1)).compute(
        num_workers=ARGS["threads"]
    )
RESULT = {"seconds": time.perf_counter() - start}
"""

PASSES = """
import dask
from logitnet.data.reader import open_images
from logitnet.core.loss import loss_and_grad
X, y = open_images(ARGS["path"], chunk_rows=ARGS["chunk_rows"], dtype=ARGS["dtype"])
y = y.astype(X.dtype)
w = np.zeros(X.shape[1])
times = []
with dask.config.set(scheduler="threads"):
    for _ in range(ARGS["passes"]):
        start = time.perf_counter()
        loss_and_grad(w, 0.0, X, y)
        times.append(time.perf_counter() - start)
RESULT = {"seconds": times, "chunks": len(X.chunks[0]), "float_gb": X.nbytes / 1e9}
"""

LOGITNET = """
import dask
from logitnet.data.reader import open_images
from logitnet.core.solvers import Problem, lbfgs
X, y = open_images(ARGS["path"], chunk_rows=ARGS["chunk_rows"], dtype=ARGS["dtype"])
y = y.astype(X.dtype)
trace = []
start = time.perf_counter()
with dask.config.set(scheduler="threads"):
    lbfgs(Problem(X, y, np.zeros(X.shape[1])), max_iter=ARGS["iterations"], tol=0,
          progress=lambda step: trace.append((time.perf_counter() - start, step.cost)))
RESULT = {"trace": trace}
"""

SGD = """
import dask
from sklearn.linear_model import SGDClassifier
from logitnet.data.reader import open_images
from logitnet.core.loss import loss_and_grad
X, y = open_images(ARGS["path"], chunk_rows=ARGS["chunk_rows"], dtype=ARGS["dtype"])
yf = y.astype(X.dtype)
sgd = SGDClassifier(loss="log_loss", random_state=0)
X_blocks, y_blocks = X.to_delayed().ravel(), y.to_delayed().ravel()
trace, spent = [], 0.0
for epoch in range(ARGS["epochs"]):
    start = time.perf_counter()
    for xb, yb in zip(X_blocks, y_blocks):
        xc, yc = dask.compute(xb, yb, scheduler="sync")
        sgd.partial_fit(xc, yc, classes=[0, 1])
    spent += time.perf_counter() - start
    # The loss is measured outside the clock.
    with dask.config.set(scheduler="threads"):
        cost = loss_and_grad(sgd.coef_[0], float(sgd.intercept_[0]), X, yf)[0]
    trace.append((spent, cost))
RESULT = {"trace": trace}
"""

DASK_ML = """
import dask
from dask_ml.linear_model import LogisticRegression
from logitnet.data.reader import open_images
from logitnet.core.loss import loss_and_grad
X, y = open_images(ARGS["path"], chunk_rows=ARGS["chunk_rows"], dtype=ARGS["dtype"])
trace = []
for max_iter in ARGS["dask_ml_iterations"]:
    start = time.perf_counter()
    with dask.config.set(scheduler="threads"):
        model = LogisticRegression(
            solver="lbfgs", penalty="l2", C=1e12, max_iter=max_iter
        ).fit(X, y)
    spent = time.perf_counter() - start
    with dask.config.set(scheduler="threads"):
        cost = loss_and_grad(
            np.asarray(model.coef_, float), float(model.intercept_), X,
            y.astype(X.dtype),
        )[0]
    trace.append((spent, cost))
RESULT = {"trace": trace}
"""

CLUSTER = """
import resource
from distributed import Client, LocalCluster
from logitnet.data.reader import open_images
from logitnet.core.loss import loss_and_grad
X, y = open_images(ARGS["path"], chunk_rows=ARGS["chunk_rows"], dtype=ARGS["dtype"])
y = y.astype(X.dtype)
w = np.zeros(X.shape[1])


def worker_peak_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


with LocalCluster(n_workers=ARGS["workers"], threads_per_worker=1,
                  processes=True, dashboard_address=None) as cluster, \\
        Client(cluster) as client:
    loss_and_grad(w, 0.0, X.to_floats()[:2], y[:2])  # warm: workers import logitnet
    import os
    fd = os.open(ARGS["path"], os.O_RDONLY)
    os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    os.close(fd)
    start = time.perf_counter()
    loss_and_grad(w, 0.0, X, y)
    seconds = time.perf_counter() - start
    workers = sorted(client.run(worker_peak_mb).values())
RESULT = {"seconds": seconds, "worker_rss_mb": workers}
"""


NOTES = """\
## Reading these results

- **Cold and warm.** Each measurement starts with the file's pages dropped
  from the page cache. A file larger than memory cannot stay cached anyway;
  a smaller one (the quick runs) may be served from a cache below this
  machine (the virtual disk's host), which makes its "cold" reads faster
  than the disk, and later passes of a fit may find it cached: on small
  files the fixed costs of a pass (starting threads, a task per chunk)
  weigh more, and the iterative methods are helped by the cache.
- **The read floor.** Reading once is measured three ways: plain h5py, one
  thread, chunk by chunk; and the pass's own reader (direct I/O for a file
  larger than half the memory) on 2 and on 4 Dask threads, with no
  arithmetic. A pass is compared with the fastest.
- **Where a pass spends its time.** Each task reads one chunk of uint8
  pixels (plain HDF5 storage with ``os.preadv``, which does not hold
  Python's lock while the disk works; direct I/O, which spares the kernel
  a core's worth of page-cache copying), converts 85 rows at a time to
  float32 in a reused buffer in cache, and does both products on them.
  BLAS runs one thread per task, and a pass runs two tasks per core, so
  that reads are in flight while the cores compute.
- **Time to the same loss.** logitnet's L-BFGS needs one pass per cost
  evaluation (a few per iteration at first, then one). SGD makes one pass
  per epoch but needs many epochs to approach the L-BFGS loss on
  ill-conditioned pixel data. dask-ml's ``LogisticRegression`` adds an
  intercept column, making float64 chunks, and computes its loss and
  gradient as two Dask expressions over them; Dask keeps a chunk until
  both have used it, and here that is many chunks at once: its memory
  grows with the data (measured on 200,000 images: 9.96 GB peak RSS in one
  iteration, half of X as float64). It runs under an address-space limit,
  so that it fails with a MemoryError instead of exhausting the machine.
"""


def first_reaching(trace, target):
    for seconds, cost in trace:
        if cost <= target:
            return seconds
    return None


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n-samples", type=int, default=2_500_000)
    parser.add_argument("--workdir", type=Path, default=Path("."))
    parser.add_argument("--keep", action="store_true", help="keep the data file")
    parser.add_argument("--out", type=Path, default=HERE / "RESULTS_DASK.md")
    parser.add_argument("--chunk-rows", type=int, default=None)
    parser.add_argument("--dtype", choices=["float32", "float64"], default="float32")
    parser.add_argument(
        "--repeats", type=int, default=3, help="cold reads and passes, each"
    )
    parser.add_argument("--iterations", type=int, default=8, help="L-BFGS iterations")
    parser.add_argument("--epochs", type=int, default=2, help="SGD epochs")
    parser.add_argument(
        "--dask-ml-iterations",
        type=int,
        nargs="+",
        default=[2],
        help="max_iter of each dask-ml fit (a fit starts from zero each time)",
    )
    parser.add_argument(
        "--dask-ml-memory-gb",
        type=float,
        default=16.0,
        help="address-space limit of the dask-ml run (it holds X in memory)",
    )
    parser.add_argument(
        "--skip-data", action="store_true", help="reuse an existing data file"
    )
    args = parser.parse_args(argv)

    import h5py
    import numpy as np

    import logitnet
    from logitnet.backends.dask import IO_THREADS_PER_CORE
    from logitnet.data.reader import CHUNK_BYTES
    from logitnet.data.synth import make_images

    path = args.workdir / f"logitnet-bench-{args.n_samples}.h5"
    if args.skip_data and path.exists():
        write_mb_s = None
    else:
        start = time.perf_counter()
        make_images(path, args.n_samples, seed=0)
        write_mb_s = path.stat().st_size / 1e6 / (time.perf_counter() - start)
    file_gb = path.stat().st_size / 1e9
    with h5py.File(path) as f:
        n_features = int(np.prod(f["train_set_x"].shape[1:]))
    itemsize = np.dtype(args.dtype).itemsize
    chunk_rows = args.chunk_rows or max(CHUNK_BYTES // (n_features * itemsize), 1)
    common = {"chunk_rows": chunk_rows, "dtype": args.dtype}
    try:
        # Interleaved, so that a slow spell of the disk hits all three alike.
        cores = os.cpu_count() or 1
        threads = (cores, IO_THREADS_PER_CORE * cores)
        reads_h5py, passes = [], []
        reads_dask = {n: [] for n in threads}
        for _ in range(args.repeats):
            reads_h5py.append(child(READ_H5PY, path, **common))
            for n in threads:
                reads_dask[n].append(child(READ_DASK, path, threads=n, **common))
            passes.append(child(PASSES, path, passes=1, **common))
        ours = child(LOGITNET, path, iterations=args.iterations, **common)
        sgd = child(SGD, path, epochs=args.epochs, **common)
        started = time.perf_counter()
        try:
            dask_ml = child(
                DASK_ML,
                path,
                memory_limit_gb=args.dask_ml_memory_gb,
                dask_ml_iterations=args.dask_ml_iterations,
                **common,
            )
        except RuntimeError as e:
            dask_ml = {
                "error": str(e).splitlines()[-1],
                "seconds": time.perf_counter() - started,
            }
        clusters = {n: child(CLUSTER, path, workers=n, **common) for n in (1, 2)}
    finally:
        if not args.keep:
            path.unlink(missing_ok=True)

    def median(values):
        return float(np.median(values))

    pass_s = median([p["seconds"][0] for p in passes])
    read_h5py_s = median([r["seconds"] for r in reads_h5py])
    read_dask_s = {
        n: median([r["seconds"] for r in rs]) for n, rs in reads_dask.items()
    }
    read_s = min(read_h5py_s, *read_dask_s.values())
    pass_rss = max(p["rss_mb"] for p in passes)
    methods = {
        f"logitnet L-BFGS, {args.iterations} iterations (Dask, threads)": ours,
        f'SGDClassifier(loss="log_loss").partial_fit, {args.epochs} epochs': sgd,
    }
    if "trace" in dask_ml:
        methods["dask-ml LogisticRegression(solver='lbfgs')"] = dask_ml
    # Two targets: the loss every method reaches (the highest final loss),
    # and logitnet's final loss (which the others may not reach).
    every = max(r["trace"][-1][1] for r in methods.values())
    ours_final = ours["trace"][-1][1]

    def fmt(x, spec=".2f"):
        return "—" if x is None else format(x, spec)

    lines = [
        "# logitnet on data larger than memory",
        "",
        f"Written by `benchmarks/bench_dask.py` on "
        f"{datetime.date.today().isoformat()}: logitnet {logitnet.__version__}, "
        f"Python {platform.python_version()}, {os.cpu_count()} CPUs, "
        f"{_memory_gb():.0f} GB RAM. Data: {args.n_samples:,} synthetic images of "
        f"{n_features:,} uint8 pixels, a {file_gb:.2f} GB HDF5 file "
        f"({args.n_samples * n_features * itemsize / 1e9:.1f} GB as {args.dtype}); "
        f"chunks of {chunk_rows:,} images. Page cache dropped before each "
        f"measurement with {passes[0]['cache']}; reads and passes interleaved, "
        f"median of {args.repeats} each.",
        "",
        "| measurement | value |",
        "| --- | --- |",
        f"| synth write | {fmt(write_mb_s, '.0f')} MB/s |",
        f"| read the file once: h5py, chunk by chunk, one thread | "
        f"{read_h5py_s:.2f} s ({file_gb * 1e3 / read_h5py_s:.0f} MB/s) |",
        *(
            f"| read the file once: the pass's reader, {n} Dask threads, no "
            f"arithmetic | {t:.2f} s ({file_gb * 1e3 / t:.0f} MB/s) |"
            for n, t in read_dask_s.items()
        ),
        f"| loss + gradient pass, Dask threads ({threads[1]}, logitnet's choice) | "
        f"{pass_s:.2f} s |",
        f"| pass / the faster read | {pass_s / read_s:.2f}× (target ≤ 1.5×) |",
        f"| peak RSS of the processes doing the passes | {pass_rss:.0f} MB "
        f"(target ≤ 1 GB) |",
        f"| pass on LocalCluster, 1 worker × 1 thread | "
        f"{clusters[1]['seconds']:.2f} s, worker peak RSS "
        f"{clusters[1]['worker_rss_mb'][0]:.0f} MB |",
        f"| pass on LocalCluster, 2 workers × 1 thread | "
        f"{clusters[2]['seconds']:.2f} s "
        f"({clusters[1]['seconds'] / clusters[2]['seconds']:.2f}× faster), worker peak "
        f"RSS {', '.join(f'{r:.0f}' for r in clusters[2]['worker_rss_mb'])} MB |",
        "",
        f"Time to the same training loss: A = {every:.6f}, the highest final "
        f"loss of the methods below (all reach it), and B = {ours_final:.6f}, "
        f"logitnet's final loss. The loss of SGD and dask-ml is measured "
        f"outside their clocks.",
        "",
        "| method | time to A | time to B | last losses (s: loss) | peak RSS |",
        "| --- | --- | --- | --- | --- |",
    ]
    for name, result in methods.items():
        trace = ", ".join(f"{t:.1f}: {c:.4g}" for t, c in result["trace"][-3:])
        lines.append(
            f"| {name} | {fmt(first_reaching(result['trace'], every))} s | "
            f"{fmt(first_reaching(result['trace'], ours_final))} s | {trace} | "
            f"{result['rss_mb']:.0f} MB |"
        )
    if "error" in dask_ml:
        lines.append(
            f"| dask-ml LogisticRegression(solver='lbfgs') | failed after "
            f"{dask_ml['seconds']:.0f} s under a {args.dask_ml_memory_gb:g} GB "
            f"memory limit: {dask_ml['error']} | | | |"
        )
    lines += ["", NOTES]
    args.out.write_text("\n".join(lines).rstrip() + "\n")
    raw = {
        "reads_h5py": reads_h5py,
        "reads_dask": reads_dask,
        "passes": passes,
        "logitnet": ours,
        "sgd": sgd,
        "dask_ml": dask_ml,
        "clusters": clusters,
    }
    args.out.with_suffix(".json").write_text(json.dumps(raw, indent=1) + "\n")
    print("\n".join(lines))
    return 0


def _memory_gb() -> float:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 1e9
    except (ValueError, OSError):
        return float("nan")


if __name__ == "__main__":
    sys.exit(main())
