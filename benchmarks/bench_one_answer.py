"""What "one picture, one answer" costs: ``make bench`` (or alone).

Writes ``benchmarks/RESULTS_ONE_ANSWER.md``. A picture's z = w . x + b is
summed row by row in a fixed order (:func:`logitnet.core.loss.row_dot`)
instead of by one BLAS ``X @ w`` over the batch, whose last bits move with
the batch. Measured side by side, interleaved (A B A B ..., a pause before
each timed call), under default threads and one BLAS thread:

1. the prediction pass of ``predict --data`` (``classify`` over
   ``open_images``' chunks of a cached file of ``--n-samples`` pictures of
   64 x 64 x 3) with ``row_dot`` against the same pass with ``X @ w``;
2. the same for an in-memory float64 X (the estimator's ``predict_proba``);
3. with ``--baseline DIR`` (a checkout of an earlier logitnet): the whole
   ``logitnet predict --data FILE --json`` command and one loss-and-gradient
   pass over the file (what ``train --data`` repeats), each in a fresh
   process of this tree and of the baseline, alternately.

Run: ``python benchmarks/bench_one_answer.py [--n-samples N] [--workdir DIR]
[--baseline DIR] [--repeat R]``.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from timing import THREADS, each_setting

from logitnet.app.modelfile import SavedModel, save_model
from logitnet.app.prediction import classify
from logitnet.core import loss
from logitnet.data.reader import open_images
from logitnet.data.synth import make_images, true_model

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
PAUSE = 0.3


def blas_block_decision(X, w, b):
    """The former per-block decision: one BLAS product for the block."""
    w = loss.as_weights(w, X)
    with np.errstate(over="ignore", invalid="ignore"):
        z = X @ w
        z += b
    return z


@contextlib.contextmanager
def blas_decisions():
    saved = loss.block_decision
    loss.block_decision = blas_block_decision
    try:
        yield
    finally:
        loss.block_decision = saved


def in_process(path: Path, model: SavedModel, repeat: int) -> dict:
    X_file, _ = open_images(path, "train")
    rng = np.random.default_rng(1)
    X_mem = rng.integers(0, 256, (20_000, model.w.size), dtype=np.uint8) / 255.0

    def file_pass():
        classify(model, X_file)

    def blas_file_pass():
        with blas_decisions():
            classify(model, X_file)

    def memory_pass():
        loss.decision_function(model.w, model.b, X_mem)

    def blas_memory_pass():
        with blas_decisions():
            loss.decision_function(model.w, model.b, X_mem)

    fns = {
        "file, row_dot": file_pass,
        "file, X @ w": blas_file_pass,
        "memory, row_dot": memory_pass,
        "memory, X @ w": blas_memory_pass,
    }
    return each_setting(fns, repeat, PAUSE)


#: One loss-and-gradient pass over the file, as ``train --data`` runs it
#: (float32), timed inside the process; prints seconds.
GRADIENT_PASS = """
import sys, time, numpy as np
from logitnet.core.loss import loss_and_grad
from logitnet.data.reader import open_images
X, y = open_images(sys.argv[1], "train", dtype=np.float32)
w = np.zeros(X.shape[1], np.float32)
loss_and_grad(w, 0.0, X, y)
start = time.perf_counter()
loss_and_grad(w, 0.0, X, y)
print(time.perf_counter() - start)
"""


def against_baseline(path: Path, model_path: Path, baseline: Path, repeat: int):
    trees = {"this tree": ROOT / "src", "baseline": baseline / "src"}
    out = {}
    for setting, limit in THREADS.items():
        env = dict(os.environ)
        if limit:
            env["OPENBLAS_NUM_THREADS"] = env["OMP_NUM_THREADS"] = str(limit)
        times = {(job, tree): [] for job in ("predict --data", "gradient pass")
                 for tree in trees}  # fmt: skip
        for _ in range(repeat + 1):  # the first round warms up
            for tree, src in trees.items():
                tree_env = {**env, "PYTHONPATH": str(src)}
                time.sleep(PAUSE)
                start = time.perf_counter()
                subprocess.run(
                    [sys.executable, "-m", "logitnet", "predict", "--model",
                     str(model_path), "--data", str(path), "--split", "train",
                     "--json"],
                    env=tree_env, check=True, stdout=subprocess.DEVNULL,
                )  # fmt: skip
                times[("predict --data", tree)].append(time.perf_counter() - start)
                time.sleep(PAUSE)
                done = subprocess.run(
                    [sys.executable, "-c", GRADIENT_PASS, str(path)],
                    env=tree_env, check=True, capture_output=True, text=True,
                )  # fmt: skip
                times[("gradient pass", tree)].append(float(done.stdout))
        out[setting] = {k: statistics.median(v[1:]) for k, v in times.items()}
    return out


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-samples", type=int, default=200_000)
    parser.add_argument("--workdir", type=Path, default=Path("."))
    parser.add_argument("--baseline", type=Path, default=None)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args(argv)

    path = args.workdir / f"one_answer_{args.n_samples}.h5"
    if not path.exists():
        make_images(path, args.n_samples)
    w, b = true_model(64 * 64 * 3)
    model = SavedModel(w=w, b=b, classes=["no", "yes"], image_shape=(64, 64, 3))
    model_path = save_model(args.workdir / "one_answer_model.npz", model)
    try:
        passes = in_process(path, model, args.repeat)
        versus = (
            against_baseline(path, model_path, args.baseline, args.repeat)
            if args.baseline
            else None
        )
    finally:
        if not args.keep:
            path.unlink(missing_ok=True)
        model_path.unlink(missing_ok=True)
    write_results(args, passes, versus)


def write_results(args, passes: dict, versus: dict | None) -> None:
    n = args.n_samples
    cpu = platform.processor() or platform.machine()
    lines = [
        "# What one picture, one answer costs",
        "",
        f"Written by `benchmarks/bench_one_answer.py` on "
        f"{datetime.date.today().isoformat()}, {cpu}, "
        f"{os.cpu_count()} cores, NumPy {np.__version__}. Medians of {args.repeat} "
        f"interleaved rounds, a {PAUSE} s pause before each call; the data file "
        f"({n:,} pictures of 64 x 64 x 3, {n * 12288 / 1e9:.2f} GB) is in the "
        "page cache. OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE as the machine sets them.",
        "",
        "## The decision pass: row_dot against X @ w",
        "",
        "| threads | pass | row_dot (s) | X @ w (s) | row_dot / X @ w |",
        "|---|---|---|---|---|",
    ]
    for setting, t in passes.items():
        kinds = (
            ("file", f"`predict --data`'s pass, {n:,} pictures"),
            ("memory", "in-memory float64, 20,000 x 12,288"),
        )
        for what, label in kinds:
            mine, blas = t[f"{what}, row_dot"], t[f"{what}, X @ w"]
            lines.append(
                f"| {setting} | {label} | {mine:.3f} | {blas:.3f} | {mine / blas:.2f} |"
            )
    if versus:
        lines += [
            "",
            f"## Against the baseline ({args.baseline})",
            "",
            "Each a fresh process, this tree and the baseline alternately.",
            "",
            "| threads | job | this tree (s) | baseline (s) | ratio |",
            "|---|---|---|---|---|",
        ]
        for setting, t in versus.items():
            for job in ("predict --data", "gradient pass"):
                mine, base = t[(job, "this tree")], t[(job, "baseline")]
                cells = f"{mine:.2f} | {base:.2f} | {mine / base:.2f}"
                lines.append(f"| {setting} | {job} | {cells} |")
    out = HERE / "RESULTS_ONE_ANSWER.md"
    out.write_text("\n".join(lines) + "\n")
    print(out.read_text())


if __name__ == "__main__":
    main()
