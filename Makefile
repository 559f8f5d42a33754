# The README's two set-up commands: `make demo` and `make test`. Each makes .venv if missing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint typecheck unit bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/jobsync demo

lint: $(STAMP)
	$(BIN)/ruff check jobsync tests bench
	$(BIN)/ruff format --check jobsync tests bench

typecheck: $(STAMP)
	$(BIN)/mypy --strict jobsync tests bench

test: lint typecheck
	$(BIN)/pytest -n 2 -q

bench: $(STAMP)
	$(BIN)/python bench/resync.py

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache
