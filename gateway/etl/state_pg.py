"""Run records in PostgreSQL (the cluster store), same StateStore protocol as the SQLite default."""

from __future__ import annotations

from typing import Any

import asyncpg
import orjson

from .errors import ConnectorError, RunNotFound
from .state import _COLUMNS, _JSON_FIELDS, RunRecord, new_run_id, now

_DDL = [
    """CREATE TABLE IF NOT EXISTS splp_etl_runs (id text PRIMARY KEY, job text NOT NULL, job_file text NOT NULL,
       params jsonb NOT NULL, variables jsonb NOT NULL, state text NOT NULL, created_at text NOT NULL,
       started_at text, finished_at text, error text, steps jsonb NOT NULL, reconcile jsonb NOT NULL,
       attempts integer NOT NULL DEFAULT 0)""",
    """CREATE TABLE IF NOT EXISTS splp_etl_run_log (id bigserial PRIMARY KEY, run_id text NOT NULL, at text NOT NULL,
       level text NOT NULL, message text NOT NULL)""",
    "CREATE INDEX IF NOT EXISTS splp_etl_run_log_run ON splp_etl_run_log (run_id, id)",
]


class PostgresStateStore:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    @classmethod
    async def open(cls, dsn: str) -> PostgresStateStore:
        try:
            pool = await asyncpg.create_pool(dsn, min_size=1, max_size=4)
        except (OSError, asyncpg.PostgresError) as exc:
            raise ConnectorError(f"cannot open the ETL state store ({dsn.split('@')[-1]}): {exc}") from None
        async with pool.acquire() as conn:
            for ddl in _DDL:
                try:
                    await conn.execute(ddl)
                except asyncpg.UniqueViolationError:  # created concurrently by another node
                    pass
        return cls(pool)

    async def create_run(self, job: str, job_file: str, params: dict[str, Any]) -> RunRecord:
        rec = RunRecord(id=new_run_id(), job=job, job_file=job_file, params=params, state="queued", created_at=now())
        row = rec.model_dump()
        await self._pool.execute(
            f"INSERT INTO splp_etl_runs ({', '.join(_COLUMNS)}) VALUES "
            f"({', '.join(f'${i + 1}' for i in range(len(_COLUMNS)))})",
            *[orjson.dumps(row[c]).decode() if c in _JSON_FIELDS else row[c] for c in _COLUMNS],
        )
        return rec

    async def update_run(self, run_id: str, **fields: Any) -> None:
        unknown = set(fields) - set(_COLUMNS)
        if unknown:
            raise ValueError(f"unknown run fields: {sorted(unknown)}")
        sets = ", ".join(f"{k} = ${i + 2}" for i, k in enumerate(fields))
        vals = [orjson.dumps(v, default=str).decode() if k in _JSON_FIELDS else v for k, v in fields.items()]
        status = await self._pool.execute(f"UPDATE splp_etl_runs SET {sets} WHERE id = $1", run_id, *vals)
        if status.endswith(" 0"):
            raise RunNotFound(f"no run {run_id}")

    def _record(self, row: asyncpg.Record) -> RunRecord:
        data = dict(row)
        for k in _JSON_FIELDS:
            data[k] = orjson.loads(data[k])
        return RunRecord.model_validate(data)

    async def get_run(self, run_id: str) -> RunRecord:
        row = await self._pool.fetchrow(f"SELECT {', '.join(_COLUMNS)} FROM splp_etl_runs WHERE id = $1", run_id)
        if row is None:
            raise RunNotFound(f"no run {run_id}")
        return self._record(row)

    async def list_runs(self, job: str | None = None, limit: int = 50) -> list[RunRecord]:
        rows = await self._pool.fetch(
            f"SELECT {', '.join(_COLUMNS)} FROM splp_etl_runs WHERE $1::text IS NULL OR job = $1 "
            "ORDER BY created_at DESC LIMIT $2",
            job,
            limit,
        )
        return [self._record(r) for r in rows]

    async def log(self, run_id: str, level: str, message: str) -> None:
        await self._pool.execute(
            "INSERT INTO splp_etl_run_log (run_id, at, level, message) VALUES ($1, $2, $3, $4)",
            run_id,
            now(),
            level,
            message,
        )

    async def logs(self, run_id: str) -> list[dict[str, str]]:
        rows = await self._pool.fetch(
            "SELECT at, level, message FROM splp_etl_run_log WHERE run_id = $1 ORDER BY id", run_id
        )
        return [dict(r) for r in rows]

    async def close(self) -> None:
        await self._pool.close()
