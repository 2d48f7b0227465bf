"""skips_in_ci: where CI runs, a skip fails unless it needs a GPU or a
vendor's array library; elsewhere skips stay skips."""

from __future__ import annotations

import pytest

#: Each way a test can be skipped, one test each, and an expected failure.
SKIPPING = """
import unittest

import pytest

pytest.importorskip("math")  # found: nothing skipped here


def test_skip_call():
    pytest.skip("needs a tool that is not installed")


@pytest.mark.skipif(True, reason="needs prlimit")
def test_skipif_mark():
    pass


def test_importorskip():
    pytest.importorskip("no_such_module_anywhere")


def test_unittest_skip():
    raise unittest.SkipTest("pandas is not installed: not checking set output")


def test_gpu():
    raise unittest.SkipTest("PyTorch test requires cuda, which is not available")


@pytest.mark.parametrize("library", ["cupy", "dpnp"])
def test_vendor_library(library):
    pytest.skip(f"{library} is not installed: not checking array_api input")


def test_gpu_reason_with_more_after_it():
    pytest.skip("PyTorch test requires cuda, which is not available; nor pandas")


@pytest.mark.xfail(reason="known", strict=True)
def test_expected_failure():
    raise AssertionError
"""

#: The tests whose skips are allowed in CI: a GPU, a vendor's library.
ALLOWED = [
    "test_gpu",
    "test_vendor_library[cupy]",
    "test_vendor_library[dpnp]",
]
#: Those that fail in CI, and the reason each names.
UNEXPLAINED = {
    "test_skip_call": "needs a tool that is not installed",
    "test_skipif_mark": "needs prlimit",
    "test_importorskip": "could not import 'no_such_module_anywhere'",
    "test_unittest_skip": "pandas is not installed: not checking set output",
    "test_gpu_reason_with_more_after_it": "which is not available; nor pandas",
}


@pytest.fixture
def outside_ci(monkeypatch):
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.delenv("LOGITNET_REQUIRE_DATA", raising=False)


def outcomes(result) -> dict[str, str]:
    """Each test's outcome by name (a skip in setup fails as an error)."""
    reports = result.reprec.getreports(("pytest_runtest_logreport",))
    found = {}
    for report in reports:
        name = report.nodeid.split("::")[-1]
        if report.failed:
            found[name] = "failed"
        elif hasattr(report, "wasxfail"):
            found[name] = "xfailed"
        elif report.when == "call" or report.skipped:
            found.setdefault(name, report.outcome)
    return found


@pytest.mark.parametrize(
    ("variable", "value"), [("CI", "true"), ("LOGITNET_REQUIRE_DATA", "1")]
)
def test_in_ci_only_gpu_and_vendor_library_skips_pass(
    pytester, outside_ci, monkeypatch, variable, value
):
    monkeypatch.setenv(variable, value)
    pytester.makepyfile(test_skips=SKIPPING)
    result = pytester.runpytest("-p", "skips_in_ci", "-rA")
    found = outcomes(result)
    assert found == {
        **dict.fromkeys(ALLOWED, "skipped"),
        **dict.fromkeys(UNEXPLAINED, "failed"),
        "test_expected_failure": "xfailed",
    }
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    output = result.stdout.str()
    for name, reason in UNEXPLAINED.items():
        assert f"test_skips.py::{name} was skipped in CI (" in output, name
        assert reason in output, name


def test_outside_ci_skips_stay_skips(pytester, outside_ci, monkeypatch):
    monkeypatch.setenv("CI", "false")
    pytester.makepyfile(test_skips=SKIPPING)
    result = pytester.runpytest("-p", "skips_in_ci")
    assert result.ret == pytest.ExitCode.OK
    result.assert_outcomes(skipped=len(ALLOWED) + len(UNEXPLAINED), xfailed=1)


def test_in_ci_a_module_skipped_whole_fails(pytester, outside_ci, monkeypatch):
    monkeypatch.setenv("CI", "true")
    pytester.makepyfile(
        test_whole="import pytest\n"
        'pytest.importorskip("no_such_module_anywhere")\n'
        "def test_never_collected():\n    pass\n"
    )
    result = pytester.runpytest("-p", "skips_in_ci")
    assert result.ret == pytest.ExitCode.INTERRUPTED  # a collection error
    result.stdout.fnmatch_lines(
        [
            "*test_whole.py was skipped in CI (could not import 'no_such_module_anywhere'*"
        ]
    )


def test_this_suite_runs_with_it(pytestconfig):
    assert pytestconfig.pluginmanager.has_plugin("skips_in_ci")
