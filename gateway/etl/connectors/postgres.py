"""PostgreSQL through asyncpg.

Source: a server-side cursor inside a read-only REPEATABLE READ transaction, started after the last committed
key (keyset), so a resumed read never rescans what was loaded.
Target: appends go straight through COPY (copy_records_to_table); upserts (and IDMap Sync updates) are COPYed
into a temporary staging table and moved with INSERT ... SELECT ... ON CONFLICT. New IDMap rows take keys
drawn from the target column's own sequence first, then go through COPY as well, so the (source key ->
target key) pairs are known without relying on RETURNING order and are written in the same transaction.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
from collections.abc import AsyncGenerator, AsyncIterable, AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

import asyncpg

from ..errors import CannotConnect, ConnectorError, CopyRefused, RowError
from ..metadata import Column, ForeignKey, TableInfo
from .base import CONNECTION_LABEL, Batch, IdScope, Session, SourceRow, Target
from .keyed import KeyedTableSource


def qident(name: str) -> str:
    return ".".join('"' + part.replace('"', '""') + '"' for part in name.split("."))


def _row_reason(exc: asyncpg.PostgresError) -> str:
    detail = getattr(exc, "detail", None)
    return f"{type(exc).__name__}: {getattr(exc, 'message', exc)}" + (f" ({detail})" if detail else "")


def _split(name: str) -> tuple[str | None, str]:
    schema, _, table = name.rpartition(".")
    return (schema or None), table


async def connect(dsn: str) -> asyncpg.Connection:
    try:
        return await asyncpg.connect(dsn, server_settings={"application_name": CONNECTION_LABEL.get()[:63]})
    except (OSError, asyncpg.PostgresError) as exc:
        raise CannotConnect(f"cannot connect to PostgreSQL ({dsn.split('@')[-1]}): {exc}") from None


async def describe(conn: asyncpg.Connection, table: str) -> TableInfo | None:
    oid = await conn.fetchval("SELECT to_regclass($1)::oid", qident(table))
    if oid is None:
        return None
    cols = await conn.fetch(
        """SELECT a.attnum, a.attname, format_type(a.atttypid, a.atttypmod) AS type, NOT a.attnotnull AS nullable,
                  (a.attidentity <> '' OR coalesce(pg_get_expr(d.adbin, d.adrelid), '') LIKE 'nextval(%') AS serial,
                  (d.adbin IS NOT NULL OR a.attidentity <> '') AS has_default
           FROM pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
           WHERE a.attrelid = $1 AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum""",
        oid,
    )
    names = {r["attnum"]: r["attname"] for r in cols}
    pk = await conn.fetchval("SELECT conkey FROM pg_constraint WHERE conrelid = $1 AND contype = 'p'", oid)
    fks = await conn.fetch(
        """SELECT conkey, confkey, confrelid::regclass::text AS ref, confrelid FROM pg_constraint
           WHERE conrelid = $1 AND contype = 'f' ORDER BY conname""",
        oid,
    )
    foreign = []
    for fk in fks:
        ref_names = {
            r["attnum"]: r["attname"]
            for r in await conn.fetch(
                "SELECT attnum, attname FROM pg_attribute WHERE attrelid = $1 AND attnum > 0", fk["confrelid"]
            )
        }
        foreign.append(
            ForeignKey(
                tuple(names[n] for n in fk["conkey"]),
                fk["ref"].replace('"', ""),
                tuple(ref_names[n] for n in fk["confkey"]),
            )
        )
    return TableInfo(
        name=table,
        columns=tuple(Column(r["attname"], r["type"], r["nullable"], r["serial"], r["has_default"]) for r in cols),
        primary_key=tuple(names[n] for n in pk or ()),
        foreign_keys=tuple(foreign),
        dialect="postgres",
    )


class PostgresSource(KeyedTableSource):
    dialect = "postgres"

    def __init__(
        self, dsn: str, table: str, key: Sequence[str] | None, where: str | None, watermark: str | None = None
    ) -> None:
        super().__init__(table, key, where, watermark)
        self._dsn = dsn
        self._conn: asyncpg.Connection | None = None

    @property
    def conn(self) -> asyncpg.Connection:
        if self._conn is None:
            raise ConnectorError(f"source {self.table} is not open")
        return self._conn

    async def open(self) -> None:
        self._conn = await connect(self._dsn)

    async def close(self) -> None:
        if self._conn is not None:
            await self._conn.close()
            self._conn = None

    def quote(self, name: str) -> str:
        return qident(name)

    def mark(self, index: int) -> str:
        return f"${index}"

    async def _describe(self) -> TableInfo | None:
        return await describe(self.conn, self.table)

    # -- the binary COPY path (runner.run_step_copy): rows never become Python objects --

    @asynccontextmanager
    async def snapshot(self) -> AsyncIterator[None]:
        """One repeatable-read, read-only transaction: every query of the step sees the same rows."""
        async with self.conn.transaction(isolation="repeatable_read", readonly=True):
            yield

    async def position_at(self, after: Any, offset: int) -> list[Any] | None:
        """The key position `offset` rows past `after` (0-based), or None when fewer rows are left."""
        sql, args = self._select(", ".join(self.quote(c) for c in self.order), after, None)
        row = await self.conn.fetchrow(f"{sql} OFFSET {int(offset)} LIMIT 1", *args)
        return None if row is None else list(row)

    async def last_position(self, after: Any) -> list[Any] | None:
        sql, args = self._select(", ".join(self.quote(c) for c in self.order), after, None, ordered=False)
        sql += " ORDER BY " + ", ".join(f"{self.quote(c)} DESC" for c in self.order) + " LIMIT 1"
        row = await self.conn.fetchrow(sql, *args)
        return None if row is None else list(row)

    async def copy_out(self, columns: Sequence[str], after: Any, limit: int) -> AsyncIterator[bytes]:
        """The next `limit` rows after `after`, in key order, as PostgreSQL binary COPY data, streamed.

        The query runs as a task feeding a small queue, so the consumer's pace (the target's COPY) is the
        backpressure: at most a few chunks are held in memory.
        """
        conn = self.conn
        sql, args = self._select(", ".join(self.quote(c) for c in columns), after, None)
        queue: asyncio.Queue[bytes | None] = asyncio.Queue(maxsize=16)

        async def output(chunk: bytes) -> None:
            await queue.put(bytes(chunk))

        async def produce() -> None:
            try:
                await conn.copy_from_query(f"{sql} LIMIT {int(limit)}", *args, output=output, format="binary")
            finally:
                await queue.put(None)

        task = asyncio.create_task(produce())
        try:
            while (chunk := await queue.get()) is not None:
                yield chunk
            await task  # a failed query surfaces here
        finally:
            if not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    async def count(self, since: Any = None) -> int:
        sql, args = self._select("count(*)", None, since, ordered=False)
        return int(await self.conn.fetchval(sql, *args))

    async def batches(self, size: int, after: Any = None, since: Any = None) -> AsyncGenerator[Batch, None]:
        if not self.order:
            raise ConnectorError(f"source table {self.table} has no primary key; set source.key")
        sql, args = self._select("*", after, since)
        order = self.order
        nkey = len(self._key)
        async with self.conn.transaction(isolation="repeatable_read", readonly=True):
            cursor = await self.conn.cursor(sql, *args)
            while True:
                records = await cursor.fetch(size)
                if not records:
                    return
                batch = []
                for r in records:
                    row = dict(r)
                    pos = [row[c] for c in order]
                    batch.append(SourceRow(pos, pos[-nkey:] if len(pos) > nkey else pos, row))
                yield batch


_CONTROL_DDL = [
    """CREATE TABLE IF NOT EXISTS splp_etl_idmap (
        job text NOT NULL, tbl text NOT NULL, src_key text NOT NULL, tgt_key bigint NOT NULL,
        PRIMARY KEY (job, tbl, src_key))""",
    """CREATE TABLE IF NOT EXISTS splp_etl_checkpoint (
        run_id text NOT NULL, step text NOT NULL, job text NOT NULL, state text NOT NULL,
        updated_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (run_id, step))""",
    """CREATE TABLE IF NOT EXISTS splp_etl_watermark (
        job text NOT NULL, step text NOT NULL, value text NOT NULL, PRIMARY KEY (job, step))""",
    """CREATE TABLE IF NOT EXISTS splp_etl_rejected (
        id bigserial PRIMARY KEY, run_id text NOT NULL, job text NOT NULL, step text NOT NULL, row_label text,
        column_name text, reason text NOT NULL, data text, created_at timestamptz NOT NULL DEFAULT now())""",
]


def _idmap_join(alias: str, source: str, job_mark: str, map_mark: str) -> str:
    """Joins staged rows (alias s) to the IDMap entry of their foreign key `source`."""
    return (
        f"LEFT JOIN splp_etl_idmap {alias} ON {alias}.job = {job_mark} AND {alias}.tbl = {map_mark} "
        f"AND {alias}.src_key = s.{qident(source)}::text"
    )


class PostgresSession(Session):
    def __init__(self, conn: asyncpg.Connection) -> None:
        self._conn = conn
        self._sequences: dict[tuple[str, str], str] = {}

    async def lookup_ids(self, job: str, map_name: str, keys: Sequence[str]) -> dict[str, int]:
        if not keys:
            return {}
        # A join on unnest() keeps one index probe per key even under a generic plan on a map that grew from
        # empty since its last ANALYZE (`src_key = ANY($3)` degrades to scanning the job's whole map there).
        rows = await self._conn.fetch(
            """SELECT m.src_key, m.tgt_key FROM unnest($3::text[]) AS k(src_key)
               JOIN splp_etl_idmap m ON m.job = $1 AND m.tbl = $2 AND m.src_key = k.src_key""",
            job,
            map_name,
            list(keys),
        )
        return {r[0]: r[1] for r in rows}

    async def _sequence(self, table: str, key: str) -> str:
        if (table, key) not in self._sequences:
            seq = await self._conn.fetchval("SELECT pg_get_serial_sequence($1, $2)", qident(table), key)
            if seq is None:
                raise ConnectorError(f"IDMap key {table}.{key} is not generated by a sequence (serial or identity)")
            self._sequences[(table, key)] = seq
        return self._sequences[(table, key)]

    async def insert_new(
        self, table: str, key: str, columns: Sequence[str], records: Sequence[tuple[Any, ...]]
    ) -> list[int]:
        if not records:
            return []
        seq = await self._sequence(table, key)
        ids = [
            r[0]
            for r in await self._conn.fetch(
                "SELECT nextval($1::regclass) FROM generate_series(1, $2)", seq, len(records)
            )
        ]
        # Keys fresh from the sequence cannot collide: straight COPY (which writes identity columns as given).
        await self.write(table, [key, *columns], [(i, *r) for i, r in zip(ids, records, strict=True)])
        return ids

    async def copy_in(self, table: str, columns: Sequence[str], chunks: AsyncIterable[bytes]) -> int:
        """Loads binary COPY data into `table`; returns the row count. A refusal raises CopyRefused."""
        schema, name = _split(table)
        try:
            status = await self._conn.copy_to_table(
                name, schema_name=schema, columns=list(columns), source=chunks, format="binary"
            )
        except asyncpg.PostgresError as exc:
            raise CopyRefused(f"{type(exc).__name__}: {exc}") from None
        return int(status.split()[-1])

    async def copy_in_mapped(self, table: str, copy: Any, chunks: AsyncIterable[bytes]) -> int:
        """Binary COPY into a staging table, then one statement inserts the rows with keys fresh from the
        target's sequence, rewrites foreign keys through their IDMaps and records the new IDMap pairs: the
        IDMap path without a Python object per row. `copy` is a runner.CopyThrough with an idmap.
        A foreign key missing from its IDMap (on_missing: reject) raises CopyRefused: the row path rejects it."""
        stage = "_splp_copy_" + hashlib.blake2b(table.encode(), digest_size=6).hexdigest()
        columns = [copy.source_key, *copy.staged]
        types = ", ".join(f"{qident(c)} {t}" for c, t in zip(columns, copy.staged_types, strict=True))
        try:
            await self._conn.execute(f"CREATE TEMP TABLE IF NOT EXISTS {stage} ({types})")
            await self._conn.execute(f"TRUNCATE {stage}")
            status = await self._conn.copy_to_table(stage, columns=columns, source=chunks, format="binary")
            joins, values, args = [], [], [copy.job, copy.map_name]
            for i, (source, _, lookup) in enumerate(copy.lookups):
                alias = f"m{i}"
                if lookup.on_missing == "reject":
                    missing = await self._conn.fetchval(
                        f"SELECT count(*) FROM {stage} s {_idmap_join(alias, source, '$1', '$2')} "
                        f"WHERE s.{qident(source)} IS NOT NULL AND {alias}.tgt_key IS NULL",
                        lookup.job,
                        lookup.map_name,
                    )
                    if missing:
                        raise CopyRefused(f"{missing} rows reference {lookup.map_name} keys missing from its IDMap")
                args.extend((lookup.job, lookup.map_name))
                joins.append(_idmap_join(alias, source, f"${len(args) - 1}", f"${len(args)}"))
                values.append(f"{alias}.tgt_key")
            seq = await self._sequence(table, copy.key)
            args.append(seq)
            target_columns = ", ".join(qident(c) for c in [copy.key, *copy.target_columns])
            selected = ", ".join(["s.new_id", *(f"s.{qident(c)}" for c in copy.plain), *values])
            await self._conn.execute(
                f"""WITH keyed AS MATERIALIZED (
                        SELECT st.*, nextval(${len(args)}::regclass) AS new_id FROM {stage} st
                        ORDER BY st.{qident(copy.source_key)}),
                    inserted AS (INSERT INTO {qident(table)} ({target_columns}) OVERRIDING SYSTEM VALUE
                                 SELECT {selected} FROM keyed s {" ".join(joins)})
                    INSERT INTO splp_etl_idmap (job, tbl, src_key, tgt_key)
                    SELECT $1, $2, s.{qident(copy.source_key)}::text, s.new_id FROM keyed s""",
                *args,
            )
        except asyncpg.PostgresError as exc:
            raise CopyRefused(f"{type(exc).__name__}: {exc}") from None
        return int(status.split()[-1])

    async def write(
        self,
        table: str,
        columns: Sequence[str],
        records: Sequence[tuple[Any, ...]],
        conflict: Sequence[str] | None = None,
    ) -> None:
        if not records:
            return
        try:
            if conflict is None:
                schema, name = _split(table)
                await self._conn.copy_records_to_table(name, schema_name=schema, columns=list(columns), records=records)
                return
            stage = "_splp_stage_" + hashlib.blake2b(f"{table}|{'|'.join(columns)}".encode(), digest_size=6).hexdigest()
            cols = ", ".join(qident(c) for c in columns)
            await self._conn.execute(
                f"CREATE TEMP TABLE IF NOT EXISTS {stage} AS SELECT {cols} FROM {qident(table)} WITH NO DATA"
            )
            await self._conn.execute(f"DELETE FROM {stage}")
            await self._conn.copy_records_to_table(stage, columns=list(columns), records=records)
            updates = [c for c in columns if c not in conflict]
            action = (
                "DO UPDATE SET " + ", ".join(f"{qident(c)} = EXCLUDED.{qident(c)}" for c in updates)
                if updates
                else "DO NOTHING"
            )
            await self._conn.execute(
                f"INSERT INTO {qident(table)} ({cols}) OVERRIDING SYSTEM VALUE SELECT {cols} FROM {stage} "
                f"ON CONFLICT ({', '.join(qident(c) for c in conflict)}) {action}"
            )
        except (asyncpg.DataError, asyncpg.IntegrityConstraintViolationError, asyncpg.CardinalityViolationError) as exc:
            raise RowError(_row_reason(exc)) from None

    async def put_ids(self, job: str, map_name: str, pairs: Sequence[tuple[str, int]]) -> None:
        if pairs:
            try:
                await self._conn.copy_records_to_table(
                    "splp_etl_idmap",
                    columns=["job", "tbl", "src_key", "tgt_key"],
                    records=[(job, map_name, s, t) for s, t in pairs],
                )
            except asyncpg.UniqueViolationError as exc:  # the same source key twice in one batch
                raise RowError(_row_reason(exc)) from None

    async def put_rejects(self, records: Sequence[tuple[Any, ...]]) -> None:
        if records:
            await self._conn.copy_records_to_table(
                "splp_etl_rejected",
                columns=["run_id", "job", "step", "row_label", "column_name", "reason", "data"],
                records=records,
            )

    async def put_checkpoint(self, run_id: str, job: str, step: str, state: str) -> None:
        await self._conn.execute(
            """INSERT INTO splp_etl_checkpoint (run_id, step, job, state) VALUES ($1, $2, $3, $4)
               ON CONFLICT (run_id, step) DO UPDATE SET state = EXCLUDED.state, updated_at = now()""",
            run_id,
            step,
            job,
            state,
        )

    async def put_watermark(self, job: str, step: str, value: str) -> None:
        await self._conn.execute(
            """INSERT INTO splp_etl_watermark (job, step, value) VALUES ($1, $2, $3)
               ON CONFLICT (job, step) DO UPDATE SET value = EXCLUDED.value""",
            job,
            step,
            value,
        )

    async def update_column(self, table: str, key: str, column: str, pairs: Sequence[tuple[int, Any]]) -> None:
        if pairs:
            await self._conn.executemany(
                f"UPDATE {qident(table)} SET {qident(column)} = $2 WHERE {qident(key)} = $1", list(pairs)
            )

    @asynccontextmanager
    async def savepoint(self) -> AsyncIterator[None]:
        async with self._conn.transaction():
            yield


class PostgresTarget(Target):
    dialect = "postgres"

    def __init__(self, dsn: str) -> None:
        self._dsn = dsn
        self._conn: asyncpg.Connection | None = None

    @property
    def conn(self) -> asyncpg.Connection:
        if self._conn is None:
            raise ConnectorError("target is not open")
        return self._conn

    async def open(self) -> None:
        self._conn = await connect(self._dsn)

    async def close(self) -> None:
        if self._conn is not None:
            await self._conn.close()
            self._conn = None

    async def setup(self) -> None:
        for ddl in _CONTROL_DDL:
            try:
                await self.conn.execute(ddl)
            except asyncpg.UniqueViolationError:  # two runs creating the same table at once
                pass

    async def describe(self, table: str) -> TableInfo | None:
        return await describe(self.conn, table)

    @asynccontextmanager
    async def session(self) -> AsyncIterator[Session]:
        async with self.conn.transaction():
            yield PostgresSession(self.conn)

    async def get_checkpoint(self, run_id: str, step: str) -> str | None:
        state: str | None = await self.conn.fetchval(
            "SELECT state FROM splp_etl_checkpoint WHERE run_id = $1 AND step = $2", run_id, step
        )
        return state

    async def get_watermark(self, job: str, step: str) -> str | None:
        value: str | None = await self.conn.fetchval(
            "SELECT value FROM splp_etl_watermark WHERE job = $1 AND step = $2", job, step
        )
        return value

    async def lock_job(self, job: str) -> bool:
        return bool(
            await self.conn.fetchval("SELECT pg_try_advisory_lock(hashtextextended('splp_etl:' || $1, 0))", job)
        )

    async def has_ids(self, job: str, map_name: str) -> bool:
        return bool(
            await self.conn.fetchval(
                "SELECT EXISTS (SELECT 1 FROM splp_etl_idmap WHERE job = $1 AND tbl = $2)", job, map_name
            )
        )

    async def prepare_replace(self, table: str, fresh: bool) -> str:
        new = table + "__splp_new"
        if fresh:
            await self.conn.execute(f"DROP TABLE IF EXISTS {qident(new)}")
        await self.conn.execute(f"CREATE TABLE IF NOT EXISTS {qident(new)} (LIKE {qident(table)} INCLUDING ALL)")
        return new

    async def swap(self, table: str, new: str) -> None:
        _, name = _split(table)
        old = table + "__splp_old"
        async with self.conn.transaction():
            info = await describe(self.conn, table)
            if info is None:
                raise ConnectorError(f"table {table} disappeared before the swap")
            for col in info.columns:  # sequences owned by the old table move to the new one before the drop
                seq = await self.conn.fetchval("SELECT pg_get_serial_sequence($1, $2)", qident(table), col.name)
                if seq and not await self.conn.fetchval(
                    "SELECT attidentity <> '' FROM pg_attribute WHERE attrelid = $1::regclass AND attname = $2",
                    qident(table),
                    col.name,
                ):
                    await self.conn.execute(f"ALTER SEQUENCE {seq} OWNED BY {qident(new)}.{qident(col.name)}")
            await self.conn.execute(f"ALTER TABLE {qident(table)} RENAME TO {qident(_split(old)[1])}")
            await self.conn.execute(f"ALTER TABLE {qident(new)} RENAME TO {qident(name)}")
            try:
                await self.conn.execute(f"DROP TABLE {qident(old)}")
            except asyncpg.DependentObjectsStillExistError as exc:
                raise ConnectorError(
                    f"cannot replace {table}: other objects depend on it ({exc.detail or exc})"
                ) from None

    def _scoped(self, what: str, table: str, scope: IdScope | None) -> tuple[str, list[Any]]:
        sql = f"SELECT {what} FROM {qident(table)}"
        if scope is None:
            return sql, []
        return (
            sql + f" WHERE {qident(scope.key)} IN (SELECT tgt_key FROM splp_etl_idmap WHERE job = $1 AND tbl = $2)",
            [scope.job, scope.map_name],
        )

    async def scan(
        self, table: str, columns: Sequence[str], scope: IdScope | None, size: int
    ) -> AsyncIterator[list[tuple[Any, ...]]]:
        sql, args = self._scoped(", ".join(qident(c) for c in columns), table, scope)
        async with self.conn.transaction(readonly=True):
            cursor = await self.conn.cursor(sql, *args)
            while records := await cursor.fetch(size):
                yield [tuple(r) for r in records]

    async def count(self, table: str, scope: IdScope | None) -> int:
        sql, args = self._scoped("count(*)", table, scope)
        return int(await self.conn.fetchval(sql, *args))

    async def rejected(self, run_id: str) -> list[dict[str, Any]]:
        rows = await self.conn.fetch(
            "SELECT step, row_label, column_name, reason, data FROM splp_etl_rejected WHERE run_id = $1 ORDER BY id",
            run_id,
        )
        return [dict(r) for r in rows]
