# Everything a fresh machine with python3, pip and make needs: `make run`, `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

# The course data kept beside the checkout (../shared), unless already set;
# where there is none, logitnet downloads it to the user cache on first use.
export LOGITNET_DATA_DIR ?= $(wildcard $(abspath ../shared/data/catvnoncat))

.PHONY: run test notebook lock tools bench bench-startup bench-serve lint format clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# What `make run` needs (the runtime dependencies), what `make test` adds
# (the test extras) and what `make notebook` adds (JupyterLab), each pinned
# by a lock file in requirements/: a fresh machine installs exactly those
# versions. `make lock` refreshes them.
RUN_LOCK := requirements/run.txt
TEST_LOCK := requirements/test.txt
NOTEBOOK_LOCK := requirements/notebook.txt
RUN_STAMP := $(VENV)/.installed-run
TEST_STAMP := $(VENV)/.installed-test
NOTEBOOK_STAMP := $(VENV)/.installed-notebook

$(RUN_STAMP): pyproject.toml $(RUN_LOCK) | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c $(RUN_LOCK) -e .
	touch $(RUN_STAMP)

$(TEST_STAMP): pyproject.toml $(TEST_LOCK) | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c $(TEST_LOCK) -e ".[test]"
	touch $(RUN_STAMP) $(TEST_STAMP)

$(NOTEBOOK_STAMP): pyproject.toml $(NOTEBOOK_LOCK) | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c $(NOTEBOOK_LOCK) -e ".[notebook]"
	touch $(RUN_STAMP) $(NOTEBOOK_STAMP)

## lock: re-resolve the pinned versions in requirements/ (with uv, from PyPI)
# The notebook lock is resolved within the test lock's versions, so that
# `make test` and `make notebook` can share one .venv.
# torch's local label (+cpu) is dropped: torch==2.13.0 is what the test extra
# asks for, and it matches the CPU wheel where one is offered.
UV := $(VENV)/uv/bin/uv
$(UV):
	$(PYTHON) -m venv $(VENV)/uv
	$(VENV)/uv/bin/python -m pip install --quiet uv
lock: $(UV)
	$(UV) pip compile pyproject.toml --python-version 3.11 --upgrade \
		--quiet -o $(RUN_LOCK)
	$(UV) pip compile pyproject.toml --extra test --python-version 3.11 \
		--upgrade --quiet -o $(TEST_LOCK)
	sed -i 's/^\(torch==[0-9.]*\)+[a-z0-9]*$$/\1/' $(RUN_LOCK) $(TEST_LOCK)
	$(UV) pip compile pyproject.toml --extra notebook --python-version 3.11 \
		-c $(TEST_LOCK) --upgrade --quiet -o $(NOTEBOOK_LOCK)

## run: train the cat classifier with the course's settings and print its report
run: $(RUN_STAMP)
	$(BIN)/logitnet train --out model.npz

## notebook: install JupyterLab (the notebook extra) and open the course's
## notebooks, notebooks/, in it
# LOGITNET_DATA_DIR (above) reaches the notebooks' kernel. JupyterLab will
# not start as root unless told to: in a container, root is the usual user.
notebook: $(NOTEBOOK_STAMP)
	$(BIN)/jupyter lab notebooks/ $$(test "$$(id -u)" = 0 && echo --allow-root)

## tools: the programs the tests run besides Python, from Debian: headless
## Chromium and its WebDriver (the report's browser test) and prlimit from
## util-linux (bad input's memory-bounded runs)
# Needs root and apt; elsewhere the tests that need them are skipped (and
# fail in CI, where only a GPU's checks may skip: tests/skips_in_ci.py).
tools:
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null && \
		command -v prlimit >/dev/null || \
		(apt-get update && apt-get install -y --no-install-recommends \
			chromium chromium-driver util-linux) || \
		echo "chromium or prlimit could not be installed (needs root and apt):" \
			"the tests that need them will be skipped"

## test: lint, then the whole test suite
test: $(TEST_STAMP) tools
	$(BIN)/ruff check src tests benchmarks notebooks
	$(BIN)/ruff format --check src tests benchmarks notebooks
	$(BIN)/python -m pytest

# Where bench_dask.py writes its data file (30.7 GB by default; deleted after).
BENCH_WORKDIR ?= .
BENCH_SAMPLES ?= 2500000

## bench: speed benchmarks, side by side; writes benchmarks/RESULTS_STARTUP.md,
## benchmarks/RESULTS_SERVE.md, benchmarks/RESULTS.md, benchmarks/RESULTS_ONE_ANSWER.md
## (a 2.5 GB file in BENCH_WORKDIR, deleted after), benchmarks/RESULTS_MULTICLASS.md and
## benchmarks/RESULTS_DASK.md
## (the last writes a file larger than memory: about an hour; BENCH_SAMPLES=20000
## for a quick run)
bench: $(TEST_STAMP)
	$(BIN)/python -m pip install --quiet "torch==2.13.0" || \
		echo "PyTorch could not be installed: its benchmark rows will be skipped"
	$(BIN)/python benchmarks/bench_startup.py
	$(BIN)/python benchmarks/bench_serve.py
	$(BIN)/python benchmarks/bench.py
	$(BIN)/python benchmarks/bench_one_answer.py --workdir $(BENCH_WORKDIR)
	$(BIN)/python benchmarks/bench_multiclass.py --workdir $(BENCH_WORKDIR)
	$(BIN)/python benchmarks/bench_storage.py --workdir $(BENCH_WORKDIR)
	$(BIN)/python -m pip install --quiet "dask-ml==2025.1.0"
	$(BIN)/python benchmarks/bench_dask.py --n-samples $(BENCH_SAMPLES) \
		--workdir $(BENCH_WORKDIR)

## bench-startup: the start-up benchmark only (a minute); writes
## benchmarks/RESULTS_STARTUP.md
bench-startup: $(RUN_STAMP)
	$(BIN)/python benchmarks/bench_startup.py

## bench-serve: `logitnet serve --workers 2` under load (a few minutes); writes
## benchmarks/RESULTS_SERVE.md
bench-serve: $(RUN_STAMP)
	$(BIN)/python benchmarks/bench_serve.py

lint: $(TEST_STAMP)
	$(BIN)/ruff check src tests benchmarks notebooks
	$(BIN)/ruff format --check src tests benchmarks notebooks

format: $(TEST_STAMP)
	$(BIN)/ruff format src tests benchmarks notebooks
	$(BIN)/ruff check --fix src tests benchmarks notebooks

clean:
	rm -rf $(VENV) build dist .pytest_cache .ruff_cache .hypothesis model.npz
