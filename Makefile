# Developer habits. The first target run bootstraps .venv from requirements.lock.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.synced

.PHONY: up test test-prerequisites lint fmt bench chaos lock clean-data

$(STAMP): requirements.lock pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check "uv==0.13.9"
	$(BIN)/uv pip sync --quiet --compile-bytecode --python $(BIN)/python --require-hashes requirements.lock
	$(BIN)/uv pip install --quiet --python $(BIN)/python --no-deps -e .
	touch $(STAMP)

## Start the whole system on the embedded defaults (Ctrl-C stops everything).
up: $(STAMP)
	$(BIN)/leadflow up

## Run every test (starts its own embedded PostgreSQL and broker on free ports).
test: test-prerequisites $(STAMP)
	$(BIN)/python -m pytest

## What the tests need beyond Python (Debian's chromium and kcat; python3-venv while .venv
## is to be made): installed when run as root, else the one command to run, at once.
test-prerequisites:
	@$(PYTHON) deploy/make_test_needs.py $(VENV)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy .

fmt: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

## Benchmarks against a stack the script starts itself (see "Benchmarks" in README.md).
bench: $(STAMP)
	$(BIN)/python -m bench.intake_http

## Chaos run at full size: kills, broker freeze, database restart, then reconcile.
chaos: $(STAMP)
	$(BIN)/python -m tests.chaos.driver --leads 20000 --rate 40 --kill-every 20 --freeze 20 --outage-every 3

## Re-resolve requirements.lock from pyproject.toml.
lock: $(STAMP)
	$(BIN)/uv pip compile pyproject.toml --extra dev --generate-hashes --python-version 3.11 --quiet -o requirements.lock

clean-data:
	rm -rf .leadflow
