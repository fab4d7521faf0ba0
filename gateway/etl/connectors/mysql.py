"""MySQL / MariaDB through asyncmy.

Source: keyset pagination (one LIMIT page per batch, in key order) on its own connection, inside one
consistent-snapshot read-only transaction, started after the last committed key. The session runs with
time_zone '+00:00' so TIMESTAMP columns arrive in UTC; DATETIME columns are wall-clock values in the
connection's `timezone`.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator, Sequence
from typing import Any

import asyncmy
import asyncmy.cursors
import asyncmy.errors

from ..errors import CannotConnect, ConnectorError, RowError
from ..metadata import Column, ForeignKey, TableInfo
from .base import CONNECTION_LABEL, Batch, SourceRow
from .keyed import KeyedTableSource
from .sqlbase import SqlConn, SqlTarget

_ROW_ERRORS = (asyncmy.errors.IntegrityError, asyncmy.errors.DataError)


async def connect(params: dict[str, Any]) -> Any:
    try:
        conn = await asyncmy.connect(charset="utf8mb4", autocommit=False, program_name=CONNECTION_LABEL.get(), **params)
    except (OSError, asyncmy.errors.Error) as exc:
        raise CannotConnect(f"cannot connect to MySQL ({params.get('host')}:{params.get('port')}): {exc}") from None
    async with conn.cursor() as cur:
        await cur.execute("SET time_zone = '+00:00'")
    return conn


def _split(table: str) -> tuple[str | None, str]:
    schema, _, name = table.rpartition(".")
    return (schema or None), name


async def describe(conn: Any, table: str) -> TableInfo | None:
    schema, name = _split(table)
    async with conn.cursor() as cur:
        await cur.execute(
            """SELECT column_name, column_type, is_nullable, extra, column_default FROM information_schema.columns
               WHERE table_schema = COALESCE(%s, DATABASE()) AND table_name = %s ORDER BY ordinal_position""",
            (schema, name),
        )
        cols = await cur.fetchall()
        if not cols:
            return None
        await cur.execute(
            """SELECT k.constraint_name, k.column_name, k.referenced_table_name, k.referenced_column_name
               FROM information_schema.key_column_usage k
               WHERE k.table_schema = COALESCE(%s, DATABASE()) AND k.table_name = %s
               ORDER BY k.constraint_name, k.ordinal_position""",
            (schema, name),
        )
        keys = await cur.fetchall()
    pk = tuple(k[1] for k in keys if k[0] == "PRIMARY")
    fks: dict[str, list[tuple[str, str, str]]] = {}
    for cname, col, ref_table, ref_col in keys:
        if cname != "PRIMARY" and ref_table:
            fks.setdefault(cname, []).append((col, ref_table, ref_col))
    return TableInfo(
        name=table,
        columns=tuple(
            Column(
                c[0],
                str(c[1]).lower(),
                c[2] == "YES",
                "auto_increment" in (c[3] or ""),
                c[4] is not None or "auto_increment" in (c[3] or ""),
            )
            for c in cols
        ),
        primary_key=pk,
        foreign_keys=tuple(
            ForeignKey(tuple(p[0] for p in parts), parts[0][1], tuple(p[2] for p in parts)) for parts in fks.values()
        ),
        dialect="mysql",
    )


def q(name: str) -> str:
    return ".".join("`" + p.replace("`", "``") + "`" for p in name.split("."))


class MysqlSource(KeyedTableSource):
    dialect = "mysql"

    def __init__(
        self,
        params: dict[str, Any],
        zone: str,
        table: str,
        key: Sequence[str] | None,
        where: str | None,
        watermark: str | None = None,
    ) -> None:
        super().__init__(table, key, where, watermark)
        self._params = params
        self.zone = zone
        self._conn: Any = None

    async def open(self) -> None:
        self._conn = await connect(self._params)

    async def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def quote(self, name: str) -> str:
        return q(name)

    def mark(self, index: int) -> str:
        return "%s"

    async def _describe(self) -> TableInfo | None:
        info = await describe(self._conn, self.table)
        await self._conn.commit()
        return info

    async def count(self, since: Any = None) -> int:
        sql, args = self._select("count(*)", None, since, ordered=False)
        async with self._conn.cursor() as cur:
            await cur.execute(sql, args)
            (n,) = await cur.fetchone()
        await self._conn.commit()
        return int(n)

    async def batches(self, size: int, after: Any = None, since: Any = None) -> AsyncGenerator[Batch, None]:
        # Keyset pages of `size` rows inside one consistent snapshot. An unbuffered (SS) cursor would be one
        # query, but asyncmy reads the socket without backpressure: a slow consumer lets the whole result pile
        # up in client memory. A page per batch keeps memory at one batch whatever the table size.
        if not self.order:
            raise ConnectorError(f"source table {self.table} has no primary key; set source.key")
        order, nkey = self.order, len(self._key)
        async with self._conn.cursor() as plain:
            await plain.execute("START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY")
        try:
            while True:
                sql, args = self._select("*", after, since)
                async with self._conn.cursor(asyncmy.cursors.DictCursor) as cur:
                    await cur.execute(sql + f" LIMIT {int(size)}", args)
                    rows = await cur.fetchall()
                if not rows:
                    return
                batch = []
                for row in rows:
                    pos = [row[c] for c in order]
                    batch.append(SourceRow(pos, pos[-nkey:] if len(pos) > nkey else pos, row))
                after = batch[-1].position
                yield batch
                if len(rows) < size:
                    return
        finally:
            await self._conn.commit()


class MysqlConn(SqlConn):
    paramstyle = "%s"
    quote_char = "`"

    def __init__(self, conn: Any, params: dict[str, Any]) -> None:
        self._conn = conn
        self._params = params

    async def execute(self, sql: str, args: Sequence[Any] = ()) -> int | None:
        try:
            async with self._conn.cursor() as cur:
                await cur.execute(sql, tuple(args))
                return int(cur.lastrowid) if cur.lastrowid else None
        except _ROW_ERRORS as exc:
            raise RowError(f"{type(exc).__name__}: {exc.args[-1] if exc.args else exc}") from None

    async def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        try:
            async with self._conn.cursor() as cur:
                await cur.executemany(sql, [tuple(r) for r in rows])
        except _ROW_ERRORS as exc:
            raise RowError(f"{type(exc).__name__}: {exc.args[-1] if exc.args else exc}") from None

    async def fetchall(self, sql: str, args: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        async with self._conn.cursor() as cur:
            await cur.execute(sql, tuple(args))
            return list(await cur.fetchall())

    async def begin(self) -> None:
        await self._conn.begin()

    async def commit(self) -> None:
        await self._conn.commit()

    async def rollback(self) -> None:
        await self._conn.rollback()

    def upsert_clause(self, columns: Sequence[str], conflict: Sequence[str]) -> str:
        updates = [c for c in columns if c not in conflict] or list(conflict[:1])
        return "ON DUPLICATE KEY UPDATE " + ", ".join(f"{q(c)} = VALUES({q(c)})" for c in updates)

    def control_ddl(self) -> list[str]:
        return [
            """CREATE TABLE IF NOT EXISTS splp_etl_idmap (job VARCHAR(128) NOT NULL, tbl VARCHAR(128) NOT NULL,
               src_key VARCHAR(255) NOT NULL, tgt_key BIGINT NOT NULL, PRIMARY KEY (job, tbl, src_key))
               CHARACTER SET utf8mb4 COLLATE utf8mb4_bin""",
            """CREATE TABLE IF NOT EXISTS splp_etl_checkpoint (run_id VARCHAR(64) NOT NULL, step VARCHAR(160) NOT NULL,
               job VARCHAR(128) NOT NULL, state LONGTEXT NOT NULL, PRIMARY KEY (run_id, step))
               CHARACTER SET utf8mb4""",
            """CREATE TABLE IF NOT EXISTS splp_etl_watermark (job VARCHAR(128) NOT NULL, step VARCHAR(160) NOT NULL,
               value TEXT NOT NULL, PRIMARY KEY (job, step)) CHARACTER SET utf8mb4""",
            """CREATE TABLE IF NOT EXISTS splp_etl_rejected (id BIGINT AUTO_INCREMENT PRIMARY KEY,
               run_id VARCHAR(64) NOT NULL, job VARCHAR(128) NOT NULL, step VARCHAR(160) NOT NULL, row_label TEXT,
               column_name TEXT, reason TEXT NOT NULL, data LONGTEXT) CHARACTER SET utf8mb4""",
        ]

    async def describe(self, table: str) -> TableInfo | None:
        return await describe(self._conn, table)

    async def stream(self, sql: str, args: Sequence[Any], size: int) -> AsyncIterator[list[tuple[Any, ...]]]:
        conn = await connect(self._params)  # an unbuffered result blocks its connection until read to the end
        try:
            cur = conn.cursor(asyncmy.cursors.SSCursor)
            await cur.execute(sql, tuple(args))
            while rows := await cur.fetchmany(size):
                yield [tuple(r) for r in rows]
            await cur.close()
        finally:
            conn.close()

    async def close(self) -> None:
        self._conn.close()

    async def create_like(self, new: str, table: str) -> None:
        await self.execute(f"CREATE TABLE {q(new)} LIKE {q(table)}")

    async def swap(self, table: str, new: str, old: str) -> None:
        await self.execute(f"RENAME TABLE {q(table)} TO {q(old)}, {q(new)} TO {q(table)}")
        await self.execute(f"DROP TABLE {q(old)}")
        await self.commit()


class MysqlTarget(SqlTarget):
    def __init__(self, params: dict[str, Any]) -> None:
        super().__init__("mysql")
        self._params = params

    async def lock_job(self, job: str) -> bool:
        name = f"splp_etl:{self._params.get('database')}:{job}"[:64]
        rows = await self.c.fetchall("SELECT GET_LOCK(%s, 0)", (name,))
        await self.c.commit()
        return bool(rows and rows[0][0] == 1)

    async def connect(self) -> SqlConn:
        return MysqlConn(await connect(self._params), self._params)
