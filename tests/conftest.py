"""Shared fixtures: where the course data is, and the course's published run."""

from __future__ import annotations

import os

# scikit-learn's array-API checks run only where SciPy's array-API support is
# on, and SciPy reads this once, when first imported: before anything here.
os.environ.setdefault("SCIPY_ARRAY_API", "1")

from pathlib import Path

import numpy as np
import pytest
from hypothesis import settings

# Derandomized: the same examples on every run, so CI cannot flake.
settings.register_profile("logitnet", deadline=None, max_examples=200, derandomize=True)
settings.load_profile("logitnet")

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
    from logitnet.data.cats import flatten, scale

    train_x, train_y, test_x, test_y, _ = cat_data
    return scale(flatten(train_x)), train_y, scale(flatten(test_x)), test_y


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(0)
