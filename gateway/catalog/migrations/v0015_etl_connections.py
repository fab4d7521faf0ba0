"""ETL connections registered in the catalog (issue 14): credentials sealed with the master key
(gateway/sealing.py), so runs started by the control API, the scheduler or a webhook never depend on the
environment of whichever worker runs them. `sealed` holds the whole connection (kind, dsn or host, user,
password...) as sealed JSON; only `name` and `kind` are ever shown."""

NAME = "etl connections"

_TEMPLATE = """
CREATE TABLE etl_connections (
    name TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    sealed TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
"""

SQLITE = _TEMPLATE
POSTGRES = _TEMPLATE
