# The README's two set-up commands: `make demo` and `make test`. Each makes .venv if missing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint typecheck unit bench clean systemd-analyze

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

# The unit-file test scores systemd/jobsync.service with systemd-analyze (Debian's systemd package).
systemd-analyze:
	@command -v systemd-analyze >/dev/null || { \
		if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq --no-install-recommends systemd; \
		else sudo apt-get update -qq && sudo apt-get install -y -qq --no-install-recommends systemd; fi; }

test: lint typecheck systemd-analyze
	$(BIN)/pytest -n 2 -q

bench: $(STAMP)
	$(BIN)/python bench/resync.py

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache
