"""SQLite through aiosqlite: a plain cursor with fetchmany, keyset-started after the last committed key."""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator, Sequence
from typing import Any

import aiosqlite

from ..errors import ConnectorError, RowError
from ..metadata import Column, ForeignKey, TableInfo
from .base import Batch, SourceRow
from .keyed import KeyedTableSource
from .sqlbase import SqlConn, SqlTarget


def q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


async def connect(path: str) -> aiosqlite.Connection:
    try:
        conn = await aiosqlite.connect(path, isolation_level=None)
    except Exception as exc:  # aiosqlite wraps sqlite3 errors of opening the file
        raise ConnectorError(f"cannot open SQLite database {path}: {exc}") from None
    await conn.execute("PRAGMA foreign_keys = ON")
    return conn


async def describe(conn: aiosqlite.Connection, table: str) -> TableInfo | None:
    async with conn.execute(f"PRAGMA table_info({q(table)})") as cur:
        cols = list(await cur.fetchall())
    if not cols:
        return None
    async with conn.execute(f"PRAGMA foreign_key_list({q(table)})") as cur:
        fk_rows = list(await cur.fetchall())
    pk = tuple(c[1] for c in sorted((c for c in cols if c[5]), key=lambda c: c[5]))
    rowid_alias = len(pk) == 1 and any(c[1] == pk[0] and str(c[2]).upper() == "INTEGER" for c in cols)
    fks: dict[int, list[Any]] = {}
    for r in fk_rows:
        fks.setdefault(r[0], []).append(r)
    return TableInfo(
        name=table,
        columns=tuple(
            Column(
                c[1],
                str(c[2]).lower() or "text",
                not c[3] and not (rowid_alias and c[1] == pk[0]),
                rowid_alias and c[1] == pk[0],
                c[4] is not None or (rowid_alias and c[1] == pk[0]),
            )
            for c in cols
        ),
        primary_key=pk,
        foreign_keys=tuple(
            ForeignKey(tuple(r[3] for r in parts), parts[0][2], tuple(r[4] for r in parts)) for parts in fks.values()
        ),
        dialect="sqlite",
    )


class SqliteSource(KeyedTableSource):
    dialect = "sqlite"
    fallback_key = ("rowid",)

    def __init__(
        self, path: str, table: str, key: Sequence[str] | None, where: str | None, watermark: str | None = None
    ) -> None:
        super().__init__(table, key, where, watermark)
        self._path = path
        self._conn: aiosqlite.Connection | None = None

    @property
    def conn(self) -> aiosqlite.Connection:
        if self._conn is None:
            raise ConnectorError(f"source {self.table} is not open")
        return self._conn

    async def open(self) -> None:
        self._conn = await connect(self._path)

    async def close(self) -> None:
        if self._conn is not None:
            await self._conn.close()
            self._conn = None

    def quote(self, name: str) -> str:
        return q(name)

    def mark(self, index: int) -> str:
        return "?"

    def select_extra(self) -> str:
        return ", rowid AS __rowid" if "rowid" in self._key else ""

    async def _describe(self) -> TableInfo | None:
        return await describe(self.conn, self.table)

    async def count(self, since: Any = None) -> int:
        sql, args = self._select("count(*)", None, since, ordered=False)
        async with self.conn.execute(sql, args) as cur:
            row = await cur.fetchone()
        return int(row[0]) if row else 0

    async def batches(self, size: int, after: Any = None, since: Any = None) -> AsyncGenerator[Batch, None]:
        sql, args = self._select("*", after, since)
        order, nkey = self.order, len(self._key)
        async with self.conn.execute(sql, args) as cur:
            names = [d[0] for d in cur.description]
            while rows := await cur.fetchmany(size):
                batch = []
                for r in rows:
                    row = dict(zip(names, r, strict=True))
                    if "__rowid" in row:
                        row["rowid"] = row.pop("__rowid")
                    pos = [row[c] for c in order]
                    batch.append(SourceRow(pos, pos[-nkey:] if len(pos) > nkey else pos, row))
                yield batch


class SqliteConn(SqlConn):
    def __init__(self, conn: aiosqlite.Connection, path: str) -> None:
        self._conn = conn
        self._path = path

    async def execute(self, sql: str, args: Sequence[Any] = ()) -> int | None:
        try:
            async with self._conn.execute(sql, tuple(args)) as cur:
                return cur.lastrowid if sql.lstrip().upper().startswith("INSERT") else None
        except aiosqlite.IntegrityError as exc:
            raise RowError(f"IntegrityError: {exc}") from None

    async def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        try:
            await self._conn.executemany(sql, [tuple(r) for r in rows])
        except aiosqlite.IntegrityError as exc:
            raise RowError(f"IntegrityError: {exc}") from None

    async def fetchall(self, sql: str, args: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        async with self._conn.execute(sql, tuple(args)) as cur:
            return [tuple(r) for r in await cur.fetchall()]

    async def begin(self) -> None:
        await self._conn.execute("BEGIN IMMEDIATE")

    async def commit(self) -> None:
        if self._conn.in_transaction:
            await self._conn.execute("COMMIT")

    async def rollback(self) -> None:
        if self._conn.in_transaction:
            await self._conn.execute("ROLLBACK")

    def upsert_clause(self, columns: Sequence[str], conflict: Sequence[str]) -> str:
        updates = [c for c in columns if c not in conflict]
        target = ", ".join(q(c) for c in conflict)
        if not updates:
            return f"ON CONFLICT ({target}) DO NOTHING"
        return f"ON CONFLICT ({target}) DO UPDATE SET " + ", ".join(f"{q(c)} = excluded.{q(c)}" for c in updates)

    def control_ddl(self) -> list[str]:
        return [
            """CREATE TABLE IF NOT EXISTS splp_etl_idmap (job TEXT NOT NULL, tbl TEXT NOT NULL, src_key TEXT NOT NULL,
               tgt_key INTEGER NOT NULL, PRIMARY KEY (job, tbl, src_key))""",
            """CREATE TABLE IF NOT EXISTS splp_etl_checkpoint (run_id TEXT NOT NULL, step TEXT NOT NULL,
               job TEXT NOT NULL, state TEXT NOT NULL, PRIMARY KEY (run_id, step))""",
            """CREATE TABLE IF NOT EXISTS splp_etl_watermark (job TEXT NOT NULL, step TEXT NOT NULL,
               value TEXT NOT NULL, PRIMARY KEY (job, step))""",
            """CREATE TABLE IF NOT EXISTS splp_etl_rejected (id INTEGER PRIMARY KEY, run_id TEXT NOT NULL,
               job TEXT NOT NULL, step TEXT NOT NULL, row_label TEXT, column_name TEXT, reason TEXT NOT NULL,
               data TEXT)""",
        ]

    async def describe(self, table: str) -> TableInfo | None:
        return await describe(self._conn, table)

    async def stream(self, sql: str, args: Sequence[Any], size: int) -> AsyncIterator[list[tuple[Any, ...]]]:
        async with self._conn.execute(sql, tuple(args)) as cur:
            while rows := await cur.fetchmany(size):
                yield [tuple(r) for r in rows]

    async def close(self) -> None:
        await self._conn.close()

    async def create_like(self, new: str, table: str) -> None:
        rows = await self.fetchall("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?", (table,))
        if not rows:
            raise ConnectorError(f"target table {table} does not exist")
        ddl: str = rows[0][0]
        head, _, rest = ddl.partition("(")
        await self.execute(f"CREATE TABLE {q(new)} (" + rest)

    async def swap(self, table: str, new: str, old: str) -> None:
        await self.begin()
        try:
            await self.execute(f"ALTER TABLE {q(table)} RENAME TO {q(old)}")
            await self.execute(f"ALTER TABLE {q(new)} RENAME TO {q(table)}")
            await self.execute(f"DROP TABLE {q(old)}")
        except BaseException:
            await self.rollback()
            raise
        await self.commit()


class SqliteTarget(SqlTarget):
    def __init__(self, path: str) -> None:
        super().__init__("sqlite")
        self._path = path

    async def connect(self) -> SqlConn:
        return SqliteConn(await connect(self._path), self._path)
