"""In CI a skipped test fails, unless it needs hardware that CI lacks.

A skip is a test that did not run: a missing dependency, tool or file would
let the suite pass without testing what the skipped test names. Where CI
runs (``CI=true``, or ``LOGITNET_REQUIRE_DATA`` set as ``.ci/run`` sets it)
every skip whose reason is not one of ``ALLOWED`` becomes a failure that
names the test and its reason. ``ALLOWED`` holds only scikit-learn's
estimator checks that need a GPU (CUDA, Intel XPU, Apple MPS) or an array
library of one vendor's hardware (CuPy, dpnp). An expected failure (xfail)
is not a skip.

``tests/conftest.py`` loads this plugin; ``tests/test_skips_in_ci.py`` runs
it on small test files of its own.
"""

from __future__ import annotations

import os
import re

import pytest

#: The reasons a test may be skipped in CI, each matched whole: scikit-learn's
#: own words (``sklearn.utils._testing._array_api_for_tests``).
ALLOWED = tuple(
    re.compile(reason)
    for reason in (
        r"PyTorch test requires cuda, which is not available",
        r"CuPy test requires cuda, which is not available",
        r"Skipping XPU device test because no XPU device is available",
        r"XPU is not available because the current PyTorch install was not "
        r"built with XPU support\.",
        r"Skipping MPS device test because PYTORCH_ENABLE_MPS_FALLBACK is not set\.",
        r"MPS is not available because the current PyTorch install was not "
        r"built with MPS enabled\.",
        r"(cupy|dpnp) is not installed: not checking array_api input",
    )
)


def in_ci() -> bool:
    """Whether skips must be explained: ``CI`` is true or the course data is
    required (``LOGITNET_REQUIRE_DATA``)."""
    ci = os.environ.get("CI", "").strip().lower() in {"true", "1", "yes"}
    return ci or bool(os.environ.get("LOGITNET_REQUIRE_DATA"))


def skip_reason(report: pytest.TestReport | pytest.CollectReport) -> str | None:
    """Why ``report`` was skipped; None when it was not (or was an xfail)."""
    if not report.skipped or hasattr(report, "wasxfail"):
        return None
    longrepr = report.longrepr
    # (path, line, "Skipped: reason") for pytest.skip, skipif and SkipTest.
    reason = longrepr[2] if isinstance(longrepr, tuple) else str(longrepr)
    return reason.removeprefix("Skipped: ")


def fail_unexplained_skip(report: pytest.TestReport | pytest.CollectReport) -> None:
    """Turn ``report`` into a failure where CI runs and its skip is not allowed."""
    reason = skip_reason(report)
    if reason is None or not in_ci():
        return
    if any(allowed.fullmatch(reason) for allowed in ALLOWED):
        return
    report.outcome = "failed"
    report.longrepr = (
        f"{report.nodeid} was skipped in CI ({reason}): only scikit-learn's "
        "checks for GPUs and vendors' array libraries may skip there "
        "(tests/skips_in_ci.py); install what the test needs"
    )


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    fail_unexplained_skip(report)
    return report


@pytest.hookimpl(wrapper=True)
def pytest_make_collect_report(collector):
    # A module skipped whole (pytest.importorskip at its top, or
    # pytest.skip(..., allow_module_level=True)) is skipped at collection.
    report = yield
    fail_unexplained_skip(report)
    return report
