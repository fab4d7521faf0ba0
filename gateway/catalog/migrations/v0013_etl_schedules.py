"""The ETL scheduler's memory (issue 14): per job, the last cron fire time a worker took.

Workers on any number of machines tick together; a fire is taken by the one conditional UPDATE that moves
`last_fire` from the value it read, so each fire time starts one run at most, whoever ticks.
"""

NAME = "etl schedules"

_TEMPLATE = """
CREATE TABLE etl_schedules (
    job TEXT PRIMARY KEY,
    last_fire TEXT NOT NULL,
    last_run TEXT
);
"""

SQLITE = _TEMPLATE
POSTGRES = _TEMPLATE
