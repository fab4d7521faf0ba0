# SPLP — two commands on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
CONFIG ?= conf/gateway.yaml
SCENARIO ?= passthrough

.PHONY: run test bench bench-profile lint check clean install lock browser cluster cluster-down cluster-locust haproxy etl-demo

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

# Debian's headless chromium and its chromedriver, for the dashboard's browser test
# (tests/gateway/control/test_dashboard_page.py skips without them outside CI and fails under CI=true).
browser:
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null || \
	  { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium chromium-driver; }

BENCH_ARGS ?=
bench: $(STAMP)
ifeq ($(SCENARIO),cluster)
	@$(MAKE) --no-print-directory haproxy
	$(BIN)/python -m bench.cluster bench $(CLUSTER_ARGS) $(BENCH_ARGS)
else
	$(BIN)/python -m bench --scenario "$(SCENARIO)" $(BENCH_ARGS)
endif

# A loopback cluster: HAProxy on CLUSTER_LB_PORT in front of gateway nodes on CLUSTER_NODE_PORTS, the
# control API on CLUSTER_CONTROL_PORT, a backend on CLUSTER_BACKEND_PORT; a new database on the local
# PostgreSQL and a new key prefix on the local Redis. Pids, configs and logs in CLUSTER_DIR.
CLUSTER_DIR ?= var/cluster
CLUSTER_LB_PORT ?= 28080
CLUSTER_NODE_PORTS ?= 28001 28002
CLUSTER_CONTROL_PORT ?= 28010
CLUSTER_BACKEND_PORT ?= 28020
CLUSTER_ARGS = --dir $(CLUSTER_DIR) --lb-port $(CLUSTER_LB_PORT) --node-ports "$(CLUSTER_NODE_PORTS)" \
  --control-port $(CLUSTER_CONTROL_PORT) --backend-port $(CLUSTER_BACKEND_PORT)

cluster: $(STAMP) haproxy
	$(BIN)/python -m bench.cluster up $(CLUSTER_ARGS)
	$(BIN)/python -m bench.cluster smoke $(CLUSTER_ARGS)

# The locust suite (bench/locust_deployment.py) through the cluster's HAProxy, as a new subscribed application.
LOCUST_ARGS ?= -u 20 -r 10 -t 20s
cluster-locust: $(STAMP)
	$(BIN)/python -m bench.cluster locust $(CLUSTER_ARGS) --locust-args "$(LOCUST_ARGS)"

cluster-down: $(STAMP)
	$(BIN)/python -m bench.cluster down $(CLUSTER_ARGS)

# HAProxy from the Debian package (as root), when it is not installed yet.
haproxy:
	@command -v haproxy >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq haproxy; }

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
