"""k classes: logitnet's softmax regression against scikit-learn and PyTorch.

Writes ``benchmarks/RESULTS_MULTICLASS.md``. Each comparison is the time to
scikit-learn's own converged objective at equal penalty: scikit-learn's
``LogisticRegression(C=1)`` (multinomial, lbfgs, its default tol) is fitted
to convergence, its objective J* = mean cross-entropy + alpha/2 ||W||^2
with alpha = 1 / (C m) is the target, and each implementation is timed at
the fewest iterations (tol=0) that reach J <= J* (found by bisection).
Repetitions are interleaved (A B A B ...), with a pause before each call,
under default threads and one thread for every BLAS/OpenMP/PyTorch pool.

1. tall: scikit-learn's digits, 1,797 x 64, 10 classes;
2. wide: 500 pictures of 64 x 64 x 3 (12,288 features), 10 classes, from a
   planted softmax model (:func:`logitnet.data.synth`'s way, k columns);
3. a pass over a data file (``--file-samples`` pictures, cached) with
   k = 10 against k = 2, and the time of its two matrix products at the
   machine's measured matrix-multiply rate.

Run: ``python benchmarks/bench_multiclass.py [--repeat R] [--file-samples N]
[--workdir DIR]``.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import warnings
from pathlib import Path

import numpy as np
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression as SklearnLR
from timing import each_setting, fewest_iterations

from logitnet import LogisticRegression
from logitnet.core.loss import loss_and_grad

try:
    import torch
except ImportError:  # the PyTorch rows are left out
    torch = None

HERE = Path(__file__).resolve().parent
PAUSE = 0.2
C = 1.0


def objective(coef, intercept, X, y, alpha) -> float:
    W = np.asarray(coef, np.float64).T.copy()
    return loss_and_grad(W, np.asarray(intercept, np.float64), X, y.astype(float),
                         alpha=alpha)[0]  # fmt: skip


def torch_lbfgs(X, y, k, steps, alpha):
    Xt, yt = torch.from_numpy(X), torch.from_numpy(y).long()
    W = torch.zeros(X.shape[1], k, dtype=Xt.dtype, requires_grad=True)
    b = torch.zeros(k, dtype=Xt.dtype, requires_grad=True)
    opt = torch.optim.LBFGS([W, b], lr=1, max_iter=steps, tolerance_grad=0,
                            tolerance_change=0, history_size=10,
                            line_search_fn="strong_wolfe")  # fmt: skip
    loss_fn = torch.nn.CrossEntropyLoss()

    def closure():
        opt.zero_grad()
        loss = loss_fn(Xt @ W + b, yt) + 0.5 * alpha * (W * W).sum()
        loss.backward()
        return loss

    opt.step(closure)
    return W.detach().numpy().T, b.detach().numpy()


def race(X, y, repeat: int, limit: int = 3000) -> tuple[list, dict]:
    """Rows (name, iterations, objective) and {setting: {name: seconds}}."""
    warnings.simplefilter("ignore", ConvergenceWarning)
    m, k = X.shape[0], np.unique(y).size
    alpha = 1.0 / (C * m)
    reference = SklearnLR(C=C, max_iter=10_000).fit(X, y)
    target = objective(reference.coef_, reference.intercept_, X, y, alpha)
    rows, fns = [("scikit-learn's converged objective (target)", "-", target)], {}

    def ours(n, representation="auto"):
        return LogisticRegression(alpha=alpha, max_iter=n, tol=0,
                                  representation=representation).fit(X, y)  # fmt: skip

    def theirs(n):
        return SklearnLR(C=C, max_iter=n, tol=0).fit(X, y)

    entries = [("logitnet lbfgs", ours), ("scikit-learn lbfgs", theirs)]
    if X.shape[1] > X.shape[0]:
        entries.insert(1, ("logitnet lbfgs, primal", lambda n: ours(n, "primal")))
    for name, fit in entries:
        if name.startswith("logitnet"):
            # Its cost at every iterate is recorded: one fit finds the first
            # iterate at or below the target.
            curve = np.asarray(fit(limit).loss_curve_)
            n = max(int(np.argmax(curve <= target)), 1)
            if curve[n] > target:
                raise RuntimeError(f"{name}: the target was not reached")
        else:

            def cost(n, fit=fit):
                clf = fit(n)
                return objective(clf.coef_, clf.intercept_, X, y, alpha)

            n = fewest_iterations(cost, target, limit)
        clf = fit(n)
        where = getattr(clf, "representation_", None)
        label = name + (f" [{where}]" if where else "")
        rows.append((label, n, objective(clf.coef_, clf.intercept_, X, y, alpha)))
        fns[name] = lambda n=n, fit=fit: fit(n)
    if torch is not None:
        yf = y.astype(np.float64)

        def cost(n):
            return objective(*torch_lbfgs(X, yf, k, n, alpha), X, y, alpha)

        n = fewest_iterations(cost, target, 500)
        rows.append(("PyTorch LBFGS full batch float64", n, cost(n)))
        fns["PyTorch"] = lambda n=n: torch_lbfgs(X, yf, k, n, alpha)
    return rows, each_setting(fns, repeat, PAUSE)


def wide_problem(m=500, n=12_288, k=10, seed=0):
    """Pixels uniform in 0..255 scaled to [0, 1], labels drawn from a planted
    softmax model (every class present)."""
    rng = np.random.default_rng(seed)
    X = rng.integers(0, 256, (m, n), dtype=np.uint8) / 255.0
    W = rng.normal(scale=4.0 / np.sqrt(n), size=(n, k))
    Z = (X - 0.5) @ W * 8
    P = np.exp(Z - Z.max(axis=1, keepdims=True))
    P /= P.sum(axis=1, keepdims=True)
    y = np.array([rng.choice(k, p=p) for p in P])
    y[:k] = np.arange(k)
    return X, y


def file_passes(path: Path, repeat: int) -> dict:
    """A loss-and-gradient pass over a cached file, k = 10 against k = 2, and
    the two products of the pass at the machine's matrix-multiply rate."""
    from logitnet.data.reader import open_images

    X, y = open_images(path, "train", dtype=np.float32)
    codes = (y % 10).astype(np.float32)
    n = X.shape[1]
    w2, W10 = np.zeros(n, np.float32), np.zeros((n, 10), np.float32)
    b10 = np.zeros(10)
    block = np.random.default_rng(0).random((85, n), dtype=np.float32)
    rows = X.shape[0]

    def products(k):
        # The pass's two products over 85-row blocks, in memory, without
        # reading: X_b W and X_b^T dZ, as many blocks as the file has.
        W = np.zeros((n, k), np.float32)
        dZ = np.zeros((85, k), np.float32)
        for _ in range(rows // 85):
            block @ W
            block.T @ dZ

    fns = {
        "pass, 2 classes": lambda: loss_and_grad(w2, 0.0, X, y),
        "pass, 10 classes": lambda: loss_and_grad(W10, b10, X, codes),
        "products only, 2 classes": lambda: products(1),
        "products only, 10 classes": lambda: products(10),
    }
    return each_setting(fns, repeat, PAUSE)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--file-samples", type=int, default=50_000)
    parser.add_argument("--workdir", type=Path, default=Path("."))
    args = parser.parse_args(argv)

    X, y = load_digits(return_X_y=True)
    tall = race(X / 16.0, y, args.repeat)
    wide = race(*wide_problem(), args.repeat, limit=400)
    path = args.workdir / f"multiclass_{args.file_samples}.h5"
    from logitnet.data.synth import make_images

    make_images(path, args.file_samples)
    try:
        passes = file_passes(path, args.repeat)
    finally:
        path.unlink(missing_ok=True)
    races = {
        "tall: digits, 1,797 x 64, 10 classes": tall,
        "wide: 500 x 12,288 pictures, 10 classes": wide,
    }
    write_results(args, races, passes)


def write_results(args, races: dict, passes: dict) -> None:
    cpu = platform.processor() or platform.machine()
    lines = [
        "# k classes: softmax regression side by side",
        "",
        f"Written by `benchmarks/bench_multiclass.py` on "
        f"{datetime.date.today().isoformat()}, {cpu}, {os.cpu_count()} cores. "
        f"Medians of {args.repeat} interleaved rounds, a {PAUSE} s pause before "
        "each call. Time to scikit-learn's own converged objective at equal "
        "penalty (C = 1, alpha = 1 / (C m)); each implementation at the fewest "
        "iterations that reach it. OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE as "
        "the machine sets them.",
    ]
    for title, (rows, timings) in races.items():
        lines += ["", f"## {title}", "", "| implementation | iterations | objective |",
                  "|---|---|---|"]  # fmt: skip
        lines += [f"| {name} | {n} | {J:.10f} |" for name, n, J in rows]
        lines += ["", "| threads | " + " | ".join(next(iter(timings.values()))) +
                  " | scikit-learn / logitnet |",
                  "|---" * (len(next(iter(timings.values()))) + 2) + "|"]  # fmt: skip
        for setting, t in timings.items():
            cells = " | ".join(f"{v * 1e3:.1f} ms" for v in t.values())
            ratio = t["scikit-learn lbfgs"] / t["logitnet lbfgs"]
            lines.append(f"| {setting} | {cells} | {ratio:.1f}x |")
    lines += ["", f"## A pass over a cached file of {args.file_samples:,} pictures "
              "(float32)", "", "| threads | " + " | ".join(next(iter(passes.values())))
              + " | 10 / 2 classes (pass) |", "|---" * 6 + "|"]  # fmt: skip
    for setting, t in passes.items():
        cells = " | ".join(f"{v:.3f} s" for v in t.values())
        ratio = t["pass, 10 classes"] / t["pass, 2 classes"]
        lines.append(f"| {setting} | {cells} | {ratio:.2f} |")
    out = HERE / "RESULTS_MULTICLASS.md"
    out.write_text("\n".join(lines) + "\n")
    print(out.read_text())


if __name__ == "__main__":
    main()
