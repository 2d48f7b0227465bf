"""logitnet's benchmarks, side by side in one process: ``make bench``.

Writes ``benchmarks/RESULTS.md``. Every row is the median of several
repetitions; comparisons are ratios taken in this same run. Speed targets
live here, never in the test suite.

Run: ``python benchmarks/bench.py [--out PATH] [--quick]`` with
``LOGITNET_DATA_DIR`` pointing at the course's data.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import statistics
import sys
import threading
import time
import warnings
from pathlib import Path

import numpy as np
import scipy
import sklearn
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression as SklearnLR

sys.path.insert(0, str(Path(__file__).parent))
import course_reference as course

import logitnet
from logitnet import LogisticRegression
from logitnet.core.loss import loss_and_grad
from logitnet.data import cats

try:
    import torch
except ImportError:  # optional: rows are skipped with a line saying so
    torch = None

TARGET = 0.135608  # the course's training cost after 2000 iterations of lr 0.005
LR = 0.005
GD_ITERATIONS = 2000


def median_time(fn, repeat):
    """Median wall time of ``repeat`` calls, after one warm-up call."""
    fn()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def cost_of(w, b, X, y):
    return loss_and_grad(np.asarray(w, float).ravel(), float(b), X, y)[0]


def first_reaching(make_cost, limit):
    """Smallest k in 1..limit with make_cost(k) <= TARGET (bisection)."""
    lo, hi = 1, limit
    if make_cost(hi) > TARGET:
        raise RuntimeError(f"target cost not reached in {limit} iterations")
    while lo < hi:
        mid = (lo + hi) // 2
        if make_cost(mid) <= TARGET:
            hi = mid
        else:
            lo = mid + 1
    return lo


def run_course(Xc, Yc):
    """The course's 2000 iterations from zeros; its final parameters."""
    w, b = course.initialize_with_zeros(Xc.shape[0])
    return course.optimize(w, b, Xc, Yc, GD_ITERATIONS, LR)[0]


# -- PyTorch ------------------------------------------------------------------


def torch_lbfgs(X, y, steps, dtype):
    Xt, yt = torch.from_numpy(X).to(dtype), torch.from_numpy(y).to(dtype)
    w = torch.zeros(X.shape[1], dtype=dtype, requires_grad=True)
    b = torch.zeros(1, dtype=dtype, requires_grad=True)
    opt = torch.optim.LBFGS(
        [w, b],
        lr=1,
        max_iter=steps,
        tolerance_grad=0,
        tolerance_change=0,
        history_size=10,
        line_search_fn="strong_wolfe",
    )
    loss_fn = torch.nn.BCEWithLogitsLoss()

    def closure():
        opt.zero_grad()
        loss = loss_fn(Xt @ w + b, yt)
        loss.backward()
        return loss

    opt.step(closure)
    return w.detach().numpy(), float(b.detach()[0])


def torch_gd(X, y, iterations, dtype):
    Xt, yt = torch.from_numpy(X).to(dtype), torch.from_numpy(y).to(dtype)
    w = torch.zeros(X.shape[1], dtype=dtype, requires_grad=True)
    b = torch.zeros(1, dtype=dtype, requires_grad=True)
    opt = torch.optim.SGD([w, b], lr=LR)  # full batch: plain gradient descent
    loss_fn = torch.nn.BCEWithLogitsLoss()
    for _ in range(iterations):
        opt.zero_grad()
        loss_fn(Xt @ w + b, yt).backward()
        opt.step()
    return w.detach().numpy(), float(b.detach()[0])


# -- the sections ---------------------------------------------------------------


def time_to_course_cost(X, y, Xc, Yc, repeat, rows):
    """Seconds to reach the course's final training cost."""
    warnings.simplefilter("ignore", ConvergenceWarning)

    def course_run():
        return run_course(Xc, Yc)

    params = course_run()
    course_cost = cost_of(params["w"], params["b"], X, y.astype(float))
    t_course = median_time(course_run, repeat)
    rows.append(
        ("course's algorithm (gd, 2000 it)", GD_ITERATIONS, course_cost, t_course)
    )

    results = {"course": t_course}
    for dtype in (np.float64, np.float32):
        Xd = X.astype(dtype)

        def fit(k, Xd=Xd, dtype=dtype):
            return LogisticRegression(max_iter=k, tol=0, dtype=dtype).fit(Xd, y)

        k = first_reaching(lambda k, fit=fit: _clf_cost(fit(k), X, y), 200)
        t = median_time(lambda k=k, fit=fit: fit(k), repeat)
        name = f"logitnet lbfgs {np.dtype(dtype).name}" + (
            " (default)" if dtype is np.float64 else ""
        )
        rows.append((name, k, _clf_cost(fit(k), X, y), t))
        results[np.dtype(dtype).name] = t

    def sk(k):
        return SklearnLR(C=np.inf, max_iter=k, tol=0).fit(X, y)

    k = first_reaching(lambda k: _clf_cost(sk(k), X, y), 200)
    t = median_time(lambda: sk(k), repeat)
    rows.append(("scikit-learn lbfgs (unpenalized)", k, _clf_cost(sk(k), X, y), t))
    results["sklearn"] = t

    if torch is not None:
        yf = y.astype(float)
        k = first_reaching(
            lambda k: cost_of(*torch_lbfgs(X, yf, k, torch.float64), X, yf), 200
        )
        t = median_time(lambda: torch_lbfgs(X, yf, k, torch.float64), repeat)
        w, b = torch_lbfgs(X, yf, k, torch.float64)
        rows.append(("PyTorch LBFGS full batch float64", k, cost_of(w, b, X, yf), t))
        results["torch"] = t
    return results


def _clf_cost(clf, X, y):
    return cost_of(clf.coef_.astype(float), clf.intercept_[0], X, y.astype(float))


def gd_2000(X, y, Xc, Yc, repeat, rows):
    warnings.simplefilter("ignore", ConvergenceWarning)
    yf = y.astype(float)

    def course_run():
        return run_course(Xc, Yc)

    ref = course_run()
    results = {"course": median_time(course_run, repeat)}
    rows.append(
        (
            "course's algorithm float64",
            cost_of(ref["w"], ref["b"], X, yf),
            0.0,
            results["course"],
        )
    )
    for dtype in (np.float64, np.float32):
        Xd = X.astype(dtype)

        def fit(Xd=Xd, dtype=dtype):
            return LogisticRegression(
                solver="gd",
                learning_rate=LR,
                max_iter=GD_ITERATIONS,
                tol=0,
                dtype=dtype,
            ).fit(Xd, y)

        clf = fit()
        dev = float(np.max(np.abs(clf.coef_.ravel().astype(float) - ref["w"].ravel())))
        t = median_time(fit, repeat)
        results[np.dtype(dtype).name] = t
        rows.append(
            (f"logitnet gd {np.dtype(dtype).name}", _clf_cost(clf, X, y), dev, t)
        )
    if torch is not None:
        for tdtype, name in ((torch.float64, "float64"), (torch.float32, "float32")):
            w, b = torch_gd(X, yf, GD_ITERATIONS, tdtype)
            dev = float(np.max(np.abs(w.astype(float) - ref["w"].ravel())))
            t = median_time(
                lambda tdtype=tdtype: torch_gd(X, yf, GD_ITERATIONS, tdtype), repeat
            )
            results[f"torch {name}"] = t
            rows.append(
                (f"PyTorch SGD full batch {name}", cost_of(w, b, X, yf), dev, t)
            )
    return results


def prediction_throughput(X, y, repeat, rows):
    clf = LogisticRegression().fit(X, y)
    sk = SklearnLR(C=np.inf, max_iter=1000).fit(X, y)
    rng = np.random.default_rng(0)
    for batch in (1, 64, 10_000):
        images = rng.integers(0, 256, size=(batch, X.shape[1]), dtype=np.uint8)
        Xb = images / 255.0
        t = median_time(lambda Xb=Xb: clf.predict(Xb), repeat)
        t_sk = median_time(lambda Xb=Xb: sk.predict(Xb), repeat)
        rows.append((batch, batch / t, batch / t_sk))
        del Xb, images


def read_bandwidth(X, threads):
    """Bytes/s of a plain NumPy sum over X, split over ``threads`` threads."""
    parts = np.array_split(np.arange(X.shape[0]), threads)

    def run():
        if threads == 1:
            X.sum()
            return
        workers = [
            threading.Thread(target=lambda p=p: X[p[0] : p[-1] + 1].sum())
            for p in parts
        ]
        for t in workers:
            t.start()
        for t in workers:
            t.join()

    return X.nbytes / median_time(run, 5)


def large_case(m, n, repeat, rows):
    from sklearn._loss.loss import HalfBinomialLoss
    from sklearn.linear_model._linear_loss import LinearModelLoss

    from logitnet.backends import numpy as numpy_backend

    rng = np.random.default_rng(1)
    X = np.empty((m, n), np.float32)
    for start in range(0, m, 1000):  # bounded temporaries while filling
        X[start : start + 1000] = rng.standard_normal(
            (min(1000, m - start), n), dtype=np.float32
        )
    y = (rng.random(m) > 0.5).astype(np.float32)
    w = (rng.standard_normal(n) * 0.01).astype(np.float32)
    bound_1 = read_bandwidth(X, 1)
    bound_2 = read_bandwidth(X, 2)
    seconds_1 = X.nbytes / bound_1
    results = {"bytes": X.nbytes, "bw1": bound_1, "bw2": bound_2}

    t = median_time(lambda: loss_and_grad(w, 0.1, X, y), repeat)
    results["logitnet"] = t
    rows.append(
        (
            "logitnet loss_and_grad (row blocks)",
            t,
            seconds_1 / t,
            X.nbytes / bound_2 / t,
        )
    )
    saved = numpy_backend.SINGLE_PASS_BYTES
    numpy_backend.SINGLE_PASS_BYTES = X.nbytes + 1
    try:
        t1 = median_time(lambda: loss_and_grad(w, 0.1, X, y), repeat)
    finally:
        numpy_backend.SINGLE_PASS_BYTES = saved
    rows.append(
        (
            "logitnet, one BLAS call per product (no blocks)",
            t1,
            seconds_1 / t1,
            X.nbytes / bound_2 / t1,
        )
    )
    results["unblocked"] = t1

    lml = LinearModelLoss(base_loss=HalfBinomialLoss(), fit_intercept=True)
    coef = np.append(w, np.float32(0.1))
    t_sk = median_time(
        lambda: lml.loss_gradient(coef, X, y, sample_weight=None, l2_reg_strength=0.0),
        repeat,
    )
    results["sklearn"] = t_sk
    rows.append(
        (
            "scikit-learn LinearModelLoss.loss_gradient",
            t_sk,
            seconds_1 / t_sk,
            X.nbytes / bound_2 / t_sk,
        )
    )
    return results


# -- report -----------------------------------------------------------------


def cpu_model():
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(Path(__file__).parent / "RESULTS.md"))
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--large-rows", type=int, default=20_000)
    args = parser.parse_args(argv)
    repeat = args.repeat

    train_x, train_y, *_ = cats.load_dataset()
    X = train_x.reshape(train_x.shape[0], -1) / 255.0
    y = train_y.ravel()
    Xc, Yc = course.course_inputs(train_x, train_y)

    print("time to the course's cost ...", flush=True)
    rows_a = []
    a = time_to_course_cost(X, y, Xc, Yc, repeat, rows_a)
    print("2000 gd iterations ...", flush=True)
    rows_b = []
    b = gd_2000(X, y, Xc, Yc, max(5, repeat - 2), rows_b)
    print("prediction throughput ...", flush=True)
    rows_c = []
    prediction_throughput(X, y, repeat, rows_c)
    print("large case ...", flush=True)
    rows_d = []
    d = large_case(args.large_rows, X.shape[1], repeat, rows_d)

    env = {
        k: os.environ.get(k, "(not set)")
        for k in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "OMP_NUM_THREADS")
    }
    lines = [
        "# logitnet benchmarks",
        "",
        f"Written by `make bench` (`benchmarks/bench.py`) on "
        f"{datetime.date.today().isoformat()}. Every figure is the median of "
        f"{repeat} repetitions (5 for the 2000-iteration runs) after one warm-up, "
        "all in one process; compare ratios, not seconds.",
        "",
        f"- CPU: {cpu_model()}, {os.cpu_count()} cores",
        f"- Python {platform.python_version()}, NumPy {np.__version__}, "
        f"SciPy {scipy.__version__}, scikit-learn {sklearn.__version__}, "
        f"PyTorch {torch.__version__ if torch else 'not installed'}, "
        f"logitnet {logitnet.__version__}",
        "- Environment: " + ", ".join(f"`{k}={v}`" for k, v in env.items()),
        "",
        f"## Time to the course's training cost ({TARGET})",
        "",
        "Cat data (209 × 12,288, scaled to [0, 1]); each solver gets the fewest "
        "iterations that bring the training cost to the target, found by bisection, "
        "then is timed for that many (validation included).",
        "",
        "| solver | iterations | final cost | seconds "
        "| logitnet default is faster by |",
        "|---|---:|---:|---:|---:|",
    ]
    base = a["float64"]
    for name, k, cost, t in rows_a:
        lines.append(f"| {name} | {k} | {cost:.6f} | {t:.4f} | {t / base:.1f}× |")
    if torch is None:
        lines.append("\nPyTorch is not installed: its rows are skipped.")
    lines += [
        "",
        f"## {GD_ITERATIONS} gradient-descent iterations (learning rate {LR})",
        "",
        "| implementation | final cost | max abs(w − course w) | seconds | "
        "speed-up over the course's algorithm |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, cost, dev, t in rows_b:
        lines.append(
            f"| {name} | {cost:.6f} | {dev:.1e} | {t:.3f} | {b['course'] / t:.2f}× |"
        )
    lines += [
        "",
        "## Prediction throughput (images per second)",
        "",
        "A fitted float64 model on random 64×64×3 images already scaled to [0, 1] "
        "(float64 arrays); `predict` validates its input each call.",
        "",
        "| batch | logitnet | scikit-learn |",
        "|---:|---:|---:|",
    ]
    for batch, ours, theirs in rows_c:
        lines.append(f"| {batch:,} | {ours:,.0f} | {theirs:,.0f} |")
    gb = d["bytes"] / 1e9
    lines += [
        "",
        f"## One loss + gradient on data larger than the cache "
        f"({args.large_rows:,} × {X.shape[1]:,} float32, {gb:.2f} GB)",
        "",
        f"Bound: the bytes of X divided by the read bandwidth of `X.sum()` over the "
        f"same array in this run: {d['bw1'] / 1e9:.1f} GB/s on one thread "
        f"(the bound asked for), {d['bw2'] / 1e9:.1f} GB/s with the sum split over "
        "two threads (the stricter bound on this 2-core machine).",
        "",
        "| implementation | seconds | fraction of the 1-thread bound | "
        "fraction of the 2-thread bound |",
        "|---|---:|---:|---:|",
    ]
    for name, t, f1, f2 in rows_d:
        lines.append(f"| {name} | {t:.4f} | {f1:.0%} | {f2:.0%} |")
    lines += [
        "",
        "## Ratios against the targets",
        "",
        f"- time to the course's cost, vs the course's algorithm: "
        f"{a['course'] / base:.0f}× (target ≥ 50×)",
        f"- time to the course's cost, vs scikit-learn: {a['sklearn'] / base:.1f}× "
        "(target ≥ 10×)",
    ]
    if "torch" in a:
        lines.append(
            f"- time to the course's cost, vs PyTorch LBFGS: {a['torch'] / base:.1f}×"
        )
    lines += [
        f"- gd float64 vs the course's algorithm: {b['course'] / b['float64']:.2f}× "
        "(target ≥ 1.5×)",
        f"- gd float32 vs the course's algorithm: {b['course'] / b['float32']:.2f}× "
        "(target ≥ 3×)",
        f"- large loss + gradient: "
        f"{d['bytes'] / d['bw1'] / d['logitnet']:.0%} of the 1-thread bound "
        f"(target ≥ 70%); {d['sklearn'] / d['logitnet']:.2f}× faster than "
        "scikit-learn",
        "",
    ]
    text = "\n".join(lines)
    notes = Path(__file__).parent / "NOTES.md"
    if notes.exists():
        text += "\n" + notes.read_text()
    Path(args.out).write_text(text)
    print(text)


if __name__ == "__main__":
    main()
