"""A small versioned migrator: applies `migrations.MIGRATIONS` in order and records each in schema_version.

Run at every start (`open_store`). Each pending migration runs in its own transaction together with
its schema_version row: it applies wholly or not at all. On PostgreSQL an advisory lock serializes
nodes starting at once; SQLite's BEGIN IMMEDIATE does the same for processes sharing a file.
A database whose version is newer than this code is refused (a downgrade would run on a schema it
does not know), and so is one whose recorded migration names differ from the code's.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import UTC, datetime

from gateway.catalog.db import Connection, Database
from gateway.catalog.errors import StoreConfigError
from gateway.catalog.migrations import MIGRATIONS, Migration

log = logging.getLogger("splp.catalog")

_LOCK_KEY = 0x5350_4C50  # "SPLP"

_CREATE = """
CREATE TABLE IF NOT EXISTS schema_version (
    version INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    applied_at TEXT NOT NULL
)
"""


async def _lock(conn: Connection) -> None:
    if conn.dialect == "postgres":
        await conn.execute("SELECT pg_advisory_xact_lock($1)", _LOCK_KEY)


async def applied_versions(db: Database) -> dict[int, str]:
    async with db.transaction() as conn:
        await _lock(conn)
        await conn.execute(_CREATE)
        rows = await conn.fetch("SELECT version, name FROM schema_version ORDER BY version")
    return {int(row["version"]): str(row["name"]) for row in rows}


async def migrate(
    db: Database, migrations: Sequence[Migration] = MIGRATIONS, *, target: int | None = None
) -> list[int]:
    """Brings the schema to `target` (default: the newest); returns the versions applied now."""
    known = {m.version: m for m in migrations}
    # Versions are unique and ascending; a gap is allowed because migrations are written on parallel branches
    # (each takes its number up front), and a later one may merge before an earlier one.
    if len(known) != len(migrations) or any(version < 1 for version in known):
        raise StoreConfigError("migration versions must be unique positive integers")
    newest = max(known, default=0)
    target = newest if target is None else target
    applied = await applied_versions(db)
    if applied and max(applied) > newest:
        raise StoreConfigError(
            f"catalog schema is at version {max(applied)}, newer than this SPLP knows ({newest}); "
            "upgrade SPLP instead of downgrading the database"
        )
    for version, name in applied.items():
        if known[version].name != name:
            raise StoreConfigError(
                f"catalog migration {version} was applied as {name!r}, the code has {known[version].name!r}"
            )
    done: list[int] = []
    for version in sorted(v for v in known if v <= target):
        if version in applied:
            continue
        migration = known[version]
        async with db.transaction() as conn:
            await _lock(conn)
            if await conn.fetchval("SELECT 1 FROM schema_version WHERE version = $1", version):
                continue  # another node applied it while we waited for the lock
            await conn.script(migration.sql(db.dialect))
            await conn.execute(
                "INSERT INTO schema_version (version, name, applied_at) VALUES ($1, $2, $3)",
                version,
                migration.name,
                datetime.now(UTC).isoformat(),
            )
        log.info("catalog: applied migration %d (%s)", version, migration.name)
        done.append(version)
    return done
