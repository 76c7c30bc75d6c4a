# GridStream developer commands. `make run` and `make test` work on a fresh clone.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PYTEST_ARGS ?=

.PHONY: setup run test test-unit lint format proto bench clean broker-fetch browser-deps contracts deploy-deps

setup: $(STAMP) broker-fetch

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11+ is required")'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	@touch $(STAMP)

broker-fetch: $(STAMP)
	@if [ -z "$$GRIDSTREAM_BOOTSTRAP" ]; then $(BIN)/gridstream broker fetch; fi

browser-deps: $(STAMP)
	@bash tools/browser-deps.sh

run: setup
	$(BIN)/gridstream up $(ARGS)

test: setup browser-deps deploy-deps
	$(BIN)/python -m pytest -q -p no:cacheprovider --durations=15 $(PYTEST_ARGS)

test-unit: $(STAMP)
	$(BIN)/python -m pytest -q tests/unit $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check src tests tools benchmarks deploy
	$(BIN)/ruff format --check src tests tools benchmarks deploy
	$(BIN)/mypy

format: $(STAMP)
	$(BIN)/ruff format src tests tools benchmarks
	$(BIN)/ruff check --fix src tests tools benchmarks

proto: $(STAMP)
	$(BIN)/python tools/gen_proto.py
	$(BIN)/python tools/proto_lock.py
	$(BIN)/python tools/gen_contracts_doc.py

contracts: $(STAMP)
	$(BIN)/python tools/gen_contracts_doc.py

deploy-deps:
	@bash tools/deploy-deps.sh

bench: setup
	$(BIN)/gridstream bench $(if $(BASELINE),--baseline $(BASELINE)) $(ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
