"""The layers of ARCHITECTURE.md, enforced: imports run one way, down.

Every ``import`` and ``from ... import`` in the package (at the top of a
module or inside a function alike) is read with ``ast``. A module may import
its own layer and the layers below it, never one above; the math of one
block imports no files, storage, Dask or thread pools; Dask is driven from
its backend and from the out-of-core reader only.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import logitnet

PACKAGE = Path(logitnet.__file__).parent

#: Bottom to top. A module belongs to the first entry its name starts with.
LAYERS = [
    ("foundation", ("logitnet.exceptions", "logitnet.checks", "logitnet.files")),
    ("backends", ("logitnet.backends",)),
    ("core", ("logitnet.core",)),
    ("data", ("logitnet.data",)),
    ("course", ("logitnet.course",)),
    ("app", ("logitnet.app",)),
    ("viz", ("logitnet.viz",)),
    ("server", ("logitnet.server",)),
    ("cli", ("logitnet.cli", "logitnet.__main__")),
]

#: The math of one block of rows, the same math in the span of the
#: examples, and the pixel conversion.
MATH = (
    "logitnet.core.loss",
    "logitnet.core.portable",
    "logitnet.core.softmax",
    "logitnet.core.span",
    "logitnet.core.pixels",
)
NOT_IN_MATH = ("dask", "distributed", "h5py", "zarr", "threadpoolctl", "os", "io")

#: Where Dask may be imported: how a pass runs, and how a file is read lazily.
DASK_DRIVERS = ("logitnet.backends.dask", "logitnet.data.reader")


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def modules() -> dict[str, ast.Module]:
    return {
        module_name(path): ast.parse(path.read_text(), str(path))
        for path in sorted(PACKAGE.rglob("*.py"))
    }


def imported_names(name: str, tree: ast.Module) -> list[tuple[int, str]]:
    """(line, module) of every import in the module, relative ones resolved."""
    package = name
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join([*package.split(".")[: -node.level], base]).strip(".")
            # "from logitnet.core import loss" imports logitnet.core.loss.
            for alias in node.names:
                candidate = f"{base}.{alias.name}"
                found.append(
                    (node.lineno, candidate if _is_module(candidate) else base)
                )
    return found


def _is_module(name: str) -> bool:
    path = PACKAGE.parent.joinpath(*name.split("."))
    return path.with_suffix(".py").exists() or (path / "__init__.py").exists()


def layer(name: str) -> int | None:
    for index, (_, prefixes) in enumerate(LAYERS):
        if any(name == p or name.startswith(p + ".") for p in prefixes):
            return index
    return None


MODULES = modules()


def test_every_module_has_a_layer():
    # The package's root only re-exports lazily, and gives its version.
    missing = [name for name in MODULES if name != "logitnet" and layer(name) is None]
    assert missing == []


@pytest.mark.parametrize("name", sorted(n for n in MODULES if n != "logitnet"))
def test_imports_run_down_the_layers(name):
    own = layer(name)
    upward = []
    for line, target in imported_names(name, MODULES[name]):
        if target == "logitnet":
            continue  # the version: ``from logitnet import __version__``
        if not target.startswith("logitnet."):
            continue
        theirs = layer(target)
        assert theirs is not None, f"{name}:{line} imports unknown {target}"
        if theirs > own:
            upward.append(
                f"{name}:{line} ({LAYERS[own][0]}) imports {target} "
                f"({LAYERS[theirs][0]})"
            )
    assert upward == []


def test_the_package_root_imports_only_its_facade():
    targets = {t for _, t in imported_names("logitnet", MODULES["logitnet"])}
    assert targets <= {
        "__future__",
        "logitnet.core.estimator",
        "logitnet.app.modelfile",
    }


@pytest.mark.parametrize("name", MATH)
def test_the_math_imports_no_io_storage_dask_or_thread_pools(name):
    for line, target in imported_names(name, MODULES[name]):
        top = target.split(".")[0]
        assert top not in NOT_IN_MATH, f"{name}:{line} imports {target}"
        if target.startswith("logitnet."):
            # Only the backends' array helpers, the pixels and the loss.
            assert target in (
                "logitnet.backends",
                "logitnet.backends.array_api",
                "logitnet.core.pixels",
                "logitnet.core.loss",
                "logitnet.core.softmax",
                "logitnet.core.portable",
            ), f"{name}:{line} imports {target}"


def test_dask_is_driven_from_its_backend_and_the_reader_only():
    drivers = set()
    for name, tree in MODULES.items():
        for _, target in imported_names(name, tree):
            if target.split(".")[0] in ("dask", "distributed"):
                drivers.add(name)
    assert drivers == set(DASK_DRIVERS)


def test_no_hidden_attributes_are_set_on_arrays():
    # ``X._something = ...`` on an array is lost by any slice or rechunk.
    for name, tree in MODULES.items():
        for node in ast.walk(tree):
            if isinstance(node, ast.Assign):
                for target in node.targets:
                    if (
                        isinstance(target, ast.Attribute)
                        and isinstance(target.value, ast.Name)
                        and target.value.id in ("X", "pixels", "array")
                    ):
                        pytest.fail(
                            f"{name}:{node.lineno} sets {target.attr} on an array"
                        )


def body_lines(function: ast.FunctionDef | ast.AsyncFunctionDef) -> int:
    """Lines of a function's code, its docstring left out."""
    body = function.body
    first = body[0]
    if (
        len(body) > 1
        and isinstance(first, ast.Expr)
        and isinstance(first.value, ast.Constant)
        and isinstance(first.value.value, str)
    ):
        first = body[1]
    return function.end_lineno - first.lineno + 1


def test_small_pieces():
    # No module over about 500 lines, no function over about 100 lines of
    # code (numpydoc docstrings are long, and welcome).
    long_modules, long_functions = [], []
    for name, tree in MODULES.items():
        path = PACKAGE.parent.joinpath(*name.split("."))
        path = path / "__init__.py" if path.is_dir() else path.with_suffix(".py")
        lines = len(path.read_text().splitlines())
        if lines > 550:
            long_modules.append(f"{name}: {lines} lines")
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                length = body_lines(node)
                if length > 100:
                    long_functions.append(f"{name}.{node.name}: {length} lines")
    assert long_modules == [] and long_functions == []
