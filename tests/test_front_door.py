"""What a new user meets first, each through a real ``logitnet`` process: a
light prediction, files that flow between commands, folders of class
folders, divergence said, messages that help, one decode, the report in a
real browser."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import tomllib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from conftest import (
    COURSE_REPORT,
    DECODE_ALL_IMAGES,
    FAILURE,
    TINY_SHAPE,
    assert_not_blank,
    run,
)
from logitnet.app.modelfile import load_model, save_model
from logitnet.data.layout import write_course_file

ROOT = Path(__file__).resolve().parents[1]

#: What a prediction must not import: none of it is needed for sigma(w.x + b).
HEAVY = ["sklearn", "scipy", "pandas", "dask", "matplotlib", "tqdm"]


def modules_after(code: str) -> list[str]:
    """The HEAVY modules imported by ``code`` run in a fresh interpreter."""
    probe = f"{code}\nimport sys, json\nprint(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))"
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.splitlines()[-1])


@pytest.fixture
def model_file(tmp_path, tiny_model) -> Path:
    return save_model(tmp_path / "tiny.npz", tiny_model)


@pytest.fixture
def photo(tmp_path) -> Path:
    """A 300 x 200 JPEG photo."""
    rng = np.random.default_rng(3)
    path = tmp_path / "photo.jpg"
    Image.fromarray(rng.integers(0, 256, (200, 300, 3), dtype=np.uint8)).save(path)
    return path


# --- a light prediction -----------------------------------------------------------


def test_predict_imports_only_numpy_pillow_and_the_model(model_file, photo):
    code = (
        "from logitnet.cli import main\n"
        f"status = main(['predict', '--model', {str(model_file)!r}, {str(photo)!r}])\n"
        "assert status == 0"
    )
    assert modules_after(code) == []


#: Run first in a fresh interpreter: pandas cannot be imported, as where
#: `make run` installed logitnet (pandas is a test dependency only).
WITHOUT_PANDAS = """
import importlib.abc, sys

class NoPandas(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] == "pandas":
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None

sys.meta_path.insert(0, NoPandas())
"""


def test_logitnet_needs_no_pandas():
    """Every module imports and the estimator fits, predicts and scores
    with pandas unimportable (scikit-learn and SciPy import pandas where they
    find it, so with it installed this is the only way to see that logitnet
    does not need it)."""
    names = sorted(
        ".".join(path.relative_to(ROOT / "src").with_suffix("").parts)
        for path in (ROOT / "src" / "logitnet").rglob("*.py")
        if path.name not in {"__init__.py", "__main__.py"}
    )
    code = WITHOUT_PANDAS + (
        "import importlib\n"
        f"for name in {names!r}:\n"
        "    importlib.import_module(name)\n"
        "import numpy as np\n"
        "from logitnet import LogisticRegression\n"
        "X = np.array([[0.0], [1.0], [2.0], [3.0]])\n"
        "y = ['non-cat', 'non-cat', 'cat', 'cat']\n"
        "clf = LogisticRegression(alpha=0.1).fit(X, y)\n"
        "assert clf.predict([[0.2], [2.8]]).tolist() == ['non-cat', 'cat']\n"
        "assert clf.score(X, y) == 1.0\n"
        "import pandas  # the block holds: this must fail"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False
    )
    assert result.returncode == 1
    last = result.stderr.strip().splitlines()[-1]
    assert last == "ModuleNotFoundError: No module named 'pandas'", result.stderr


def test_no_pandas_torch_or_selenium_at_run_time():
    """`make run` installs the runtime dependencies, pinned, and nothing of
    the test extras (which pin pandas, for scikit-learn's checks, and
    PyTorch's CPU build)."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    runtime = " ".join(project["dependencies"]).lower()
    pinned = (ROOT / "requirements" / "run.txt").read_text().lower()
    for heavy in ("pandas", "torch", "selenium", "pytest"):
        assert heavy not in runtime and f"\n{heavy}==" not in pinned
    tests = (ROOT / "requirements" / "test.txt").read_text()
    assert "\ntorch==2.13.0\n" in tests and "\npandas==" in tests


# --- one decode -------------------------------------------------------------------


def test_same_probability_by_path_pillow_image_and_array(model_file, tmp_path):
    rng = np.random.default_rng(4)
    big = tmp_path / "big.jpg"
    Image.fromarray(rng.integers(0, 256, (1200, 1600, 3), dtype=np.uint8)).save(
        big, quality=90
    )
    result = run("predict", "--model", str(model_file), str(big), "--json")
    assert result.returncode == 0, result.stderr
    by_path = json.loads(result.stdout)[0]["probabilities"]["yes"]
    model = load_model(model_file)
    with Image.open(big) as image:
        by_image = model.predict_proba(image)[0, 1]
        by_array = model.predict_proba(np.asarray(image))[0, 1]
    assert by_path == by_image == by_array
    assert "in full" in model.preprocessing["decode"]


# --- folders of class folders, and data files -------------------------------------


def test_predict_walks_a_folder_of_class_folders(model_file, tiny_folder):
    (tiny_folder / "dog" / "loop").symlink_to(tiny_folder)  # a loop: walked once
    result = run("predict", "--model", str(model_file), str(tiny_folder), "--json")
    assert result.returncode == 0, result.stderr
    paths = [Path(entry["path"]) for entry in json.loads(result.stdout)]
    assert [p.relative_to(tiny_folder).as_posix() for p in paths] == [
        *(f"cat/{i}.png" for i in range(5)),
        *(f"dog/{i}.png" for i in range(5)),
    ]
    again = run("predict", "--model", str(model_file), str(tiny_folder), "--json")
    assert again.stdout == result.stdout  # the same order every time


@pytest.fixture
def data_file(tmp_path) -> Path:
    """A converted data set of tiny pictures: 12 training, 6 test."""
    rng = np.random.default_rng(5)
    path = tmp_path / "tiny.h5"
    x = rng.integers(0, 256, (18, *TINY_SHAPE), dtype=np.uint8)
    y = np.arange(18) % 2
    write_course_file(path, x[:12], y[:12], ["no", "yes"], x[12:], y[12:])
    return path


def test_every_command_that_scores_reads_a_data_file(model_file, data_file, tmp_path):
    model = str(model_file)
    predicted = run("predict", "--model", model, "--data", str(data_file), "--json")
    assert predicted.returncode == 0, predicted.stderr
    entries = json.loads(predicted.stdout)
    assert [e["path"] for e in entries] == [f"{data_file}[test {i}]" for i in range(6)]

    evaluated = run("evaluate", "--model", model, "--data", str(data_file),
                    "--split", "all", "--json")  # fmt: skip
    assert evaluated.returncode == 0, evaluated.stderr
    assert json.loads(evaluated.stdout)["data"]["n_images"] == 18

    page = tmp_path / "r.html"
    reported = run("report", "--model", model, "--data", str(data_file),
                   "--out", str(page))  # fmt: skip
    assert reported.returncode == 0, reported.stderr
    assert "Misclassified pictures" in page.read_text()

    why = tmp_path / "why.png"
    explained = run("explain", "--model", model, "--data", str(data_file),
                    "--index", "2", "--out", str(why), "--json")  # fmt: skip
    assert explained.returncode == 0, explained.stderr
    answer = json.loads(explained.stdout)
    assert answer["path"] == f"{data_file}[test 2]"
    assert answer["probabilities"] == entries[2]["probabilities"]

    swept = run("sweep", "--data", str(data_file), "--learning-rates", "0.1",
                "0.01", "--iterations", "3", "--json")  # fmt: skip
    assert swept.returncode == 0, swept.stderr
    assert [r["learning_rate"] for r in json.loads(swept.stdout)] == [0.1, 0.01]


def test_options_are_never_abbreviated(model_file, data_file):
    result = run("evaluate", "--model", str(model_file), "--dat", str(data_file))
    assert result.returncode == 2
    assert "unrecognized arguments: --dat" in result.stderr


# --- divergence and messages ------------------------------------------------------


def test_a_learning_rate_too_large_is_said(data_dir, tmp_path):
    result = run("train", "--learning-rate", "1e300", "--iterations", "200",
                 "--out", str(tmp_path / "m.npz"))  # fmt: skip
    assert result.returncode == 0, result.stderr
    warnings = [line for line in result.stderr.splitlines() if "warning" in line]
    assert len(warnings) == 1
    assert "the learning rate 1e+300 is too large; try a smaller one" in warnings[0]


def test_the_course_run_is_unchanged_and_silent(data_dir):
    result = run("train", "--quiet")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == COURSE_REPORT
    assert result.stderr == ""


def test_without_data_the_message_says_where_to_put_it(tmp_path):
    env = {
        "LOGITNET_DATA_DIR": "",
        "LOGITNET_CACHE_DIR": str(tmp_path / "cache"),
        "LOGITNET_DATA_URL": "http://127.0.0.1:9/",  # nothing listens there
    }
    result = run("train", "--iterations", "1", env=env)
    assert result.returncode == FAILURE
    assert result.stderr.count("\n") == 1 and len(result.stderr) < 400
    assert "LOGITNET_DATA_DIR" in result.stderr and "--data-dir" in result.stderr


def test_train_without_out_says_the_model_is_not_saved(data_dir):
    result = run("train", "--iterations", "1")
    assert result.returncode == 0
    assert result.stderr == "model not saved: give --out PATH\n"


def test_unknown_options_point_to_the_command_help():
    result = run("train", "--no-such-option")
    assert result.returncode == 2
    assert result.stderr.endswith("(see 'logitnet train --help')\n")


# --- the report, in a real browser ------------------------------------------------


def test_the_report_reads_well_in_a_browser(browser, data_dir, tmp_path):
    model = tmp_path / "model.npz"
    trained = run("train", "--iterations", "300", "--out", str(model), "--quiet")
    assert trained.returncode == 0, trained.stderr
    page = tmp_path / "report.html"
    reported = run("report", "--model", str(model), "--out", str(page))
    assert reported.returncode == 0, reported.stderr

    browser.get(page.as_uri())
    images = browser.execute_async_script(DECODE_ALL_IMAGES)
    text = " ".join(browser.find_element("tag name", "body").text.split())
    screenshot = browser.get_screenshot_as_png()

    assert len(images) == 6  # the last: the first test picture's graph
    assert images[-1]["alt"] == "the computation graph of the first test picture"
    for image in images:
        assert image["error"] is None and image["width"] > 0, image
    for shown in [
        "Model file model.npz",
        "logitnet 0.1.0",
        "300 iterations of gradient descent, learning rate 0.005",
        "no penalty on the weights",
        "Converged: no. Gradient descent ran the fixed 300 iterations",
        "accuracy",
        "share of the pictures classified right",
        "Rows: the true class; columns: the class the model chose.",
        "the probability the model gave that choice",
        "Red pixels pushed towards cat, blue ones towards non-cat",
        "The neuron at work on the first test picture",
    ]:
        assert shown in text, shown
    final = load_model(model).training["final_cost"]
    assert (
        f"final cost {final:.6f} at iteration 300, where training ended (the "
        "learning curve's last point; the costs recorded every 100 iterations "
        "end at 200)"
    ) in text
    assert text.count("share of the pictures classified right") == 1
    assert "cost_every" not in text and "n_iter" not in text
    with Image.open(io.BytesIO(screenshot)) as picture:
        assert_not_blank(np.asarray(picture.convert("RGB")))
