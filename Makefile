# SPLP — two commands on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
CONFIG ?= conf/gateway.yaml
SCENARIO ?= passthrough

.PHONY: run test bench bench-profile lint check clean install lock etl-demo

# Installs exactly what requirements.lock pins (with hashes), then the project itself without
# touching its dependencies. `make lock` is the one way to move a pin.
$(STAMP): pyproject.toml requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --require-hashes -r requirements.lock
	$(BIN)/pip install -q --no-deps --no-build-isolation -e .
	touch $(STAMP)

install: $(STAMP)

# Gateway on 0.0.0.0:8000, control API on 127.0.0.1:8001, sample backend on 127.0.0.1:9001.
# Ctrl-C stops all of it.
run: $(STAMP)
	@mkdir -p var/splp
	@$(BIN)/splp sample-backend --port 9001 & backend=$$!; \
	trap 'kill $$backend 2>/dev/null' EXIT INT TERM; \
	$(BIN)/splp serve --config $(CONFIG)

# The ETL demo job (conf/etl/demo-warga.yaml): CSV -> SQLite var/etl/demo.db, run here with a progress bar;
# its run is recorded in the catalog `make run` uses (see `splp etl runs`).
etl-demo: $(STAMP)
	@mkdir -p var/etl var/splp
	@$(BIN)/python -c "import sqlite3; sqlite3.connect('var/etl/demo.db').executescript(open('conf/etl/demo/schema.sql').read())"
	$(BIN)/splp etl run conf/etl/demo-warga.yaml

test: lint
	$(BIN)/splp check conf/
	$(BIN)/pytest -q

BENCH_ARGS ?=
bench: $(STAMP)
	$(BIN)/python -m bench --scenario "$(SCENARIO)" $(BENCH_ARGS)

bench-profile: $(STAMP)
	$(BIN)/python -m bench.profile

lint: $(STAMP)
	$(BIN)/ruff check gateway keymanager policies bench tests
	$(BIN)/ruff format --check gateway keymanager policies bench tests
	$(BIN)/mypy

# Re-resolves the compatible ranges of pyproject.toml (plus the build backend) to exact pins with
# hashes. Run it on purpose, review the diff, commit requirements.lock.
lock: $(VENV)/bin/python
	$(BIN)/pip install -q 'uv>=0.13,<0.14'
	printf 'setuptools>=77\nwheel\n' | $(BIN)/uv pip compile pyproject.toml - --extra test --extra bench \
	  --generate-hashes --universal --python-version 3.11 --quiet -o requirements.lock

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)

check: $(STAMP)
	$(BIN)/splp check conf/

clean:
	rm -rf $(VENV) var .pytest_cache
