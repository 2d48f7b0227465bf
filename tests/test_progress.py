"""What training shows while it runs (cli/_progress), on made-up reports."""

from __future__ import annotations

import io
import re

import pytest

from logitnet.cli import _progress
from logitnet.cli._progress import TrainingProgress, status_line, stop_line
from logitnet.core.solvers import Step


def lbfgs_steps(gradients, tol=1e-4, evaluations_per_iteration=2, reads=None):
    """Steps as L-BFGS would report them, each iteration's gradient given;
    ``reads`` collects the iterations whose gradient was read."""

    def largest(i, g):
        def read():
            if reads is not None:
                reads.append(i)
            return g

        return read

    return [
        Step(i, 0.7 / (i + 1), 1 + evaluations_per_iteration * i, tol, largest(i, g))
        for i, g in enumerate(gradients)
    ]


GRADIENTS = [1.6e-1, 4.2e-2, 3.2e-3, 3.2e-5]


def test_status_line_says_what_lbfgs_knows_and_no_total():
    step = lbfgs_steps(GRADIENTS)[2]
    assert status_line(step) == (
        "L-BFGS: iteration 2, cost 0.233333, max |grad| 3.2e-03 (stops at 1.0e-04)"
    )
    assert status_line(step, per_pass=1.94) == (
        "L-BFGS: iteration 2, cost 0.233333, max |grad| 3.2e-03 (stops at 1.0e-04), "
        "5 passes, 1.9 s/pass"
    )
    assert "1 pass," in status_line(lbfgs_steps(GRADIENTS)[0], per_pass=3.0)


def test_stop_line_gives_the_reason_and_the_real_iteration():
    last = lbfgs_steps(GRADIENTS)[-1]
    assert stop_line(last, converged=True, n_iter=3, max_iter=2000, elapsed=75.0) == (
        "L-BFGS converged at iteration 3: max |grad| 3.2e-05 <= tol 1.0e-04, "
        "cost 0.175 [01:15]"
    )
    limit = lbfgs_steps([0.5, 0.25])[-1]
    assert stop_line(
        limit, converged=False, n_iter=1, max_iter=1, elapsed=2.0, per_pass=0.9
    ) == (
        "L-BFGS reached the iteration limit (1) before converging: max |grad| "
        "2.5e-01 > tol 1.0e-04, cost 0.35; 3 passes over the data, 0.9 s each "
        "[00:02]"
    )
    early = stop_line(limit, converged=False, n_iter=1, max_iter=50, elapsed=0.5)
    assert early.startswith("L-BFGS stopped at iteration 1 before converging: ")


def shown(solver, steps, *, training, max_iter=2000, out_of_core=False):
    """Drive a display over ``steps`` as the solver's callback would; what
    it wrote."""
    screen = io.StringIO()
    with TrainingProgress(
        solver, max_iter, enabled=True, out_of_core=out_of_core, file=screen
    ) as progress:
        for step in steps:
            progress.update(step)
        progress.finish(training)
    return screen.getvalue()


def test_lbfgs_display_redraws_its_line_and_ends_with_why(monkeypatch):
    monkeypatch.setattr(_progress, "REDRAW_SECONDS", 0.0)  # draw every step
    screen = shown(
        "lbfgs", lbfgs_steps(GRADIENTS), training={"converged": True, "n_iter": 3}
    )
    for i, g in enumerate(["1.6e-01", "4.2e-02", "3.2e-03", "3.2e-05"]):
        assert f"L-BFGS: iteration {i}, " in screen and f"max |grad| {g} " in screen
    assert "/2000" not in screen and "it/s" not in screen
    assert re.search(r"<\d\d:\d\d|<\?", screen) is None  # no time left guessed
    last_line = re.split(r"[\r\n]", screen.strip())[-1]
    assert last_line.startswith("L-BFGS converged at iteration 3: ")


def test_lbfgs_display_out_of_core_counts_passes(monkeypatch):
    monkeypatch.setattr(_progress, "REDRAW_SECONDS", 0.0)
    screen = shown(
        "lbfgs",
        lbfgs_steps(GRADIENTS[:3]),
        training={"converged": False, "n_iter": 2},
        max_iter=2,
        out_of_core=True,
    )
    assert "L-BFGS: first pass over the data" in screen
    assert re.search(r"iteration 1, .*, 3 passes, \S+ s/pass", screen)
    assert re.search(
        r"L-BFGS reached the iteration limit \(2\) before converging: .*; "
        r"5 passes over the data, \S+ s each",
        screen,
    )


def test_the_gradient_is_read_only_when_the_line_is_drawn(monkeypatch):
    # In the span of the examples, reading it costs a product with X.
    monkeypatch.setattr(_progress, "REDRAW_SECONDS", 3600.0)
    reads = []
    steps = lbfgs_steps([1.0 / (i + 1) for i in range(500)], reads=reads)
    shown("lbfgs", steps, training={"converged": False, "n_iter": 499}, max_iter=499)
    assert reads == [0, 499]  # the first line, and the stop line


@pytest.mark.parametrize("solver", ["lbfgs", "gd"])
def test_nothing_is_shown_or_read_when_disabled(solver):
    reads = []
    screen = io.StringIO()
    with TrainingProgress(solver, 4, enabled=False, file=screen) as progress:
        for step in lbfgs_steps(GRADIENTS, reads=reads):
            progress.update(step)
        progress.finish({"converged": True, "n_iter": 3})
    assert screen.getvalue() == "" and reads == []


def test_gradient_descent_counts_to_its_total():
    reads = []
    with TrainingProgress("gd", 40, enabled=True, file=io.StringIO()) as progress:
        for step in lbfgs_steps([0.1] * 40, tol=0.0, reads=reads):
            progress.update(step)
        bar = str(progress.bar)
    assert bar.startswith("gradient descent: 100%") and "40/40 [" in bar
    assert reads == []
