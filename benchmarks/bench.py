"""logitnet's benchmarks, side by side in one process: ``make bench``.

Writes ``benchmarks/RESULTS.md``. Every comparison runs twice: with each
library's default threads, and with one BLAS (and OpenMP, and PyTorch)
thread for every implementation (threadpoolctl). The implementations being
compared are timed interleaved (A B A B ...), so that a change in the
machine's load hits all of them; every figure is a median, and comparisons
are ratios taken in this same run. The floor of any method that reads X,
X X^T alone, is timed beside them. Speed targets live here, never in the
test suite.

Run: ``python benchmarks/bench.py [--out PATH] [--quick]`` with
``LOGITNET_DATA_DIR`` pointing at the course's data.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import sys
import threading
import warnings
from pathlib import Path

import numpy as np
import scipy
import sklearn
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression as SklearnLR

sys.path.insert(0, str(Path(__file__).parent))
import course_reference as course
from timing import THREADS, each_setting, fewest_iterations, interleaved

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


def cost_of(w, b, X, y):
    return loss_and_grad(np.asarray(w, float).ravel(), float(b), X, y)[0]


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


def time_to_course_cost(X, y, Xc, Yc, repeat):
    """Seconds to reach the course's final training cost, both settings.

    Returns (rows, timings): rows (key, name, iterations, final cost);
    timings {setting: {key: seconds}}, with the floor X X^T under "gram".
    """
    warnings.simplefilter("ignore", ConvergenceWarning)
    rows, fns = [], {}
    params = run_course(Xc, Yc)
    rows.append(
        (
            "course",
            "course's algorithm (gd, 2000 it)",
            GD_ITERATIONS,
            cost_of(params["w"], params["b"], X, y.astype(float)),
        )
    )
    fns["course"] = lambda: run_course(Xc, Yc)
    variants = (
        ("float64", np.float64, "auto", "logitnet lbfgs float64 (default)"),
        ("float32", np.float32, "auto", "logitnet lbfgs float32"),
        ("primal", np.float64, "primal", "logitnet lbfgs float64, primal"),
    )
    for key, dtype, representation, name in variants:
        Xd = X.astype(dtype)

        def fit(k, Xd=Xd, dtype=dtype, representation=representation):
            return LogisticRegression(
                max_iter=k, tol=0, dtype=dtype, representation=representation
            ).fit(Xd, y)

        k = fewest_iterations(lambda k, fit=fit: _clf_cost(fit(k), X, y), TARGET, 200)
        clf = fit(k)
        rows.append((key, f"{name} [{clf.representation_}]", k, _clf_cost(clf, X, y)))
        fns[key] = lambda k=k, fit=fit: fit(k)

    def sk(k):
        return SklearnLR(C=np.inf, max_iter=k, tol=0).fit(X, y)

    k = fewest_iterations(lambda k: _clf_cost(sk(k), X, y), TARGET, 200)
    rows.append(
        ("sklearn", "scikit-learn lbfgs (unpenalized)", k, _clf_cost(sk(k), X, y))
    )
    fns["sklearn"] = lambda k=k: sk(k)

    if torch is not None:
        yf = y.astype(float)
        k = fewest_iterations(
            lambda k: cost_of(*torch_lbfgs(X, yf, k, torch.float64), X, yf),
            TARGET,
            200,
        )
        w, b = torch_lbfgs(X, yf, k, torch.float64)
        rows.append(
            ("torch", "PyTorch LBFGS full batch float64", k, cost_of(w, b, X, yf))
        )
        fns["torch"] = lambda k=k: torch_lbfgs(X, yf, k, torch.float64)
    fns["gram"] = lambda: X @ X.T
    return rows, each_setting(fns, repeat)


def _clf_cost(clf, X, y):
    return cost_of(clf.coef_.astype(float), clf.intercept_[0], X, y.astype(float))


def gd_2000(X, y, Xc, Yc, repeat):
    """2000 gd iterations, both settings: (rows, timings) as above."""
    warnings.simplefilter("ignore", ConvergenceWarning)
    yf = y.astype(float)
    ref = run_course(Xc, Yc)
    rows = [
        (
            "course",
            "course's algorithm float64",
            cost_of(ref["w"], ref["b"], X, yf),
            0.0,
        )
    ]
    fns = {"course": lambda: run_course(Xc, Yc)}
    variants = (
        ("float64", np.float64, "auto", "logitnet gd float64"),
        ("float32", np.float32, "auto", "logitnet gd float32"),
        ("primal", np.float64, "primal", "logitnet gd float64, primal"),
    )
    for key, dtype, representation, name in variants:
        Xd = X.astype(dtype)

        def fit(Xd=Xd, dtype=dtype, representation=representation):
            return LogisticRegression(
                solver="gd",
                learning_rate=LR,
                max_iter=GD_ITERATIONS,
                tol=0,
                dtype=dtype,
                representation=representation,
            ).fit(Xd, y)

        clf = fit()
        dev = float(np.max(np.abs(clf.coef_.ravel().astype(float) - ref["w"].ravel())))
        rows.append((key, f"{name} [{clf.representation_}]", _clf_cost(clf, X, y), dev))
        fns[key] = fit
    if torch is not None:
        for tdtype, name in ((torch.float64, "float64"), (torch.float32, "float32")):
            w, b = torch_gd(X, yf, GD_ITERATIONS, tdtype)
            dev = float(np.max(np.abs(w.astype(float) - ref["w"].ravel())))
            key = f"torch {name}"
            rows.append(
                (key, f"PyTorch SGD full batch {name}", cost_of(w, b, X, yf), dev)
            )
            fns[key] = lambda tdtype=tdtype: torch_gd(X, yf, GD_ITERATIONS, tdtype)
    fns["gram"] = lambda: X @ X.T
    return rows, each_setting(fns, repeat)


def prediction_throughput(X, y, repeat):
    """{setting: [(batch, logitnet images/s, scikit-learn images/s)]}."""
    clf = LogisticRegression().fit(X, y)
    sk = SklearnLR(C=np.inf, max_iter=1000).fit(X, y)
    rng = np.random.default_rng(0)
    out = {setting: [] for setting in THREADS}
    for batch in (1, 64, 10_000):
        images = rng.integers(0, 256, size=(batch, X.shape[1]), dtype=np.uint8)
        Xb = images / 255.0
        timed = each_setting(
            {
                "logitnet": lambda Xb=Xb: clf.predict(Xb),
                "sklearn": lambda Xb=Xb: sk.predict(Xb),
            },
            repeat,
        )
        for setting, t in timed.items():
            out[setting].append((batch, batch / t["logitnet"], batch / t["sklearn"]))
        del Xb, images
    return out


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

    return X.nbytes / interleaved({"sum": run}, 5)["sum"]


def large_case(m, n, repeat):
    """One loss + gradient on m x n float32: the bandwidths and
    {setting: {implementation: seconds}}."""
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
    info = {"bytes": X.nbytes, "bw1": read_bandwidth(X, 1), "bw2": read_bandwidth(X, 2)}

    def unblocked():
        saved = numpy_backend.SINGLE_PASS_BYTES
        numpy_backend.SINGLE_PASS_BYTES = X.nbytes + 1
        try:
            loss_and_grad(w, 0.1, X, y)
        finally:
            numpy_backend.SINGLE_PASS_BYTES = saved

    lml = LinearModelLoss(base_loss=HalfBinomialLoss(), fit_intercept=True)
    coef = np.append(w, np.float32(0.1))
    fns = {
        "logitnet": lambda: loss_and_grad(w, 0.1, X, y),
        "unblocked": unblocked,
        "sklearn": lambda: lml.loss_gradient(
            coef, X, y, sample_weight=None, l2_reg_strength=0.0
        ),
    }
    return info, each_setting(fns, repeat)


# -- report -----------------------------------------------------------------


def cpu_model():
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def timed_table(columns, timed, timings, rows, cell):
    """A Markdown table: the ``columns``, then the ``timed`` columns once per
    thread setting of ``timings``; ``rows`` are (cells of ``columns``, key),
    and ``cell(timings[setting], key)`` gives a row's timed cells."""
    settings = list(timings)
    heads = columns + [f"{t}, {s}" for s in settings for t in timed]
    out = [
        "| " + " | ".join(heads) + " |",
        "|---|" + "---:|" * (len(heads) - 1),
    ]
    for fixed, key in rows:
        cells = [c for s in settings for c in cell(timings[s], key)]
        out.append("| " + " | ".join(fixed + cells) + " |")
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(Path(__file__).parent / "RESULTS.md"))
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--large-rows", type=int, default=20_000)
    args = parser.parse_args(argv)
    repeat = args.repeat
    settings = list(THREADS)

    train_x, train_y, *_ = cats.load_dataset()
    X = train_x.reshape(train_x.shape[0], -1) / 255.0
    y = train_y.ravel()
    Xc, Yc = course.course_inputs(train_x, train_y)

    print("time to the course's cost ...", flush=True)
    rows_a, a = time_to_course_cost(X, y, Xc, Yc, repeat)
    print("2000 gd iterations ...", flush=True)
    gd_repeat = max(5, repeat - 2)
    rows_b, b = gd_2000(X, y, Xc, Yc, gd_repeat)
    print("prediction throughput ...", flush=True)
    c = prediction_throughput(X, y, repeat)
    print("large case ...", flush=True)
    info, d = large_case(args.large_rows, X.shape[1], repeat)

    env = {
        k: os.environ.get(k, "(not set)")
        for k in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "OMP_NUM_THREADS")
    }
    lines = [
        "# logitnet benchmarks",
        "",
        f"Written by `make bench` (`benchmarks/bench.py`) on "
        f"{datetime.date.today().isoformat()}. Every comparison runs twice: with "
        "each library's default threads, and with one thread for every "
        "implementation (threadpoolctl's limit on every BLAS and OpenMP pool, "
        "and `torch.set_num_threads(1)`). Within a table the implementations "
        "are timed interleaved (A B C A B C ...), after one warm-up each; "
        f"every figure is the median of {repeat} rounds ({gd_repeat} for the "
        "2000-iteration runs), all in one process; compare ratios, not seconds.",
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
        "then is timed for that many (validation included). In brackets, where "
        "logitnet computed (`representation_`). The floor is X Xᵀ alone, the "
        "least any method that reads X must do.",
        "",
    ]
    lines += timed_table(
        ["solver", "iterations", "final cost"],
        ["seconds", "logitnet default is faster by"],
        a,
        [([name, str(k), f"{cost:.6f}"], key) for key, name, k, cost in rows_a]
        + [(["floor: X Xᵀ alone (NumPy)", "", ""], "gram")],
        lambda t, key: [f"{t[key]:.4f}", f"{t[key] / t['float64']:.2f}×"],
    )
    if torch is None:
        lines.append("\nPyTorch is not installed: its rows are skipped.")
    lines += [
        "",
        f"## {GD_ITERATIONS} gradient-descent iterations (learning rate {LR})",
        "",
    ]
    lines += timed_table(
        ["implementation", "final cost", "max abs(w − course w)"],
        ["seconds", "speed-up over the course"],
        b,
        [([name, f"{cost:.6f}", f"{dev:.1e}"], key) for key, name, cost, dev in rows_b]
        + [(["floor: X Xᵀ alone (NumPy)", "", ""], "gram")],
        lambda t, key: [f"{t[key]:.4f}", f"{t['course'] / t[key]:.1f}×"],
    )
    lines += [
        "",
        "## Prediction throughput (images per second)",
        "",
        "A fitted float64 model on random 64×64×3 images already scaled to [0, 1] "
        "(float64 arrays); `predict` validates its input each call.",
        "",
        "| batch | "
        + " | ".join(f"logitnet, {s} | scikit-learn, {s}" for s in settings)
        + " |",
        "|---:|" + "---:|---:|" * len(settings),
    ]
    for i, (batch, *_) in enumerate(c[settings[0]]):
        cells = " | ".join(f"{c[s][i][1]:,.0f} | {c[s][i][2]:,.0f}" for s in settings)
        lines.append(f"| {batch:,} | {cells} |")
    gb = info["bytes"] / 1e9
    bound1 = info["bytes"] / info["bw1"]
    bound2 = info["bytes"] / info["bw2"]
    names = {
        "logitnet": "logitnet loss_and_grad (row blocks)",
        "unblocked": "logitnet, one BLAS call per product (no blocks)",
        "sklearn": "scikit-learn LinearModelLoss.loss_gradient",
    }
    lines += [
        "",
        f"## One loss + gradient on data larger than the cache "
        f"({args.large_rows:,} × {X.shape[1]:,} float32, {gb:.2f} GB)",
        "",
        f"Bound: the bytes of X divided by the read bandwidth of `X.sum()` over the "
        f"same array in this run: {info['bw1'] / 1e9:.1f} GB/s on one thread "
        f"(the bound asked for), {info['bw2'] / 1e9:.1f} GB/s with the sum split over "
        "two threads (the stricter bound on this 2-core machine). m ≫ n: every "
        "solver stays primal here.",
        "",
    ]
    lines += timed_table(
        ["implementation"],
        ["seconds", "of the 1-thread bound", "of the 2-thread bound"],
        d,
        [([name], key) for key, name in names.items()],
        lambda t, key: [
            f"{t[key]:.4f}",
            f"{bound1 / t[key]:.0%}",
            f"{bound2 / t[key]:.0%}",
        ],
    )

    def ratio(values, key, over):
        return values[key] / values[over]

    lines += ["", "## Ratios against the targets", ""]
    for s in settings:
        one = s == "one thread"
        lines += [
            f"**{s}**",
            "",
            f"- 2000 gd iterations float64 vs the course's algorithm: "
            f"{ratio(b[s], 'course', 'float64'):.1f}× "
            f"(target ≥ {20 if one else 10}×); float32 "
            f"{ratio(b[s], 'course', 'float32'):.1f}×",
            f"- time to the course's cost, default solver float64 vs scikit-learn's "
            f"lbfgs: {ratio(a[s], 'sklearn', 'float64'):.1f}× "
            f"(target ≥ {3 if one else 15}×)",
            f"- that fit over X Xᵀ alone: {ratio(a[s], 'float64', 'gram'):.2f}× "
            "(target ≤ 1.5×)",
            f"- time to the course's cost vs the course's algorithm: "
            f"{ratio(a[s], 'course', 'float64'):.0f}×",
        ]
        if "torch" in a[s]:
            lines.append(
                f"- time to the course's cost vs PyTorch LBFGS: "
                f"{ratio(a[s], 'torch', 'float64'):.1f}×"
            )
        lines += [
            f"- large loss + gradient: {bound1 / d[s]['logitnet']:.0%} of the "
            f"1-thread bound; {ratio(d[s], 'sklearn', 'logitnet'):.2f}× faster "
            "than scikit-learn",
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
