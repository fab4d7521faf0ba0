"""The ETL queue's tables on PostgreSQL: procrastinate's schema, applied as a catalog migration so the
catalog keeps one schema history (gateway/etl/queue.py). On SQLite there is nothing to create: the run
rows themselves are the queue there (one machine, one file; see gateway/etl/queue.py).

The SQL is the schema of the procrastinate version installed (requirements.lock pins it); a later
procrastinate upgrade that changes its schema comes with a new migration holding its migration scripts.
"""

from procrastinate.schema import SchemaManager

NAME = "etl queue (procrastinate)"

SQLITE = ""
POSTGRES = SchemaManager.get_schema()
