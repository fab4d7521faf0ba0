# SPLP — two commands on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
CONFIG ?= conf/gateway.yaml
SCENARIO ?= passthrough

.PHONY: run test bench bench-profile lint check clean install

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test,bench]'
	touch $(STAMP)

install: $(STAMP)

# Gateway on 0.0.0.0:8000, control API on 127.0.0.1:8001, sample backend on 127.0.0.1:9001.
# Ctrl-C stops all of it.
run: $(STAMP)
	@mkdir -p var/splp
	@$(BIN)/splp sample-backend --port 9001 & backend=$$!; \
	trap 'kill $$backend 2>/dev/null' EXIT INT TERM; \
	$(BIN)/splp serve --config $(CONFIG)

test: $(STAMP)
	$(BIN)/splp check conf/
	$(BIN)/pytest -q

BENCH_ARGS ?=
bench: $(STAMP)
	$(BIN)/python -m bench --scenario "$(SCENARIO)" $(BENCH_ARGS)

bench-profile: $(STAMP)
	$(BIN)/python -m bench.profile

lint: $(STAMP)
	$(BIN)/ruff check gateway keymanager policies bench tests

check: $(STAMP)
	$(BIN)/splp check conf/

clean:
	rm -rf $(VENV) var .pytest_cache
