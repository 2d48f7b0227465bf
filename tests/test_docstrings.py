"""Every example in logitnet's docstrings runs and prints what it shows.

Every module under ``src/logitnet`` is imported, the server's and Dask's
too, and its examples are found as :mod:`doctest` finds them; only
``__main__`` is not imported (importing it runs the command), and it must
have no examples. Each docstring with examples is one test, run in an empty
directory: an example writes its files where a user would, in the current
one.
"""

from __future__ import annotations

import doctest
import importlib
from pathlib import Path

import pytest

import logitnet

PACKAGE = Path(logitnet.__file__).parent

#: Docstrings whose examples train on the course data (``data_dir``).
NEED_COURSE_DATA = {"logitnet.app.training.train_cat_classifier"}


def module_names() -> dict[str, Path]:
    """Every module of the package by name, from the files on disk."""
    names = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        names[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return names


MODULES = module_names()
MAIN = "logitnet.__main__"
FINDER = doctest.DocTestFinder(exclude_empty=True)


def docstring_tests(name: str) -> list[doctest.DocTest]:
    return FINDER.find(importlib.import_module(name))


EXAMPLES = {
    test.name: test
    for name in MODULES
    if name != MAIN
    for test in docstring_tests(name)
    if test.examples
}


def written_examples(path: Path) -> int:
    """How many ``>>>`` lines the source file holds."""
    return sum(
        line.lstrip().startswith(">>>") for line in path.read_text().splitlines()
    )


def test_every_example_written_is_run():
    assert written_examples(MODULES[MAIN]) == 0
    others = [name for name in MODULES if name != MAIN]
    found = {
        name: sum(len(t.examples) for t in docstring_tests(name)) for name in others
    }
    written = {name: written_examples(MODULES[name]) for name in others}
    assert found == written
    assert sum(len(test.examples) for test in EXAMPLES.values()) == sum(
        written.values()
    )


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_docstring_examples(name, request, tmp_path, monkeypatch):
    if name in NEED_COURSE_DATA:
        request.getfixturevalue("data_dir")
    monkeypatch.chdir(tmp_path)
    found = EXAMPLES[name]
    # A copy of the module's namespace for each run: examples define names.
    test = doctest.DocTest(
        found.examples, dict(found.globs), found.name, found.filename,
        found.lineno, found.docstring,
    )  # fmt: skip
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    report: list[str] = []
    result = runner.run(test, out=report.append, clear_globs=False)
    assert result.failed == 0, "".join(report)
    assert result.attempted == len(test.examples)  # none skipped (+SKIP)
