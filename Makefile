# The README's two set-up commands: `make demo` and `make test`. Each makes .venv if missing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint typecheck unit bench clean test-tools constraints man

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# constraints.txt pins every package to the versions tested, so a clean clone installs the same.
$(STAMP): $(BIN)/python pyproject.toml constraints.txt
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev]'
	touch $(STAMP)

# After changing dependencies: install the newest allowed versions, test, then pin them.
constraints: $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade -e '.[dev]'
	{ sed -n '/^#/p' constraints.txt; $(BIN)/python -m pip freeze --exclude-editable | grep -v '^#'; } > constraints.new
	mv constraints.new constraints.txt

demo: $(STAMP)
	$(BIN)/jobsync demo

lint: $(STAMP)
	$(BIN)/ruff check jobsync tests bench
	$(BIN)/ruff format --check jobsync tests bench

typecheck: $(STAMP)
	$(BIN)/mypy --strict jobsync tests bench

# System tools the tests use, installed with apt when missing: systemd-analyze (scores the unit
# file), sshd (a real SSH remote) and chromium (the pages' browser tests, driven by Playwright).
# PostgreSQL's initdb/pg_ctl are found or installed by the test suite itself (tests/postgres.py).
APT_GET := $(if $(filter 0,$(shell id -u)),apt-get,sudo apt-get)
test-tools:
	@missing=""; \
	command -v systemd-analyze >/dev/null || missing="$$missing systemd"; \
	test -x /usr/sbin/sshd || missing="$$missing openssh-server"; \
	command -v ssh >/dev/null || missing="$$missing openssh-client"; \
	test -x /usr/bin/chromium || missing="$$missing chromium"; \
	if [ -n "$$missing" ]; then $(APT_GET) update -qq && $(APT_GET) install -y -qq --no-install-recommends $$missing; fi

test: lint typecheck test-tools
	$(BIN)/pytest -n 2 -q

# The manual page, written from the CLI's own help: man -l build/man/jobsync.1
man: $(STAMP)
	$(BIN)/python -m jobsync.manpage build/man

bench: $(STAMP)
	$(BIN)/python bench/resync.py

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache .hypothesis
