# Everything a fresh machine with python3, pip and make needs: `make run`, `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

# The course data kept beside the checkout (../shared), unless already set;
# where there is none, logitnet downloads it to the user cache on first use.
export LOGITNET_DATA_DIR ?= $(wildcard $(abspath ../shared/data/catvnoncat))

.PHONY: run test browser bench lint format clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# Re-install whenever the project's metadata changes.
$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $(STAMP)

## run: train the cat classifier with the course's settings and print its report
run: $(STAMP)
	$(BIN)/logitnet train --out model.npz

## browser: Debian's headless Chromium and its WebDriver, for the report's browser test
# Needs root and apt; elsewhere the test is skipped (failed where
# LOGITNET_REQUIRE_BROWSER is set, as in CI).
browser:
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null || \
		(apt-get update && apt-get install -y --no-install-recommends \
			chromium chromium-driver) || \
		echo "chromium could not be installed (needs root and apt):" \
			"the report's browser test will be skipped"

## test: lint, then the whole test suite
test: $(STAMP) browser
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/python -m pytest

# Where bench_dask.py writes its data file (30.7 GB by default; deleted after).
BENCH_WORKDIR ?= .
BENCH_SAMPLES ?= 2500000

## bench: speed benchmarks, side by side; writes benchmarks/RESULTS.md and
## benchmarks/RESULTS_DASK.md (the second writes a file larger than memory:
## about an hour; BENCH_SAMPLES=20000 for a quick run)
bench: $(STAMP)
	$(BIN)/python -m pip install --quiet "torch==2.13.0" || \
		echo "PyTorch could not be installed: its benchmark rows will be skipped"
	$(BIN)/python benchmarks/bench.py
	$(BIN)/python -m pip install --quiet "dask-ml==2025.1.0"
	$(BIN)/python benchmarks/bench_dask.py --n-samples $(BENCH_SAMPLES) \
		--workdir $(BENCH_WORKDIR)

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

format: $(STAMP)
	$(BIN)/ruff format src tests benchmarks
	$(BIN)/ruff check --fix src tests benchmarks

clean:
	rm -rf $(VENV) build dist .pytest_cache .ruff_cache .hypothesis model.npz
