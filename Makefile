# The README's commands. `make run` and `make test` work on a fresh clone: each sets up
# what it needs first (the virtualenv and its dependencies).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION := 1
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: run test lint synth deploy bench clean venv

venv: $(STAMP)

$(STAMP): requirements.txt requirements-layer.txt requirements-dev.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	touch $(STAMP)

## run: emulator + tables + bucket + `chalice local` on http://127.0.0.1:8000 (Ctrl-C stops all)
run: $(STAMP)
	$(BIN)/python -m localdev.run

## lint: ruff and mypy (strict)
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

## test: lint, then every test (unit, integration over real HTTP, infrastructure)
test: lint
	$(BIN)/pytest

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis chalice.out infrastructure/cdk.out
