"""ETL run records in the catalog's database (issue 14): one store and one schema history for everything.

Run states: queued, running, succeeded, failed, cancelled, interrupted (its worker stopped heartbeating).
`worker` and `heartbeat_at` say which worker holds a running run and when it last said so; a partial
unique index lets at most one run of a job be `running`, on both engines, whoever claims it.
`cancel_requested` is how a cancel reaches a run executing in another process.
JSON columns are TEXT on both engines (written and read as JSON by gateway/etl/state.py).
"""

NAME = "etl runs"

_TEMPLATE = """
CREATE TABLE etl_runs (
    id TEXT PRIMARY KEY,
    job TEXT NOT NULL,
    job_file TEXT NOT NULL,
    params TEXT NOT NULL,
    variables TEXT NOT NULL,
    state TEXT NOT NULL
        CHECK (state IN ('queued', 'running', 'succeeded', 'failed', 'cancelled', 'interrupted')),
    created_at TEXT NOT NULL,
    started_at TEXT,
    finished_at TEXT,
    error TEXT,
    steps TEXT NOT NULL,
    reconcile TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    worker TEXT,
    heartbeat_at TEXT,
    cancel_requested INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX etl_runs_job ON etl_runs (job, created_at);
CREATE INDEX etl_runs_state ON etl_runs (state, heartbeat_at);
CREATE UNIQUE INDEX etl_runs_one_running ON etl_runs (job) WHERE state = 'running';
CREATE TABLE etl_run_log (
    id {serial} PRIMARY KEY,
    run_id TEXT NOT NULL REFERENCES etl_runs (id) ON DELETE CASCADE,
    at TEXT NOT NULL,
    level TEXT NOT NULL,
    message TEXT NOT NULL
);
CREATE INDEX etl_run_log_run ON etl_run_log (run_id, id);
"""

SQLITE = _TEMPLATE.format(serial="INTEGER")
POSTGRES = _TEMPLATE.format(serial="BIGSERIAL")
