"""The SQL connection layer under the catalog: one small async interface, two engines.

SQL is written once in asyncpg's `$1` style; SQLite receives the same text with `$n` turned into its
numbered `?n` parameters, so arguments keep their order and may repeat. Rows come back as plain
dicts. Every write runs inside `transaction()`: COMMIT on success, ROLLBACK on any exception.

SQLite (embedded default): one connection in autocommit mode, transactions opened explicitly with
BEGIN IMMEDIATE, serialized by an asyncio lock (SQLite has a single writer anyway; reads share the
lock so a reader never sees another task's uncommitted rows). WAL journal, foreign keys on.
PostgreSQL (clusters): an asyncpg pool; each transaction holds one pooled connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import sqlite3
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

import aiosqlite
import asyncpg

from gateway.catalog.errors import Conflict, StoreConfigError, StoreUnavailable

_PARAM = re.compile(r"\$(\d+)")

Row = dict[str, Any]


class Connection(Protocol):
    """What repositories use inside a transaction."""

    dialect: str

    async def execute(self, sql: str, *args: Any) -> int:
        """Runs one statement; returns the number of rows it changed."""
        ...

    async def fetch(self, sql: str, *args: Any) -> list[Row]: ...

    async def fetchrow(self, sql: str, *args: Any) -> Row | None: ...

    async def fetchval(self, sql: str, *args: Any) -> Any: ...

    async def script(self, sql: str) -> None:
        """Runs several `;`-separated statements without parameters (migrations)."""
        ...


class Database(Protocol):
    dialect: str

    def transaction(self) -> contextlib.AbstractAsyncContextManager[Connection]: ...

    def read(self) -> contextlib.AbstractAsyncContextManager[Connection]:
        """A connection for reads only (no transaction on PostgreSQL; the shared one on SQLite)."""
        ...

    async def close(self) -> None: ...


def _is_unique_violation(exc: BaseException) -> bool:
    if isinstance(exc, asyncpg.UniqueViolationError):
        return True
    return isinstance(exc, sqlite3.IntegrityError) and "UNIQUE constraint failed" in str(exc)


class _SQLiteConnection:
    dialect = "sqlite"

    def __init__(self, conn: aiosqlite.Connection) -> None:
        self._conn = conn

    async def execute(self, sql: str, *args: Any) -> int:
        cursor = await self._conn.execute(_PARAM.sub(r"?\1", sql), args)
        count = cursor.rowcount
        await cursor.close()
        return count

    async def fetch(self, sql: str, *args: Any) -> list[Row]:
        async with self._conn.execute(_PARAM.sub(r"?\1", sql), args) as cursor:
            return [dict(row) for row in await cursor.fetchall()]

    async def fetchrow(self, sql: str, *args: Any) -> Row | None:
        async with self._conn.execute(_PARAM.sub(r"?\1", sql), args) as cursor:
            row = await cursor.fetchone()
        return None if row is None else dict(row)

    async def fetchval(self, sql: str, *args: Any) -> Any:
        row = await self.fetchrow(sql, *args)
        return None if row is None else next(iter(row.values()))

    async def script(self, sql: str) -> None:
        # executescript() would COMMIT first; run the statements one by one inside our transaction.
        for statement in _split_statements(sql):
            await self._conn.execute(statement)


class SQLiteDatabase:
    dialect = "sqlite"

    def __init__(self, conn: aiosqlite.Connection) -> None:
        self._conn = conn
        self._wrapped = _SQLiteConnection(conn)
        self._lock = asyncio.Lock()

    @classmethod
    async def open(cls, path: str | Path) -> SQLiteDatabase:
        path = Path(path)
        if str(path) != ":memory:":
            await asyncio.to_thread(_create_private, path)
        conn = await aiosqlite.connect(str(path), isolation_level=None)
        conn.row_factory = sqlite3.Row
        for pragma in ("journal_mode=WAL", "foreign_keys=ON", "busy_timeout=5000", "synchronous=NORMAL"):
            await conn.execute(f"PRAGMA {pragma}")
        return cls(conn)

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[Connection]:
        async with self._lock:
            await self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._wrapped
            except BaseException as exc:
                await self._conn.execute("ROLLBACK")
                if _is_unique_violation(exc):
                    raise Conflict(_unique_detail(exc)) from exc
                raise
            await self._conn.execute("COMMIT")

    @contextlib.asynccontextmanager
    async def read(self) -> AsyncIterator[Connection]:
        async with self._lock:
            yield self._wrapped

    async def close(self) -> None:
        await self._conn.close()


class _PgConnection:
    dialect = "postgres"

    def __init__(self, conn: asyncpg.Connection) -> None:
        self._conn = conn

    async def execute(self, sql: str, *args: Any) -> int:
        status: str = await self._conn.execute(sql, *args)
        tail = status.rsplit(" ", 1)[-1]
        return int(tail) if tail.isdigit() else 0

    async def fetch(self, sql: str, *args: Any) -> list[Row]:
        return [dict(record) for record in await self._conn.fetch(sql, *args)]

    async def fetchrow(self, sql: str, *args: Any) -> Row | None:
        record = await self._conn.fetchrow(sql, *args)
        return None if record is None else dict(record)

    async def fetchval(self, sql: str, *args: Any) -> Any:
        return await self._conn.fetchval(sql, *args)

    async def script(self, sql: str) -> None:
        await self._conn.execute(sql)


# The server is down, restarting or dropped the connection: the pool reconnects on the next acquire.
_PG_UNAVAILABLE = (
    OSError,
    asyncpg.PostgresConnectionError,  # ConnectionDoesNotExistError among them
    asyncpg.exceptions.OperatorInterventionError,  # admin shutdown, cannot connect now
)


def _unavailable_detail(exc: BaseException) -> str:
    return f"catalog store unreachable ({type(exc).__name__})"


class PostgresDatabase:
    dialect = "postgres"

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    @classmethod
    async def open(cls, dsn: str, *, min_size: int = 1, max_size: int = 10) -> PostgresDatabase:
        pool = await asyncpg.create_pool(dsn, min_size=min_size, max_size=max_size)
        return cls(pool)

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[Connection]:
        try:
            async with self._pool.acquire() as conn:
                try:
                    async with conn.transaction():
                        yield _PgConnection(conn)
                except asyncpg.UniqueViolationError as exc:
                    raise Conflict(_unique_detail(exc)) from exc
        except _PG_UNAVAILABLE as exc:
            raise StoreUnavailable(_unavailable_detail(exc)) from exc

    @contextlib.asynccontextmanager
    async def read(self) -> AsyncIterator[Connection]:
        try:
            async with self._pool.acquire() as conn:
                yield _PgConnection(conn)
        except _PG_UNAVAILABLE as exc:
            raise StoreUnavailable(_unavailable_detail(exc)) from exc

    async def close(self) -> None:
        await self._pool.close()


def _create_private(path: Path) -> None:
    """Makes the folder, and the file readable by its owner only (it holds password hashes);
    SQLite gives its -wal and -shm files the same mode."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))


def _unique_detail(exc: BaseException) -> str:
    """The duplicated column(s), from either engine's message."""
    if isinstance(exc, asyncpg.UniqueViolationError):
        detail = getattr(exc, "detail", None) or ""
        match = re.match(r"Key \(([^)]*)\)", detail)
        return f"duplicate {match.group(1)}" if match else "duplicate value"
    match = re.search(r"UNIQUE constraint failed: (.*)$", str(exc))
    if match:
        columns = ", ".join(part.split(".")[-1] for part in match.group(1).split(","))
        return f"duplicate {columns.replace(' ', '')}"
    return "duplicate value"


def _split_statements(sql: str) -> Sequence[str]:
    """Splits a migration on `;` at line ends (the migrations hold no `;` inside literals)."""
    return [part.strip() for part in re.split(r";\s*(?:\n|$)", sql) if part.strip()]


async def open_database(uri: str) -> Database:
    """`sqlite:///relative/path.db`, `sqlite:////absolute/path.db`, `sqlite://:memory:` or `postgresql://...`.

    A relative SQLite path resolves from the working directory (where `splp serve` runs)."""
    scheme = urlsplit(uri).scheme
    if scheme == "sqlite":
        rest = uri[len("sqlite://") :]
        if rest == ":memory:" or rest == "/:memory:":
            return await SQLiteDatabase.open(":memory:")
        if not rest.startswith("/") or rest == "/":
            raise StoreConfigError(f"{uri!r}: expected sqlite:///relative/path.db or sqlite:////absolute/path.db")
        return await SQLiteDatabase.open(rest[1:])
    if scheme in ("postgresql", "postgres"):
        return await PostgresDatabase.open(uri)
    raise StoreConfigError(f"{uri!r}: unsupported catalog store; expected sqlite:/// or postgresql://")
