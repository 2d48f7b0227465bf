"""The course's notebooks in notebooks/, run top to bottom as a reader runs
them: their printed answers are the course's, so a notebook that drifts from
the code fails here.

Each notebook runs on a kernel of this very Python (``sys.executable``): a
kernel spec of our own in a temporary directory, under a name no installed
spec has. The notebooks' own ``python3`` would be looked up in the user's and
the system's Jupyter folders first, where another Python may answer.
"""

from __future__ import annotations

import json
import os
import re
import sys
import tomllib
from pathlib import Path

import nbformat
import numpy as np
import pytest

from conftest import COURSE_REPORT, COURSE_SWEEP

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
BASICS = NOTEBOOKS / "python_basics_with_numpy.ipynb"
CAT = NOTEBOOKS / "logistic_regression_cat.ipynb"

#: Seconds one cell may run (the longest, the three models of the
#: learning-rate comparison, takes about a second).
TIMEOUT = 300

KERNEL = "logitnet-test-python"


def test_the_notebooks_are_committed_without_outputs():
    found = sorted(
        path
        for path in NOTEBOOKS.rglob("*.ipynb")
        if ".ipynb_checkpoints" not in path.parts  # JupyterLab's, ignored by git
    )
    assert BASICS in found and CAT in found
    for path in found:
        nb = nbformat.read(path, as_version=4)
        nbformat.validate(nb)
        for cell in nb.cells:
            if cell.cell_type == "code":
                assert cell.outputs == [], f"{path.name}: cell {cell.id} has outputs"
                assert cell.execution_count is None, f"{path.name}: cell {cell.id}"


def pins(lock: Path) -> dict[str, str]:
    """A lock file's ``name==version`` lines."""
    lines = lock.read_text().splitlines()
    return dict(line.split("==") for line in lines if "==" in line)


def test_jupyterlab_is_the_notebook_extra_not_the_runtime():
    """`make run` installs no Jupyter; `make notebook` installs JupyterLab
    pinned within the test pins, so that one .venv holds both."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"]
    runtime = " ".join(project["dependencies"]).lower()
    run = pins(ROOT / "requirements/run.txt")
    test = pins(ROOT / "requirements/test.txt")
    notebook = pins(ROOT / "requirements/notebook.txt")
    for name in ("jupyterlab", "ipykernel", "nbclient", "ipywidgets"):
        assert name not in runtime and name not in run
    assert any(d.startswith("jupyterlab") for d in extras["notebook"])
    for name in ("nbclient", "nbformat", "ipykernel", "ipywidgets"):
        assert any(d.startswith(name) for d in extras["test"]) and name in test
    assert "jupyterlab" in notebook and "ipykernel" in notebook
    assert {name: notebook[name] for name in notebook if name in test} == {
        name: test[name] for name in notebook if name in test
    }


@pytest.fixture(scope="module")
def kernel(tmp_path_factory) -> Path:
    """A directory holding one kernel spec: ipykernel on this Python."""
    root = tmp_path_factory.mktemp("kernels")
    (root / KERNEL).mkdir()
    spec = {
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "logitnet tests",
        "language": "python",
    }
    (root / KERNEL / "kernel.json").write_text(json.dumps(spec))
    return root


def execute(path: Path, kernel: Path, workdir: Path, **env: str) -> dict[str, list]:
    """Run the notebook at ``path`` in notebooks/ (its working directory, as
    in JupyterLab) with ``env`` added to the environment; each code cell's
    outputs by cell id. A cell that raises fails the test with its traceback."""
    from jupyter_client.kernelspec import KernelSpecManager
    from jupyter_client.manager import AsyncKernelManager
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    manager = AsyncKernelManager(
        kernel_name=KERNEL,
        kernel_spec_manager=KernelSpecManager(kernel_dirs=[str(kernel)]),
        # Unix sockets beside the connection file: over TCP, ipykernel warns
        # that its traffic is not encrypted.
        transport="ipc",
        connection_file=str(workdir / "kernel.json"),
    )
    client = NotebookClient(
        nb,
        km=manager,
        timeout=TIMEOUT,
        resources={"metadata": {"path": str(NOTEBOOKS)}},
    )
    # The reader's IPython profile (startup files) stays out of the run.
    environment = {**os.environ, "IPYTHONDIR": str(workdir / "ipython"), **env}
    client.execute(cleanup_kc=True, env=environment)
    cells = {cell.id: cell.outputs for cell in nb.cells if cell.cell_type == "code"}
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.execution_count is not None, f"cell {cell.id} did not run"
    return cells


def printed(outputs: list) -> list[str]:
    """What a cell printed, line by line, after checking it printed nothing
    on stderr (a warning) and raised nothing."""
    text = ""
    for output in outputs:
        assert output.output_type != "error", output
        if output.output_type == "stream":
            assert output.name == "stdout", output.text
            text += output.text
    # Joined before splitting: the kernel sends stdout in pieces on a timer,
    # and print() writes a line and its newline apart, so a piece may end
    # between the two.
    return text.splitlines()


def pictures(outputs: list) -> int:
    """How many pictures a cell showed."""
    return sum("image/png" in output.get("data", {}) for output in outputs)


def number(line: str, name: str) -> float:
    """The number in a printed line ``name = number``."""
    match = re.fullmatch(rf"{re.escape(name)} = (\S+)", line)
    assert match, line
    return float(match[1])


# The NumPy basics --------------------------------------------------------


@pytest.fixture(scope="module")
def basics(kernel, tmp_path_factory):
    cells = execute(BASICS, kernel, tmp_path_factory.mktemp("basics"))
    for outputs in cells.values():
        printed(outputs)  # nothing on stderr, no error, in any cell
    return {cell: printed(outputs) for cell, outputs in cells.items()}


def test_basics_sigmoid(basics):
    assert basics["basics-03"] == ["basic_sigmoid(3) = 0.9525741268224334"]
    assert basics["basics-05"] == ["TypeError: x must be a real number; got list"]
    assert basics["basics-08"] == ["sigmoid(x) = [0.73105858 0.88079708 0.95257413]"]
    # no overflow warning, exactly 0 and 1
    assert basics["basics-10"] == ["sigmoid([-1000, 0, 1000]) = [0.  0.5 1. ]"]
    assert basics["basics-12"] == [
        "sigmoid_derivative(x) = [0.19661193 0.10499359 0.04517666]",
        "sigmoid_grad is sigmoid_derivative: True",
    ]


def test_basics_image2vector(basics):
    lines = basics["basics-14"]
    assert lines[0] == "image2vector(image) = [[0.67826139]"
    assert lines[1:4] == [" [0.29380381]", " [0.90714982]", " [0.52835647]"]
    assert lines[17:] == [" [0.94630077]]", "shape: (18, 1)"]


def test_basics_normalize_rows_and_softmax(basics):
    assert basics["basics-16"] == [
        "normalizeRows(x) = [[0.         0.6        0.8       ]",
        " [0.13736056 0.82416338 0.54944226]]",
    ]
    assert basics["basics-18"] == [
        "softmax(x) = [[9.80897665e-01 8.94462891e-04 1.79657674e-02 1.21052389e-04",
        "  1.21052389e-04]",
        " [8.78679856e-01 1.18916387e-01 8.01252314e-04 8.01252314e-04",
        "  8.01252314e-04]]",
        "row sums: [1. 1.]",
    ]


def test_basics_vectorization(basics):
    operations = [line.split(": loops ")[0] for line in basics["basics-20"]]
    assert operations == [
        "dot product of two 100,000-vectors",
        "exp of a 100,000-vector",
        "one gradient step, 40 examples x 1,000 features",
    ]
    # compare() itself refuses to report more than rounding; the sums of
    # 100,000 terms differ in their order, by about 1e-10 of 25,000.
    for line in basics["basics-20"]:
        difference = float(line.rsplit("largest difference ", 1)[1])
        assert 0 <= difference < 1e-6, line


def test_basics_losses(basics):
    assert basics["basics-22"] == ["L1 = 1.1", "L2 = 0.43"]


# The cat classifier ------------------------------------------------------


@pytest.fixture(scope="module")
def cat(kernel, data_dir, tmp_path_factory):
    """The cat notebook's outputs, on the course data the tests use."""
    return execute(
        CAT, kernel, tmp_path_factory.mktemp("cat"), LOGITNET_DATA_DIR=str(data_dir)
    )


@pytest.fixture(scope="module")
def cat_lines(cat):
    return {cell: printed(outputs) for cell, outputs in cat.items()}


def test_cat_data_and_preprocessing(cat, cat_lines):
    assert cat_lines["cat-06"] == ["y = [1], it's a 'cat' picture."]
    assert pictures(cat["cat-06"]) == 1
    assert cat_lines["cat-07"] == [
        "Number of training examples: m_train = 209",
        "Number of testing examples: m_test = 50",
        "Height/Width of each image: num_px = 64",
        "Each image is of size: (64, 64, 3)",
        "train_set_x shape: (209, 64, 64, 3)",
        "train_set_y shape: (1, 209)",
        "test_set_x shape: (50, 64, 64, 3)",
        "test_set_y shape: (1, 50)",
    ]
    assert cat_lines["cat-09"] == [
        "train_set_x_flatten shape: (12288, 209)",
        "train_set_y shape: (1, 209)",
        "test_set_x_flatten shape: (12288, 50)",
        "test_set_y shape: (1, 50)",
        "sanity check after reshaping: [17 31 56 22 33]",
    ]
    assert cat_lines["cat-11"] == ["float64 0.0 1.0"]


def test_cat_parts_on_the_course_s_examples(cat_lines):
    assert cat_lines["cat-13"] == ["sigmoid([0, 2]) = [0.5        0.88079708]"]
    assert cat_lines["cat-15"] == ["w = [[0.]", " [0.]]", "b = 0.0"]
    propagated = cat_lines["cat-17"]
    assert propagated[:2] == ["dw = [[0.99845601]", " [2.39507239]]"]
    assert number(propagated[2], "db") == pytest.approx(0.001455578136784208, abs=1e-15)
    assert number(propagated[3], "cost") == pytest.approx(5.801545319394553, rel=1e-12)
    optimized = cat_lines["cat-19"]
    assert optimized[:2] == ["w = [[0.19033591]", " [0.12259159]]"]
    assert number(optimized[2], "b") == pytest.approx(1.9253598300845747, rel=1e-12)
    assert optimized[3:5] == ["dw = [[0.67752042]", " [1.41625495]]"]
    assert number(optimized[5], "db") == pytest.approx(0.21919450454067652, rel=1e-12)
    costs = json.loads(optimized[6].removeprefix("Costs = "))
    assert costs == [pytest.approx(5.801545319394553, rel=1e-12)]
    assert cat_lines["cat-21"] == ["predictions = [[1. 1. 0.]]"]


def test_cat_model_prints_the_course_s_report(cat_lines):
    assert cat_lines["cat-23"] == COURSE_REPORT


def test_cat_wrongly_classified_pictures(cat, cat_lines):
    wrong = [5, 6, 10, 11, 13, 18, 19, 28, 29, 30, 33, 34, 41, 44, 46]
    assert len(wrong) == 50 - 35  # 70 % of 50 right
    assert cat_lines["cat-25"] == [
        f"15 of 50 test pictures wrongly classified: {wrong}",
        'y = 0, you predicted that it is a "cat" picture.',
    ]
    assert pictures(cat["cat-25"]) == 1
    assert pictures(cat["cat-26"]) == 1  # the gallery of all 15


def test_cat_learning_curves(cat, cat_lines):
    assert pictures(cat["cat-28"]) == 1
    expected = []
    for rate, (train, test) in COURSE_SWEEP.items():
        expected += [
            f"Training a model with learning rate: {rate}",
            f"train accuracy: {train} %",
            f"test accuracy: {test} %",
            "",
            "-------------------------------------------------------",
            "",
        ]
    assert cat_lines["cat-30"] == expected
    assert pictures(cat["cat-31"]) == 1


def test_cat_your_own_photo(cat, cat_lines, cat_data):
    """The default photo, a test picture written to a file, is read back as
    `logitnet predict` reads photos: the same pixels, the same answer."""
    from logitnet.app.model import SavedModel
    from logitnet.app.prediction import classify, format_probabilities
    from logitnet.core.pixels import flatten, scale
    from logitnet.course.neuron import model

    assert cat_lines["cat-34"] == ['y = 1.0, your algorithm predicts a "cat" picture.']
    assert pictures(cat["cat-34"]) == 1
    train_x, train_y, test_x, test_y, _ = cat_data
    d = model(scale(flatten(train_x)), train_y, scale(flatten(test_x)), test_y,
              num_iterations=2000, learning_rate=0.005)  # fmt: skip
    saved = SavedModel(
        w=d["w"].ravel(), b=d["b"], classes=["non-cat", "cat"], image_shape=(64, 64, 3)
    )
    answer = classify(saved, test_x[1][np.newaxis]).answer(0)["probabilities"]
    assert cat_lines["cat-36"] == [
        f"logitnet-test-picture-1.png: {format_probabilities(answer)}"
    ]
    assert cat_lines["cat-36"][0].split(": ")[1].startswith("cat ")
    assert pictures(cat["cat-36"]) == 1  # the explanation


def test_cat_computation_graph(cat, cat_lines, cat_data):
    """The graph of the photo: `logitnet graph`'s values, its check line and
    its picture, for the model the notebook trained."""
    from logitnet.app.graph import neuron_graph
    from logitnet.app.model import SavedModel
    from logitnet.core.pixels import flatten, scale
    from logitnet.course.neuron import model
    from logitnet.viz.graph import check_line

    train_x, train_y, test_x, test_y, _ = cat_data
    d = model(scale(flatten(train_x)), train_y, scale(flatten(test_x)), test_y,
              num_iterations=2000, learning_rate=0.005)  # fmt: skip
    saved = SavedModel(
        w=d["w"].ravel(), b=d["b"], classes=["non-cat", "cat"], image_shape=(64, 64, 3)
    )
    graph = neuron_graph(saved, test_x[1], label="cat")
    lines = cat_lines["cat-38"]
    assert lines[0] == f"z = {graph.z:.6f}, a = {graph.a:.6f}, L = {graph.loss:.6f}"
    assert lines[1] == f"dL/dz = a - y = {graph.dL_dz:.6f}, dL/db = {graph.dL_db:.6f}"
    # y = 1 (a cat): dL/dz = a - 1, negative, and L = -log a.
    assert number(lines[0].split(", ")[1], "a") - 1 == pytest.approx(
        float(lines[1].split(" = ")[2].split(",")[0]), abs=2e-6
    )
    assert lines[2:] == [check_line(graph)]
    assert pictures(cat["cat-38"]) == 1
