"""Shared fixtures: where the course data is, the course's published run,
the command run as a real process, and small pictures and models."""

from __future__ import annotations

import os

# scikit-learn's array-API checks run only where SciPy's array-API support is
# on, and SciPy reads this once, when first imported: before anything here.
os.environ.setdefault("SCIPY_ARRAY_API", "1")

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import settings

# Derandomized: the same examples on every run, so CI cannot flake.
settings.register_profile("logitnet", deadline=None, max_examples=200, derandomize=True)
settings.load_profile("logitnet")

# skips_in_ci: in CI, a skip fails unless it needs hardware CI lacks;
# pytester runs that plugin on small test files (test_skips_in_ci.py).
pytest_plugins = ["skips_in_ci", "pytester"]

#: The course's printed costs for 2000 iterations at learning rate 0.005.
COURSE_COSTS = [
    "0.693147", "0.584508", "0.466949", "0.376007", "0.331463",
    "0.303273", "0.279880", "0.260042", "0.242941", "0.228004",
    "0.214820", "0.203078", "0.192544", "0.183033", "0.174399",
    "0.166521", "0.159305", "0.152667", "0.146542", "0.140872",
]  # fmt: skip
COURSE_REPORT = [
    f"Cost after iteration {100 * i}: {c}" for i, c in enumerate(COURSE_COSTS)
] + ["train accuracy: 99.04306220095694 %", "test accuracy: 70.0 %"]
#: The course's published learning-rate comparison (1500 iterations each):
#: each rate's train and test accuracy.
COURSE_SWEEP = {
    0.01: (99.52153110047847, 68.0),
    0.001: (88.99521531100478, 64.0),
    0.0001: (68.42105263157895, 36.0),
}


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The course data, from LOGITNET_DATA_DIR.

    Tests that need it are skipped when it is not configured, except where
    LOGITNET_REQUIRE_DATA is set (as in CI): then they fail.
    """
    value = os.environ.get("LOGITNET_DATA_DIR")
    path = Path(value) if value else None
    if path is None or not (path / "train_catvnoncat.h5").is_file():
        message = f"course data not found (LOGITNET_DATA_DIR={value!r})"
        if os.environ.get("LOGITNET_REQUIRE_DATA"):
            pytest.fail(message)
        pytest.skip(message)
    return path


@pytest.fixture(scope="session")
def cat_data(data_dir):
    from logitnet.data.cats import load_dataset

    return load_dataset(data_dir)


@pytest.fixture(scope="session")
def cat_arrays(cat_data):
    """(X_train, Y_train, X_test, Y_test) as the course prepares them."""
    from logitnet.core.pixels import flatten, scale

    train_x, train_y, test_x, test_y, _ = cat_data
    return scale(flatten(train_x)), train_y, scale(flatten(test_x)), test_y


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(0)


# The command line, as a real process ----------------------------------------

#: Exit statuses of the ``logitnet`` command.
USAGE = 2
FAILURE = 1


def run(*args: str, env: dict | None = None, timeout: float = 120, cwd=None):
    """``python -m logitnet ARGS`` (in ``cwd``, default this process's
    directory): the completed process, output as text."""
    return subprocess.run(
        [sys.executable, "-m", "logitnet", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=timeout,
        check=False,
        cwd=cwd,
    )


def run_on_a_terminal(*args: str, timeout: float = 120) -> tuple[int, str]:
    """``python -m logitnet ARGS`` with stdout and stderr on one pseudo-terminal
    (where progress is shown): the exit status, and all it wrote, as text."""
    import fcntl
    import pty
    import struct
    import termios

    controller, terminal = pty.openpty()
    # A new pty is 0 columns wide, where a bar has no room: size it like a
    # real terminal.
    fcntl.ioctl(terminal, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))
    proc = subprocess.Popen(
        [sys.executable, "-m", "logitnet", *args],
        stdin=subprocess.DEVNULL, stdout=terminal, stderr=terminal,
    )  # fmt: skip
    os.close(terminal)
    chunks = []
    while True:
        try:
            chunk = os.read(controller, 4096)
        except OSError:  # the terminal closed: the process has exited
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(controller)
    return proc.wait(timeout=timeout), b"".join(chunks).decode()


# Small pictures, files and models, made on the spot ---------------------------


def write_h5(path: Path, split: str, x, y, classes=(b"non-cat", b"cat"), **extra):
    """One split in the course's HDF5 layout; None leaves a part out, and
    ``extra`` adds datasets."""
    import h5py

    with h5py.File(path, "w") as f:
        if x is not None:
            f.create_dataset(f"{split}_set_x", data=x)
        if y is not None:
            f.create_dataset(f"{split}_set_y", data=y)
        if classes is not None:
            f.create_dataset("list_classes", data=np.array(classes))
        for key, value in extra.items():
            f.create_dataset(key, data=value)


#: The picture shape of ``tiny_model``.
TINY_SHAPE = (4, 4, 3)


@pytest.fixture
def tiny_model():
    """A model of 4x4 RGB pictures, classes "no" and "yes", seeded weights."""
    from logitnet.app.modelfile import SavedModel

    w = np.random.default_rng(1).normal(size=int(np.prod(TINY_SHAPE)))
    return SavedModel(w=w, b=-0.25, classes=["no", "yes"], image_shape=TINY_SHAPE)


@pytest.fixture
def tiny_folder(tmp_path) -> Path:
    """DIR/<class>/<images>: 5 "cat" and 5 "dog" PNG pictures of odd sizes
    (cats bright, dogs dark), and a text file that is not a picture."""
    from PIL import Image

    rng = np.random.default_rng(2)
    root = tmp_path / "pictures"
    for name, low, high in (("cat", 128, 256), ("dog", 0, 128)):
        (root / name).mkdir(parents=True)
        for i in range(5):
            pixels = rng.integers(low, high, (6 + i, 9, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(root / name / f"{i}.png")
    (root / "cat" / "notes.txt").write_text("not a picture")
    return root


#: Pictures of the small synthetic data set: 108 features, many chunks.
SMALL_SHAPE = (6, 6, 3)


@pytest.fixture(scope="session")
def synth_file(tmp_path_factory):
    """3000 training and 100 test pictures of SMALL_SHAPE with a planted model."""
    from logitnet.data.synth import make_images

    path = tmp_path_factory.mktemp("synth") / "synth.h5"
    return make_images(path, 3000, image_shape=SMALL_SHAPE, seed=5, test_samples=100)


@pytest.fixture(scope="session")
def in_memory(synth_file):
    """synth_file's training set as (X floats, y) in memory."""
    from logitnet.core.pixels import scale
    from logitnet.data.layout import read_split

    x, y, _ = read_split(synth_file, "train")
    return scale(x.reshape(len(x), -1)), y.ravel()


#: The first bytes of a Git LFS pointer file: what a clone without LFS holds.
LFS_POINTER = (
    b"version https://git-lfs.github.com/spec/v1\n"
    b"oid sha256:fbe56ab67c3ae28d564e3a644189117976d6b31af0a3ce9bb17dbf22908af242\n"
    b"size 2572022\n"
)


def write_split(path, split="train", x=None, y=None, classes=None, skip=()):
    """A small valid file in the course's layout (3 pictures of 4 x 4), with
    any part replaced, or left out by its dataset name in ``skip``."""
    x = np.zeros((3, 4, 4, 3), np.uint8) if x is None else x
    y = np.array([0, 1, 1]) if y is None else y
    classes = np.array([b"non-cat", b"cat"]) if classes is None else classes
    write_h5(
        path,
        split,
        None if f"{split}_set_x" in skip else x,
        None if f"{split}_set_y" in skip else y,
        None if "list_classes" in skip else classes,
    )
    return path


# --- pictures and the browser, for the report and the plot commands ---------


def assert_not_blank(pixels: np.ndarray) -> None:
    colours = np.unique(pixels.reshape(-1, pixels.shape[-1]), axis=0)
    assert len(colours) > 20
    assert pixels.std() > 5


#: Headless and offline: no GPU, no sandbox (root in containers), and nothing
#: of Chromium's own that would reach for the network.
CHROMIUM_ARGUMENTS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--window-size=1280,1600",
]

#: Resolves with, for each <img>, whether it decoded and its natural size.
DECODE_ALL_IMAGES = """
const done = arguments[arguments.length - 1];
const images = Array.from(document.images);
Promise.all(images.map(img => img.decode().then(
    () => ({alt: img.alt, complete: img.complete, width: img.naturalWidth,
            height: img.naturalHeight, error: null}),
    error => ({alt: img.alt, error: String(error)})
))).then(done);
"""


@pytest.fixture
def browser(tmp_path):
    """Headless Debian Chromium driven by Selenium; skipped where there is none.

    ``make test`` installs chromium and chromium-driver with apt when it can.
    Where LOGITNET_REQUIRE_BROWSER is set (CI), a missing browser fails.
    """
    chromium, chromedriver = shutil.which("chromium"), shutil.which("chromedriver")
    if not (chromium and chromedriver):
        message = (
            "chromium and chromedriver not found on PATH; "
            "install them with: apt-get install chromium chromium-driver"
        )
        if os.environ.get("LOGITNET_REQUIRE_BROWSER"):
            pytest.fail(message)
        pytest.skip(message)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    # Both paths given: Selenium Manager is never asked to find or download one.
    options.binary_location = chromium
    for argument in [*CHROMIUM_ARGUMENTS, f"--user-data-dir={tmp_path / 'profile'}"]:
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    service = Service(executable_path=chromedriver, log_output=subprocess.DEVNULL)
    driver = webdriver.Chrome(service=service, options=options)
    try:
        driver.set_page_load_timeout(30)
        driver.set_script_timeout(15)
        yield driver
    finally:
        driver.quit()
