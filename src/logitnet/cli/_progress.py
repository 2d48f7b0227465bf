"""What training shows on stderr while it runs, and why it stopped.

Gradient descent takes a known number of steps: a bar counts to it, and
tqdm's estimate of the time left is a real one. L-BFGS stops once the
largest gradient component falls to tol, after a number of iterations
nobody knows beforehand (the course's data: 30 of ``--iterations 2000``), so
a bar counting against the limit would show a false total and an estimate
of the time left off by a factor of a hundred. It shows what the solver
knows instead, on one line that it rewrites::

    L-BFGS: iteration 17, cost 0.129339, max |grad| 8.3e-03 (stops at 1.0e-04) [00:00]

out of core with the passes over the file (each evaluation is one, and a
line search may make several in an iteration), and at the end the reason it
stopped and the real iteration count. The solvers report through their
callback (:class:`logitnet.core.solvers.Step`); everything shown is
written here.
"""

from __future__ import annotations

import math
import sys
import time
from typing import IO, TYPE_CHECKING, Any

if TYPE_CHECKING:
    from logitnet.core.solvers import Step

__all__ = ["TrainingProgress", "status_line", "stop_line"]

#: Seconds between two redraws of the L-BFGS line: the gradient's size is
#: read only when the line is drawn (in the span of the examples it costs a
#: product with X, more than an evaluation).
REDRAW_SECONDS = 0.1


def _gradient(step: Step) -> str:
    return f"max |grad| {step.gradient:.1e}"


def _passes(step: Step) -> str:
    """``27 passes``: out of core, each evaluation reads the file once."""
    return f"{step.evaluations} pass{'es' if step.evaluations != 1 else ''}"


def status_line(step: Step, *, per_pass: float | None = None) -> str:
    """The L-BFGS line for one iterate: no total, no estimate of time.

    Parameters
    ----------
    step : Step
        What the solver reported.
    per_pass : float, optional
        Out of core, where each evaluation is a pass over the file: the
        seconds a pass takes, and the passes so far are shown.
    """
    line = (
        f"L-BFGS: iteration {step.iteration}, cost {step.cost:.6g}, "
        f"{_gradient(step)} (stops at {step.tol:.1e})"
    )
    if per_pass is not None:
        line += f", {_passes(step)}, {per_pass:.2g} s/pass"
    return line


def stop_line(
    step: Step,
    *,
    converged: bool,
    n_iter: int,
    max_iter: int,
    elapsed: float,
    per_pass: float | None = None,
) -> str:
    """Why L-BFGS stopped, at which iteration, and where it ended.

    Parameters
    ----------
    step : Step
        The last iterate the solver reported.
    converged : bool
        Whether the largest gradient component fell to tol.
    n_iter : int
        Iterations run.
    max_iter : int
        The limit it ran under (``--iterations``).
    elapsed : float
        Seconds the training took.
    per_pass : float, optional
        As :func:`status_line`.
    """
    if converged:
        why = f"converged at iteration {n_iter}: {_gradient(step)} <= tol"
    else:
        if n_iter >= max_iter:
            why = f"reached the iteration limit ({max_iter}) before converging"
        else:  # the line search found no lower cost (the warning says so)
            why = f"stopped at iteration {n_iter} before converging"
        why += f": {_gradient(step)} > tol"
    line = f"L-BFGS {why} {step.tol:.1e}, cost {step.cost:.6g}"
    if per_pass is not None:
        line += f"; {_passes(step)} over the data, {per_pass:.2g} s each"
    return f"{line} [{_clock(elapsed)}]"


def _clock(seconds: float) -> str:
    from tqdm import tqdm

    return tqdm.format_interval(seconds)


class TrainingProgress:
    """Training's feedback on stderr: gradient descent's bar, or L-BFGS's
    status line and its reason for stopping.

    Parameters
    ----------
    solver : {"gd", "lbfgs"}
    max_iter : int
        Gradient descent's steps (its bar's total); L-BFGS's limit, shown
        only if it is reached.
    enabled : bool
        Show anything at all (a person watching, not ``--quiet``).
    out_of_core : bool, default=False
        Each evaluation is a pass over a file: say passes.
    file : text stream, default=sys.stderr
    """

    def __init__(
        self,
        solver: str,
        max_iter: int,
        *,
        enabled: bool,
        out_of_core: bool = False,
        file: IO[str] | None = None,
    ) -> None:
        from tqdm import tqdm

        self.counted, self.enabled = solver == "gd", enabled
        self.max_iter, self.out_of_core = max_iter, out_of_core
        self.file = sys.stderr if file is None else file
        self.start = time.monotonic()
        self.drawn = -math.inf
        self.last: Step | None = None
        self.last_at = self.start  # training's time, not the scoring's after
        self.first: tuple[float, int] | None = None  # (time, evaluations)
        if self.counted:
            options: dict[str, Any] = {
                "total": max_iter,
                "desc": "gradient descent",
                "unit": "pass" if out_of_core else "it",
            }
        else:  # no total: tqdm would count against one and estimate the rest
            first = "first pass over the data" if out_of_core else "cost at the start"
            options = {
                "total": None,
                "desc": f"L-BFGS: {first}",
                "bar_format": "{desc} [{elapsed}]",
            }
        self.bar = tqdm(
            disable=not enabled,
            file=self.file,
            leave=False,
            dynamic_ncols=True,
            **options,
        )

    def __enter__(self) -> TrainingProgress:
        return self

    def __exit__(self, *exc) -> None:
        self.bar.close()

    def update(self, step: Step) -> None:
        """The solver's callback: count a step, or redraw the status line
        (at most every :data:`REDRAW_SECONDS`)."""
        self.last, self.last_at = step, time.monotonic()
        if self.first is None:
            self.first = (self.last_at, step.evaluations)
        if not self.enabled:
            return
        if self.counted:
            self.bar.update(1)
            return
        now = self.last_at
        if now - self.drawn >= REDRAW_SECONDS:
            self.drawn = now
            self.bar.set_description_str(status_line(step, per_pass=self.per_pass()))

    def per_pass(self) -> float | None:
        """Out of core, the seconds one pass took lately: since the first
        report (the time before it also opened the file and started Dask),
        or the first pass's time while there is no other."""
        if not self.out_of_core or self.first is None or self.last is None:
            return None
        at, evaluations = self.first
        if self.last.evaluations > evaluations:
            return (self.last_at - at) / (self.last.evaluations - evaluations)
        return (at - self.start) / max(evaluations, 1)

    def write(self, line: str) -> None:
        """A line on stdout (the course's cost lines) that does not tear
        the bar."""
        from tqdm import tqdm

        tqdm.write(line, file=sys.stdout)

    def finish(self, training: dict[str, Any]) -> None:
        """Close the display; for L-BFGS, say why it stopped.

        ``training`` is the model's record (``converged``, ``n_iter``)."""
        self.bar.close()
        if not self.enabled or self.counted or self.last is None:
            return
        line = stop_line(
            self.last,
            converged=bool(training["converged"]),
            n_iter=int(training["n_iter"]),
            max_iter=self.max_iter,
            elapsed=self.last_at - self.start,
            per_pass=self.per_pass(),
        )
        print(line, file=self.file, flush=True)
